"""Instagram (professional accounts) through the Graph API's content publishing.

Two steps (see :mod:`dissem.platforms.containers`): ``POST /{ig-user-id}/media
{image_url, caption, alt_text}`` makes a container (Meta downloads ``image_url``, which must
be public), ``POST /{ig-user-id}/media_publish {creation_id}`` publishes it. There are no
text-only posts and links in captions are not clickable (the composer says where the link
is). Metrics come from ``/{media-id}/insights`` (``impressions`` is gone; ``views`` replaced
it).

Instagram takes JPEG images only ("Image specifications - Format: JPEG",
https://developers.facebook.com/docs/instagram-platform/instagram-graph-api/reference/ig-user/media)
and refuses anything else after the container is made (code 36001, subcode 2207005,
https://developers.facebook.com/docs/instagram-platform/instagram-graph-api/reference/error-codes).
So before making one, the adapter reads the image's first bytes
(:func:`~dissem.platforms.media.peek_image_type`) and refuses a PNG, WebP, GIF, HEIC or AVIF
with :class:`ContentRejected` saying so; an image it cannot read is left to Meta (Meta may
reach what this machine cannot). In sandbox mode only images on this machine are read.
dissem serves no image files itself, so there is nowhere to convert one: the fix is a JPEG at
the image's URL (``dissem validate`` flags a local non-JPEG image for Instagram).

Credentials: ``access_token`` (a token with ``instagram_content_publish``).
``channel.account`` is the Instagram user id.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import ClassVar

import requests

from dissem.compose.types import Media, Part
from dissem.errors import ContentRejected, PlatformError
from dissem.platforms.base import RemotePost
from dissem.platforms.containers import ContainerPlatform
from dissem.platforms.media import is_local_url, peek_image_type
from dissem.platforms.safe_fetch import Destinations

__all__ = ["UNSUPPORTED_FORMAT_SUBCODE", "InstagramAccount"]

#: Graph's subcode for "the image format is not supported" (Instagram takes JPEG only)
UNSUPPORTED_FORMAT_SUBCODE = 2207005
_JPEG_ONLY = "Instagram takes JPEG images only: save the image as JPEG at a public URL"


class InstagramAccount(ContainerPlatform):
    """An Instagram professional account."""

    name: ClassVar[str] = "instagram"
    default_api_base: ClassVar[str] = "https://graph.facebook.com"

    create_edge: ClassVar[str] = "media"
    publish_edge: ClassVar[str] = "media_publish"
    status_field: ClassVar[str] = "status_code"
    error_field: ClassVar[str] = "status"  # its error subcode when status_code is ERROR
    text_field: ClassVar[str] = "caption"
    insight_names: ClassVar[Mapping[str, str]] = {
        "views": "views",
        "reach": "reach",
        "likes": "likes",
        "comments": "replies",
        "saved": "bookmarks",
        "shares": "shares",
    }
    extra_insights: ClassVar[tuple[str, ...]] = ("total_interactions",)

    def container_fields(self, part: Part, reply_to: RemotePost | None) -> dict[str, str]:
        """``image_url``, ``caption`` and ``alt_text`` of the part's first image.

        Raises :class:`ContentRejected` without an image or when the image is not a public
        http(s) URL (Meta fetches it itself; a local path cannot work).
        """
        if not part.media:
            raise ContentRejected("instagram: a post needs an image", platform=self.name)
        image = part.media[0]
        if not image.src.startswith(("https://", "http://")):
            raise ContentRejected(
                f"instagram: the image must be a public URL that Meta can download, "
                f"not {image.src!r}",
                platform=self.name,
            )
        self._require_jpeg(image)
        fields = {"image_url": image.src, "caption": part.text}
        if image.alt:
            fields["alt_text"] = image.alt
        return fields

    def _require_jpeg(self, image: Media) -> None:
        """Raises :class:`ContentRejected` when the image at ``image.src`` is known to be
        another format than JPEG; does nothing when it cannot be read (see the module doc)."""
        if self.settings.sandbox_url and not is_local_url(image.src):
            return  # a demo never reaches a real server; the stand-in judges the URL
        # in sandbox mode the peek (redirects too) stays on this machine
        local = Destinations(local_only=bool(self.settings.sandbox_url))
        mime = peek_image_type(image.src, timeout=self.timeout, destinations=local)
        if mime is not None and mime != "image/jpeg":
            raise ContentRejected(
                f"instagram: the image {image.src!r} is {mime.removeprefix('image/').upper()}; "
                f"{_JPEG_ONLY}",
                platform=self.name,
            )

    def classify_error(self, response: requests.Response, *, creates: bool) -> PlatformError:
        """Graph's errors, with the way out added to "the image format is not supported"."""
        error = super().classify_error(response, creates=creates)
        if isinstance(error, ContentRejected) and _subcode(response) == UNSUPPORTED_FORMAT_SUBCODE:
            return ContentRejected(
                f"{error} ({_JPEG_ONLY})", platform=self.name, status=error.status
            )
        return error


def _subcode(response: requests.Response) -> object:
    try:
        body = response.json()
    except ValueError:
        return None
    error = body.get("error") if isinstance(body, dict) else None
    return error.get("error_subcode") if isinstance(error, dict) else None
