"""Tags written by people ("kerja sama", "COVID-19", "#iklim") into hashtags a platform
links: letters of any script, combining marks, decimal digits and ``_``; at least one
letter (``#2026`` is not a hashtag on X or Mastodon); no duplicates; a cap per platform.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Iterable
from typing import Final

import regex

#: Most hashtags dissem adds to one post, per platform. Fewer is always accepted, and
#: more than a handful reads as spam everywhere, so these are deliberately low:
#: - x: 2, beyond that engagement drops and the 280 weighted characters run out;
#: - instagram: 5, Instagram announced a cap of 5 in late 2025 (the API documents 30;
#:   unverified which one the API enforces, so the lower one);
#: - threads: 1, Threads links a single topic tag per post;
#: - mastodon: 4, hashtags are how Mastodon posts are found, so a few more;
#: - bluesky, facebook, linkedin, telegram: 3.
HASHTAG_CAPS: Final[dict[str, int]] = {
    "x": 2,
    "mastodon": 4,
    "bluesky": 3,
    "facebook": 3,
    "instagram": 5,
    "threads": 1,
    "linkedin": 3,
    "telegram": 3,
}

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
    (default :data:`HASHTAG_CAPS` of the platform, 3 for an unknown one)."""
    most = HASHTAG_CAPS.get(platform, 3) if cap is None else cap
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
