"""Bluesky (AT Protocol)."""

from dissem.traits.base import Counting, Idempotency, ImageHandling, LinkHandling, PlatformTraits

TRAITS = PlatformTraits(
    name="bluesky",
    display_name="Bluesky",
    # app.bsky.feed.post: text maxGraphemes 300, maxLength 3000 (bytes)
    text_limit=300,
    counting=Counting.GRAPHEMES,
    max_bytes=3000,
    threads=True,
    image=ImageHandling.UPLOAD,
    image_formats=("image/jpeg", "image/png", "image/webp", "image/gif"),
    image_max_bytes=2_000_000,
    hashtag_cap=3,
    # links are facets the client computes, and the card is an app.bsky.embed.external
    link=LinkHandling.EMBED_CARD,
    languages_field="langs",
    idempotency=Idempotency.RKEY,
    can_lookup=True,
    metrics=("likes", "reposts", "replies", "quotes", "bookmarks"),
    metrics_batch=25,
    credentials=(("identifier", "app_password"), ("app_password",)),
    aliases=("bsky",),
    sources=(
        "https://github.com/bluesky-social/atproto/blob/main/lexicons/app/bsky/feed/post.json",
        "https://github.com/bluesky-social/atproto/blob/main/lexicons/app/bsky/embed/images.json",
        "https://docs.bsky.app/docs/advanced-guides/post-richtext",
        "https://docs.bsky.app/docs/advanced-guides/posts",
    ),
)
