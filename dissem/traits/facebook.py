"""Facebook Pages (Graph API)."""

from dissem.traits.base import Counting, Idempotency, ImageHandling, LinkHandling, PlatformTraits

TRAITS = PlatformTraits(
    name="facebook",
    display_name="Facebook",
    text_limit=63206,
    counting=Counting.UTF16,
    # the link goes in the post's "link" field; its preview shows the article's image
    image=ImageHandling.LINK_PREVIEW,
    image_formats=("image/jpeg", "image/png", "image/gif", "image/bmp", "image/tiff"),
    image_max_bytes=10 * 1024 * 1024 - 1,  # photos under 10 MB
    hashtag_cap=3,
    link=LinkHandling.ATTACHMENT,
    link_field="link",
    idempotency=Idempotency.NONE,
    can_lookup=True,
    metrics=("likes", "replies", "shares"),
    metrics_batch=50,
    credentials=(("page_token",),),
    aliases=("fb",),
    sources=(
        "https://developers.facebook.com/docs/pages-api/posts",
        "https://developers.facebook.com/docs/graph-api/reference/page/photos",
        "https://developers.facebook.com/docs/graph-api/guides/error-handling",
    ),
)
