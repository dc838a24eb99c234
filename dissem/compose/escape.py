"""Escaping plain text into each platform's markup, applied exactly once, to the final text.

- Telegram (``parse_mode=HTML``): ``&`` first, then ``<`` and ``>``, everywhere (inside
  URLs too, since Telegram parses them as HTML text); the title may be wrapped in ``<b>``.
- LinkedIn "little" format: ``\\ | { } @ [ ] ( ) < > # * _ ~`` get a backslash in literal
  text; URLs and intended hashtags stay as they are (an escaped ``\\#tag`` is not a tag,
  and a backslash inside a URL breaks it). Unescaped, LinkedIn may cut the post silently.
- Every other platform takes plain text.
"""

from __future__ import annotations

import html
from collections.abc import Sequence

from dissem.compose.urls import find_hashtags, find_urls
from dissem.traits import Markup, find_traits

LINKEDIN_SPECIAL: frozenset[str] = frozenset("\\|{}@[]()<>#*_~")
_LINKEDIN_ESCAPES = {ord(ch): "\\" + ch for ch in LINKEDIN_SPECIAL}


def escape_telegram_html(text: str) -> str:
    """``text`` safe for Telegram's HTML parse mode (``&`` before ``<`` and ``>``)."""
    return html.escape(text, quote=False)


def telegram_html(text: str, *, bold: str | None = None) -> str:
    """Escaped ``text`` with the first occurrence of ``bold`` (plain text) in ``<b>``."""
    at = text.find(bold) if bold else -1
    if bold is None or at < 0:
        return escape_telegram_html(text)
    end = at + len(bold)
    return (
        escape_telegram_html(text[:at])
        + "<b>"
        + escape_telegram_html(bold)
        + "</b>"
        + escape_telegram_html(text[end:])
    )


def escape_linkedin(text: str, keep: Sequence[tuple[int, int]] = ()) -> str:
    """Backslash-escapes LinkedIn's special characters outside the ``keep`` spans.

    One pass over the characters, so a backslash is never escaped twice and the order
    ("backslash first") holds by construction.
    """
    spans = sorted(keep)
    out: list[str] = []
    pos = 0
    for start, end in [*spans, (len(text), len(text))]:
        if start < pos:  # overlapping spans: the earlier one already covered this
            start = pos
        out.append(text[pos:start].translate(_LINKEDIN_ESCAPES))
        out.append(text[start:end])
        pos = max(pos, end)
    return "".join(out)


def linkedin_protected_spans(text: str, links: Sequence[str] = ()) -> list[tuple[int, int]]:
    """URLs (with or without a scheme), hashtags and every occurrence of ``links`` (the
    link back to the portal, kept even where URL detection does not know its TLD): what
    stays unescaped."""
    spans = find_urls(text, require_scheme=False) + find_hashtags(text)
    for link in links:
        at = text.find(link) if link else -1
        while at >= 0:
            spans.append((at, at + len(link)))
            at = text.find(link, at + len(link))
    return spans


def escape_for(
    platform: str, text: str, *, bold: str | None = None, links: Sequence[str] = ()
) -> str:
    """Plain ``text`` as it is sent to ``platform``, in its declared ``markup``; ``bold`` is
    the title (Telegram HTML), ``links`` are URLs that must reach LinkedIn unescaped. An
    unknown platform takes plain text."""
    traits = find_traits(platform)
    markup = traits.markup if traits is not None else Markup.PLAIN
    if markup is Markup.TELEGRAM_HTML:
        return telegram_html(text, bold=bold)
    if markup is Markup.LINKEDIN_LITTLE:
        return escape_linkedin(text, linkedin_protected_spans(text, links))
    return text
