"""Bluesky (AT Protocol PDS) stand-in under ``/bluesky/xrpc/...``.

Sessions: ``createSession`` gives signed JWT-like tokens (access: 2 h, refresh: 90 days,
rotating on ``refreshSession``); an expired access token answers 400 ``ExpiredToken``.
``createRecord`` validates the post record (300 graphemes and 3000 bytes, facets on UTF-8
character boundaries inside the text, reply refs that exist) and answers HTTP 500 when the
rkey already exists, as the real PDS does. ``getRecord`` and ``app.bsky.feed.getPosts``
read back. Throttles: 429 ``RateLimitExceeded`` with ``RateLimit-Reset`` (epoch seconds).

Images: ``com.atproto.repo.uploadBlob`` takes the raw bytes with their ``Content-Type`` and
answers ``{"blob": {"$type": "blob", "ref": {"$link": cid}, "mimeType", "size"}}``. A post
may then carry them as ``app.bsky.embed.images`` (at most 4, each with ``alt``) or as the
``thumb`` of an ``app.bsky.embed.external`` link card; either blob must be an image of this
account, of at most 2,000,000 bytes in an images embed and 1,000,000 as a card's thumb, as
the lexicons say (bluesky-social/atproto lexicons/app/bsky/embed/images.json and
external.json). ``langs`` must be a list of at most 3 language tags.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import re
import secrets
from datetime import datetime, timedelta
from typing import Any

from dissem.sandbox import lengths
from dissem.sandbox.core import Reject, Request, Response, StandIn, json_response, route
from dissem.sandbox.state import PostRecord, engagement
from dissem.sandbox.uploads import image_entry, sniff_image

ACCESS_TTL = timedelta(hours=2)
REFRESH_TTL = timedelta(days=90)
POST = "app.bsky.feed.post"
_RKEY = re.compile(r"[A-Za-z0-9._:~-]{1,512}")
_TID_CHARS = "234567abcdefghijklmnopqrstuvwxyz"
IMAGES = "app.bsky.embed.images"
EXTERNAL = "app.bsky.embed.external"
#: the PDS takes bigger blobs (video), but an image is at most IMAGE_LIMIT and a card thumb
#: at most THUMB_LIMIT
IMAGE_LIMIT = 2_000_000
THUMB_LIMIT = 1_000_000
MAX_LANGS = 3
_LANG = re.compile(r"[A-Za-z]{2,3}(?:-[A-Za-z0-9]{1,8})*")
#: what uploadBlob takes at most: the PDS's default PDS_BLOB_UPLOAD_LIMIT, 5 MiB
#: (bluesky-social/atproto packages/pds/src/config/config.ts); more is HTTP 413
#: PayloadTooLarge "request entity too large" (packages/xrpc-server/src/util.ts)
BLOB_LIMIT = 5 * 1024 * 1024
MAX_IMAGES = 4


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def did_for(handle: str) -> str:
    digest = base64.b32encode(hashlib.sha256(handle.encode()).digest()).decode().lower()
    return "did:plc:" + digest[:24]


class BlueskyStandIn(StandIn):
    """Stands in for a PDS (``https://bsky.social``) under ``/bluesky``."""

    name = "bluesky"

    def error(self, status: int, message: str, code: str = "") -> Response:
        code = code or {400: "InvalidRequest", 401: "AuthenticationRequired"}.get(
            status, "InternalServerError" if status >= 500 else "Error"
        )
        return json_response({"error": code, "message": message}, status)

    def throttled(self, now: datetime) -> Response:
        reset = int((now + timedelta(minutes=5)).timestamp())
        headers = {
            "RateLimit-Limit": "5000",
            "RateLimit-Remaining": "0",
            "RateLimit-Reset": str(reset),
            "RateLimit-Policy": "5000;w=3600",
        }
        return json_response(
            {"error": "RateLimitExceeded", "message": "Rate Limit Exceeded"}, 429, headers
        )

    def server_error(self) -> Response:
        return self.error(500, "Internal Server Error")

    # --- sessions -----------------------------------------------------------------------
    def _secret(self) -> bytes:
        with self.env.state.lock:
            bucket = self.env.state.bucket(self.name)
            if "secret" not in bucket:
                bucket["secret"] = secrets.token_hex(16)
                self.env.state.changed()
            return bytes.fromhex(bucket["secret"])

    def _token(self, claims: dict[str, Any]) -> str:
        head = _b64(json.dumps({"typ": "at+jwt", "alg": "HS256"}).encode())
        body = _b64(json.dumps(claims).encode())
        sig = hmac.new(self._secret(), f"{head}.{body}".encode(), hashlib.sha256).digest()
        return f"{head}.{body}.{_b64(sig)}"

    def _claims(self, req: Request, scope: str) -> dict[str, Any]:
        token = req.bearer()
        if token is None:
            raise Reject(self.error(401, "Authentication Required", "AuthMissing"))
        try:
            head, body, sig = token.split(".")
            expected = hmac.new(self._secret(), f"{head}.{body}".encode(), hashlib.sha256)
            claims: dict[str, Any] = json.loads(_unb64(body))
            valid = hmac.compare_digest(_unb64(sig), expected.digest())
        except ValueError:
            valid = False
        if not valid or claims.get("scope") != scope:
            raise Reject(self.error(401, "Token could not be verified", "InvalidToken"))
        if req.now.timestamp() >= claims["exp"]:
            raise Reject(self.error(400, "Token has expired", "ExpiredToken"))
        return claims

    def _session(self, handle: str, now: datetime) -> dict[str, Any]:
        did = did_for(handle)
        jti = secrets.token_hex(8)
        with self.env.state.lock:
            self.env.state.bucket(self.name).setdefault("refresh", {})[did] = jti
            self.env.state.bucket(self.name).setdefault("handles", {})[did] = handle
            self.env.state.changed()
        iat = int(now.timestamp())
        access = {"scope": "com.atproto.access", "sub": did, "iat": iat}
        refresh = {"scope": "com.atproto.refresh", "sub": did, "iat": iat, "jti": jti}
        return {
            "did": did,
            "handle": handle,
            "accessJwt": self._token({**access, "exp": iat + int(ACCESS_TTL.total_seconds())}),
            "refreshJwt": self._token({**refresh, "exp": iat + int(REFRESH_TTL.total_seconds())}),
            "active": True,
        }

    @route("POST", r"/xrpc/com\.atproto\.server\.createSession")
    def create_session(self, req: Request) -> Response:
        body = req.json()
        identifier, password = body.get("identifier"), body.get("password")
        if not (isinstance(identifier, str) and identifier.strip() and password):
            raise Reject(self.error(401, "Invalid identifier or password"))
        handle = identifier.lstrip("@")
        if "." not in handle:
            handle += ".bsky.social"
        with self.env.state.lock:  # counted: logins are scarce on the real service
            logins = self.env.state.bucket(self.name).setdefault("logins", {})
            logins[handle] = logins.get(handle, 0) + 1
        return json_response(self._session(handle, req.now))

    @route("POST", r"/xrpc/com\.atproto\.server\.refreshSession")
    def refresh_session(self, req: Request) -> Response:
        claims = self._claims(req, "com.atproto.refresh")
        bucket = self.env.state.bucket(self.name)
        if bucket.get("refresh", {}).get(claims["sub"]) != claims.get("jti"):
            raise Reject(self.error(400, "Token has been revoked", "ExpiredToken"))
        return json_response(self._session(bucket["handles"][claims["sub"]], req.now))

    # --- records ------------------------------------------------------------------------
    @route("POST", r"/xrpc/com\.atproto\.repo\.createRecord", write=True)
    def create_record(self, req: Request) -> Response:
        did = self._claims(req, "com.atproto.access")["sub"]
        body = req.json()
        handle = self.env.state.bucket(self.name)["handles"][did]
        if body.get("repo") not in (did, handle):
            raise Reject(self.error(400, "Invalid repo: not the session's account"))
        if body.get("collection") != POST:
            raise Reject(self.error(400, f"Collection must be {POST} in this sandbox"))
        record = body.get("record")
        if not isinstance(record, dict):
            raise Reject(self.error(400, "Input must have the property 'record'"))
        text = self._validate(record)
        images = self._embedded_images(record.get("embed"), did)
        rkey = body.get("rkey") or self._tid(req.now)
        if not isinstance(rkey, str) or not _RKEY.fullmatch(rkey):
            raise Reject(self.error(400, "Invalid record key"))
        uri = f"at://{did}/{POST}/{rkey}"
        raw = json.dumps(record, sort_keys=True).encode()
        cid = "bafyrei" + base64.b32encode(hashlib.sha256(raw).digest()).decode().lower()[:52]
        with self.env.state.lock:
            if self.env.state.get_post(self.name, uri) is not None:
                return self.server_error()  # what the real PDS answers to a re-used rkey
            parent = (record.get("reply") or {}).get("parent", {}).get("uri")
            self.env.state.add_post(
                PostRecord(
                    platform=self.name,
                    account=handle,
                    remote_id=uri,
                    text=text,
                    created_at=req.now,
                    url=f"https://bsky.app/profile/{handle}/post/{rkey}",
                    reply_to=parent,
                    rkey=rkey,
                    media=[i["ref"] for i in images],
                    extra={"cid": cid, "record": record, "did": did},
                    images=images,
                )
            )
        commit = {"cid": cid, "rev": self._tid(req.now)}
        return json_response(
            {"uri": uri, "cid": cid, "commit": commit, "validationStatus": "valid"}
        )

    @route("POST", r"/xrpc/com\.atproto\.repo\.uploadBlob")
    def upload_blob(self, req: Request) -> Response:
        """Keeps the raw body as a blob of the session's account."""
        did = self._claims(req, "com.atproto.access")["sub"]
        mime = (req.header("Content-Type") or "").split(";")[0].strip().lower()
        if not req.body:
            raise Reject(self.error(400, "Request body is empty"))
        if len(req.body) > BLOB_LIMIT:
            raise Reject(self.error(413, "request entity too large", "PayloadTooLarge"))
        sniffed = sniff_image(req.body)
        if mime.startswith("image/") and sniffed != mime:
            raise Reject(self.error(400, f"Blob is not a {mime} image", "InvalidMimeType"))
        digest = base64.b32encode(hashlib.sha256(req.body).digest()).decode().lower()
        cid = "bafkrei" + digest[:52]  # a CIDv1 (raw, sha2-256) looks like this
        blob = {"$type": "blob", "ref": {"$link": cid}, "mimeType": mime, "size": len(req.body)}
        with self.env.state.lock:
            self.env.state.bucket(self.name).setdefault("blobs", {})[f"{did} {cid}"] = blob
            self.env.state.changed()
        return json_response({"blob": blob})

    def _embedded_images(self, embed: Any, did: str) -> list[dict[str, Any]]:
        """The images an embed carries, checked against the uploaded blobs; 400 otherwise."""
        if not isinstance(embed, dict):
            return []
        if embed.get("$type") == IMAGES:
            items = embed.get("images")
            if not isinstance(items, list) or not 1 <= len(items) <= MAX_IMAGES:
                raise Reject(self.error(400, f"Invalid {IMAGES}: 1 to {MAX_IMAGES} images"))
            found = []
            for i, item in enumerate(items):
                alt = item.get("alt") if isinstance(item, dict) else None
                if not isinstance(alt, str):
                    raise Reject(self.error(400, f"Invalid {IMAGES}: images/{i} must have alt"))
                blob = self._blob(item.get("image"), did, f"images/{i}/image", IMAGE_LIMIT)
                found.append(image_entry(blob["ref"]["$link"], alt, blob["mimeType"], blob["size"]))
            return found
        if embed.get("$type") == EXTERNAL:
            external = embed.get("external")
            if not isinstance(external, dict) or not isinstance(external.get("uri"), str):
                raise Reject(self.error(400, f"Invalid {EXTERNAL}: external.uri is required"))
            if external.get("thumb") is None:
                return []
            blob = self._blob(external["thumb"], did, "external/thumb", THUMB_LIMIT)
            ref = blob["ref"]["$link"]
            return [image_entry(ref, "", blob["mimeType"], blob["size"], kind="thumbnail")]
        return []

    def _blob(self, ref: Any, did: str, where: str, limit: int) -> dict[str, Any]:
        """The uploaded blob ``ref`` points at, if it is an image of at most ``limit`` bytes."""
        link = ref.get("ref", {}).get("$link") if isinstance(ref, dict) else None
        blob = self.env.state.bucket(self.name).get("blobs", {}).get(f"{did} {link}")
        if blob is None or ref.get("$type") != "blob":
            raise Reject(self.error(400, f"Invalid embed: {where} is not a blob of this repo"))
        if not str(blob["mimeType"]).startswith("image/"):
            raise Reject(self.error(400, f"Invalid embed: {where} must be an image"))
        if blob["size"] > limit:
            raise Reject(self.error(400, f"Invalid embed: {where} is larger than {limit} bytes"))
        return dict(blob)

    def _validate(self, record: dict[str, Any]) -> str:
        if record.get("$type") != POST:
            raise Reject(self.error(400, f"Invalid record: $type must be {POST}"))
        if not isinstance(record.get("createdAt"), str):
            raise Reject(self.error(400, "Invalid app.bsky.feed.post record: missing createdAt"))
        text = record.get("text")
        if not isinstance(text, str):
            raise Reject(self.error(400, "Invalid app.bsky.feed.post record: missing text"))
        if text and not lengths.bluesky_fits(text):  # dissem.sandbox.lengths, not dissem's count
            raise Reject(self.too_long(text))
        langs = record.get("langs", [])
        if not (
            isinstance(langs, list)
            and len(langs) <= MAX_LANGS
            and all(isinstance(lang, str) and _LANG.fullmatch(lang) for lang in langs)
        ):
            raise Reject(self.error(400, f"Invalid app.bsky.feed.post record: bad langs {langs!r}"))
        data = text.encode("utf-8")
        for i, facet in enumerate(record.get("facets") or []):
            index = facet.get("index") if isinstance(facet, dict) else None
            start = (index or {}).get("byteStart")
            end = (index or {}).get("byteEnd")
            if not (isinstance(start, int) and isinstance(end, int) and 0 <= start < end):
                raise Reject(self.error(400, f"Invalid facet {i}: bad byteStart/byteEnd"))
            if end > len(data) or any(
                pos < len(data) and data[pos] & 0xC0 == 0x80 for pos in (start, end)
            ):
                raise Reject(self.error(400, f"Invalid facet {i}: not on character boundaries"))
            features = facet.get("features")
            if not features or not all(isinstance(f, dict) and "$type" in f for f in features):
                raise Reject(self.error(400, f"Invalid facet {i}: features missing"))
        reply = record.get("reply")
        if reply is not None:
            for ref in ("root", "parent"):
                uri = (reply.get(ref) or {}).get("uri")
                post = self.env.state.get_post(self.name, uri) if uri else None
                if post is None or post.extra.get("cid") != reply[ref].get("cid"):
                    raise Reject(self.error(400, f"Invalid reply.{ref}: no such uri/cid"))
        return text

    def _tid(self, now: datetime) -> str:
        micros = int(now.timestamp() * 1_000_000) + self.env.serial(self.name)
        value = (micros << 10) | 0x1F
        return "".join(_TID_CHARS[(value >> (5 * i)) & 31] for i in range(12, -1, -1))

    @route("GET", r"/xrpc/com\.atproto\.repo\.getRecord")
    def get_record(self, req: Request) -> Response:
        repo, collection, rkey = req.arg("repo"), req.arg("collection"), req.arg("rkey")
        if not (repo and collection and rkey):
            raise Reject(self.error(400, "repo, collection and rkey are required"))
        did = repo if repo.startswith("did:") else did_for(repo)
        uri = f"at://{did}/{collection}/{rkey}"
        post = self.env.state.get_post(self.name, uri)
        if post is None:
            raise Reject(self.error(400, f"Could not locate record: {uri}", "RecordNotFound"))
        return json_response({"uri": uri, "cid": post.extra["cid"], "value": post.extra["record"]})

    @route("GET", r"/xrpc/app\.bsky\.feed\.getPosts")
    def get_posts(self, req: Request) -> Response:
        self._claims(req, "com.atproto.access")
        uris = req.query.get("uris", [])
        if not 1 <= len(uris) <= 25:
            raise Reject(self.error(400, "uris must hold between 1 and 25 items"))
        posts = []
        for uri in uris:
            post = self.env.state.get_post(self.name, uri)
            if post is None:
                continue
            counts = engagement(uri, post.created_at, req.now, post.audience)
            posts.append(
                {
                    "uri": uri,
                    "cid": post.extra["cid"],
                    "author": {"did": post.extra["did"], "handle": post.account},
                    "record": post.extra["record"],
                    "likeCount": counts["likes"],
                    "repostCount": counts["reposts"],
                    "replyCount": counts["replies"],
                    "quoteCount": counts["quotes"],
                    "bookmarkCount": counts["bookmarks"],
                    "indexedAt": post.created_at.isoformat().replace("+00:00", "Z"),
                }
            )
        return json_response({"posts": posts})


STAND_INS = (BlueskyStandIn,)
