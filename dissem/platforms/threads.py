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

Long-lived tokens last 60 days and can be refreshed once at least 24 hours old and before
they expire: ``GET /refresh_access_token?grant_type=th_refresh_token&access_token=...``
answers ``{access_token, token_type, expires_in}``, the new token valid 60 days from then
(https://developers.facebook.com/docs/threads/get-started/long-lived-tokens/). The token
travels as a query parameter there, as documented; everywhere else in the ``Authorization``
header. :meth:`ThreadsAccount.maintain_credentials` renews it once it is 24 hours old and
``DISSEM_TOKEN_REFRESH_DAYS`` from expiry (a configured token of unknown age at once), and
the token store keeps the new one for restarts and other workers
(:mod:`dissem.platforms.tokens`).

Credentials: ``access_token``. ``channel.account`` is the Threads user id (or ``me``).
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import ClassVar

import requests

from dissem.compose.types import Part
from dissem.errors import AuthError, ContentRejected, PlatformError, TransientError
from dissem.platforms.base import RemotePost
from dissem.platforms.containers import ContainerPlatform
from dissem.platforms.http import call
from dissem.platforms.meta import GraphError
from dissem.platforms.tokens import (
    KeptToken,
    RenewableToken,
    TokenStatus,
    TokenStore,
    fingerprint,
)
from dissem.redact import redact, register_secret

__all__ = ["LINK_LIMIT_ERROR", "NOT_READY", "ThreadsAccount"]

log = logging.getLogger(__name__)

#: a long-lived token's life, and the age it must reach before it can be refreshed
#: (https://developers.facebook.com/docs/threads/get-started/long-lived-tokens/)
TOKEN_LIFETIME = timedelta(days=60)
MIN_REFRESH_AGE = timedelta(hours=24)
#: wait after a refused renewal: a token younger than 24 h is refused until it is older
RENEW_RETRY = timedelta(hours=6)
#: how Threads names its "more than 5 links" refusal in the error text
LINK_LIMIT_ERROR = "THREADS_API__LINK_LIMIT_EXCEEDED"
#: (code, subcode) of ``threads_publish`` on a container Threads has not made available yet
NOT_READY = (24, 4279009)


class ThreadsAccount(ContainerPlatform):
    """A Threads profile."""

    name: ClassVar[str] = "threads"
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

    # --- the long-lived token ---------------------------------------------------------
    _renewable: RenewableToken | None = None

    def _token(self) -> RenewableToken:
        """The renewable access token, starting from the configured one."""
        if self._renewable is None:
            configured = self.credentials[self.token_credential]
            self._renewable = RenewableToken(
                self.channel.name,
                self.token_credential,
                KeptToken({"access_token": configured}, origin=fingerprint(configured)),
                self._exchange,
                retry=RENEW_RETRY,
            )
        return self._renewable

    def _take(self, kept: KeptToken) -> None:
        self.credentials[self.token_credential] = kept.secrets["access_token"]

    def use_token_store(self, store: TokenStore) -> None:
        """Takes up the token renewed earlier (a restart, another worker) and keeps the next
        renewals in ``store``."""
        token = self._token()
        token.use_store(store)
        self._take(token.current)

    def refresh_credentials(self) -> None:
        """Exchanges the long-lived token for a new one now (valid 60 days); the token store
        keeps it. Raises the error tree when Threads refuses (the old token stays in use)."""
        self._take(self._token().renew(self.now()))

    def maintain_credentials(self, now: datetime) -> list[TokenStatus]:
        """Renews the token once it is 24 hours old and ``DISSEM_TOKEN_REFRESH_DAYS`` from
        expiry (a configured token, whose age is unknown, at once); a refusal is logged and
        tried again after :data:`RENEW_RETRY`. Takes up a token another worker renewed."""
        token = self._token()
        token.reload()
        self._take(token.current)
        if self._renewal_due(token, now):
            try:
                self._take(token.renew(now))
            except PlatformError as exc:
                log.warning(
                    "threads: channel %r: token not renewed (%s); next try after %s",
                    self.channel.name,
                    redact(str(exc)),
                    token.retry_at.isoformat() if token.retry_at else "the next round",
                )
        return [token.status()]

    def _renewal_due(self, token: RenewableToken, now: datetime) -> bool:
        if token.waiting(now):
            return False
        current = token.current
        if current.refreshed_at is None:
            return True  # configured: renewing is how its expiry becomes known
        if now - current.refreshed_at < MIN_REFRESH_AGE:
            return False
        ahead = timedelta(days=self.settings.token_refresh_days)
        return current.expires_at is None or current.expires_at - now <= ahead

    def _exchange(self, held: KeptToken) -> KeptToken:
        """``GET /refresh_access_token`` with the token as a query parameter, as documented
        (no ``Authorization`` header). Raises the error tree; :class:`AuthError` when the
        answer carries no token."""
        now = self.now()
        response = call(
            self.session,
            "GET",
            f"{self.api_base}/refresh_access_token",
            platform=self.name,
            timeout=self.timeout,
            classify=lambda r: self.classify_error(r, creates=False),
            params={"grant_type": "th_refresh_token", "access_token": held.secrets["access_token"]},
        )
        try:
            answer = response.json()
        except ValueError:
            answer = None
        token = answer.get("access_token") if isinstance(answer, dict) else None
        if not isinstance(token, str) or not token:
            raise AuthError("threads: token refresh answered without a token", platform=self.name)
        register_secret(token)
        assert isinstance(answer, dict)
        lifetime = answer.get("expires_in")
        expires_at = now + TOKEN_LIFETIME  # documented, when the answer does not say
        if isinstance(lifetime, int | float) and not isinstance(lifetime, bool) and lifetime > 0:
            expires_at = now + timedelta(seconds=float(lifetime))
        return KeptToken(
            {"access_token": token}, origin=held.origin, expires_at=expires_at, refreshed_at=now
        )
