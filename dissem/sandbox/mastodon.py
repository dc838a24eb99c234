"""Mastodon stand-in: statuses, ``Idempotency-Key``, accounts and instance limits.

Any non-empty bearer token is an account. ``POST /api/v1/statuses`` with an
``Idempotency-Key`` seen from the same account within an hour returns the original status
(the key is kept only after a successful create, as Mastodon does). Over-long statuses get
422; throttles get 429 with an ISO 8601 ``X-RateLimit-Reset``. Status ``content`` is HTML,
as on a real server.

Media: ``POST /api/v2/media`` (multipart ``file``, ``description`` <= 1500 characters) keeps
the image and answers 200. With the state bucket's ``media_processing_checks`` set to n > 0 it
answers 202 instead (still "processing") and ``GET /api/v1/media/:id`` answers 206 until the
n-th check, which answers 200; a status naming unprocessed media is refused with 422, as
Mastodon does. ``media_ids`` (at most 4, the caller's own, not yet attached) go on a status.

The server's limits are what ``GET /api/v2/instance`` states and what it enforces:
Mastodon's defaults (version 4.3.0, 500 characters, 23 per URL, 4 media, 16 MB images,
1500-character descriptions), each replaced by the bucket's ``instance`` mapping
(``version``, ``max_characters``, ``characters_reserved_per_url``,
``max_media_attachments``, ``image_size_limit``, ``description_limit``). With the bucket's
``instance_v2`` set to False, ``/api/v2/instance`` answers 404 (servers before 4.0).

``GET /api/v1/statuses?id[]=...`` (Mastodon 4.3+) answers the statuses that exist, in the
order asked, and 422 for more than 20 ids (StatusesController#check_statuses_limit); on a
server whose ``version`` is older it answers Rails' 404 page (HTML), as a route that does not
exist does.
"""

from __future__ import annotations

import re
from datetime import datetime, timedelta
from html import escape
from typing import Any
from urllib.parse import parse_qs

from dissem.sandbox import lengths
from dissem.sandbox.core import (
    Reject,
    Request,
    Response,
    StandIn,
    account_for,
    json_response,
    route,
)
from dissem.sandbox.state import PostRecord, engagement
from dissem.sandbox.uploads import image_entry, multipart_fields, sniff_image

_URL = re.compile(r"https?://[^\s<]+")
_VISIBILITIES = ("public", "unlisted", "private", "direct")
IDEMPOTENCY_TTL = timedelta(hours=1)
#: Mastodon's defaults: images up to 16 MB, descriptions up to 1500 characters, 4 per status
IMAGE_LIMIT = 16 * 1024 * 1024
DESCRIPTION_LIMIT = 1500
MAX_MEDIA = 4
#: what /api/v2/instance states unless the bucket's ``instance`` says otherwise
INSTANCE_DEFAULTS: dict[str, Any] = {
    "version": "4.3.0",
    "max_characters": 500,
    "characters_reserved_per_url": 23,
    "max_media_attachments": MAX_MEDIA,
    "image_size_limit": IMAGE_LIMIT,
    "description_limit": DESCRIPTION_LIMIT,
}
#: most ids one GET /api/v1/statuses takes (Api::BaseController::DEFAULT_STATUSES_LIMIT)
STATUSES_LIMIT = 20
_RAILS_404 = (
    "<!DOCTYPE html><html><head><title>The page you were looking for doesn't exist (404)"
    "</title></head><body><h1>The page you were looking for doesn't exist.</h1></body></html>"
)


def to_html(text: str) -> str:
    """Mastodon's rendering of a plain status: paragraphs, ``<br>``, linked URLs."""
    rendered = []
    for para in re.split(r"\n{2,}", text.strip()):
        pieces: list[str] = []
        last = 0
        for m in _URL.finditer(para):
            scheme, _, rest = m.group().partition("://")
            pieces.append(escape(para[last : m.start()]))
            pieces.append(
                f'<a href="{escape(m.group())}" rel="nofollow noopener" target="_blank">'
                f'<span class="invisible">{escape(scheme)}://</span>'
                f'<span class="">{escape(rest)}</span></a>'
            )
            last = m.end()
        pieces.append(escape(para[last:]))
        rendered.append("<p>" + "".join(pieces).replace("\n", "<br>") + "</p>")
    return "".join(rendered)


class MastodonStandIn(StandIn):
    """Stands in for one Mastodon server under ``/mastodon``."""

    name = "mastodon"

    def error(self, status: int, message: str) -> Response:
        return json_response({"error": message}, status)

    def throttled(self, now: datetime) -> Response:
        reset = (now + timedelta(minutes=5)).replace(microsecond=0)
        headers = {
            "X-RateLimit-Limit": "300",
            "X-RateLimit-Remaining": "0",
            "X-RateLimit-Reset": reset.isoformat().replace("+00:00", ".000Z"),
        }
        return json_response({"error": "Too many requests"}, 429, headers)

    def too_long(self, text: str) -> Response:
        limit = self.limits()["max_characters"]
        return self.error(422, f"Validation failed: Text character limit of {limit} exceeded")

    def limits(self) -> dict[str, Any]:
        """This server's limits: the defaults with the bucket's ``instance`` over them."""
        with self.env.state.lock:
            configured = dict(self.env.state.bucket(self.name).get("instance") or {})
        return {**INSTANCE_DEFAULTS, **configured}

    def batch_statuses(self) -> bool:
        """Whether this server's version has ``GET /api/v1/statuses`` (4.3+)."""
        major, minor = (int(n) for n in str(self.limits()["version"]).split(".")[:2])
        return (major, minor) >= (4, 3)

    def account(self, req: Request) -> dict[str, Any]:
        token = req.bearer()
        if token is None:
            raise Reject(self.error(401, "The access token is invalid"))
        account_id, username = account_for(token)
        return {
            "id": account_id,
            "username": username,
            "acct": username,
            "display_name": username,
            "url": f"{self.env.platform_url(self.name)}/@{username}",
        }

    @route("POST", r"/api/v1/statuses", write=True)
    def create(self, req: Request) -> Response:
        account = self.account(req)
        form = req.form()
        text = str(form.get("status") or "")
        spoiler = str(form.get("spoiler_text") or "")
        media = self._media_for_status(req, form, account["id"])
        if not text.strip() and not media:
            raise Reject(self.error(422, "Validation failed: Text can't be blank"))
        if text.strip():
            limits = self.limits()
            length = lengths.mastodon_length(  # the warning counts too; dissem.sandbox.lengths
                text, spoiler_text=spoiler, url_length=limits["characters_reserved_per_url"]
            )
            if length > limits["max_characters"]:
                raise Reject(self.too_long(text))
        visibility = form.get("visibility") or "public"
        if visibility not in _VISIBILITIES:
            raise Reject(self.error(422, f"Validation failed: Visibility {visibility!r}"))
        reply_to = form.get("in_reply_to_id")
        if reply_to and self.env.state.get_post(self.name, str(reply_to)) is None:
            raise Reject(self.error(404, "Record not found"))
        key = req.header("Idempotency-Key")
        with self.env.state.lock:
            keys = self.env.state.bucket(self.name).setdefault("idempotency", {})
            seen = keys.get(f"{account['id']}:{key}") if key else None
            if seen and req.now - datetime.fromisoformat(seen["at"]) < IDEMPOTENCY_TTL:
                original = self.env.state.get_post(self.name, seen["id"])
                if original is not None:
                    return json_response(self._status(original, account, req.now))
            status_id = str((int(req.now.timestamp() * 1000) << 16) | self.env.serial(self.name))
            post = self.env.state.add_post(
                PostRecord(
                    platform=self.name,
                    account=account["id"],
                    remote_id=status_id,
                    text=text,
                    created_at=req.now,
                    url=f"{account['url']}/{status_id}",
                    reply_to=str(reply_to) if reply_to else None,
                    idempotency_key=key,
                    media=[m["id"] for m in media],
                    extra={
                        "username": account["username"],
                        "visibility": visibility,
                        "language": form.get("language"),
                        "spoiler_text": spoiler,
                    },
                    images=[
                        image_entry(m["id"], m["description"], m["mime"], m["size"]) for m in media
                    ],
                )
            )
            for m in media:
                m["status_id"] = status_id
            if key:
                keys[f"{account['id']}:{key}"] = {"id": status_id, "at": req.now.isoformat()}
                self.env.state.changed()
        return json_response(self._status(post, account, req.now))

    @route("POST", r"/api/v2/media")
    def upload_media(self, req: Request) -> Response:
        """Keeps an uploaded image; 200 when processed, 202 while "processing"."""
        account = self.account(req)
        fields = multipart_fields(req)
        upload = fields.get("file") if fields else None
        if upload is None or upload.filename is None:
            raise Reject(self.error(422, "Validation failed: File can't be blank"))
        mime = sniff_image(upload.data)
        if mime is None:
            raise Reject(self.error(422, "Validation failed: File content type is invalid"))
        limits = self.limits()
        if len(upload.data) > limits["image_size_limit"]:
            size = limits["image_size_limit"]
            raise Reject(
                self.error(422, f"Validation failed: File file size must be less than {size} Bytes")
            )
        description = fields["description"].text if fields and "description" in fields else ""
        if len(description) > limits["description_limit"]:
            most = limits["description_limit"]
            raise Reject(
                self.error(422, f"Validation failed: Description is too long (maximum is {most})")
            )
        with self.env.state.lock:
            bucket = self.env.state.bucket(self.name)
            media_id = str(self.env.serial(self.name) + 10**15)
            pending = int(bucket.get("media_processing_checks", 0))
            bucket.setdefault("media", {})[media_id] = {
                "id": media_id,
                "account": account["id"],
                "mime": mime,
                "size": len(upload.data),
                "description": description,
                "pending_checks": pending,
                "status_id": None,
            }
            self.env.state.changed()
            entry = dict(bucket["media"][media_id])
        return json_response(self._attachment(entry), 202 if pending else 200)

    @route("GET", r"/api/v1/media/(?P<id>\d+)")
    def media(self, req: Request) -> Response:
        """An attachment: 206 while still processing, 200 once done."""
        account = self.account(req)
        with self.env.state.lock:
            entry = self.env.state.bucket(self.name).get("media", {}).get(req.params["id"])
            if entry is None or entry["account"] != account["id"]:
                raise Reject(self.error(404, "Record not found"))
            if entry["pending_checks"] > 0:
                entry["pending_checks"] -= 1
                self.env.state.changed()
            status = 206 if entry["pending_checks"] else 200
            return json_response(self._attachment(entry), status)

    def _media_for_status(
        self, req: Request, form: dict[str, Any], account_id: str
    ) -> list[dict[str, Any]]:
        """The attachments named by ``media_ids`` (a JSON list or repeated ``media_ids[]``
        form fields), after Mastodon's checks; :class:`Reject` (422) otherwise."""
        ids = form.get("media_ids", [])
        if (req.header("Content-Type") or "").startswith("application/x-www-form-urlencoded"):
            ids = parse_qs(req.body.decode("utf-8", "replace")).get("media_ids[]", [])
        if not isinstance(ids, list):
            raise Reject(self.error(422, "Validation failed: media_ids must be a list"))
        if len(ids) > self.limits()["max_media_attachments"]:
            raise Reject(self.error(422, "Validation failed: Too many media attachments"))
        found: list[dict[str, Any]] = []
        with self.env.state.lock:
            stored = self.env.state.bucket(self.name).get("media", {})
            for media_id in ids:
                entry = stored.get(str(media_id))
                if entry is None or entry["account"] != account_id or entry["status_id"]:
                    raise Reject(self.error(422, "Validation failed: Media attachments invalid"))
                if entry["pending_checks"] > 0:
                    raise Reject(
                        self.error(
                            422,
                            "Cannot attach files that have not finished processing. "
                            "Try again in a moment!",
                        )
                    )
                found.append(entry)
        return found

    def _attachment(self, entry: dict[str, Any]) -> dict[str, Any]:
        """Mastodon's MediaAttachment; ``url`` is null while processing."""
        base = f"{self.env.platform_url(self.name)}/system/media_attachments/{entry['id']}"
        extension = entry["mime"].split("/")[-1]
        return {
            "id": entry["id"],
            "type": "image",
            "url": None if entry["pending_checks"] else f"{base}/original.{extension}",
            "preview_url": f"{base}/small.{extension}",
            "remote_url": None,
            "meta": {},
            "description": entry["description"] or None,
            "blurhash": None,
        }

    @route("GET", r"/api/v1/accounts/verify_credentials")
    def verify_credentials(self, req: Request) -> Response:
        return json_response(self.account(req))

    @route("GET", r"/api/v1/accounts/(?P<id>\d+)/statuses")
    def account_statuses(self, req: Request) -> Response:
        me = self.account(req)
        limit = min(int(req.arg("limit") or 20), 40)
        posts = list(reversed(self.env.state.posts(self.name, req.params["id"])))
        max_id = req.arg("max_id")
        if max_id:
            posts = [p for p in posts if int(p.remote_id) < int(max_id)]
        return json_response([self._status(p, me, req.now) for p in posts[:limit]])

    @route("GET", r"/api/v1/statuses")
    def statuses(self, req: Request) -> Response:
        """Several statuses at once (4.3+): those of ``id[]`` that exist, in that order."""
        if not self.batch_statuses():
            return Response(404, _RAILS_404.encode(), {"Content-Type": "text/html; charset=utf-8"})
        me = self.account(req)
        ids = list(dict.fromkeys(req.query.get("id[]", [])))
        if len(ids) > STATUSES_LIMIT:
            raise Reject(self.error(422, "Mastodon::ValidationError"))
        found = [self.env.state.get_post(self.name, i) for i in ids]
        return json_response([self._status(p, me, req.now) for p in found if p is not None])

    @route("GET", r"/api/v1/statuses/(?P<id>\d+)")
    def status(self, req: Request) -> Response:
        me = self.account(req)
        post = self.env.state.get_post(self.name, req.params["id"])
        if post is None:
            raise Reject(self.error(404, "Record not found"))
        return json_response(self._status(post, me, req.now))

    @route("GET", r"/api/v2/instance")
    def instance(self, req: Request) -> Response:
        """The server's description (its ``configuration`` as instance_serializer.rb has
        it); 404 with the bucket's ``instance_v2`` False."""
        if self.env.state.bucket(self.name).get("instance_v2") is False:
            return self.error(404, "Not Found")
        limits = self.limits()
        statuses = {
            key: limits[key]
            for key in ("max_characters", "max_media_attachments", "characters_reserved_per_url")
        }
        media = {
            "description_limit": limits["description_limit"],
            "image_size_limit": limits["image_size_limit"],
            "supported_mime_types": ["image/jpeg", "image/png", "image/gif", "image/webp"],
        }
        return json_response(
            {
                "domain": "sandbox.local",
                "title": "dissem sandbox",
                "version": limits["version"],
                "configuration": {"statuses": statuses, "media_attachments": media},
            }
        )

    def _status(self, post: PostRecord, me: dict[str, Any], now: datetime) -> dict[str, Any]:
        counts = engagement(post.remote_id, post.created_at, now, post.audience)
        return {
            "id": post.remote_id,
            "created_at": post.created_at.isoformat().replace("+00:00", "Z"),
            "in_reply_to_id": post.reply_to,
            "visibility": post.extra.get("visibility", "public"),
            "language": post.extra.get("language"),
            "spoiler_text": post.extra.get("spoiler_text", ""),
            "uri": post.url,
            "url": post.url,
            "content": to_html(post.text),
            "account": {**me, "id": post.account, "username": post.extra.get("username")},
            "replies_count": counts["replies"],
            "reblogs_count": counts["reposts"],
            "favourites_count": counts["likes"],
            "quotes_count": counts["quotes"],
            "media_attachments": [
                {"id": i["ref"], "type": "image", "description": i["alt"] or None}
                for i in post.images
            ],
        }


STAND_INS = (MastodonStandIn,)
