"""LinkedIn (Posts API, member or organization)."""

from dissem.traits.base import (
    Counting,
    Idempotency,
    ImageHandling,
    LinkHandling,
    Markup,
    PlatformTraits,
)

TRAITS = PlatformTraits(
    name="linkedin",
    display_name="LinkedIn",
    # commentary as sent, escaped into the "little" format
    text_limit=3000,
    counting=Counting.UTF16,
    image=ImageHandling.UPLOAD,
    image_formats=("image/jpeg", "image/png", "image/gif"),
    image_max_bytes=10 * 1024 * 1024,
    hashtag_cap=3,
    # the article (source, title, description) goes beside the commentary
    link=LinkHandling.ARTICLE,
    link_field="article",
    markup=Markup.LINKEDIN_LITTLE,
    idempotency=Idempotency.NONE,
    can_lookup=True,
    metrics=("views", "reach", "link_clicks", "likes", "replies", "shares"),
    metrics_batch=20,
    credentials=(("access_token",),),
    sources=(
        "https://learn.microsoft.com/en-us/linkedin/marketing/community-management/shares/posts-api",
        "https://learn.microsoft.com/en-us/linkedin/marketing/community-management/shares/little-text-format",
        "https://learn.microsoft.com/en-us/linkedin/marketing/community-management/shares/images-api",
    ),
)
