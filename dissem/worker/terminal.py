"""Text for a terminal table: how many cells a string takes, padding to a width in cells, and
shortening at a word boundary.

``len()`` counts code points, but a terminal shows East Asian wide and fullwidth characters
(CJK, most emoji) in two cells, and combining marks, variation selectors and joiners in none:
columns padded with ``str.ljust`` break on the first Japanese title. Widths follow Unicode's
East Asian Width property (UAX #11, https://www.unicode.org/reports/tr11/: ``W`` and ``F``
are two cells), as ``wcwidth`` does, without its table of exceptions.
"""

from __future__ import annotations

import unicodedata
from html.parser import HTMLParser

__all__ = ["cells", "html_to_text", "pad", "shorten"]

ELLIPSIS = "…"


def _char_cells(char: str) -> int:
    if unicodedata.combining(char) or unicodedata.category(char) in ("Mn", "Me", "Cf"):
        return 0  # combining marks, zero-width joiner, variation selectors
    if "\ufe00" <= char <= "\ufe0f":
        return 0
    return 2 if unicodedata.east_asian_width(char) in ("W", "F") else 1


def cells(text: str) -> int:
    """The number of terminal cells ``text`` takes."""
    return sum(_char_cells(c) for c in text)


def pad(text: str, width: int) -> str:
    """``text`` followed by spaces up to ``width`` cells (unchanged when already wider)."""
    return text + " " * max(0, width - cells(text))


def _wide(char: str) -> bool:
    return unicodedata.east_asian_width(char) in ("W", "F")


def shorten(text: str, width: int) -> str:
    """``text`` in at most ``width`` cells: whole, or cut at the last word boundary that
    fits, with an ellipsis. A boundary is a space, or the edge of a wide character
    (Chinese and Japanese are written without spaces: each character is a word's edge).
    Only a single word longer than the whole width is cut inside, where nothing else can."""
    text = " ".join(text.split())
    if cells(text) <= width:
        return text
    room = width - cells(ELLIPSIS)
    if room <= 0:
        return ELLIPSIS[: max(width, 0)]
    fit = 0  # how many characters fit in ``room``
    used = 0
    for char in text:
        used += _char_cells(char)
        if used > room:
            break
        fit += 1
    best = 0
    for i in range(1, fit + 1):
        before, after = text[i - 1], text[i] if i < len(text) else " "
        if after == " " or before == " " or _wide(before) or _wide(after):
            best = i
    cut = text[: best or fit].rstrip()
    while cut and unicodedata.category(cut[-1]).startswith("P") and cut[-1] not in ")]」』":
        cut = cut[:-1]  # "word,…" reads worse than "word…"
    return (cut or text[:fit]).rstrip() + ELLIPSIS


class _Text(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.out: list[str] = []

    def handle_data(self, data: str) -> None:
        self.out.append(data)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "br":
            self.out.append("\n")


def html_to_text(markup: str) -> str:
    """The text of Telegram-style HTML (``<b>``, ``<a href>``, ``&amp;``): tags dropped,
    entities read, ``<br>`` a new line."""
    parser = _Text()
    parser.feed(markup)
    parser.close()
    return "".join(parser.out)
