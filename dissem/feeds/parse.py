"""Parsing a fetched feed with feedparser 6 (RSS 0.9x/1.0/2.0, Atom 0.3/1.0), safely.

feedparser is given the bytes :mod:`dissem.feeds.fetch` read (never a URL: it would fetch
it itself, unbounded). Entity expansion is refused before it parses: feedparser's strict
mode hands the document to ``xml.sax`` (expat), which expands internal entities (the
"billion laughs"); feedparser strips ``<!ENTITY`` declarations only when each starts a line
of the prolog (``feedparser/sanitizer.py``: ``replace_doctype``, ``RE_ENTITY_PATTERN`` is
``^\\s*<!ENTITY`` with ``re.MULTILINE``) and keeps those it judges safe, so a declaration
elsewhere on a line reaches expat. External entities are off in feedparser
(``feedparser/api.py``: ``feature_external_ges`` set to 0). :func:`refuse_entities`
therefore refuses any document declaring an entity, in any of the encodings XML allows
(read in feedparser 6.0.14's source).

Alt text of a Media RSS image is the ``media:description`` (else ``media:title``) nested in
its ``media:content`` (or in the ``media:group`` holding it): those "optional elements" may be
sub-elements of ``<media:content>`` and ``<media:group>`` (Media RSS 1.5.1,
https://www.rssboard.org/media-rss#optional-elements). feedparser keeps no trace of where
they were: ``_start_media_description`` calls ``_start_description`` and
``_start_media_title`` ``_start_title`` (``feedparser/namespaces/mediarss.py``), so the
description lands in the entry's ``summary`` or ``content`` depending on the order of the
elements (``namespaces/_base.py``: ``_start_description`` takes ``content`` once a summary
exists), a title is dropped, and ``media_content`` holds the attributes only. So
:func:`media_alts` reads the ``media:content`` elements' own children from the same bytes
(after :func:`refuse_entities`: no entity can expand), never the item's text.

A document feedparser cannot read at all (``bozo`` with no entries and no feed title) is a
:class:`FeedParseError`; one with a recoverable flaw is read as far as it goes.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from dataclasses import dataclass, field
from typing import Any

import feedparser

from dissem.errors import FeedParseError

__all__ = ["Entry", "ParsedFeed", "media_alts", "parse_feed", "refuse_entities"]

#: the Media RSS namespace, as written today and in early feeds (feedparser accepts both)
_MEDIA_NS = ("http://search.yahoo.com/mrss/", "http://search.yahoo.com/mrss")

_ENTITY_DECLARATIONS = tuple(
    "<!ENTITY".encode(encoding)
    for encoding in ("utf-8", "utf-16-le", "utf-16-be", "utf-32-le", "utf-32-be")
)


@dataclass
class Entry:
    """One item as the feed states it (text fields may hold HTML)."""

    guid: str
    link: str
    title: str
    summary: str
    categories: list[str] = field(default_factory=list)
    published: Any = None  # time.struct_time in UTC, or None
    media: list[tuple[str, str]] = field(default_factory=list)  # (image URL, alt)


@dataclass
class ParsedFeed:
    title: str
    entries: list[Entry]
    hub: str | None = None  # WebSub hub (rel="hub")
    self_url: str | None = None  # rel="self", the topic of a WebSub subscription
    flaw: str | None = None  # a recoverable problem feedparser noted


def refuse_entities(data: bytes) -> None:
    """Raises :class:`FeedParseError` when ``data`` declares an entity (see module doc)."""
    if any(marker in data for marker in _ENTITY_DECLARATIONS):
        raise FeedParseError("the document declares XML entities (refused: entity expansion)")


def parse_feed(data: bytes, content_type: str | None = None, base: str = "") -> ParsedFeed:
    """Parses ``data`` (see the module doc)."""
    refuse_entities(data)
    headers = {"content-type": content_type} if content_type else {}
    if base:
        headers["content-location"] = base
    try:
        result = feedparser.parse(data, response_headers=headers, sanitize_html=True)
    except Exception as e:  # feedparser's own failure on hostile input: no feed
        raise FeedParseError(f"unreadable feed ({type(e).__name__})") from None
    feed = result.get("feed", {})
    alts = media_alts(data)
    entries = [_entry(e, alts) for e in result.get("entries", [])]
    flaw = None
    if result.get("bozo"):
        flaw = str(result.get("bozo_exception", "malformed"))[:200]
        if not entries and not feed.get("title"):
            raise FeedParseError(f"not a readable RSS or Atom feed ({flaw})")
    if not result.get("version") and not entries:
        raise FeedParseError("not an RSS or Atom feed")
    hub = self_url = None
    for link in feed.get("links", []):
        rel, href = link.get("rel"), link.get("href")
        if rel == "hub" and href and hub is None:
            hub = str(href)
        elif rel == "self" and href and self_url is None:
            self_url = str(href)
    return ParsedFeed(
        title=str(feed.get("title", "")),
        entries=entries,
        hub=hub,
        self_url=self_url,
        flaw=flaw,
    )


def _media_text(parent: ET.Element) -> str:
    """The text of ``parent``'s own ``media:description``, else its ``media:title``."""
    for name in ("description", "title"):
        for ns in _MEDIA_NS:
            child = parent.find(f"{{{ns}}}{name}")
            if child is not None:
                text = "".join(child.itertext()).strip()
                if text:
                    return text
    return ""


def media_alts(data: bytes) -> dict[str, str]:
    """``{image URL: alt text}`` of every Media RSS ``media:content`` with a described image
    (see the module doc): its own ``media:description`` or ``media:title``, else its
    ``media:group``'s. A URL described two different ways is left out (which item's would be
    a guess); ``{}`` for a document that is not well-formed XML (feedparser may still read
    it loosely; then the alt comes from the article page)."""
    refuse_entities(data)
    try:
        root = ET.fromstring(data)
    except (ET.ParseError, ValueError, UnicodeError):
        return {}
    found: dict[str, set[str]] = {}

    def note(content: ET.Element, fallback: str) -> None:
        url = (content.get("url") or "").strip()
        alt = _media_text(content) or fallback
        if url and alt:
            found.setdefault(url, set()).add(alt)

    for ns in _MEDIA_NS:
        for group in root.iter(f"{{{ns}}}group"):
            shared = _media_text(group)
            for inner in _MEDIA_NS:
                for content in group.findall(f"{{{inner}}}content"):
                    note(content, shared)
        for content in root.iter(f"{{{ns}}}content"):
            note(content, "")
    return {url: next(iter(alts)) for url, alts in found.items() if len(alts) == 1}


def _entry(e: Any, alts: dict[str, str]) -> Entry:
    link = str(e.get("link", "") or "")
    guid = str(e.get("id", "") or "") or link
    categories = [str(t.get("term") or t.get("label") or "").strip() for t in e.get("tags", [])]
    media: list[tuple[str, str]] = []
    # Media RSS (media:content, media:thumbnail), read by feedparser into media_content and
    # media_thumbnail (attributes only); RSS 2.0 <enclosure> and Atom rel="enclosure" into
    # enclosures. The alt text of a media:content image is its own nested description
    # (media_alts, see the module doc), never the entry's summary or content.
    for m in [*e.get("media_content", []), *e.get("media_thumbnail", [])]:
        url = m.get("url")
        kind = str(m.get("type", "") or m.get("medium", "") or "image")
        if url and ("image" in kind or kind == ""):
            media.append((str(url), alts.get(str(url).strip(), "")))
    for enc in e.get("enclosures", []):
        href = enc.get("href")
        if href and str(enc.get("type", "")).startswith("image/"):
            media.append((str(href), ""))
    return Entry(
        guid=guid.strip(),
        link=link.strip(),
        title=str(e.get("title", "") or ""),
        summary=str(e.get("summary", "") or ""),
        categories=[c for c in categories if c],
        published=e.get("published_parsed") or e.get("updated_parsed"),
        media=media,
    )
