"""Mastodon adapter: ``POST /api/v1/statuses`` with an ``Idempotency-Key``.

Credentials: ``access_token`` (scopes ``read`` and ``write:statuses``). The channel's
``api_base`` is the instance (``https://mastodon.social`` by default). The server keeps an
``Idempotency-Key`` for an hour, so the scheduler may re-send within that hour; past it,
:meth:`MastodonPlatform.lookup` lists the account's statuses and matches the text (statuses
come back as HTML, turned into text here before comparing).

An image (``part.media``, scope ``write:media``) is uploaded first with ``POST /api/v2/media``
(multipart ``file``, alt text as ``description``) and named in ``media_ids``. Mastodon
processes still images while answering (200); it answers 202 only for media it processes in
the background (animated GIF), and a status naming unprocessed media is refused with 422. So
on a 202 the adapter asks ``GET /api/v1/media/:id`` once (200 done, 206 still processing) and,
rather than sleeping inside the call, posts the text without the image when it is not ready
(see :mod:`dissem.platforms.media` for what else makes it go without the image).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from datetime import datetime
from html import unescape
from typing import Any, ClassVar

import requests

from dissem.compose.types import Media, Part
from dissem.errors import ContentRejected, PlatformError
from dissem.platforms.base import Capabilities, MetricSample, Platform, PublishContext, RemotePost
from dissem.platforms.http import call, short_body
from dissem.platforms.media import ImageUnavailable, fit_alt, load_release_image, skip_image
from dissem.platforms.text_match import comparable

_BREAK = re.compile(r"<br\s*/?>", re.I)
_PARAGRAPH = re.compile(r"</p>\s*<p[^>]*>", re.I)
_TAG = re.compile(r"<[^>]+>")
#: statuses read per page when matching, and pages read at most
PAGE_SIZE = 40
MAX_PAGES = 5
#: Mastodon's defaults for an image and its description
IMAGE_MAX_BYTES = 16 * 1024 * 1024
DESCRIPTION_LIMIT = 1500


def html_to_text(html: str) -> str:
    """The plain text of a status ``content`` (paragraphs, line breaks, links' full URLs)."""
    text = _PARAGRAPH.sub("\n\n", html)
    text = _BREAK.sub("\n", text)
    return unescape(_TAG.sub("", text))


class MastodonPlatform(Platform):
    """Posts statuses to one Mastodon account; threads are ``in_reply_to_id`` chains."""

    name = "mastodon"
    capabilities = Capabilities(
        threads=True,
        media_required=False,
        link_cards=True,
        native_idempotency=True,
        can_lookup=True,
        metrics=("likes", "reposts", "replies", "quotes"),
        metrics_batch=20,
        text_limit=500,
    )
    required_credentials: ClassVar[tuple[tuple[str, ...], ...]] = (("access_token",),)
    default_api_base = "https://mastodon.social"

    _account_id: str | None = None

    def _headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.credentials['access_token']}"}

    def _call(self, method: str, path: str, *, creates: bool = False, **kw: Any) -> Any:
        return self._request(method, path, creates=creates, **kw).json()

    def _request(
        self, method: str, path: str, *, creates: bool = False, **kw: Any
    ) -> requests.Response:
        headers = {**self._headers(), **kw.pop("headers", {})}
        return call(
            self.session,
            method,
            self.api_base + path,
            platform=self.name,
            timeout=self.timeout,
            creates=creates,
            classify=self._classify,
            headers=headers,
            **kw,
        )

    def _classify(self, response: requests.Response) -> PlatformError | None:
        if response.status_code == 422:  # validation: too long, bad visibility, ...
            return ContentRejected(
                f"mastodon: {short_body(response)}", platform=self.name, status=422
            )
        return None

    def publish(
        self,
        part: Part,
        ctx: PublishContext,
        *,
        reply_to: RemotePost | None = None,
        root: RemotePost | None = None,
    ) -> RemotePost:
        """Creates the status; a repeat of ``ctx.idempotency_key`` within an hour returns the
        original instead of a second status."""
        body: dict[str, Any] = {
            "status": part.text,
            "language": part.options.get("language", self.channel.language),
            "visibility": part.options.get("visibility", self.channel.visibility or "public"),
        }
        if part.options.get("spoiler_text"):
            body["spoiler_text"] = part.options["spoiler_text"]
        if reply_to is not None:
            body["in_reply_to_id"] = reply_to.remote_id
        media_id = self._upload_image(part.media[0]) if part.media else None
        if media_id is not None:
            body["media_ids"] = [media_id]
        status = self._call(
            "POST",
            "/api/v1/statuses",
            creates=True,
            json=body,
            headers={"Idempotency-Key": ctx.idempotency_key},
        )
        return RemotePost(remote_id=str(status["id"]), url=status.get("url"))

    def _upload_image(self, media: Media) -> str | None:
        """The attachment id of the uploaded image; None (and a warning) when the image cannot
        be loaded, is refused as content, or is still processing after one check."""
        try:
            image = load_release_image(self, media, max_bytes=IMAGE_MAX_BYTES)
            response = self._request(
                "POST",
                "/api/v2/media",
                files={"file": (image.filename, image.data, image.mime)},
                data={"description": fit_alt(media.alt, DESCRIPTION_LIMIT)} if media.alt else {},
            )
            media_id = str(response.json()["id"])
            if (
                response.status_code == 202
                and self._request("GET", f"/api/v1/media/{media_id}").status_code != 200
            ):
                skip_image(self.name, media, "Mastodon is still processing it")
                return None
        except (ImageUnavailable, ContentRejected) as exc:
            skip_image(self.name, media, exc)
            return None
        return media_id

    def lookup(self, part: Part, ctx: PublishContext, *, since: datetime) -> RemotePost | None:
        """The account's newest status created since ``since`` whose text matches ``part``."""
        if self._account_id is None:
            self._account_id = str(self._call("GET", "/api/v1/accounts/verify_credentials")["id"])
        wanted = comparable(part.text)
        max_id: str | None = None
        for _ in range(MAX_PAGES):
            params = {"limit": PAGE_SIZE, **({"max_id": max_id} if max_id else {})}
            page = self._call("GET", f"/api/v1/accounts/{self._account_id}/statuses", params=params)
            for status in page:
                created = datetime.fromisoformat(status["created_at"].replace("Z", "+00:00"))
                if created < since:
                    return None
                if comparable(html_to_text(status.get("content", ""))) == wanted:
                    return RemotePost(remote_id=str(status["id"]), url=status.get("url"))
            if len(page) < PAGE_SIZE:
                return None
            max_id = str(page[-1]["id"])
        return None

    def fetch_metrics(self, remote_ids: Sequence[str]) -> dict[str, MetricSample]:
        """One ``GET /api/v1/statuses/:id`` per id (Mastodon has no batch read); statuses
        that are gone (404) are left out."""
        samples: dict[str, MetricSample] = {}
        for remote_id in remote_ids[: self.capabilities.metrics_batch]:
            try:
                status = self._call("GET", f"/api/v1/statuses/{remote_id}")
            except ContentRejected as exc:
                if exc.status == 404:
                    continue
                raise
            values = {
                "likes": status.get("favourites_count"),
                "reposts": status.get("reblogs_count"),
                "replies": status.get("replies_count"),
                "quotes": status.get("quotes_count"),
            }
            samples[remote_id] = MetricSample(
                values={k: int(v) for k, v in values.items() if v is not None}, raw=status
            )
        return samples
