"""Reading HTML the feed and the article page hold: summaries as text, and the page's
``og:image``, ``og:image:alt`` and ``<link rel="canonical">``.

Both use :class:`html.parser.HTMLParser` (the standard library's tolerant tokenizer, no
network, no entity declarations): nothing here executes or fetches anything. The Open
Graph tags are the protocol's (https://ogp.me/: ``og:image``, ``og:image:alt``, also
``og:image:url`` and ``og:image:secure_url``), written as ``<meta property=... content=...>``;
``rel=canonical`` is RFC 6596.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from html.parser import HTMLParser
from urllib.parse import urljoin

__all__ = ["PageMeta", "html_to_text", "page_meta"]

_BLOCKS = frozenset(
    {"p", "div", "br", "li", "ul", "ol", "h1", "h2", "h3", "h4", "h5", "h6", "tr", "blockquote"}
)
_SKIP = frozenset({"script", "style", "template", "noscript", "head"})


class _Text(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self.skipping = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in _SKIP:
            self.skipping += 1
        elif tag in _BLOCKS:
            self.parts.append("\n")

    def handle_endtag(self, tag: str) -> None:
        if tag in _SKIP:
            self.skipping = max(self.skipping - 1, 0)
        elif tag in _BLOCKS:
            self.parts.append("\n")

    def handle_data(self, data: str) -> None:
        if not self.skipping:
            self.parts.append(data)


def html_to_text(html: str) -> str:
    """The text of an HTML fragment: tags dropped, character references decoded, spaces
    folded, paragraphs kept as blank lines (at most one in a row)."""
    if "<" not in html and "&" not in html:
        return re.sub(r"[ \t\r\f\v]+", " ", html).strip()
    parser = _Text()
    parser.feed(html)
    parser.close()
    text = "".join(parser.parts).replace("\xa0", " ")
    lines = [re.sub(r"\s+", " ", line).strip() for line in text.split("\n")]
    paragraphs: list[str] = []
    current: list[str] = []
    for line in lines:
        if line:
            current.append(line)
        elif current:
            paragraphs.append(" ".join(current))
            current = []
    if current:
        paragraphs.append(" ".join(current))
    return "\n\n".join(paragraphs)


@dataclass
class PageMeta:
    image: str | None = None
    image_alt: str | None = None
    canonical: str | None = None


class _Meta(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.meta = PageMeta()
        self.done = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = {k.lower(): (v or "") for k, v in attrs}
        if tag == "meta":
            prop = (a.get("property") or a.get("name") or "").strip().lower()
            content = a.get("content", "").strip()
            if not content:
                return
            if prop in ("og:image", "og:image:url", "og:image:secure_url"):
                if self.meta.image is None:
                    self.meta.image = content
            elif prop == "og:image:alt" and self.meta.image_alt is None:
                self.meta.image_alt = content
        elif tag == "link":
            rels = a.get("rel", "").lower().split()
            if "canonical" in rels and a.get("href") and self.meta.canonical is None:
                self.meta.canonical = a["href"].strip()
        elif tag == "body":
            self.done = True  # the tags live in <head>


def page_meta(html: str, base: str) -> PageMeta:
    """The ``og:image`` (with alt) and canonical link of an article page, made absolute
    against ``base``."""
    parser = _Meta()
    # the head is at the start: read in slices and stop at <body>
    for start in range(0, len(html), 16384):
        parser.feed(html[start : start + 16384])
        if parser.done:
            break
    meta = parser.meta
    if meta.image:
        meta.image = urljoin(base, meta.image)
    if meta.canonical:
        meta.canonical = urljoin(base, meta.canonical)
    return meta
