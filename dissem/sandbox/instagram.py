"""Instagram stand-in under ``/instagram``: ``/{ig-user-id}/media`` (containers),
``/{ig-user-id}/media_publish``, container ``status_code``, media listing, insights and
``content_publishing_limit``.

A container needs a public ``image_url`` (no text-only posts) of a JPEG image: Instagram
takes JPEG only ("Image specifications - Format: JPEG",
https://developers.facebook.com/docs/instagram-platform/instagram-graph-api/reference/ig-user/media)
and refuses anything else with code 36001 / subcode 2207005 (see
https://developers.facebook.com/docs/instagram-platform/instagram-graph-api/reference/error-codes).
Meta downloads the image; the stand-in cannot reach the internet, so it judges an image on
this machine (its own ``/_sandbox/static/`` files) by its bytes and any other by the
extension of its path (``.png``, ``.webp``, ``.gif``, ``.heic`` are refused; anything else is
taken for a JPEG). The caption must fit 2200 characters and hold at most 30 hashtags.
Containers follow :mod:`dissem.sandbox.graph` (IN_PROGRESS -> FINISHED -> PUBLISHED, EXPIRED
after 24 h). Throttling is code 80002.
"""

from __future__ import annotations

import re
from datetime import timedelta
from pathlib import PurePosixPath
from typing import Any, ClassVar
from urllib.parse import urlsplit

from dissem.sandbox.core import Reject, Request, Response, json_response, route
from dissem.sandbox.graph import ContainerStandIn, V
from dissem.sandbox.state import PostRecord
from dissem.sandbox.uploads import sample_png, sniff_image

__all__ = ["InstagramStandIn"]

MAX_HASHTAGS = 30
#: posts an account may publish per rolling 24 hours (reported, not enforced: demos and
#: benchmarks post far more than a real account would)
QUOTA_TOTAL = 100
_HASHTAG = re.compile(r"(?<!\w)#\w+")
#: what an image URL off this machine is taken to serve, by the extension of its path
_BY_EXTENSION = {
    ".png": "image/png",
    ".webp": "image/webp",
    ".gif": "image/gif",
    ".heic": "image/heic",
    ".heif": "image/heic",
    ".avif": "image/avif",
}


class InstagramStandIn(ContainerStandIn):
    """Stands in for Instagram's content publishing (Graph API) under ``/instagram``."""

    name = "instagram"
    throttle_code: ClassVar[int] = 80002
    throttle_message: ClassVar[str] = (
        "(#80002) There have been too many calls to this Instagram account. Wait a bit and "
        "try again."
    )
    usage_type: ClassVar[str] = "instagram"
    create_edge: ClassVar[str] = "media"
    publish_edge: ClassVar[str] = "media_publish"
    status_field: ClassVar[str] = "status_code"
    error_field: ClassVar[str] = "status"
    text_field: ClassVar[str] = "caption"
    insights: ClassVar[dict[str, tuple[str, ...]]] = {
        "views": ("views",),
        "reach": ("reach",),
        "likes": ("likes",),
        "comments": ("replies",),
        "saved": ("bookmarks",),
        "shares": ("shares",),
        "total_interactions": ("likes", "replies", "bookmarks", "shares"),
    }

    def container_from(self, req: Request, account: str, form: dict[str, Any]) -> dict[str, Any]:
        image_url = str(form.get("image_url") or "")
        if not image_url:
            raise self.invalid("The parameter image_url is required.")
        if not image_url.startswith(("http://", "https://")):
            raise Reject(
                self.graph_error(
                    "Only photo or video can be accepted as media type.",
                    code=9004,
                    subcode=2207052,
                    error_user_title="Media download has failed",
                )
            )
        mime = self.image_type(image_url)
        if mime != "image/jpeg":
            raise Reject(
                self.graph_error(
                    "The image format is not supported.",
                    code=36001,
                    subcode=2207005,
                    is_transient=False,
                    error_user_title="Unsupported image format",
                    error_user_msg=f"The image format ({mime}) is not supported. Only JPEG "
                    "images can be published.",
                )
            )
        caption = str(form.get("caption") or "")
        if caption:
            self.require_text(caption)
        if len(_HASHTAG.findall(caption)) > MAX_HASHTAGS:
            raise self.invalid(f"The caption has more than {MAX_HASHTAGS} hashtags.")
        return {"text": caption, "image_url": image_url, "alt_text": form.get("alt_text")}

    def image_type(self, image_url: str) -> str:
        """The MIME type Meta would find at ``image_url`` (see the module doc): the sandbox's
        own static files by their bytes, other URLs by their extension (JPEG by default)."""
        parts = urlsplit(image_url)
        host = (parts.hostname or "").lower()
        local = host in ("localhost", "::1") or host.startswith("127.")
        if local and parts.path == "/_sandbox/static/sample.png":
            return sniff_image(sample_png()) or "application/octet-stream"
        return _BY_EXTENSION.get(PurePosixPath(parts.path).suffix.lower(), "image/jpeg")

    def media_json(self, post: PostRecord) -> dict[str, Any]:
        return {**super().media_json(post), "media_type": "IMAGE", "media_url": post.media[0]}

    @route("POST", V + r"/(?P<account>[^/]+)/media")
    def create(self, req: Request) -> Response:
        return self.create_container(req)

    @route("POST", V + r"/(?P<account>[^/]+)/media_publish", write=True)
    def publish(self, req: Request) -> Response:
        return self.publish_container(req)

    @route("GET", V + r"/(?P<account>[^/]+)/media")
    def media(self, req: Request) -> Response:
        return self.list_media(req)

    @route("GET", V + r"/(?P<account>[^/]+)/content_publishing_limit")
    def publishing_limit(self, req: Request) -> Response:
        """``{"data": [{"quota_usage": n, "config": {quota_total, quota_duration}}]}``."""
        self.token(req)
        since = req.now - timedelta(hours=24)
        used = sum(
            1
            for p in self.env.state.posts(self.name, req.params["account"])
            if p.created_at >= since
        )
        config = {"quota_total": QUOTA_TOTAL, "quota_duration": 86400}
        return json_response({"data": [{"quota_usage": used, "config": config}]})
