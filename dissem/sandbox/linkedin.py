"""LinkedIn stand-in under ``/linkedin``: ``/rest/posts`` (create, list by author, get) and
``/rest/organizationalEntityShareStatistics``.

Requests need ``Authorization: Bearer`` (any non-empty token) and a ``LinkedIn-Version``
of the form ``YYYYMM`` (missing -> 400 ``VERSION_MISSING``; malformed or more than a year old
-> 426 ``NONEXISTENT_VERSION``). A created post answers 201 with an empty body and its URN in
``x-restli-id``. The same commentary from the same author within 24 hours is refused with
422 ``DUPLICATE_POST`` naming the existing URN. Throttling is 429 without any header, as
LinkedIn does. Errors: ``{"status", "serviceErrorCode", "code", "message"}``.
"""

from __future__ import annotations

import re
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import unquote

from dissem.sandbox.core import Reject, Request, Response, StandIn, json_response, route
from dissem.sandbox.state import PostRecord, engagement

__all__ = ["LinkedInStandIn"]

DUPLICATE_WINDOW = timedelta(hours=24)
#: how long LinkedIn keeps serving a version after its month (about a year)
VERSION_LIFETIME_MONTHS = 12
_AUTHOR = re.compile(r"urn:li:(?:organization|person):\w+")
_VERSION = re.compile(r"(\d{4})(\d{2})(?:\.\d{2})?")
_LIST = re.compile(r"List\((.*)\)")
_SERVICE_CODES = {400: 100, 401: 65600, 403: 100, 404: 100, 422: 100, 426: 100, 429: 101}
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
        if not m or not 1 <= int(m.group(2)) <= 12 or age > VERSION_LIFETIME_MONTHS:
            raise Reject(linkedin_error(426, f"Requested version {version} is not active"))
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
        article = (body.get("content") or {}).get("article")
        if article is not None and not str(article.get("source", "")).startswith("http"):
            raise Reject(linkedin_error(422, "/content/article/source: must be an http(s) URL"))
        with self.env.state.lock:
            for earlier in self.env.state.posts(self.name, author):
                if req.now - earlier.created_at < DUPLICATE_WINDOW and earlier.text == commentary:
                    raise Reject(
                        linkedin_error(
                            422,
                            f"Content is a duplicate of {earlier.remote_id}",
                            "DUPLICATE_POST",
                        )
                    )
            urn = f"urn:li:share:{7_400_000_000_000_000_000 + self.env.serial(self.name)}"
            self.env.state.add_post(
                PostRecord(
                    platform=self.name,
                    account=author,
                    remote_id=urn,
                    text=commentary,
                    created_at=req.now,
                    url=f"{self.env.platform_url(self.name)}/feed/update/{urn}/",
                    extra={"article": article, "visibility": body["visibility"]},
                )
            )
        return Response(201, b"", {"x-restli-id": urn, "x-linkedin-id": urn})

    @route("GET", r"/rest/posts")
    def by_author(self, req: Request) -> Response:
        """The author's posts, newest first (``q=author&author=<urn>&count=&start=``)."""
        self.check(req)
        if req.arg("q") != "author" or not req.arg("author"):
            raise Reject(linkedin_error(400, "q=author and author are required"))
        count = min(int(req.arg("count") or 10), 100)
        start = int(req.arg("start") or 0)
        posts = list(reversed(self.env.state.posts(self.name, req.arg("author"))))
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
        post = self.env.state.get_post(self.name, unquote(req.params["urn"]))
        if post is None:
            raise Reject(linkedin_error(404, "Not Found"))
        return json_response(self._post_json(post))

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
                if post is None or post.account != org:
                    continue
                c = engagement(post.remote_id, post.created_at, req.now)
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
        return out


STAND_INS = (LinkedInStandIn,)
