"""Recognising a post by its text, as the platforms echo it back.

Platforms store a post's text a little differently from how it was sent: they trim trailing
spaces, turn CRLF into LF and normalise Unicode to NFC. Lookups (did this post go out before
the answer was lost?) compare texts after undoing exactly those differences, nothing more,
so two different posts are never taken for one another.
"""

from __future__ import annotations

import unicodedata

__all__ = ["comparable", "same_text"]


def comparable(text: str) -> str:
    """``text`` in NFC with every run of whitespace folded to one space and none at the ends:
    equal for two texts exactly when :func:`same_text` holds."""
    return " ".join(unicodedata.normalize("NFC", text).split())


def same_text(a: str, b: str) -> bool:
    """True when two post texts are the same up to whitespace and Unicode normal form."""
    return comparable(a) == comparable(b)
