"""Bluesky (AT Protocol) adapter.

Credentials: ``app_password`` and optionally ``identifier`` (defaults to the channel's
``account``, the handle). The session from ``createSession`` is kept on the adapter and
renewed with ``refreshSession`` when the access token expires (logins are scarce: never one
per post); the refresh token rotates on every renewal (the reference PDS keeps the spent one
valid for a 2-hour grace: bluesky-social/atproto packages/pds/src/account-manager/index.ts,
``rotateRefreshToken``). The token store keeps the session, so a restart or another worker
goes on with it instead of logging in again (:mod:`dissem.platforms.tokens`).

Each post gets a TID record key chosen and remembered (``ctx.remember("rkey")``)
before the first attempt; a later attempt or :meth:`BlueskyPlatform.lookup` asks
``getRecord`` first, because re-sending an existing rkey fails with HTTP 500.

The release image (``part.media``, or ``options["thumb_src"]`` from older payloads) goes up
with ``com.atproto.repo.uploadBlob`` after that check and before the record: it becomes the
``thumb`` of the part's link card (``app.bsky.embed.external``) when there is one, since the
card is what leads readers to the article, and otherwise an ``app.bsky.embed.images`` embed
with the alt text. An image in an images embed may be up to 2,000,000 bytes
(``app.bsky.embed.images``: "May be up to 2 MB, formerly limited to 1 MB", bluesky-social/atproto
lexicons/app/bsky/embed/images.json, raised in atproto#4823), a card's thumb up to 1,000,000
(``app.bsky.embed.external``); a bigger one is skipped with a warning, as is any image that
cannot be loaded (see :mod:`dissem.platforms.media`).

``langs`` is ``options["langs"]`` as the composer writes it: the language the text is in,
which is the release's own when it has no translation into the channel's language. Older
payloads (``options["language"]``) and parts without either fall back to the channel's
language; at most 3 (``app.bsky.feed.post#langs`` maxLength).
"""

from __future__ import annotations

import base64
import json
import random
import threading
import time
from collections.abc import Collection, Sequence
from datetime import UTC, datetime
from typing import Any

import requests

from dissem.compose.types import Media, Part
from dissem.errors import (
    AuthError,
    ContentRejected,
    ImageUnavailable,
    LookupAmbiguous,
    PlatformError,
    TransientError,
)
from dissem.platforms.base import MetricSample, Platform, PublishContext, RemotePost
from dissem.platforms.http import call, short_body
from dissem.platforms.media import load_release_image, skip_image
from dissem.platforms.tokens import KeptToken, RenewableToken, TokenStore, fingerprint
from dissem.redact import register_secret
from dissem.traits import traits_for

POST = "app.bsky.feed.post"
IMAGES = "app.bsky.embed.images"
EXTERNAL = "app.bsky.embed.external"
#: the lexicons' caps on an image blob: in ``app.bsky.embed.images`` (2 MB since atproto#4823)
#: and as an ``app.bsky.embed.external`` card's thumb
IMAGE_MAX_BYTES = traits_for("bluesky").image_max_bytes
THUMB_MAX_BYTES = 1_000_000
#: most languages a post names (``app.bsky.feed.post#langs`` maxLength)
MAX_LANGS = 3
_TID_CHARS = "234567abcdefghijklmnopqrstuvwxyz"
_CLOCK_ID = random.getrandbits(10)
_tid_lock = threading.Lock()
_last_micros = 0


def new_tid() -> str:
    """A fresh TID (13 sortable base-32 characters: microseconds and a clock id), strictly
    increasing within the process."""
    global _last_micros
    with _tid_lock:
        micros = max(time.time_ns() // 1000, _last_micros + 1)
        _last_micros = micros
    value = (micros << 10) | _CLOCK_ID
    return "".join(_TID_CHARS[(value >> (5 * i)) & 31] for i in range(12, -1, -1))


class _SessionExpired(AuthError):
    """The access (or refresh) token expired: renew and send again (nothing was applied)."""


class _RecordNotFound(ContentRejected):
    """``getRecord`` found nothing under that rkey."""


def _classify(response: requests.Response) -> PlatformError | None:
    try:
        code = str(response.json().get("error", ""))
    except ValueError:
        code = ""
    message = f"bluesky: HTTP {response.status_code}: {short_body(response)}"
    if code == "ExpiredToken" or (response.status_code == 401 and code == "InvalidToken"):
        return _SessionExpired(message, platform="bluesky", status=response.status_code)
    if code == "RecordNotFound":
        return _RecordNotFound(message, platform="bluesky", status=response.status_code)
    return None


def _session_token(answer: Any, origin: str, now: datetime) -> KeptToken:
    """A ``createSession`` / ``refreshSession`` answer as a kept token; it expires with its
    access token (the JWT's ``exp``, read without verifying: only its lifetime matters)."""
    names = ("accessJwt", "refreshJwt", "did", "handle")
    if not isinstance(answer, dict) or not all(isinstance(answer.get(k), str) for k in names):
        raise TransientError("bluesky: session answer without its tokens", platform="bluesky")
    register_secret(answer["accessJwt"])
    register_secret(answer["refreshJwt"])
    return KeptToken(
        {"accessJwt": answer["accessJwt"], "refreshJwt": answer["refreshJwt"]},
        origin=origin,
        expires_at=_jwt_expiry(answer["accessJwt"]),
        refreshed_at=now,
        info={"did": answer["did"], "handle": answer["handle"]},
    )


def _jwt_expiry(token: str) -> datetime | None:
    """The ``exp`` claim of a JWT, or None when it has none or cannot be read."""
    try:
        body = token.split(".")[1]
        claims = json.loads(base64.urlsafe_b64decode(body + "=" * (-len(body) % 4)))
        return datetime.fromtimestamp(float(claims["exp"]), UTC)
    except (IndexError, ValueError, KeyError, TypeError, OverflowError):
        return None


class BlueskyPlatform(Platform):
    """Creates ``app.bsky.feed.post`` records; threads carry ``reply {root, parent}``."""

    name = "bluesky"
    default_api_base = "https://bsky.social"

    _auth: dict[str, str] | None = None

    # --- session ------------------------------------------------------------------------
    def _xrpc(
        self, method: str, nsid: str, token: str | None, *, creates: bool = False, **kw: Any
    ) -> Any:
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        headers.update(kw.pop("headers", {}))
        response = call(
            self.session,
            method,
            f"{self.api_base}/xrpc/{nsid}",
            platform=self.name,
            timeout=self.timeout,
            creates=creates,
            classify=_classify,
            headers=headers,
            **kw,
        )
        return response.json()

    _session: RenewableToken | None = None

    def _identifier(self) -> str:
        return self.credentials.get("identifier") or self.channel.account.lstrip("@")

    def _token(self) -> RenewableToken:
        """The session as a renewable token (none yet: the configured app password)."""
        if self._session is None:
            origin = fingerprint(self._identifier(), self.credentials["app_password"])
            self._session = RenewableToken(
                self.channel.name, "session", KeptToken({}, origin=origin), self._new_session
            )
        return self._session

    def _take(self, kept: KeptToken) -> None:
        fields = {k: kept.get(k) for k in ("did", "handle", "accessJwt", "refreshJwt")}
        if all(fields.values()):
            self._auth = {k: str(v) for k, v in fields.items()}

    def use_token_store(self, store: TokenStore) -> None:
        """Takes up the session kept earlier (a restart, another worker): no login then."""
        token = self._token()
        token.use_store(store)
        self._take(token.current)

    def _login(self) -> None:
        """A session: the one another worker kept meanwhile, else a new one."""
        self.refresh_credentials()

    def refresh_credentials(self) -> None:
        """Renews the session with the refresh token (logs in when there is none or it
        expired); the token store keeps the new one."""
        self._take(self._token().renew(self.now()))

    def _new_session(self, held: KeptToken) -> KeptToken:
        refresh = held.get("refreshJwt")
        answer = None
        if refresh:
            try:
                answer = self._xrpc("POST", "com.atproto.server.refreshSession", refresh)
            except _SessionExpired:
                answer = None  # the refresh token expired or was revoked: log in
        if answer is None:
            body = {"identifier": self._identifier(), "password": self.credentials["app_password"]}
            answer = self._xrpc("POST", "com.atproto.server.createSession", None, json=body)
        return _session_token(answer, held.origin, self.now())

    def _authed(self, method: str, nsid: str, *, creates: bool = False, **kw: Any) -> Any:
        """An authenticated call; on an expired token, renews the session and sends once more
        (an expired-token answer means the request was not applied)."""
        if self._auth is None:
            self._login()
        assert self._auth is not None
        try:
            return self._xrpc(method, nsid, self._auth["accessJwt"], creates=creates, **kw)
        except _SessionExpired:
            self.refresh_credentials()
        try:
            return self._xrpc(method, nsid, self._auth["accessJwt"], creates=creates, **kw)
        except _SessionExpired as exc:
            raise AuthError(str(exc), platform=self.name, status=exc.status) from None

    @property
    def did(self) -> str:
        if self._auth is None:
            self._login()
        assert self._auth is not None
        return self._auth["did"]

    # --- posts --------------------------------------------------------------------------
    def publish(
        self,
        part: Part,
        ctx: PublishContext,
        *,
        reply_to: RemotePost | None = None,
        root: RemotePost | None = None,
    ) -> RemotePost:
        """Creates the record under the remembered rkey (choosing and remembering one first)."""
        rkey = ctx.state.get("rkey")
        if rkey:
            existing = self._get_record(rkey)
            if existing is not None:
                return existing
        else:
            rkey = new_tid()
            ctx.remember("rkey", rkey)
        record: dict[str, Any] = {
            "$type": POST,
            "text": part.text,
            "createdAt": datetime.now(UTC)
            .isoformat(timespec="milliseconds")
            .replace("+00:00", "Z"),
            "langs": self._langs(part),
        }
        if part.facets:
            record["facets"] = list(part.facets)
        embed = self._with_image(part)
        if embed:
            record["embed"] = embed
        if reply_to is not None:
            top = root or reply_to
            record["reply"] = {
                "root": {"uri": top.remote_id, "cid": top.data["cid"]},
                "parent": {"uri": reply_to.remote_id, "cid": reply_to.data["cid"]},
            }
        body = {"repo": self.did, "collection": POST, "rkey": rkey, "record": record}
        created = self._authed("POST", "com.atproto.repo.createRecord", creates=True, json=body)
        return self._remote(str(created["uri"]), str(created["cid"]))

    def _langs(self, part: Part) -> list[str]:
        """The languages of the part's text (see the module doc)."""
        langs = part.options.get("langs")
        if isinstance(langs, list | tuple):
            named = [str(lang) for lang in langs if isinstance(lang, str) and lang.strip()]
            if named:
                return named[:MAX_LANGS]
        return [str(part.options.get("language") or self.channel.language)]

    def _with_image(self, part: Part) -> dict[str, Any] | None:
        """The part's embed with its image uploaded: as the link card's ``thumb``, or as an
        images embed when the part has no embed. Without a usable image, ``part.embed``."""
        thumb_src = part.options.get("thumb_src")
        media = part.media[0] if part.media else Media(str(thumb_src)) if thumb_src else None
        embed = part.embed
        if media is None or (embed and embed.get("$type") != EXTERNAL):
            return embed  # a quote or record embed has no room for our image
        blob = self._upload_blob(media, max_bytes=THUMB_MAX_BYTES if embed else IMAGE_MAX_BYTES)
        if blob is None:
            return embed
        if embed:
            return {**embed, "external": {**embed["external"], "thumb": blob}}
        return {"$type": IMAGES, "images": [{"image": blob, "alt": media.alt}]}

    def _upload_blob(self, media: Media, *, max_bytes: int) -> dict[str, Any] | None:
        """The blob ref of the uploaded image; None (and a warning) when the image cannot be
        loaded, is over ``max_bytes`` (where it goes decides: see the module doc), or Bluesky
        refuses it."""
        try:
            image = load_release_image(self, media, max_bytes=max_bytes)
            answer = self._authed(
                "POST",
                "com.atproto.repo.uploadBlob",
                data=image.data,
                headers={"Content-Type": image.mime},
            )
        except (ImageUnavailable, ContentRejected) as exc:
            skip_image(self.name, media, exc)
            return None
        blob = answer.get("blob") if isinstance(answer, dict) else None
        if not isinstance(blob, dict) or "ref" not in blob:
            raise TransientError("bluesky: uploadBlob answered without a blob", platform=self.name)
        return blob

    def lookup(
        self,
        part: Part,
        ctx: PublishContext,
        *,
        since: datetime,
        reply_to: RemotePost | None = None,
        taken: Collection[str] = frozenset(),
    ) -> RemotePost | None:
        """The record under the remembered rkey; None when absent or never remembered (then
        no request was sent). The rkey is chosen for this post alone, so the record is proof
        by itself: text and place are not compared. Raises :class:`LookupAmbiguous` when
        that record is already recorded for another post (``taken``), which only a person
        can untangle."""
        rkey = ctx.state.get("rkey")
        found = self._get_record(rkey) if rkey else None
        if found is not None and found.remote_id in taken:
            raise LookupAmbiguous(
                f"bluesky: the record under rkey {rkey} ({found.remote_id}) is already "
                "recorded for another post"
            )
        return found

    def fetch_metrics(self, remote_ids: Sequence[str]) -> dict[str, MetricSample]:
        """``app.bsky.feed.getPosts`` for up to 25 post URIs."""
        if not remote_ids:
            return {}
        uris = list(remote_ids[: self.traits.metrics_batch])
        result = self._authed("GET", "app.bsky.feed.getPosts", params={"uris": uris})
        samples: dict[str, MetricSample] = {}
        for post in result.get("posts", []):
            values = {
                "likes": post.get("likeCount"),
                "reposts": post.get("repostCount"),
                "replies": post.get("replyCount"),
                "quotes": post.get("quoteCount"),
                "bookmarks": post.get("bookmarkCount"),
            }
            samples[str(post["uri"])] = MetricSample(
                values={k: int(v) for k, v in values.items() if v is not None}, raw=post
            )
        return samples

    def _get_record(self, rkey: str) -> RemotePost | None:
        params = {"repo": self.did, "collection": POST, "rkey": rkey}
        try:
            found = self._authed("GET", "com.atproto.repo.getRecord", params=params)
        except _RecordNotFound:
            return None
        return self._remote(str(found["uri"]), str(found["cid"]))

    def _remote(self, uri: str, cid: str) -> RemotePost:
        handle = (self._auth or {}).get("handle") or self.channel.account.lstrip("@")
        rkey = uri.rsplit("/", 1)[-1]
        url = f"https://bsky.app/profile/{handle}/post/{rkey}"
        return RemotePost(remote_id=uri, url=url, data={"cid": cid})
