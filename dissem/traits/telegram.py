"""Telegram channels (Bot API)."""

from dissem.traits.base import (
    Counting,
    Idempotency,
    ImageHandling,
    LinkHandling,
    Markup,
    PlatformTraits,
)

TRAITS = PlatformTraits(
    name="telegram",
    display_name="Telegram",
    # sendMessage: 1-4096 characters after entities parsing; a caption 0-1024
    text_limit=4096,
    counting=Counting.UTF16_AFTER_HTML,
    caption_limit=1024,
    threads=True,
    image=ImageHandling.CAPTION,
    image_formats=("image/jpeg", "image/png", "image/webp"),
    image_max_bytes=10 * 1024 * 1024,  # sendPhoto: at most 10 MB
    hashtag_cap=3,
    link=LinkHandling.IN_TEXT,
    markup=Markup.TELEGRAM_HTML,
    idempotency=Idempotency.NONE,
    can_lookup=False,  # a bot cannot read a channel back
    metrics=(),
    metrics_batch=0,
    credentials=(("bot_token",),),
    aliases=("tg",),
    sources=(
        "https://core.telegram.org/bots/api#sendmessage",
        "https://core.telegram.org/bots/api#sendphoto",
        "https://core.telegram.org/bots/api#html-style",
        "https://core.telegram.org/api/entities#entity-length",
    ),
)
