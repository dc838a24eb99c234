"""Bluesky rich text: link and tag facets (UTF-8 byte offsets) and the link card.

Bluesky does not link anything by itself: a URL or hashtag in ``text`` is plain text
unless a facet covers its bytes. Offsets are UTF-8 **byte** offsets, end exclusive; Python
string indices would be wrong as soon as non-ASCII text comes before the span.
"""

from __future__ import annotations

from typing import Any

from dissem.compose.shorten import truncate_graphemes
from dissem.compose.urls import find_hashtags, find_urls

LINK_FEATURE = "app.bsky.richtext.facet#link"
TAG_FEATURE = "app.bsky.richtext.facet#tag"
EXTERNAL_EMBED = "app.bsky.embed.external"
#: Bluesky's lexicon caps a tag at 640 bytes / 64 graphemes; longer ones are left plain.
MAX_TAG_CHARS = 64
#: Limits (graphemes) dissem keeps the card's title and description to; the card is not
#: the post text, so it is cut rather than fitted.
MAX_CARD_TITLE = 300
MAX_CARD_DESCRIPTION = 1000


def byte_span(text: str, start: int, end: int) -> dict[str, int]:
    """The facet ``index`` of the str span ``text[start:end]``."""
    byte_start = len(text[:start].encode("utf-8"))
    return {"byteStart": byte_start, "byteEnd": byte_start + len(text[start:end].encode("utf-8"))}


def facets(text: str, links: tuple[str, ...] = ()) -> tuple[dict[str, Any], ...]:
    """Link facets for every URL in ``text`` (a bare domain links to ``https://``) and tag
    facets for every hashtag (``tag`` without ``#``), ordered by position.

    ``links`` (the tagged link back to the portal) are linked wherever they occur even if
    URL detection does not take them (a host on a TLD it does not know); a detected URL
    overlapping one of them gives way.
    """
    found: list[tuple[int, int, dict[str, Any]]] = []
    for link in links:
        at = text.find(link) if link else -1
        while at >= 0:
            found.append((at, at + len(link), {"$type": LINK_FEATURE, "uri": link}))
            at = text.find(link, at + len(link))
    taken = [(start, end) for start, end, _ in found]

    def free(start: int, end: int) -> bool:
        return all(end <= s or start >= e for s, e in taken)

    for start, end in find_urls(text, require_scheme=False):
        if free(start, end):
            url = text[start:end]
            uri = url if "://" in url else "https://" + url
            found.append((start, end, {"$type": LINK_FEATURE, "uri": uri}))
    for start, end in find_hashtags(text):
        tag = text[start:end].lstrip("#＃")
        if tag and len(tag) <= MAX_TAG_CHARS and free(start, end):
            found.append((start, end, {"$type": TAG_FEATURE, "tag": tag}))
    found.sort(key=lambda item: item[0])
    return tuple(
        {"index": byte_span(text, start, end), "features": [feature]}
        for start, end, feature in found
    )


def external_embed(uri: str, title: str, description: str) -> dict[str, Any]:
    """The link card (``app.bsky.embed.external``); the adapter adds ``thumb`` after
    uploading the image named in ``options["thumb_src"]``."""
    return {
        "$type": EXTERNAL_EMBED,
        "external": {
            "uri": uri,
            "title": truncate_graphemes(title, MAX_CARD_TITLE),
            "description": truncate_graphemes(description, MAX_CARD_DESCRIPTION),
        },
    }
