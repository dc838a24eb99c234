"""Instagram professional accounts (Graph API, content publishing)."""

from dissem.traits.base import Counting, Idempotency, ImageHandling, LinkHandling, PlatformTraits

#: Instagram links are not clickable, so its caption says where the article is instead
INSTAGRAM_TEMPLATE = (
    "{{ title }}\n\n{% if summary %}{{ summary }}\n\n{% endif %}{{ link_hint }}"
    "{% if hashtags %}\n\n{{ hashtags }}{% endif %}"
)

TRAITS = PlatformTraits(
    name="instagram",
    display_name="Instagram",
    # "2,200 characters" without defining the character; UTF-16 units are never fewer
    # than code points or graphemes, so this is the conservative reading
    text_limit=2200,
    counting=Counting.UTF16,
    media_required=True,
    image=ImageHandling.UPLOAD,
    image_formats=("image/jpeg",),  # JPEG is the only image format publishing documents
    image_max_bytes=8 * 1024 * 1024,
    # Instagram announced a cap of 5 in late 2025 (the API documents 30; the lower one)
    hashtag_cap=5,
    default_template=INSTAGRAM_TEMPLATE,
    link=LinkHandling.NOT_CLICKABLE,
    idempotency=Idempotency.CONTAINER,
    can_lookup=True,
    metrics=("views", "reach", "likes", "replies", "bookmarks", "shares"),
    metrics_batch=25,
    credentials=(("access_token",),),
    aliases=("ig",),
    sources=(
        "https://developers.facebook.com/docs/instagram-platform/content-publishing/",
        "https://developers.facebook.com/docs/instagram-platform/instagram-graph-api/reference/ig-user/media",
        "https://developers.facebook.com/docs/instagram-platform/instagram-graph-api/reference/ig-container",
    ),
)
