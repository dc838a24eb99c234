"""Showing text from config files safely: cut in messages, harmless on a terminal.

A config value can be 200 KB long or hold terminal control sequences (``\\e]0;...\\a`` sets
a terminal's title; others move the cursor or hide text). :func:`shown` quotes a value for
an error message, cut to about 80 characters; :func:`printable` makes control characters
visible (``\\x1b``) in text printed for a person (``preview``, ``demo``, paths in messages).
"""

from __future__ import annotations

from typing import Final

__all__ = ["printable", "shown"]

#: C0 controls except tab and newline, DEL and the C1 controls (CSI, OSC, ... as one code).
_CONTROLS: Final = {
    c: f"\\x{c:02x}" for c in (*range(0x20), *range(0x7F, 0xA0)) if c not in (0x09, 0x0A)
}


def shown(value: object, limit: int = 80) -> str:
    """``repr(value)``, cut to ``limit`` characters (the length of a long text added)."""
    text = repr(value)
    if len(text) <= limit:
        return text
    size = f" ({len(value):,} characters)" if isinstance(value, str) else ""
    return text[: limit - 1] + "…" + size


def printable(text: str) -> str:
    """``text`` with control characters written as ``\\xNN`` (tabs and newlines kept)."""
    return text.translate(_CONTROLS)
