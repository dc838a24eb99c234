"""The length of a text as each platform counts it, and each platform's limit.

One rule per platform, as each platform documents it:

========== ======================================================== =======
platform   unit                                                     limit
========== ======================================================== =======
x          twitter-text v3 weight: links 23, emoji 2, CJK 2 (NFC)   280
mastodon   grapheme clusters; links with a scheme count 23,         500
           ``@user@domain`` counts as ``@user``; content warning too
bluesky    grapheme clusters, and at most 3000 UTF-8 bytes          300
threads    code points, but each emoji counts its UTF-8 bytes;      500
           at most 5 distinct links
telegram   UTF-16 code units of the text after HTML markup is       4096
           parsed (1024 for a media caption)
linkedin   UTF-16 code units of the commentary as sent (escaped)    3000
facebook   UTF-16 code units                                        63206
instagram  UTF-16 code units                                        2200
========== ======================================================== =======

:func:`measure` gives the count, :func:`limit` the default cap, and :func:`fits` applies
every rule of a platform at once (both Bluesky caps, Threads' link cap, a channel's own
``max_length`` / ``url_length``). All functions are pure and fast enough to call in loops.
"""

from __future__ import annotations

import html
from typing import Final, Literal

import regex

from dissem.compose.twitter_text import find_emoji, has_invalid_characters, weighted_length
from dissem.compose.urls import find_mentions, find_urls
from dissem.config.models import PLATFORMS

__all__ = [
    "BLUESKY_MAX_BYTES",
    "LIMITS",
    "MASTODON_URL_LENGTH",
    "PLATFORMS",
    "TELEGRAM_CAPTION_LIMIT",
    "THREADS_MAX_LINKS",
    "bluesky_bytes",
    "distinct_links",
    "fits",
    "graphemes",
    "limit",
    "measure",
    "measure_mastodon",
    "measure_telegram",
    "measure_threads",
    "telegram_caption_limit",
    "telegram_visible_text",
    "utf16_units",
]

Kind = Literal["text", "caption"]

LIMITS: Final[dict[str, int]] = {
    "x": 280,
    "mastodon": 500,  # servers may differ: Channel.max_length
    "bluesky": 300,
    "facebook": 63206,
    # Instagram says "2,200 characters" without defining the character; UTF-16 units are
    # never fewer than code points or graphemes, so this is the conservative reading.
    "instagram": 2200,
    "threads": 500,
    "linkedin": 3000,
    "telegram": 4096,
}
TELEGRAM_CAPTION_LIMIT: Final = 1024
BLUESKY_MAX_BYTES: Final = 3000
MASTODON_URL_LENGTH: Final = 23
THREADS_MAX_LINKS: Final = 5

_GRAPHEME: Final = regex.compile(r"\X")
# Characters that can join a cluster with a neighbour (UAX #29): marks, ZWJ, spacing marks,
# prepended marks, conjoining jamo, regional indicators, CR. Between two other characters
# there is always a boundary, so only the stretches around these need the full rules.
_JOINERS: Final = regex.compile(
    r"[\p{GCB=Extend}\p{GCB=ZWJ}\p{GCB=SpacingMark}\p{GCB=Prepend}"
    r"\p{GCB=L}\p{GCB=V}\p{GCB=T}\p{GCB=Regional_Indicator}\r]+"
)
# Telegram's HTML mode: tags vanish; &lt; &gt; &amp; &quot; and numeric references are
# the only entities it decodes (others stay as written).
_TAG: Final = regex.compile(r"<[^>]*>")
_ENTITY: Final = regex.compile(r"&(?:lt|gt|amp|quot|#[0-9]+|#[xX][0-9a-fA-F]+);")


def _platform(platform: str) -> str:
    if platform not in LIMITS:
        raise ValueError(f"unknown platform {platform!r}; expected one of: {', '.join(PLATFORMS)}")
    return platform


def graphemes(text: str) -> int:
    """Number of extended grapheme clusters (what a reader sees as characters)."""
    if text.isascii():
        return len(text) - text.count("\r\n")  # CR LF is one cluster
    count = len(text)
    window_start = window_end = 0
    for run in _JOINERS.finditer(text):
        start, end = max(run.start() - 1, 0), run.end() + 1
        if start < window_end:  # shares a neighbour with the previous window
            window_end = end
            continue
        count -= _joined(text[window_start:window_end])
        window_start, window_end = start, end
    return count - _joined(text[window_start:window_end])


def _joined(stretch: str) -> int:
    """How many code points of ``stretch`` do not start a cluster."""
    return len(stretch) - len(_GRAPHEME.findall(stretch)) if stretch else 0


def utf16_units(text: str) -> int:
    """Length in UTF-16 code units (Java and JavaScript string length)."""
    if text.isascii():
        return len(text)
    return len(text.encode("utf-16-le", "surrogatepass")) // 2


def bluesky_bytes(text: str) -> int:
    """Length in UTF-8 bytes (Bluesky allows at most 3000)."""
    return len(text.encode("utf-8", "surrogatepass"))


def measure_mastodon(
    text: str, *, url_length: int = MASTODON_URL_LENGTH, spoiler_text: str = ""
) -> int:
    """Mastodon's count: graphemes of the content warning plus the text, where every link
    with a scheme counts ``url_length`` and ``@user@domain`` counts as ``@user``.

    Mastodon's server recognises some links a little further than twitter-text does (any
    letters in the path, more schemes); there this count is higher than the server's,
    never lower.
    """
    entities = [(s, e, True) for s, e in find_urls(text, require_scheme=True)]
    entities += [(s, e, False) for s, e in find_mentions(text)]
    if not entities:
        return graphemes(spoiler_text + text)
    pieces: list[str] = [spoiler_text]
    position = 0
    for start, end, is_url in sorted(entities):
        if start < position:
            continue  # overlaps an earlier entity (a mention inside a link)
        pieces.append(text[position:start])
        if is_url:
            pieces.append("x" * url_length)
        else:
            domain_at = text.find("@", start + 1, end)
            pieces.append(text[start:end] if domain_at < 0 else text[start:domain_at])
        position = end
    pieces.append(text[position:])
    return graphemes("".join(pieces))


def measure_threads(text: str) -> int:
    """Threads' count: code points, except that an emoji sequence counts its UTF-8 bytes."""
    count = len(text)
    for start, end in find_emoji(text):
        count += bluesky_bytes(text[start:end]) - (end - start)
    return count


def distinct_links(text: str) -> int:
    """Number of distinct links (with or without a scheme); Threads rejects more than 5.

    Links differing only in the case of their scheme and host are the same link.
    """
    seen: set[str] = set()
    for start, end in find_urls(text, require_scheme=False):
        url = text[start:end]
        scheme, sep, rest = url.partition("://")
        if not sep:
            scheme, rest = "", url
        host, slash, path = rest.partition("/")
        seen.add(f"{scheme.lower()}{sep}{host.lower()}{slash}{path}")
    return len(seen)


def telegram_visible_text(markup: str) -> str:
    """The text Telegram shows for an HTML parse-mode message: tags removed, entities decoded."""
    if "<" not in markup and "&" not in markup:
        return markup
    return _ENTITY.sub(lambda m: html.unescape(m.group()), _TAG.sub("", markup))


def measure_telegram(markup: str) -> int:
    """Telegram's count: UTF-16 code units of the text after HTML markup is parsed."""
    return utf16_units(telegram_visible_text(markup))


def measure(platform: str, text: str) -> int:
    """The length of ``text`` as ``platform`` counts it (defaults: Mastodon links count 23).

    Raises ValueError for a platform not in :data:`PLATFORMS`.
    """
    name = _platform(platform)
    if name == "x":
        return weighted_length(text)
    if name == "mastodon":
        return measure_mastodon(text)
    if name == "bluesky":
        return graphemes(text)
    if name == "threads":
        return measure_threads(text)
    if name == "telegram":
        return measure_telegram(text)
    return utf16_units(text)  # linkedin (as sent, escaped), facebook, instagram


def limit(platform: str, kind: Kind = "text") -> int:
    """The default limit of ``platform``; ``kind="caption"`` gives Telegram's media caption
    limit (1024). Other platforms have one limit for text and captions.

    Raises ValueError for a platform not in :data:`PLATFORMS` or an unknown kind.
    """
    name = _platform(platform)
    if kind not in ("text", "caption"):
        raise ValueError(f"unknown kind {kind!r}; expected 'text' or 'caption'")
    if name == "telegram" and kind == "caption":
        return TELEGRAM_CAPTION_LIMIT
    return LIMITS[name]


def telegram_caption_limit() -> int:
    """Telegram's limit for a media caption (1024, after markup is parsed)."""
    return TELEGRAM_CAPTION_LIMIT


def fits(
    platform: str,
    text: str,
    *,
    max_length: int | None = None,
    url_length: int | None = None,
    spoiler_text: str = "",
    kind: Kind = "text",
) -> bool:
    """Whether ``platform`` accepts ``text`` as far as length goes.

    ``max_length`` replaces the default limit (a channel's ``max_length``: a Mastodon
    server's own, an X account allowed longer posts). ``url_length`` and ``spoiler_text``
    apply to Mastodon only. Bluesky must also fit 3000 UTF-8 bytes, Threads at most 5
    distinct links, and X must not hold U+FFFE, U+FEFF or U+FFFF. An empty text fits.
    """
    name = _platform(platform)
    cap = limit(name, kind) if max_length is None else max_length
    if name == "x":
        return weighted_length(text) <= cap and not has_invalid_characters(text)
    if name == "mastodon":
        count = measure_mastodon(
            text,
            url_length=MASTODON_URL_LENGTH if url_length is None else url_length,
            spoiler_text=spoiler_text,
        )
        return count <= cap
    if name == "bluesky":
        return graphemes(text) <= cap and bluesky_bytes(text) <= BLUESKY_MAX_BYTES
    if name == "threads":
        return measure_threads(text) <= cap and distinct_links(text) <= THREADS_MAX_LINKS
    return measure(name, text) <= cap
