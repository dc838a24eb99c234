"""Mastodon (one server; a channel may set its server's own limits)."""

from dissem.traits.base import Counting, Idempotency, ImageHandling, LinkHandling, PlatformTraits

TRAITS = PlatformTraits(
    name="mastodon",
    display_name="Mastodon",
    # the default of mastodon.social; servers differ (read from /api/v2/instance, or set
    # a channel's max_length and url_length)
    text_limit=500,
    counting=Counting.MASTODON,
    url_length=23,
    threads=True,
    image=ImageHandling.UPLOAD,
    image_formats=(
        "image/jpeg",
        "image/png",
        "image/gif",
        "image/webp",
        "image/heic",
        "image/avif",
    ),
    image_max_bytes=16 * 1024 * 1024,  # the default; a server states its own
    # hashtags are how Mastodon posts are found, so a few more
    hashtag_cap=4,
    link=LinkHandling.IN_TEXT,
    language_field="language",
    content_warning_field="spoiler_text",
    visibility_field="visibility",
    idempotency=Idempotency.KEY,
    can_lookup=True,
    metrics=("likes", "reposts", "replies", "quotes"),
    metrics_batch=20,
    credentials=(("access_token",),),
    sources=(
        "https://docs.joinmastodon.org/user/posting/#text",
        "https://docs.joinmastodon.org/methods/statuses/#create",
        "https://docs.joinmastodon.org/methods/instance/#v2",
        "https://docs.joinmastodon.org/methods/media/#v2",
    ),
)
