"""Threads (Meta's Threads API)."""

from dissem.traits.base import Counting, Idempotency, ImageHandling, LinkHandling, PlatformTraits

TRAITS = PlatformTraits(
    name="threads",
    display_name="Threads",
    # 500 characters, where an emoji counts its UTF-8 bytes; at most 5 distinct links
    text_limit=500,
    counting=Counting.CODE_POINTS_EMOJI_BYTES,
    max_links=5,
    threads=True,
    # the text goes with a link_attachment, whose preview shows the article's image
    image=ImageHandling.LINK_PREVIEW,
    image_formats=("image/jpeg", "image/png"),
    image_max_bytes=8 * 1024 * 1024,
    # Threads links a single topic tag per post
    hashtag_cap=1,
    link=LinkHandling.ATTACHMENT,
    link_field="link_attachment",
    idempotency=Idempotency.CONTAINER,
    can_lookup=True,
    metrics=("views", "likes", "replies", "reposts", "quotes", "shares"),
    metrics_batch=25,
    credentials=(("access_token",),),
    sources=(
        "https://developers.facebook.com/docs/threads/posts",
        "https://developers.facebook.com/documentation/threads/create-posts/text-attachments",
        "https://developers.facebook.com/docs/threads/troubleshooting",
        "https://developers.facebook.com/docs/threads/insights",
    ),
)
