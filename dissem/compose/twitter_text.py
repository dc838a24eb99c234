"""X's weighted length (twitter-text v3) and emoji sequences.

X counts a post as twitter-text's ``parseTweet`` does with its v3 configuration:

1. the text is normalised to NFC;
2. every link (:func:`dissem.compose.urls.find_urls`, with or without a scheme) weighs 23;
3. every emoji sequence weighs 2, however many code points it has: ZWJ families, flags,
   keycaps, skin tones, tag sequences (v2 did not discount emoji; kept for the
   conformance cases);
4. any other code point weighs 1 in U+0000-U+10FF, U+2000-U+200D, U+2010-U+201F and
   U+2032-U+2037, and 2 elsewhere (CJK, Korean, most symbols).

A post is valid when 0 < weight <= 280 and it has none of U+FFFE, U+FEFF, U+FFFF.

The PyPI package ``twitter-text-parser`` (3.0.0) passes the conformance cases kept in
tests/data, but takes about a millisecond per tweet (its emoji regex lists every
sequence), knows emoji only up to Unicode 12 (it weighs the technologist 🧑‍💻 5, X 2) and
drops links Python's strict IDNA codec rejects; the composer measures in loops, so this
module uses the ``regex`` module's Unicode emoji properties instead.
"""

from __future__ import annotations

import functools
import re
import unicodedata
from typing import Final

import regex

from dissem.compose import charclasses
from dissem.compose.urls import find_urls

__all__ = [
    "MAX_WEIGHTED_LENGTH",
    "URL_WEIGHT",
    "find_emoji",
    "has_invalid_characters",
    "weighted_length",
]

MAX_WEIGHTED_LENGTH: Final = 280
URL_WEIGHT: Final = 23
EMOJI_WEIGHT: Final = 2

# Runs of code points that weigh 2 (everything outside the four light ranges). Runs, not
# single characters: CJK text is mostly one long run, and the stdlib engine is fastest here.
_HEAVY_RUN: Final = re.compile(r"[^\x00-\u10FF\u2000-\u200D\u2010-\u201F\u2032-\u2037]+")
_INVALID: Final = regex.compile(r"[\uFFFE\uFEFF\uFFFF]")

# An emoji sequence, after twemoji (which twitter-text uses) and the "possible emoji"
# grammar of Unicode TR51: a flag (two regional indicators), a keycap ([#*0-9] FE0F? 20E3),
# a skin-toned emoji, a tag sequence (England, Scotland, Wales), an emoji shown as emoji by
# default, or a text-default one (©, ❤, ☺) unless FE0E asks for text; joined by ZWJ.
# Digits, "#" and "*" are emoji only as keycaps. FE0F after an emoji-by-default character
# is not part of it (twemoji leaves it, and it weighs 2 on its own).
_ELEMENT: Final = (
    r"(?:\p{Regional_Indicator}{2}"
    r"|[#*0-9]\uFE0F?\u20E3"
    r"|\p{Emoji_Modifier_Base}\p{Emoji_Modifier}"
    r"|\U0001F3F4[\U000E0020-\U000E007E]+\U000E007F"
    r"|\p{Emoji_Presentation}"
    r"|[\p{Emoji}--[#*0-9]--\p{Emoji_Presentation}](?:\uFE0F|(?!\uFE0E)))"
)
_EMOJI: Final = regex.compile(rf"{_ELEMENT}(?:\u200D{_ELEMENT})*", regex.V1)
# Every emoji sequence holds a non-ASCII emoji character or U+20E3 (a cheap first test)
# and lies inside a run of emoji characters and components (FE0E: for the lookahead).
# (The stdlib engine scans the BMP set plus all above U+FFFF ~5x faster: charclasses.)
_MAYBE_EMOJI: Final = re.compile(f"[{charclasses.EMOJI}{charclasses.ASTRAL}]")
# (A superset of the runs gives the same sequences: none holds the other characters.)
_EMOJI_RUN: Final = re.compile(f"[{charclasses.EMOJI_RUN}{charclasses.ASTRAL}]+")


def find_emoji(text: str) -> list[tuple[int, int]]:
    """Spans (Python indices, end exclusive) of the emoji sequences in ``text``."""
    if text.isascii() or not _MAYBE_EMOJI.search(text):
        return []
    return list(_emoji_spans(text))


@functools.lru_cache(maxsize=256)
def _emoji_spans(text: str) -> tuple[tuple[int, int], ...]:
    """The spans of :func:`find_emoji`, kept for the last texts (measuring one candidate
    post asks for them more than once)."""
    return tuple(
        match.span()
        for run in _EMOJI_RUN.finditer(text)
        if not run.group().isascii()
        for match in _EMOJI.finditer(text, *run.span())
    )


def _heavy(text: str) -> int:
    return sum(map(len, _HEAVY_RUN.findall(text)))


def _plain_weight(text: str, discount_emoji: bool) -> int:
    """Weight of a text that holds no link."""
    if text.isascii():
        return len(text)
    weight = len(text) + _heavy(text)
    if discount_emoji:
        for start, end in find_emoji(text):
            sequence = text[start:end]
            weight += EMOJI_WEIGHT - len(sequence) - _heavy(sequence)
    return weight


def weighted_length(text: str, *, discount_emoji: bool = True) -> int:
    """The length X counts for ``text`` (v3 rules; ``discount_emoji=False`` gives v2)."""
    if not unicodedata.is_normalized("NFC", text):
        text = unicodedata.normalize("NFC", text)
    weight = 0
    position = 0
    for start, end in find_urls(text, require_scheme=False):
        weight += _plain_weight(text[position:start], discount_emoji) + URL_WEIGHT
        position = end
    return weight + _plain_weight(text[position:], discount_emoji)


def has_invalid_characters(text: str) -> bool:
    """True if ``text`` holds a character X rejects (U+FFFE, U+FEFF, U+FFFF)."""
    return _INVALID.search(text) is not None
