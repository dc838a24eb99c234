"""Instagram (professional accounts) through the Graph API's content publishing.

Two steps (see :mod:`dissem.platforms.containers`): ``POST /{ig-user-id}/media
{image_url, caption, alt_text}`` makes a container (Meta downloads ``image_url``, which must
be public), ``POST /{ig-user-id}/media_publish {creation_id}`` publishes it. There are no
text-only posts and links in captions are not clickable (the composer says where the link
is). Metrics come from ``/{media-id}/insights`` (``impressions`` is gone; ``views`` replaced
it).

Credentials: ``access_token`` (a token with ``instagram_content_publish``).
``channel.account`` is the Instagram user id.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import ClassVar

from dissem.compose.types import Part
from dissem.errors import ContentRejected
from dissem.platforms.base import Capabilities, RemotePost
from dissem.platforms.containers import ContainerPlatform

__all__ = ["InstagramAccount"]


class InstagramAccount(ContainerPlatform):
    """An Instagram professional account."""

    name: ClassVar[str] = "instagram"
    capabilities: ClassVar[Capabilities] = Capabilities(
        threads=False,
        media_required=True,
        link_cards=False,
        native_idempotency=True,
        can_lookup=True,
        metrics=("views", "reach", "likes", "replies", "bookmarks", "shares"),
        metrics_batch=25,
        text_limit=2200,
    )
    required_credentials: ClassVar[tuple[tuple[str, ...], ...]] = (("access_token",),)
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
        fields = {"image_url": image.src, "caption": part.text}
        if image.alt:
            fields["alt_text"] = image.alt
        return fields
