"""The length of a text as each platform counts it, and each platform's limit.

How a platform counts and what its limits are is declared in its
:class:`~dissem.traits.PlatformTraits` (``counting``, ``text_limit``, ``caption_limit``,
``url_length``, ``max_bytes``, ``max_links``); this module applies the rules:

=========================== =====================================================
:class:`~dissem.traits.Counting` unit
=========================== =====================================================
twitter-text                twitter-text v3 weight: links 23, emoji 2, CJK 2 (NFC)
mastodon                    grapheme clusters; links with a scheme count the URL
                            length, ``@user@domain`` counts as ``@user``; the
                            content warning counts too
graphemes                   grapheme clusters
code points, emoji bytes    code points, but each emoji counts its UTF-8 bytes
UTF-16 after HTML           UTF-16 code units of the text after HTML markup is parsed
UTF-16                      UTF-16 code units of the text as sent
code points                 code points
=========================== =====================================================

:func:`measure` gives the count, :func:`limit` the default cap, and :func:`fits` applies
every rule of a platform at once (a cap on bytes, a cap on links, a channel's own
``max_length`` / ``url_length``). All functions are pure and fast enough to call in loops.
The facts per platform, with their sources, are in ``docs/platforms.md``.
"""

from __future__ import annotations

import html
import re
from typing import Final, Literal

import regex

from dissem.compose import charclasses
from dissem.compose.twitter_text import find_emoji, has_invalid_characters, weighted_length
from dissem.compose.urls import find_mentions, find_urls
from dissem.config.models import PLATFORMS
from dissem.traits import Counting, PlatformTraits, traits_for

__all__ = [
    "PLATFORMS",
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

#: what a link counts on Mastodon when a channel does not say (the server default)
_MASTODON_URL_LENGTH: Final = 23

_GRAPHEME: Final = regex.compile(r"\X")
# Characters that can join a cluster with a neighbour (UAX #29): marks, ZWJ, spacing marks,
# prepended marks, conjoining jamo, regional indicators, CR. Between two other characters
# there is always a boundary, so only the stretches around these need the full rules.
# Any superset of them does too (stretches bounded by other characters): the stdlib engine
# scans the exact BMP set plus everything above U+FFFF ~5x faster than the regex module
# scans the properties (see charclasses).
_JOINERS: Final = re.compile(f"[{charclasses.JOINERS}\r{charclasses.ASTRAL}]+")
# Telegram's HTML mode: tags vanish; &lt; &gt; &amp; &quot; and numeric references are
# the only entities it decodes (others stay as written).
_TAG: Final = regex.compile(r"<[^>]*>")
_ENTITY: Final = regex.compile(r"&(?:lt|gt|amp|quot|#[0-9]+|#[xX][0-9a-fA-F]+);")


def _platform(platform: str) -> PlatformTraits:
    """The declaration of ``platform``; ValueError naming the known ones otherwise."""
    return traits_for(platform)


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


def measure_mastodon(text: str, *, url_length: int | None = None, spoiler_text: str = "") -> int:
    """Mastodon's count: graphemes of the content warning plus the text, where every link
    with a scheme counts ``url_length`` (default 23, the server default) and
    ``@user@domain`` counts as ``@user``.

    Mastodon's server recognises some links a little further than twitter-text does (any
    letters in the path, more schemes); there this count is higher than the server's,
    never lower.
    """
    url_length = url_length or _MASTODON_URL_LENGTH
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


def _measure(
    traits: PlatformTraits, text: str, url_length: int | None = None, spoiler_text: str = ""
) -> int:
    """``text`` counted by the rule of ``traits`` (``url_length`` overrides the declared one;
    ``url_length`` and ``spoiler_text`` count on Mastodon only)."""
    rule = traits.counting
    if rule is Counting.TWITTER_TEXT:
        return weighted_length(text)
    if rule is Counting.MASTODON:
        return measure_mastodon(
            text, url_length=url_length or traits.url_length, spoiler_text=spoiler_text
        )
    if rule is Counting.GRAPHEMES:
        return graphemes(text)
    if rule is Counting.CODE_POINTS_EMOJI_BYTES:
        return measure_threads(text)
    if rule is Counting.UTF16_AFTER_HTML:
        return measure_telegram(text)
    if rule is Counting.UTF16:
        return utf16_units(text)
    return len(text)  # Counting.CODE_POINTS


def measure(platform: str, text: str) -> int:
    """The length of ``text`` as ``platform`` counts it (its declared URL length).

    Raises ValueError for an unknown platform.
    """
    return _measure(_platform(platform), text)


def limit(platform: str, kind: Kind = "text") -> int:
    """The default limit of ``platform``; ``kind="caption"`` gives the limit of a media
    caption where the platform has a smaller one (Telegram: 1024).

    Raises ValueError for an unknown platform or an unknown kind.
    """
    traits = _platform(platform)
    if kind not in ("text", "caption"):
        raise ValueError(f"unknown kind {kind!r}; expected 'text' or 'caption'")
    return traits.limit(caption=kind == "caption")


def telegram_caption_limit() -> int:
    """Telegram's limit for a media caption (1024, after markup is parsed)."""
    return limit("telegram", "caption")


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
    apply to Mastodon counting only. A declared cap on bytes (Bluesky) or on distinct
    links (Threads) applies too, and twitter-text refuses U+FFFE, U+FEFF and U+FFFF. An
    empty text fits.
    """
    traits = _platform(platform)
    cap = limit(platform, kind) if max_length is None else max_length
    count = _measure(traits, text, url_length, spoiler_text)
    if count > cap:
        return False
    if traits.counting is Counting.TWITTER_TEXT and has_invalid_characters(text):
        return False
    if traits.max_bytes is not None and bluesky_bytes(text) > traits.max_bytes:
        return False
    return traits.max_links is None or distinct_links(text) <= traits.max_links
