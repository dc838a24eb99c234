"""Tags written by people ("kerja sama", "COVID-19", "#iklim") into hashtags a platform
links: letters of any script, combining marks, decimal digits and ``_``; at least one
letter (``#2026`` is not a hashtag on X or Mastodon); no duplicates; a cap per platform.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Iterable

import regex

from dissem.traits import find_traits

# Characters that survive inside a hashtag; everything else (punctuation, symbols, emoji,
# spaces) is removed. \p{Nd}, not \p{N}: superscripts and fractions break hashtags on X.
_NOT_TAG_CHAR = regex.compile(r"[^\p{L}\p{M}\p{Nd}_]+")
_HAS_LETTER = regex.compile(r"\p{L}")


def to_hashtag(tag: str) -> str | None:
    """The hashtag for one tag, with ``#``; None when nothing usable is left.

    Several words become CamelCase (``"kerja sama"`` -> ``#KerjaSama``); a single word
    keeps the case it was written in. Scripts without case pass through unchanged.
    """
    text = unicodedata.normalize("NFC", tag).strip().lstrip("#＃")
    words = [_NOT_TAG_CHAR.sub("", w) for w in text.split()]
    words = [w for w in words if w]
    if not words:
        return None
    if len(words) > 1:
        words = [w[:1].upper() + w[1:] for w in words]
    body = "".join(words)
    if not _HAS_LETTER.search(body):
        return None
    return "#" + body


def hashtags_for(platform: str, tags: Iterable[str], *, cap: int | None = None) -> list[str]:
    """Valid, distinct (case-insensitively) hashtags in the order given, at most ``cap``
    (default: the platform's declared ``hashtag_cap``, 3 for an unknown platform)."""
    traits = find_traits(platform)
    most = cap if cap is not None else traits.hashtag_cap if traits is not None else 3
    out: list[str] = []
    seen: set[str] = set()
    for tag in tags:
        if len(out) >= most:
            break
        hashtag = to_hashtag(tag)
        if hashtag is None or hashtag.casefold() in seen:
            continue
        seen.add(hashtag.casefold())
        out.append(hashtag)
    return out
