"""Mastodon adapter: ``POST /api/v1/statuses`` with an ``Idempotency-Key``.

Credentials: ``access_token`` (scopes ``read`` and ``write:statuses``). The channel's
``api_base`` is the instance (``https://mastodon.social`` by default). The server keeps an
``Idempotency-Key`` for an hour, so the scheduler may re-send within that hour; past it,
:meth:`MastodonPlatform.lookup` lists the account's statuses and matches the text (statuses
come back as HTML, turned into text here before comparing) and the place (``in_reply_to_id``).

An image (``part.media``, scope ``write:media``) is uploaded first with ``POST /api/v2/media``
(multipart ``file``, alt text as ``description``) and named in ``media_ids``. Mastodon
processes still images while answering (200); it answers 202 only for media it processes in
the background (animated GIF), and a status naming unprocessed media is refused with 422. So
on a 202 the adapter asks ``GET /api/v1/media/:id`` once (200 done, 206 still processing) and,
rather than sleeping inside the call, posts the text without the image when it is not ready
(see :mod:`dissem.platforms.media` for what else makes it go without the image).

Server limits: each server states its own in ``GET /api/v2/instance``
(``configuration.statuses.max_characters``, ``characters_reserved_per_url``,
``max_media_attachments``, ``configuration.media_attachments.image_size_limit`` and
``description_limit``; https://docs.joinmastodon.org/methods/instance/#v2, mastodon
app/serializers/rest/instance_serializer.rb). :func:`server_limits` reads them once per
channel and keeps them :data:`LIMITS_TTL`; a failed read keeps Mastodon's defaults (500, 23,
16 MB, 1500) for :data:`LIMITS_RETRY` and is never an error. Composing uses the server's
text limits where the channel sets no ``max_length`` / ``url_length``
(:func:`with_server_limits`, called by the worker's sync); uploads use its media limits.

Metrics: ``GET /api/v1/statuses?id[]=...`` reads up to :data:`STATUSES_BATCH` statuses in one
call on Mastodon 4.3 and later ("4.3.0 - added",
https://docs.joinmastodon.org/methods/statuses/#index; more ids than
``DEFAULT_STATUSES_LIMIT`` (20) is a 422). A server whose instance states an older
``version`` is read one ``GET /api/v1/statuses/:id`` at a time, and so is one that answers the
batch call 404, 405, 410 or 501 (no such route: Rails' 404 page), which the adapter then
remembers. Metrics read the instance strictly: a server in trouble (5xx, timeout, 429) fails
the metrics call as any read would, instead of being taken for one without limits.
"""

from __future__ import annotations

import logging
import re
import threading
from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from html import unescape
from typing import Any

import requests

from dissem.compose.types import Media, Part
from dissem.config.models import Channel
from dissem.errors import (
    ContentRejected,
    ImageUnavailable,
    PlatformError,
    RateLimited,
    TransientError,
)
from dissem.platforms.base import (
    MetricSample,
    Platform,
    PublishContext,
    RemotePost,
    api_base_for,
)
from dissem.platforms.http import PlatformSession, call, short_body
from dissem.platforms.media import fit_alt, load_release_image, skip_image
from dissem.platforms.text_match import Candidate, pick
from dissem.settings import Settings
from dissem.traits import traits_for

_BREAK = re.compile(r"<br\s*/?>", re.I)
_PARAGRAPH = re.compile(r"</p>\s*<p[^>]*>", re.I)
_TAG = re.compile(r"<[^>]+>")
#: statuses read per page when matching, and pages read at most
PAGE_SIZE = 40
MAX_PAGES = 5
#: Mastodon's defaults for an image and its description (a server may state others)
IMAGE_MAX_BYTES = traits_for("mastodon").image_max_bytes
DESCRIPTION_LIMIT = 1500
#: how long a server's stated limits are kept; how long a failed read keeps the defaults
LIMITS_TTL = timedelta(hours=24)
LIMITS_RETRY = timedelta(hours=1)
#: most ids one ``GET /api/v1/statuses`` takes (mastodon Api::BaseController
#: DEFAULT_STATUSES_LIMIT, enforced by StatusesController#check_statuses_limit)
STATUSES_BATCH = 20
#: the first version serving ``GET /api/v1/statuses?id[]=``
BATCH_SINCE = (4, 3)
#: what an older server answers to the batch call (no such route)
_NO_BATCH = frozenset({404, 405, 410, 501})
_VERSION = re.compile(r"\s*(\d+)\.(\d+)")

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class ServerLimits:
    """What a server states about itself in ``GET /api/v2/instance``; None where it says
    nothing usable (then Mastodon's defaults apply)."""

    max_characters: int | None = None
    url_length: int | None = None
    max_media: int | None = None
    image_size_limit: int | None = None
    description_limit: int | None = None
    version: str | None = None

    @classmethod
    def from_instance(cls, body: Any) -> ServerLimits:
        """Reads an instance answer; anything missing, of the wrong type or not a positive
        integer is left None (never raises)."""
        config = _mapping(_mapping(body).get("configuration"))
        statuses = _mapping(config.get("statuses"))
        media = _mapping(config.get("media_attachments"))
        version = _mapping(body).get("version")
        return cls(
            max_characters=_positive(statuses.get("max_characters")),
            url_length=_positive(statuses.get("characters_reserved_per_url")),
            max_media=_positive(statuses.get("max_media_attachments")),
            image_size_limit=_positive(media.get("image_size_limit")),
            description_limit=_positive(media.get("description_limit")),
            version=version if isinstance(version, str) and version.strip() else None,
        )

    def batch_statuses(self) -> bool | None:
        """Whether the server's version serves ``GET /api/v1/statuses?id[]=`` (4.3+); None
        when it states no version this can read."""
        found = _VERSION.match(self.version or "")
        if found is None:
            return None
        return (int(found[1]), int(found[2])) >= BATCH_SINCE


def _mapping(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _positive(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) and value > 0 else None


class ServerLimitsCache:
    """Servers' limits by key (channel and instance), each kept ``ttl``; a failed read keeps
    empty limits (the defaults) for ``retry`` so a server that is down is not asked on every
    sync. ``clock`` is injectable for tests."""

    def __init__(
        self,
        *,
        ttl: timedelta = LIMITS_TTL,
        retry: timedelta = LIMITS_RETRY,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self.ttl = ttl
        self.retry = retry
        self.clock = clock
        self._kept: dict[str, tuple[datetime, ServerLimits]] = {}
        self._lock = threading.Lock()

    def get(
        self, key: str, read: Callable[[], ServerLimits], *, strict: bool = False
    ) -> ServerLimits:
        """The limits kept for ``key``, or ``read()``'s (then kept). ``read`` failing with a
        :class:`PlatformError` (or an answer that is not JSON) gives the defaults; with
        ``strict``, a :class:`TransientError` or :class:`RateLimited` (the server in
        trouble, not without limits) is raised instead, and nothing is kept."""
        now = self.clock()
        with self._lock:
            kept = self._kept.get(key)
        if kept is not None and now < kept[0]:
            return kept[1]
        try:
            limits, until = read(), now + self.ttl
        except (PlatformError, ValueError) as exc:
            if strict and isinstance(exc, TransientError | RateLimited):
                raise
            log.warning(
                "mastodon: cannot read the server's limits for %s (%s); using the defaults for %s",
                key,
                exc,
                self.retry,
            )
            limits, until = ServerLimits(), now + self.retry
        with self._lock:
            self._kept[key] = (until, limits)
        return limits

    def clear(self) -> None:
        with self._lock:
            self._kept.clear()


#: the process's cache: the worker's sync and its adapters share what they read
SERVER_LIMITS = ServerLimitsCache()


def read_server_limits(api_base: str, *, session: requests.Session, timeout: float) -> ServerLimits:
    """``GET {api_base}/api/v2/instance`` (public: no token), parsed. Raises the error tree
    (:func:`dissem.platforms.http.call`) or ValueError for an answer that is not JSON."""
    response = call(
        session, "GET", f"{api_base}/api/v2/instance", platform="mastodon", timeout=timeout
    )
    return ServerLimits.from_instance(response.json())


def server_limits(
    channel: Channel,
    settings: Settings,
    *,
    session: requests.Session | None = None,
    cache: ServerLimitsCache = SERVER_LIMITS,
    strict: bool = False,
) -> ServerLimits:
    """The limits ``channel``'s server states (cached; the defaults when it cannot be read,
    but see ``strict`` in :meth:`ServerLimitsCache.get`)."""
    api_base = api_base_for(channel, settings, "mastodon", MastodonPlatform.default_api_base)

    def read() -> ServerLimits:
        if session is not None:
            return read_server_limits(api_base, session=session, timeout=settings.http_timeout)
        with PlatformSession() as own:
            return read_server_limits(api_base, session=own, timeout=settings.http_timeout)

    return cache.get(f"{channel.name} {api_base}", read, strict=strict)


def apply_server_limits(channel: Channel, limits: ServerLimits) -> Channel:
    """``channel`` with the server's ``max_length`` / ``url_length`` where it sets none."""
    update: dict[str, int] = {}
    if channel.max_length is None and limits.max_characters is not None:
        update["max_length"] = limits.max_characters
    if channel.url_length is None and limits.url_length is not None:
        update["url_length"] = limits.url_length
    return channel.model_copy(update=update) if update else channel


def with_server_limits(
    channel: Channel, settings: Settings, *, cache: ServerLimitsCache = SERVER_LIMITS
) -> Channel:
    """What composing should know of ``channel``: a Mastodon channel that leaves
    ``max_length`` or ``url_length`` unset gets its server's (:func:`server_limits`); any
    other channel is returned as it is. Never raises for a server that cannot be read."""
    if channel.platform != "mastodon" or (channel.max_length and channel.url_length):
        return channel
    return apply_server_limits(channel, server_limits(channel, settings, cache=cache))


def html_to_text(html: str) -> str:
    """The plain text of a status ``content`` (paragraphs, line breaks, links' full URLs)."""
    text = _PARAGRAPH.sub("\n\n", html)
    text = _BREAK.sub("\n", text)
    return unescape(_TAG.sub("", text))


class MastodonPlatform(Platform):
    """Posts statuses to one Mastodon account; threads are ``in_reply_to_id`` chains."""

    name = "mastodon"
    default_api_base = "https://mastodon.social"

    _account_id: str | None = None
    #: whether the server serves GET /api/v1/statuses?id[]= (None: not known yet)
    _batch_statuses: bool | None = None

    def server_limits(self, *, strict: bool = False) -> ServerLimits:
        """This channel's server's limits (shared cache; the defaults when unreadable)."""
        return server_limits(self.channel, self.settings, session=self.session, strict=strict)

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
        be loaded, is over the server's ``image_size_limit``, is refused as content, or is
        still processing after one check. The alt text is cut to the server's
        ``description_limit``."""
        limits = self.server_limits()
        max_bytes = limits.image_size_limit or IMAGE_MAX_BYTES
        alt = fit_alt(media.alt, limits.description_limit or DESCRIPTION_LIMIT)
        try:
            image = load_release_image(self, media, max_bytes=max_bytes)
            response = self._request(
                "POST",
                "/api/v2/media",
                files={"file": (image.filename, image.data, image.mime)},
                data={"description": alt} if alt else {},
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

    def lookup(
        self,
        part: Part,
        ctx: PublishContext,
        *,
        since: datetime,
        reply_to: RemotePost | None = None,
        taken: Collection[str] = frozenset(),
    ) -> RemotePost | None:
        """The account's status since ``since`` with ``part``'s text, replying to
        ``reply_to`` (``in_reply_to_id``; nothing for a first part) and not in ``taken``
        (see :func:`dissem.platforms.text_match.pick`).

        The ``Idempotency-Key`` cannot be asked about (the server keeps it only to answer a
        repeated POST), so text and place decide. Statuses are read newest first
        (``GET /api/v1/accounts/:id/statuses``) down to ``since``, at most ``MAX_PAGES``
        pages."""
        if self._account_id is None:
            self._account_id = str(self._call("GET", "/api/v1/accounts/verify_credentials")["id"])
        candidates: list[Candidate] = []
        max_id: str | None = None
        for _ in range(MAX_PAGES):
            params = {"limit": PAGE_SIZE, **({"max_id": max_id} if max_id else {})}
            page = self._call("GET", f"/api/v1/accounts/{self._account_id}/statuses", params=params)
            older = False
            for status in page:
                created = datetime.fromisoformat(status["created_at"].replace("Z", "+00:00"))
                if created < since:
                    older = True
                    break
                parent = status.get("in_reply_to_id")
                candidates.append(
                    Candidate(
                        post=RemotePost(remote_id=str(status["id"]), url=status.get("url")),
                        text=html_to_text(status.get("content", "")),
                        created_at=created,
                        parent=str(parent) if parent else None,
                    )
                )
            if older or len(page) < PAGE_SIZE:
                break
            max_id = str(page[-1]["id"])
        return pick(
            part.text, candidates, since=since, reply_to=reply_to, taken=taken, platform=self.name
        )

    def fetch_metrics(self, remote_ids: Sequence[str]) -> dict[str, MetricSample]:
        """Metrics of up to ``traits.metrics_batch`` statuses: one batch call where
        the server has it, else one call per status (see the module doc); statuses that are
        gone are left out."""
        ids = list(dict.fromkeys(remote_ids))[: self.traits.metrics_batch]
        if not ids:
            return {}
        statuses = self._statuses_at_once(ids) if self._may_batch() else None
        if statuses is None:
            statuses = self._statuses_one_by_one(ids)
        samples: dict[str, MetricSample] = {}
        for status in statuses:
            status_id = str(status.get("id") or "")
            if status_id not in ids:
                continue
            values = {
                "likes": status.get("favourites_count"),
                "reposts": status.get("reblogs_count"),
                "replies": status.get("replies_count"),
                "quotes": status.get("quotes_count"),
            }
            samples[status_id] = MetricSample(
                values={k: int(v) for k, v in values.items() if isinstance(v, int)}, raw=status
            )
        return samples

    def _may_batch(self) -> bool:
        """False once the server showed it has no batch read, or states a version before
        4.3; True otherwise (a server that states no version is tried once)."""
        if (
            self._batch_statuses is None
            and self.server_limits(strict=True).batch_statuses() is False
        ):
            self._batch_statuses = False
        return self._batch_statuses is not False

    def _statuses_at_once(self, ids: list[str]) -> list[dict[str, Any]] | None:
        """``GET /api/v1/statuses?id[]=...``; None (remembered) when the server has no such
        route or answers something that is not a list of statuses."""
        try:
            answer = self._call(
                "GET", "/api/v1/statuses", params=[("id[]", i) for i in ids[:STATUSES_BATCH]]
            )
        except PlatformError as exc:
            if exc.status not in _NO_BATCH:
                raise
            answer = None
        if not isinstance(answer, list):
            self._batch_statuses = False
            return None
        self._batch_statuses = True
        return [s for s in answer if isinstance(s, dict)]

    def _statuses_one_by_one(self, ids: list[str]) -> list[dict[str, Any]]:
        """One ``GET /api/v1/statuses/:id`` per id; statuses that are gone (404) are left
        out."""
        found: list[dict[str, Any]] = []
        for remote_id in ids:
            try:
                status = self._call("GET", f"/api/v1/statuses/{remote_id}")
            except ContentRejected as exc:
                if exc.status == 404:
                    continue
                raise
            if isinstance(status, dict):
                found.append({**status, "id": status.get("id", remote_id)})
        return found
