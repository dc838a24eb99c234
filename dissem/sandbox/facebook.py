"""Facebook Pages stand-in under ``/facebook``: ``/{page-id}/feed``, ``/{page-id}/photos``,
``/{page-id}/posts`` and ``/?ids=`` with reactions, comments and shares.

Post ids are ``<page>_<n>`` like Graph's. The same message (and link) posted on the same
Page within 24 hours is refused with code 506 ("Duplicate status message"). Throttling is
code 32 with HTTP 400 and an ``X-Business-Use-Case-Usage`` header (see
:mod:`dissem.sandbox.graph`). A Page listed in the bucket's ``blocked_pages`` is refused
every post with code 368 ("temporarily blocked for policy violations"), as Facebook answers
a Page it has restricted, until the test removes it from the list.

Both refusals carry what Graph sends (HTTP 400, ``type`` OAuthException, the subcode, the
user-facing title and text, ``fbtrace_id``); codes from
https://developers.facebook.com/docs/graph-api/guides/error-handling (368 "Temporarily
blocked for policy violations", 506 "Duplicate Post"); the subcodes 1390008 and 1455006 are
the ones Graph answers with (as clients handling them check, e.g. for 506/1455006 "Can't make
the same status update twice in a row").

A photo comes as a multipart ``source`` file or as a ``url`` that Graph downloads, with
``caption`` and the optional ``alt_text_custom``; the post records it with its alt text. A
file, or a ``url`` on this machine (``127.0.0.1``, ``localhost``), which the stand-in
downloads as Graph would, must be an image under 10 MB, else code 100 "Missing or invalid
image file". Any other http(s) ``url`` is taken as an image unread: the sandbox runs offline.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any, ClassVar
from urllib.parse import urlsplit

import requests

from dissem.sandbox.core import Reject, Request, Response, json_response, route
from dissem.sandbox.graph import GraphStandIn, V, graph_time
from dissem.sandbox.state import PostRecord
from dissem.sandbox.uploads import image_entry, multipart_fields, sniff_image

__all__ = ["FacebookStandIn"]

#: how far back a repeated message counts as a duplicate
DUPLICATE_WINDOW = timedelta(hours=24)
#: what Graph answers a Page that may not post for now (code 368) ...
BLOCKED = {
    "message": "It looks like you were misusing this feature by going too fast. You've been "
    "temporarily blocked from using it.",
    "code": 368,
    "subcode": 1390008,
    "is_transient": True,
    "error_user_title": "You Can't Use This Feature Right Now",
    "error_user_msg": "It looks like you were misusing this feature by going too fast. "
    "You've been temporarily blocked from using it.",
}
#: ... and a Page repeating its last status (code 506)
DUPLICATE = {
    "message": "(#506) Duplicate status message",
    "code": 506,
    "subcode": 1455006,
    "is_transient": False,
    "error_user_title": "Duplicate Status Update",
    "error_user_msg": "This status update is identical to the last one you posted. Try "
    "posting something different, or delete your previous update.",
}
#: Graph's cap on a photo file, and how long the stand-in waits for a photo ``url``
PHOTO_LIMIT = 10 * 1024 * 1024
DOWNLOAD_TIMEOUT = 3.0


class FacebookStandIn(GraphStandIn):
    """Stands in for ``https://graph.facebook.com`` (Pages) under ``/facebook``."""

    name = "facebook"
    throttle_code: ClassVar[int] = 32
    throttle_message: ClassVar[str] = "(#32) Page request limit reached"
    usage_type: ClassVar[str] = "pages"

    @route("POST", V + r"/(?P<account>[^/]+)/feed", write=True)
    def feed(self, req: Request) -> Response:
        form = req.form()
        self.token(req, form)
        message = str(form.get("message") or "")
        link = str(form.get("link") or "")
        if not message.strip() and not link:
            raise self.invalid("Missing message or attachment")
        if message.strip():
            self.require_text(message)
        if link and not link.startswith(("http://", "https://")):
            raise self.invalid("link URL is not properly formatted")
        post = self._add(req, message, link=link or None)
        return json_response({"id": post.remote_id})

    @route("POST", V + r"/(?P<account>[^/]+)/photos", write=True)
    def photos(self, req: Request) -> Response:
        fields = multipart_fields(req)
        form: dict[str, Any] = (
            {k: f.text for k, f in fields.items() if f.filename is None}
            if fields is not None
            else req.form()
        )
        self.token(req, form)
        upload = fields.get("source") if fields else None
        url = str(form.get("url") or "")
        if upload is None and url.startswith(("http://", "https://")) and not _local(url):
            mime, size = "image/*", 0  # Graph would download it; the sandbox is offline
        else:
            data = upload.data if upload is not None else _download(url)
            mime = sniff_image(data) or ""
            if not mime or len(data) >= PHOTO_LIMIT:
                raise self.invalid("Missing or invalid image file", subcode=2069019)
            size = len(data)
        caption = str(form.get("caption") or "")
        if caption.strip():
            self.require_text(caption)
        photo_id = self.new_id()
        image = url or f"{self.env.platform_url(self.name)}/photos/{photo_id}"
        alt = str(form.get("alt_text_custom") or "")
        post = self._add(req, caption, image=image, alt=alt, mime=mime, size=size)
        return json_response({"id": photo_id, "post_id": post.remote_id})

    @route("GET", V + r"/(?P<account>[^/]+)/posts")
    def posts(self, req: Request) -> Response:
        """The Page's posts, newest first, ``since`` a unix time, at most ``limit``."""
        self.token(req)
        since = req.arg("since")
        limit = min(int(req.arg("limit") or 25), 100)
        found = [
            p
            for p in reversed(self.env.state.posts(self.name, req.params["account"]))
            if since is None or p.created_at.timestamp() >= float(since)
        ]
        return json_response({"data": [self._post_json(p, req.now) for p in found[:limit]]})

    @route("GET", V + r"/?")
    def by_ids(self, req: Request) -> Response:
        """``/?ids=a,b&fields=...``: an object keyed by id; unknown ids are left out."""
        self.token(req)
        ids = [i for i in (req.arg("ids") or "").split(",") if i]
        if not ids:
            raise self.invalid("Must specify ids or a path")
        if len(ids) > 50:
            raise self.invalid("Too many IDs. Maximum: 50.")
        out: dict[str, Any] = {}
        for remote_id in ids:
            post = self.env.state.get_post(self.name, remote_id)
            if post is not None:
                out[remote_id] = self._post_json(post, req.now, engagement=True)
        return json_response(out)

    @route("GET", V + r"/(?P<node>[^/]+_\d+)")
    def post(self, req: Request) -> Response:
        self.token(req)
        post = self.env.state.get_post(self.name, req.params["node"])
        if post is None:
            raise self.missing(req.params["node"])
        return json_response(self._post_json(post, req.now, engagement=True))

    def _add(
        self,
        req: Request,
        message: str,
        *,
        link: str | None = None,
        image: str | None = None,
        alt: str = "",
        mime: str = "",
        size: int = 0,
    ) -> PostRecord:
        page = req.params["account"]
        with self.env.state.lock:
            if page in self.env.state.bucket(self.name).get("blocked_pages", ()):
                raise Reject(self._refusal(BLOCKED))
            for earlier in self.env.state.posts(self.name, page):
                if (
                    req.now - earlier.created_at < DUPLICATE_WINDOW
                    and message.strip()
                    and earlier.text == message
                    and earlier.extra.get("link") == link
                ):
                    raise Reject(self._refusal(DUPLICATE))
            number = self.env.serial(self.name)
            remote_id = f"{page}_{number}"
            return self.env.state.add_post(
                PostRecord(
                    platform=self.name,
                    account=page,
                    remote_id=remote_id,
                    text=message,
                    created_at=req.now,
                    url=f"{self.env.platform_url(self.name)}/{page}/posts/{number}",
                    media=[image] if image else [],
                    extra={"link": link},
                    images=[image_entry(image, alt, mime, size)] if image else [],
                )
            )

    def _refusal(self, kind: dict[str, Any]) -> Response:
        fields = {k: v for k, v in kind.items() if k not in ("message", "code", "subcode")}
        return self.graph_error(
            kind["message"], code=kind["code"], subcode=kind["subcode"], **fields
        )

    def _post_json(
        self, post: PostRecord, now: datetime, *, engagement: bool = False
    ) -> dict[str, Any]:
        out: dict[str, Any] = {
            "id": post.remote_id,
            "message": post.text,
            "created_time": graph_time(post.created_at),
            "permalink_url": post.url,
        }
        if engagement:
            counts = self.counts(post, now)
            out["reactions"] = {"data": [], "summary": {"total_count": counts["likes"]}}
            out["comments"] = {"data": [], "summary": {"total_count": counts["replies"]}}
            if counts["shares"]:  # Graph leaves the field out when nobody shared
                out["shares"] = {"count": counts["shares"]}
        return out


def _local(url: str) -> bool:
    return (urlsplit(url).hostname or "") in ("127.0.0.1", "localhost", "::1")


def _download(url: str) -> bytes:
    """The bytes at ``url`` (at most :data:`PHOTO_LIMIT`), or b"" when it cannot be read.

    A redirect is not followed (its answer is no image): the URL is on this machine, and
    where it points must not take the sandbox off it."""
    if not url.startswith(("http://", "https://")):
        return b""
    try:
        with requests.get(
            url, timeout=DOWNLOAD_TIMEOUT, stream=True, allow_redirects=False
        ) as answer:
            if answer.status_code != 200:
                return b""
            data = answer.raw.read(PHOTO_LIMIT, decode_content=True)
    except requests.exceptions.RequestException:
        return b""
    return bytes(data)
