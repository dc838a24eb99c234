"""Threads (Meta) through graph.threads.net.

Two steps like Instagram (see :mod:`dissem.platforms.containers`): ``POST /{uid}/threads
{media_type: TEXT | IMAGE, text, link_attachment?, reply_to_id?}`` makes a container,
``POST /{uid}/threads_publish {creation_id}`` publishes it. A thread is a chain of
replies, each ``reply_to_id`` the previous part. More than 5 distinct links is refused
(``THREADS_API__LINK_LIMIT_EXCEEDED``) for good: :class:`ContentRejected`.

A container is published only once its ``status`` is FINISHED (the shared path in
:mod:`dissem.platforms.containers`). Threads still answers a publish that comes too soon
with code 24 / subcode 4279009, "The requested resource does not exist" ("Media Not
Found"), even for text and sometimes right after FINISHED
(https://github.com/fbsamples/threads_api/issues/70,
https://github.com/gitroomhq/postiz-app/pull/2047): that is "not ready yet", a
:class:`TransientError` whose retry publishes the same remembered container, never a
permanent refusal.

Long-lived tokens last 60 days; :meth:`ThreadsAccount.refresh_credentials` swaps the token
for a fresh one (``th_refresh_token``) and keeps it in memory only.

Credentials: ``access_token``. ``channel.account`` is the Threads user id (or ``me``).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import ClassVar

import requests

from dissem.compose.types import Part
from dissem.errors import AuthError, ContentRejected, PlatformError, TransientError
from dissem.platforms.base import Capabilities, RemotePost
from dissem.platforms.containers import ContainerPlatform
from dissem.platforms.meta import GraphError
from dissem.redact import redact, register_secret

__all__ = ["LINK_LIMIT_ERROR", "NOT_READY", "ThreadsAccount"]

#: how Threads names its "more than 5 links" refusal in the error text
LINK_LIMIT_ERROR = "THREADS_API__LINK_LIMIT_EXCEEDED"
#: (code, subcode) of ``threads_publish`` on a container Threads has not made available yet
NOT_READY = (24, 4279009)


class ThreadsAccount(ContainerPlatform):
    """A Threads profile."""

    name: ClassVar[str] = "threads"
    capabilities: ClassVar[Capabilities] = Capabilities(
        threads=True,
        media_required=False,
        link_cards=True,
        native_idempotency=True,
        can_lookup=True,
        metrics=("views", "likes", "replies", "reposts", "quotes", "shares"),
        metrics_batch=25,
        text_limit=500,
    )
    required_credentials: ClassVar[tuple[tuple[str, ...], ...]] = (("access_token",),)
    default_api_base: ClassVar[str] = "https://graph.threads.net"

    create_edge: ClassVar[str] = "threads"
    publish_edge: ClassVar[str] = "threads_publish"
    status_field: ClassVar[str] = "status"
    text_field: ClassVar[str] = "text"
    insight_names: ClassVar[Mapping[str, str]] = {
        name: name for name in ("views", "likes", "replies", "reposts", "quotes", "shares")
    }

    @property
    def api_version(self) -> str:
        return self.settings.threads_api_version

    def container_fields(self, part: Part, reply_to: RemotePost | None) -> dict[str, str]:
        """TEXT (with ``link_attachment`` from ``part.options``) or IMAGE (first image, with
        alt text); ``reply_to_id`` chains a thread."""
        fields = {"text": part.text}
        if part.media:
            fields["media_type"] = "IMAGE"
            fields["image_url"] = part.media[0].src
            if part.media[0].alt:
                fields["alt_text"] = part.media[0].alt
        else:
            fields["media_type"] = "TEXT"
            # Threads takes a link attachment on text posts only
            if part.options.get("link_attachment"):
                fields["link_attachment"] = str(part.options["link_attachment"])
        if reply_to is not None:
            fields["reply_to_id"] = reply_to.remote_id
        return fields

    def listing_edge(self, part: Part) -> str:
        """Replies (parts after the first of a thread) are listed apart from posts."""
        return "replies" if part.index > 1 else "threads"

    def classify_error(self, response: requests.Response, *, creates: bool) -> PlatformError:
        """The link-limit refusal is permanent whatever code it comes with; a publish refused
        as "Media Not Found" (:data:`NOT_READY`) is the container not being ready yet."""
        try:
            err = GraphError.from_body(response.json())
        except ValueError:
            err = None
        if creates and err is not None and (err.code, err.subcode) == NOT_READY:
            return TransientError(
                redact(f"threads: container not ready to publish yet: {err.describe()}"),
                platform=self.name,
                status=response.status_code,
            )
        if err is not None and err.mentions(LINK_LIMIT_ERROR):
            return ContentRejected(
                redact(f"threads: more than 5 distinct links: {err.describe()}"),
                platform=self.name,
                status=response.status_code,
            )
        return super().classify_error(response, creates=creates)

    def refresh_credentials(self) -> None:
        """Exchanges the long-lived token for a new one (60 days from now).

        The new token replaces the old in this adapter's memory only (it is registered for
        redaction and never written anywhere); the channel's environment variable must be
        updated by a person before the process restarts, as with any expired token.
        Raises :class:`AuthError` when the answer carries no token.
        """
        answer = self.graph(
            "GET",
            "refresh_access_token",
            params={"grant_type": "th_refresh_token"},
            versioned=False,
        )
        token = answer.get("access_token")
        if not isinstance(token, str) or not token:
            raise AuthError("threads: token refresh answered without a token", platform=self.name)
        register_secret(token)
        self.credentials[self.token_credential] = token
