"""What a platform *is*, as data: :class:`PlatformTraits`.

Everything about a platform that is not HTTP lives in one frozen declaration per platform
(``dissem/traits/<platform>.py``): its text limit and how it counts, threads, images, the
hashtag cap, the default template, how the link travels, idempotency, lookup, metrics and
the credentials a channel maps. Compose, config, planning, the adapters, the sandbox and
the docs read it; none keeps a copy. See ``docs/platforms.md`` for the facts and their
sources, and ``docs/adding-a-platform.md`` for what a new platform takes.

This module imports the standard library only, so every layer may import it.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

__all__ = [
    "LINK_POST",
    "METRIC_NAMES",
    "Counting",
    "Idempotency",
    "ImageHandling",
    "LinkHandling",
    "Markup",
    "PlatformTraits",
]

#: Normalised metric names across platforms.
METRIC_NAMES: tuple[str, ...] = (
    "likes",
    "reposts",
    "replies",
    "quotes",
    "bookmarks",
    "shares",
    "views",
    "reach",
    "link_clicks",
)

#: The default template of a platform where links are clickable: title, summary, the link,
#: then the hashtags on their own line.
LINK_POST = (
    "{{ title }}\n\n{% if summary %}{{ summary }}\n\n{% endif %}{{ url }}"
    "{% if hashtags %}\n\n{{ hashtags }}{% endif %}"
)


class Counting(StrEnum):
    """How a platform measures a text against its limit."""

    #: twitter-text v3 weights (links count ``url_length``, emoji and CJK 2), after NFC
    TWITTER_TEXT = "twitter-text"
    #: grapheme clusters; links with a scheme count ``url_length``, ``@user@domain`` counts
    #: as ``@user``, and the content warning counts too
    MASTODON = "mastodon"
    #: grapheme clusters (what a reader sees as characters)
    GRAPHEMES = "graphemes"
    #: code points, but an emoji counts its UTF-8 bytes
    CODE_POINTS_EMOJI_BYTES = "code-points, emoji as UTF-8 bytes"
    #: UTF-16 code units of the text after HTML markup is parsed
    UTF16_AFTER_HTML = "UTF-16 units after HTML"
    #: UTF-16 code units (Java and JavaScript string length) of the text as sent
    UTF16 = "UTF-16 units"
    #: code points
    CODE_POINTS = "code points"


class Markup(StrEnum):
    """What the text is escaped into before it is sent (:mod:`dissem.compose.escape`)."""

    PLAIN = "plain"
    #: Telegram ``parse_mode=HTML``: ``& < >`` escaped, the title in ``<b>``
    TELEGRAM_HTML = "telegram-html"
    #: LinkedIn "little" format: its special characters backslash-escaped outside links
    #: and hashtags
    LINKEDIN_LITTLE = "linkedin-little"

    @property
    def description(self) -> str:
        return _MARKUP_TEXT[self]


_MARKUP_TEXT = {
    Markup.PLAIN: "plain text",
    Markup.TELEGRAM_HTML: "Telegram HTML (& < > escaped, title in <b>)",
    Markup.LINKEDIN_LITTLE: "LinkedIn little format (\\ | { } @ [ ] ( ) < > # * _ ~ escaped "
    "outside URLs and hashtags)",
}


class LinkHandling(StrEnum):
    """How the link back to the article reaches readers."""

    #: the link is in the text and the platform builds the preview card itself
    IN_TEXT = "in the text; the platform shows a preview"
    #: the link is in the text, and the client sends the card (title, summary, thumbnail)
    #: as an embed beside it
    EMBED_CARD = "in the text, with a card the client builds"
    #: the link goes in a field of its own (``link_field``) beside the text; the platform
    #: shows a card
    ATTACHMENT = "in a field of its own"
    #: the link goes with the article's title and summary in a field of its own
    #: (``link_field``: ``{source, title, description}``)
    ARTICLE = "in an article field, with title and summary"
    #: links in posts are not clickable: the text says where to find the article
    NOT_CLICKABLE = "not clickable: the text names the site"


class ImageHandling(StrEnum):
    """What happens to a release's image."""

    #: uploaded (with its alt text) on the first part
    UPLOAD = "uploaded with the first part"
    #: sent as a photo whose caption is the text, when the text fits the caption limit
    CAPTION = "a photo with the text as caption, when it fits"
    #: not sent: the link's preview shows the article's image
    LINK_PREVIEW = "not sent; the link preview shows it"


class Idempotency(StrEnum):
    """What lets a retry after an unknown outcome be checked safely."""

    #: the platform honours an idempotency key sent with the request
    KEY = "idempotency key"
    #: the client chooses the record key (the post's address) before sending
    RKEY = "record key chosen by the client"
    #: a container is created first and published by id, and can be asked about
    CONTAINER = "media container"
    #: nothing: a retry may duplicate, so a lost answer is looked up, not retried
    NONE = "none"


@dataclass(frozen=True)
class PlatformTraits:
    """Everything about one platform that is not HTTP.

    Only ``name``, ``display_name`` and ``text_limit`` are required, so a test can declare
    a small platform in one line; the defaults describe a plain-text platform that counts
    code points, shows a preview of a link in the text, and has no threads, no images, no
    lookup and no metrics.
    """

    #: the platform's id in config files (``platform: x``), lower case
    name: str
    #: how its owner writes it (reports, docs)
    display_name: str
    #: most units (as counted by ``counting``) in one post
    text_limit: int
    counting: Counting = Counting.CODE_POINTS
    #: what one link counts, whatever its length; None: a link counts as written
    url_length: int | None = None
    #: limit of a media caption where it is smaller than ``text_limit``
    caption_limit: int | None = None
    #: most UTF-8 bytes of one post, where the platform caps bytes too
    max_bytes: int | None = None
    #: most distinct links in one post, where the platform caps them
    max_links: int | None = None
    #: whether posts can chain into a thread of replies
    threads: bool = False
    #: whether a post needs an image (a release without one is skipped)
    media_required: bool = False
    image: ImageHandling = ImageHandling.LINK_PREVIEW
    #: MIME types of the images the platform takes; () when it takes none from dissem
    image_formats: tuple[str, ...] = ()
    #: largest image file it takes, in bytes; 0 when it takes none from dissem
    image_max_bytes: int = 0
    #: most hashtags dissem adds to one post
    hashtag_cap: int = 3
    #: the Jinja template a channel uses when it sets none
    default_template: str = LINK_POST
    link: LinkHandling = LinkHandling.IN_TEXT
    #: the option of the first part that carries the link (ATTACHMENT, ARTICLE)
    link_field: str = ""
    markup: Markup = Markup.PLAIN
    #: the option that carries the post's language as one code (Mastodon: ``language``)
    language_field: str = ""
    #: the option that carries the post's languages as a list (Bluesky: ``langs``)
    languages_field: str = ""
    #: the option that carries a content warning shown before the text (Mastodon:
    #: ``spoiler_text``); "" where the platform has none
    content_warning_field: str = ""
    #: the option that carries a channel's ``visibility`` (Mastodon); "" where there is none
    visibility_field: str = ""
    idempotency: Idempotency = Idempotency.NONE
    #: whether the platform can be asked "did this post go out?" (reconcile)
    can_lookup: bool = False
    #: normalised metric names (:data:`METRIC_NAMES`) the platform reports; () when none
    metrics: tuple[str, ...] = ()
    #: most remote ids per metrics request; 0 when there are no metrics
    metrics_batch: int = 0
    #: credential names a channel maps to environment variables; one set must be complete
    credentials: tuple[tuple[str, ...], ...] = ((),)
    #: other names people write for the platform ("twitter"), for did-you-mean hints
    aliases: tuple[str, ...] = ()
    #: primary sources of these facts (docs/platforms.md lists them)
    sources: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        if not self.name or self.name != self.name.lower() or not self.name.isidentifier():
            raise ValueError(f"platform name {self.name!r} must be a lower-case identifier")
        if self.text_limit < 1:
            raise ValueError(f"{self.name}: text_limit must be positive")
        unknown = set(self.metrics) - set(METRIC_NAMES)
        if unknown:
            raise ValueError(f"{self.name}: unknown metric names {sorted(unknown)}")
        if self.metrics and self.metrics_batch < 1:
            raise ValueError(f"{self.name}: a platform with metrics states its batch size")
        if self.image is not ImageHandling.LINK_PREVIEW and not self.image_formats:
            raise ValueError(f"{self.name}: a platform that takes images names their formats")
        if (self.link in (LinkHandling.ATTACHMENT, LinkHandling.ARTICLE)) != bool(self.link_field):
            raise ValueError(f"{self.name}: a link in a field of its own names the field")
        if self.media_required and self.image is not ImageHandling.UPLOAD:
            raise ValueError(f"{self.name}: a platform that needs an image must upload it")

    def limit(self, caption: bool = False) -> int:
        """The text limit, or the caption limit where the platform has a smaller one."""
        if caption and self.caption_limit is not None:
            return min(self.caption_limit, self.text_limit)
        return self.text_limit
