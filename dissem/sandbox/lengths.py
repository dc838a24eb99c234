"""The stand-ins' own length checks for X, Mastodon and Bluesky, apart from dissem's.

dissem measures posts in :mod:`dissem.compose.counting`; if the stand-ins measured with the
same code, a counting bug would pass every end-to-end test. These checks are written again
from the platforms' published rules, with other means where there is a choice:

X
    twitter-text's ``parseTweet`` with its v3 configuration (twitter/twitter-text
    ``config/v3.json``): the text normalised to NFC; every link, as twitter-text's own
    extractor finds it (the ``twitter-text-parser`` port, not dissem's link finder), weighs
    23; every emoji weighs 2; any other code point 1 in U+0000-U+10FF, U+2000-U+200D,
    U+2010-U+201F and U+2032-U+2037, else 2. Valid: 0 < weight <= 280 and none of U+FFFE,
    U+FEFF, U+FFFF. Emoji are found per grapheme cluster here (dissem matches emoji
    sequences with a pattern instead).
Mastodon
    ``StatusLengthValidator`` (mastodon/mastodon app/validators/status_length_validator.rb):
    the grapheme clusters of the content warning plus the text, in which every link with a scheme
    (twitter-text's extractor, ``extract_url_without_protocol: false``) counts as the
    server's ``characters_reserved_per_url`` (23) and a mention ``@user@domain`` as
    ``@user`` (``Account::MENTION_RE``, ``Extractor.extract_mentions_or_lists_with_indices``);
    overlapping entities keep the first.
Bluesky
    The ``app.bsky.feed.post`` lexicon (bluesky-social/atproto
    lexicons/app/bsky/feed/post.json): ``text`` has ``maxGraphemes: 300`` and
    ``maxLength: 3000``, a lexicon ``maxLength`` on a string being UTF-8 bytes
    (``@atproto/lexicon`` validates it with ``utf8Len``).

The tests hold these checks to the platforms' reference data (twitter-text's conformance
cases, Mastodon's validator spec, atproto's string tests), so where dissem and a stand-in
disagree, the reference decides. Known gap: an emoji joined to another by U+200D outside
the Unicode emoji sequences is one grapheme cluster here (2) and two emoji to twemoji (4).
"""

from __future__ import annotations

import unicodedata
from typing import Final

import regex

__all__ = [
    "BLUESKY_MAX_BYTES",
    "BLUESKY_MAX_GRAPHEMES",
    "X_MAX_WEIGHT",
    "bluesky_fits",
    "graphemes",
    "mastodon_length",
    "x_valid",
    "x_weight",
]

#: twitter-text config v3 ``maxWeightedTweetLength`` (weights scaled by 100 there)
X_MAX_WEIGHT: Final = 280
_X_URL_WEIGHT: Final = 23  # transformedURLLength
_X_LIGHT: Final = ((0x0000, 0x10FF), (0x2000, 0x200D), (0x2010, 0x201F), (0x2032, 0x2037))
_X_INVALID: Final = frozenset("\ufffe\ufeff\uffff")

#: the ``app.bsky.feed.post`` lexicon's limits on ``text``
BLUESKY_MAX_GRAPHEMES: Final = 300
BLUESKY_MAX_BYTES: Final = 3000

_GRAPHEME: Final = regex.compile(r"\X")
_REGIONAL: Final = regex.compile(r"\p{Regional_Indicator}")
_EMOJI_PRESENTATION: Final = regex.compile(r"\p{Emoji_Presentation}")
_EMOJI: Final = regex.compile(r"\p{Emoji}")

# Account::MENTION_RE and USERNAME_RE (app/models/account.rb), case-insensitive
_USERNAME: Final = r"[a-z0-9_]+(?:[.-]+[a-z0-9_]+)*"
_MENTION: Final = regex.compile(
    rf"(?<![=/\w])@(?P<name>(?P<user>{_USERNAME})(?:@\w+(?:[.-]+\w+)*)?)", regex.IGNORECASE
)
# twitter-text's end_mention_match: a mention followed by these is no mention
_END_MENTION: Final = regex.compile(r"[@\uFF20\u00C0-\u00D6\u00D8-\u00F6\u00F8-\u00FF]|://")


def graphemes(text: str) -> int:
    """Extended grapheme clusters in ``text`` (Unicode UAX #29)."""
    return len(_GRAPHEME.findall(text))


def _link_spans(text: str, *, without_scheme: bool) -> list[tuple[int, int]]:
    """Links as twitter-text's extractor finds them: (start, end) code point indices."""
    from twitter_text import extract_urls_with_indices  # type: ignore[import-untyped]

    found = extract_urls_with_indices(text, without_scheme)
    return [(int(u["indices"][0]), int(u["indices"][1])) for u in found]


def _code_point_weight(char: str) -> int:
    cp = ord(char)
    return 1 if any(lo <= cp <= hi for lo, hi in _X_LIGHT) else 2


def _is_emoji(cluster: str) -> bool:
    """Whether a grapheme cluster is an emoji twitter-text counts as one (twemoji's set):
    a flag, a keycap, an emoji shown as emoji by default, or a text-default one not asked
    for as text (U+FE0E)."""
    first = cluster[0]
    if _REGIONAL.match(first):
        return len(cluster) >= 2 and _REGIONAL.match(cluster[1]) is not None
    if "\u20e3" in cluster:
        return first in "#*0123456789"
    if first in "#*0123456789" or _EMOJI.match(first) is None:
        return False
    return _EMOJI_PRESENTATION.match(first) is not None or "\ufe0e" not in cluster


def _emoji_weight(cluster: str) -> int:
    """2 for the emoji, plus what twemoji leaves outside its match: a U+FE0F that does not
    follow a text-default emoji character (it weighs 2) and a U+200D joining nothing (1)."""
    weight = 2
    for i in range(1, len(cluster)):
        char, before = cluster[i], cluster[i - 1]
        if char == "\ufe0f":
            text_default = _EMOJI.match(before) and not _EMOJI_PRESENTATION.match(before)
            if not text_default:
                weight += 2
        elif char == "\u200d":
            after = cluster[i + 1] if i + 1 < len(cluster) else ""
            if not (after and _EMOJI.match(after)):
                weight += 1
    return weight


def _plain_weight(text: str) -> int:
    if text.isascii():  # no emoji and every code point weighs 1 (the common case: fast)
        return len(text)
    weight = 0
    for cluster in _GRAPHEME.findall(text):
        if cluster.isascii():
            weight += len(cluster)
        elif _is_emoji(cluster):
            weight += _emoji_weight(cluster)
        else:
            weight += sum(_code_point_weight(c) for c in cluster)
    return weight


def x_weight(text: str) -> int:
    """X's weighted length of ``text`` (twitter-text v3)."""
    text = unicodedata.normalize("NFC", text)
    weight = 0
    position = 0
    for start, end in _link_spans(text, without_scheme=True):
        weight += _plain_weight(text[position:start]) + _X_URL_WEIGHT
        position = end
    return weight + _plain_weight(text[position:])


def x_valid(text: str) -> bool:
    """Whether X accepts ``text`` as a post's text, as far as its length rules go."""
    return 0 < x_weight(text) <= X_MAX_WEIGHT and not (_X_INVALID & set(text))


def _mention_spans(text: str) -> list[tuple[int, int, str]]:
    spans = []
    for m in _MENTION.finditer(text):
        if _END_MENTION.match(text, m.end()):
            continue
        spans.append((m.start(), m.end(), "@" + m.group("user")))
    return spans


def mastodon_length(text: str, *, spoiler_text: str = "", url_length: int = 23) -> int:
    """The length Mastodon's ``StatusLengthValidator`` compares with ``max_characters``."""
    entities = sorted(
        [(s, e, "x" * url_length) for s, e in _link_spans(text, without_scheme=False)]
        + _mention_spans(text)
    )
    kept: list[tuple[int, int, str]] = []
    for entity in entities:  # remove_overlapping_entities: the first one wins
        if not kept or kept[-1][1] <= entity[0]:
            kept.append(entity)
    parts = []
    position = 0
    for start, end, replacement in kept:
        parts.append(text[position:start])
        parts.append(replacement)
        position = end
    parts.append(text[position:])
    return graphemes(spoiler_text + "".join(parts))


def bluesky_fits(text: str) -> bool:
    """Whether ``text`` fits the ``app.bsky.feed.post`` lexicon's limits on ``text``."""
    return (
        graphemes(text) <= BLUESKY_MAX_GRAPHEMES and len(text.encode("utf-8")) <= BLUESKY_MAX_BYTES
    )
