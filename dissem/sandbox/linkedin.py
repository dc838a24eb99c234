"""LinkedIn stand-in under ``/linkedin``: ``/rest/posts`` (create, list by author, get) and
``/rest/organizationalEntityShareStatistics``.

Requests need ``Authorization: Bearer`` (any non-empty token) and a ``LinkedIn-Version``
naming a released version (missing -> 400 ``VERSION_MISSING``; malformed, a month LinkedIn
skipped (:data:`NEVER_RELEASED`) or more than a year old -> 426 ``NONEXISTENT_VERSION``, body
``{"status": 426, "code": "NONEXISTENT_VERSION", "message": "Requested version 20251201 is
not active"}`` as LinkedIn answers). A created post answers 201 with an empty body and its URN
in ``x-restli-id``. The same commentary from the same author within 24 hours is refused with
LinkedIn's 422 (:func:`duplicate_error`: ``DUPLICATE_POST`` nested in
``errorDetails.inputErrors``, the existing URN only in the message), even when that post
was deleted since (``DELETE /rest/posts/{urn}``, 204): LinkedIn then names a URN that
answers 404. Throttling is 429 without any header, as LinkedIn does. Other errors:
``{"status", "serviceErrorCode", "code", "message"}``.

Images: ``POST /rest/images?action=initializeUpload {initializeUploadRequest: {owner}}``
answers ``{"value": {"uploadUrl", "uploadUrlExpiresAt", "image"}}``; the ``uploadUrl`` is
served by the sandbox and takes the bytes with ``PUT`` (and the bearer token), after which
``GET /rest/images/{urn}`` says ``AVAILABLE``. A post names an available image of its author
as ``content.media {id, altText}`` or as ``content.article.thumbnail`` (with
``thumbnailAltText``); anything else is 422.
"""

from __future__ import annotations

import re
import secrets
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import unquote

from dissem.sandbox.core import Reject, Request, Response, StandIn, json_response, route
from dissem.sandbox.state import PostRecord, engagement
from dissem.sandbox.uploads import image_entry, sniff_image

__all__ = ["LinkedInStandIn"]

DUPLICATE_WINDOW = timedelta(hours=24)
#: how long LinkedIn keeps serving a version after its month (about a year)
VERSION_LIFETIME_MONTHS = 12
_AUTHOR = re.compile(r"urn:li:(?:organization|person):\w+")
_VERSION = re.compile(r"(\d{4})(\d{2})(?:\.(\d{2}))?")
_LIST = re.compile(r"List\((.*)\)")
#: how long an upload URL stays valid, and the most bytes it takes (LinkedIn caps pixels,
#: 36 MP, rather than bytes)
UPLOAD_TTL = timedelta(hours=1)
UPLOAD_LIMIT = 20 * 1024 * 1024
ALT_LIMIT = 4086
#: months LinkedIn published no version in: the migrations table
#: (https://learn.microsoft.com/en-us/linkedin/marketing/integrations/migrations) goes from
#: 202511 to 202601
NEVER_RELEASED = frozenset({"202512"})
_SERVICE_CODES = {400: 100, 401: 65600, 403: 100, 404: 100, 422: 100, 429: 101}
_CODES = {
    400: "BAD_REQUEST",
    401: "INVALID_ACCESS_TOKEN",
    403: "ACCESS_DENIED",
    404: "NOT_FOUND",
    422: "UNPROCESSABLE_ENTITY",
    426: "NONEXISTENT_VERSION",
    429: "TOO_MANY_REQUESTS",
}


def linkedin_error(status: int, message: str, code: str | None = None) -> Response:
    """LinkedIn's error body."""
    body: dict[str, Any] = {"status": status, "message": message}
    if status in _SERVICE_CODES:
        body["serviceErrorCode"] = _SERVICE_CODES[status]
    if code or status in _CODES:
        body["code"] = code or _CODES[status]
    return json_response(body, status)


def duplicate_error(urn: str) -> Response:
    """LinkedIn's 422 for a duplicate post: the code nested in ``errorDetails.inputErrors``,
    the existing post's URN only in the message (as answered in
    https://github.com/Arisamiga/Linkedin-RSS/issues/5)."""
    body = {
        "errorDetailType": "com.linkedin.common.error.BadRequest",
        "message": "com.linkedin.content.common.exception.BadRequestResponseException: "
        f"Content is a duplicate of {urn}",
        "errorDetails": {
            "inputErrors": [
                {"description": "Duplicate post is detected", "input": {}, "code": "DUPLICATE_POST"}
            ]
        },
        "status": 422,
    }
    return json_response(body, 422)


def version_error(version: str) -> Response:
    """LinkedIn's 426 for a version it does not serve; the message spells the version as a
    day (``202409`` -> ``20240901``), e.g. https://github.com/PipedreamHQ/pipedream/issues/18398."""
    m = _VERSION.fullmatch(version)
    spelled = f"{m.group(1)}{m.group(2)}{m.group(3) or '01'}" if m else version
    message = f"Requested version {spelled} is not active"
    return json_response({"status": 426, "code": "NONEXISTENT_VERSION", "message": message}, 426)


class LinkedInStandIn(StandIn):
    """Stands in for ``https://api.linkedin.com`` (Posts API) under ``/linkedin``."""

    name = "linkedin"

    def error(self, status: int, message: str) -> Response:
        return linkedin_error(status, message)

    def throttled(self, now: datetime) -> Response:
        return linkedin_error(
            429,
            "Resource level throttle APPLICATION DAY limit for calls to this resource is reached.",
        )

    def server_error(self) -> Response:
        return json_response({"status": 500, "message": "Internal Server Error"}, 500)

    def too_long(self, text: str) -> Response:
        return linkedin_error(
            422, "/commentary: the text is longer than 3000 characters", "UNPROCESSABLE_ENTITY"
        )

    def check(self, req: Request) -> str:
        """The bearer token, after checking the protocol headers; :class:`Reject` otherwise."""
        token = req.bearer()
        if token is None:
            raise Reject(linkedin_error(401, "Invalid access token"))
        version = (req.header("LinkedIn-Version") or "").strip()
        if not version:
            raise Reject(
                linkedin_error(
                    400,
                    "A version must be present. Please specify a version by adding the "
                    "LinkedIn-Version header.",
                    "VERSION_MISSING",
                )
            )
        m = _VERSION.fullmatch(version)
        age = (req.now.year - int(m.group(1))) * 12 + req.now.month - int(m.group(2)) if m else 0
        # a version "from the future" passes: tests run the sandbox on any clock
        if (
            not m
            or not 1 <= int(m.group(2)) <= 12
            or age > VERSION_LIFETIME_MONTHS
            or f"{m.group(1)}{m.group(2)}" in NEVER_RELEASED
        ):
            raise Reject(version_error(version))
        return token

    @route("POST", r"/rest/posts", write=True)
    def create(self, req: Request) -> Response:
        self.check(req)
        body = req.json()
        author = str(body.get("author") or "")
        if not _AUTHOR.fullmatch(author):
            raise Reject(
                linkedin_error(422, f"/author: {author!r} is not a person or organization URN")
            )
        commentary = body.get("commentary")
        if not isinstance(commentary, str):
            raise Reject(linkedin_error(422, "/commentary: field is required"))
        if commentary:
            self.require_text(commentary)
        if body.get("visibility") not in ("PUBLIC", "CONNECTIONS", "LOGGED_IN"):
            raise Reject(
                linkedin_error(422, "/visibility: must be PUBLIC, CONNECTIONS or LOGGED_IN")
            )
        distribution = body.get("distribution")
        if not isinstance(distribution, dict) or "feedDistribution" not in distribution:
            raise Reject(linkedin_error(422, "/distribution/feedDistribution: field is required"))
        if body.get("lifecycleState") != "PUBLISHED":
            raise Reject(linkedin_error(422, "/lifecycleState: only PUBLISHED is supported"))
        article, media, images = self._content(body.get("content"), author)
        with self.env.state.lock:
            for earlier in self.env.state.posts(self.name, author):
                # deleted posts count too: LinkedIn then names a URN that answers 404
                if req.now - earlier.created_at < DUPLICATE_WINDOW and earlier.text == commentary:
                    raise Reject(duplicate_error(earlier.remote_id))
            urn = f"urn:li:share:{7_400_000_000_000_000_000 + self.env.serial(self.name)}"
            self.env.state.add_post(
                PostRecord(
                    platform=self.name,
                    account=author,
                    remote_id=urn,
                    text=commentary,
                    created_at=req.now,
                    url=f"{self.env.platform_url(self.name)}/feed/update/{urn}/",
                    media=[i["ref"] for i in images],
                    extra={"article": article, "media": media, "visibility": body["visibility"]},
                    images=images,
                )
            )
        return Response(201, b"", {"x-restli-id": urn, "x-linkedin-id": urn})

    def _content(
        self, content: Any, author: str
    ) -> tuple[dict[str, Any] | None, dict[str, Any] | None, list[dict[str, Any]]]:
        """The post's article and media content and the images they show; 422 when a field
        is wrong or an image is not an uploaded, available image of the author."""
        if content is None:
            return None, None, []
        if not isinstance(content, dict):
            raise Reject(linkedin_error(422, "/content: must be an object"))
        article, media = content.get("article"), content.get("media")
        if article is not None and media is not None:
            raise Reject(linkedin_error(422, "/content: holds one of article, media, ..."))
        images: list[dict[str, Any]] = []
        if article is not None:
            if not isinstance(article, dict) or not str(article.get("source", "")).startswith(
                "http"
            ):
                raise Reject(linkedin_error(422, "/content/article/source: must be an http(s) URL"))
            if article.get("thumbnail") is not None:
                alt = self._alt(article.get("thumbnailAltText"), "/content/article")
                image = self._image(article["thumbnail"], author, "/content/article/thumbnail")
                images.append(
                    image_entry(image["id"], alt, image["mime"], image["size"], kind="thumbnail")
                )
        if media is not None:
            if not isinstance(media, dict):
                raise Reject(linkedin_error(422, "/content/media: must be an object"))
            alt = self._alt(media.get("altText"), "/content/media")
            image = self._image(media.get("id"), author, "/content/media/id")
            images.append(image_entry(image["id"], alt, image["mime"], image["size"]))
        return article, media, images

    def _alt(self, alt: Any, where: str) -> str:
        if alt is None:
            return ""
        if not isinstance(alt, str) or len(alt) > ALT_LIMIT:
            raise Reject(linkedin_error(422, f"{where}: alt text of at most {ALT_LIMIT} chars"))
        return alt

    def _image(self, urn: Any, author: str, where: str) -> dict[str, Any]:
        with self.env.state.lock:
            image = self.env.state.bucket(self.name).get("images", {}).get(str(urn))
        if image is None or image["owner"] != author:
            raise Reject(linkedin_error(422, f"{where}: {urn!r} is not an image of the author"))
        if image["status"] != "AVAILABLE":
            raise Reject(linkedin_error(422, f"{where}: image {urn} is {image['status']}"))
        return dict(image)

    @route("POST", r"/rest/images")
    def initialize_upload(self, req: Request) -> Response:
        """``?action=initializeUpload``: an image URN and the URL that takes its bytes."""
        self.check(req)
        if req.arg("action") != "initializeUpload":
            raise Reject(linkedin_error(400, "action=initializeUpload is required"))
        request = req.json().get("initializeUploadRequest")
        owner = str(request.get("owner") or "") if isinstance(request, dict) else ""
        if not _AUTHOR.fullmatch(owner):
            raise Reject(
                linkedin_error(422, "/initializeUploadRequest/owner: a person or organization URN")
            )
        token = secrets.token_urlsafe(12)
        urn = f"urn:li:image:D4E10AQ{token.replace('-', 'x').replace('_', 'y')}"
        expires = req.now + UPLOAD_TTL
        with self.env.state.lock:
            bucket = self.env.state.bucket(self.name)
            bucket.setdefault("images", {})[urn] = {
                "id": urn,
                "owner": owner,
                "status": "WAITING_UPLOAD",
                "mime": "",
                "size": 0,
            }
            bucket.setdefault("uploads", {})[token] = {"urn": urn, "until": expires.isoformat()}
            self.env.state.changed()
        upload_url = f"{self.env.platform_url(self.name)}/dms-uploads/{token}/uploaded-image/0"
        value = {
            "uploadUrlExpiresAt": int(expires.timestamp() * 1000),
            "uploadUrl": upload_url,
            "image": urn,
        }
        return json_response({"value": value})

    @route("PUT", r"/dms-uploads/(?P<token>[A-Za-z0-9_-]+)/uploaded-image/0")
    def upload(self, req: Request) -> Response:
        """Takes the image bytes for an initialized upload (once, before it expires)."""
        if req.bearer() is None:
            raise Reject(linkedin_error(401, "Invalid access token"))
        with self.env.state.lock:
            bucket = self.env.state.bucket(self.name)
            upload = bucket.get("uploads", {}).get(req.params["token"])
            if upload is None or req.now >= datetime.fromisoformat(upload["until"]):
                raise Reject(linkedin_error(404, "Upload URL not found or expired"))
            image = bucket["images"][upload["urn"]]
            mime = sniff_image(req.body)
            if image["status"] != "WAITING_UPLOAD" or mime is None:
                raise Reject(linkedin_error(400, "The upload is not a new JPG, PNG or GIF image"))
            if len(req.body) > UPLOAD_LIMIT:
                raise Reject(linkedin_error(400, "The image is too large"))
            image.update(status="AVAILABLE", mime=mime, size=len(req.body))
            self.env.state.changed()
        return Response(201, b"", {})

    @route("GET", r"/rest/images/(?P<urn>[^/]+)")
    def image(self, req: Request) -> Response:
        self.check(req)
        with self.env.state.lock:
            image = (
                self.env.state.bucket(self.name).get("images", {}).get(unquote(req.params["urn"]))
            )
        if image is None:
            raise Reject(linkedin_error(404, "Not Found"))
        return json_response(
            {"id": image["id"], "owner": image["owner"], "status": image["status"]}
        )

    @route("GET", r"/rest/posts")
    def by_author(self, req: Request) -> Response:
        """The author's posts, newest first (``q=author&author=<urn>&count=&start=``)."""
        self.check(req)
        if req.arg("q") != "author" or not req.arg("author"):
            raise Reject(linkedin_error(400, "q=author and author are required"))
        count = min(int(req.arg("count") or 10), 100)
        start = int(req.arg("start") or 0)
        posts = [
            p
            for p in reversed(self.env.state.posts(self.name, req.arg("author")))
            if not p.extra.get("deleted")
        ]
        page = posts[start : start + count]
        return json_response(
            {
                "elements": [self._post_json(p) for p in page],
                "paging": {"start": start, "count": count, "total": len(posts), "links": []},
            }
        )

    @route("GET", r"/rest/posts/(?P<urn>[^/]+)")
    def get(self, req: Request) -> Response:
        self.check(req)
        return json_response(self._post_json(self._live_post(req)))

    @route("DELETE", r"/rest/posts/(?P<urn>[^/]+)")
    def delete(self, req: Request) -> Response:
        """Deletes a post: 204, after which it answers 404 (Posts API, "Delete Posts":
        https://learn.microsoft.com/en-us/linkedin/marketing/community-management/shares/posts-api).
        The sandbox keeps the record, marked ``extra.deleted``, for duplicate detection."""
        self.check(req)
        with self.env.state.lock:
            post = self._live_post(req)
            post.extra["deleted"] = True
            self.env.state.changed()
        return Response(204, b"", {})

    def _live_post(self, req: Request) -> PostRecord:
        post = self.env.state.get_post(self.name, unquote(req.params["urn"]))
        if post is None or post.extra.get("deleted"):
            raise Reject(linkedin_error(404, "Not Found"))
        return post

    @route("GET", r"/rest/organizationalEntityShareStatistics")
    def statistics(self, req: Request) -> Response:
        """Lifetime statistics of the listed shares and ugcPosts of one organization."""
        self.check(req)
        org = req.arg("organizationalEntity") or ""
        if req.arg("q") != "organizationalEntity" or not org:
            raise Reject(
                linkedin_error(400, "q=organizationalEntity and organizationalEntity are required")
            )
        elements = []
        for param, key in (("shares", "share"), ("ugcPosts", "ugcPost")):
            m = _LIST.fullmatch(req.arg(param) or "")
            for urn in (unquote(u) for u in (m.group(1).split(",") if m else []) if u):
                post = self.env.state.get_post(self.name, urn)
                if post is None or post.account != org or post.extra.get("deleted"):
                    continue
                c = engagement(post.remote_id, post.created_at, req.now, post.audience)
                stats = {
                    "impressionCount": c["views"],
                    "uniqueImpressionsCount": c["reach"],
                    "clickCount": c["link_clicks"],
                    "likeCount": c["likes"],
                    "commentCount": c["replies"],
                    "shareCount": c["shares"],
                    "engagement": round(
                        (c["link_clicks"] + c["likes"] + c["replies"] + c["shares"])
                        / max(c["views"], 1),
                        4,
                    ),
                }
                elements.append(
                    {key: urn, "organizationalEntity": org, "totalShareStatistics": stats}
                )
        return json_response({"elements": elements, "paging": {"count": 10, "start": 0}})

    def _post_json(self, post: PostRecord) -> dict[str, Any]:
        millis = int(post.created_at.timestamp() * 1000)
        out: dict[str, Any] = {
            "id": post.remote_id,
            "author": post.account,
            "commentary": post.text,
            "visibility": post.extra.get("visibility", "PUBLIC"),
            "lifecycleState": "PUBLISHED",
            "createdAt": millis,
            "publishedAt": millis,
            "lastModifiedAt": millis,
            "distribution": {"feedDistribution": "MAIN_FEED", "targetEntities": []},
        }
        if post.extra.get("article"):
            out["content"] = {"article": post.extra["article"]}
        elif post.extra.get("media"):
            out["content"] = {"media": post.extra["media"]}
        return out


STAND_INS = (LinkedInStandIn,)
