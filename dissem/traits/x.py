"""X (formerly Twitter)."""

from dissem.traits.base import Counting, Idempotency, ImageHandling, LinkHandling, PlatformTraits

TRAITS = PlatformTraits(
    name="x",
    display_name="X",
    # twitter-text v3: 280 weighted characters, every link 23, emoji and CJK weigh 2
    text_limit=280,
    counting=Counting.TWITTER_TEXT,
    url_length=23,
    threads=True,
    image=ImageHandling.UPLOAD,
    image_formats=("image/jpeg", "image/png", "image/gif", "image/webp"),
    image_max_bytes=5 * 1024 * 1024,  # a still image; an animated GIF may be 15 MB
    # beyond two, engagement drops and the 280 weighted characters run out
    hashtag_cap=2,
    link=LinkHandling.IN_TEXT,
    idempotency=Idempotency.NONE,
    can_lookup=True,
    metrics=("likes", "reposts", "replies", "quotes", "bookmarks", "views", "link_clicks"),
    metrics_batch=100,
    credentials=(
        ("api_key", "api_secret", "access_token", "access_token_secret"),
        ("oauth2_refresh_token", "oauth2_client_id", "oauth2_client_secret"),
        ("oauth2_refresh_token", "oauth2_client_id"),
        ("oauth2_user_token",),
    ),
    aliases=("twitter",),
    sources=(
        "https://docs.x.com/fundamentals/counting-characters",
        "https://github.com/twitter/twitter-text/tree/master/config",
        "https://docs.x.com/x-api/media",
        "https://developer.x.com/en/docs/x-api/metrics",
    ),
)
