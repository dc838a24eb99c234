"""A feed entry as dissem sees it (:class:`FeedItem`), and the release it becomes.

- title and summary as text (HTML dropped, see :func:`dissem.feeds.html.html_to_text`);
- the image: the feed's media first (Media RSS ``media:content``/``media:thumbnail``, an
  image ``<enclosure>``), then the article page's ``og:image``; alt text from the feed
  (``media:description``) or the page's ``og:image:alt``;
- categories become tags (after the feed's own tags);
- the publication time, time-zone-aware, in UTC (feedparser gives ``published_parsed`` in
  UTC as a ``struct_time``); none when the feed states none;
- the release is the same kind of :class:`~dissem.config.models.Release` a file holds, so it
  goes through the same compose, planning and dispatch; its id is ``<feed>-<digest>``, its
  source (``releases.source``) ``feed:<feed>``.
"""

from __future__ import annotations

import calendar
import hashlib
import json
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from dissem.config.models import EARLIEST, LATEST, Feed, Image, Release, check_url
from dissem.feeds.html import PageMeta, html_to_text
from dissem.feeds.identity import canonical_url, item_keys, without_tracking
from dissem.feeds.parse import Entry
from dissem.feeds.rules import route

__all__ = ["FeedItem", "feed_item", "release_id", "to_release"]

#: a summary longer than this is cut (at a word) before composing
SUMMARY_MAX = 2000
TITLE_MAX = 500
SOURCE_PREFIX = "feed:"


@dataclass
class FeedItem:
    guid: str
    link: str
    title: str
    summary: str
    categories: list[str]
    published: datetime | None
    image: str | None = None
    image_alt: str = ""
    canonical: str | None = None  # the article page's rel=canonical, when it was read
    extra_keys: list[str] = field(default_factory=list)

    @property
    def keys(self) -> list[str]:
        return [*item_keys(self.guid, self.link, self.canonical or ""), *self.extra_keys]

    def content_hash(self) -> str:
        """Changes when what would be posted changes (title, summary, link, image); a link
        written another way (tracking parameters, http or https) is no change."""
        blob = json.dumps(
            [
                self.title,
                self.summary,
                canonical_url(self.link),
                self.image,
                self.image_alt,
                self.categories,
            ],
            ensure_ascii=False,
        )
        return hashlib.sha256(blob.encode("utf-8", "surrogatepass")).hexdigest()

    def with_page(self, meta: PageMeta) -> None:
        """Takes the article page's image (when the feed gave none) and canonical link."""
        if self.image is None and meta.image and _http(meta.image):
            self.image = meta.image
            self.image_alt = self.image_alt or (meta.image_alt or "")
        elif self.image is not None and not self.image_alt and meta.image == self.image:
            self.image_alt = meta.image_alt or ""
        if meta.canonical and canonical_url(meta.canonical) is not None:
            self.canonical = meta.canonical


def _http(url: str) -> bool:
    try:
        check_url(url)
    except ValueError:
        return False
    return True


def _cut(text: str, limit: int) -> str:
    if len(text) <= limit:
        return text
    head = text[: limit - 1].rsplit(" ", 1)[0]
    return head.rstrip(" ,;:") + "…"


def _published(value: Any) -> datetime | None:
    if value is None:
        return None
    try:
        when = datetime.fromtimestamp(calendar.timegm(value), tz=UTC)
    except (TypeError, ValueError, OverflowError, OSError):
        return None
    return when if EARLIEST <= when <= LATEST else None


def feed_item(entry: Entry) -> FeedItem:
    """A parsed entry as a :class:`FeedItem` (its link made the guid when it has none)."""
    title = _cut(html_to_text(entry.title), TITLE_MAX)
    summary = _cut(html_to_text(entry.summary), SUMMARY_MAX)
    image = alt = None
    for url, media_alt in entry.media:
        if _http(url):
            image, alt = url, media_alt
            break
    return FeedItem(
        guid=entry.guid or entry.link,
        link=without_tracking(entry.link),
        title=title,
        summary=summary,
        categories=list(dict.fromkeys(c for c in entry.categories if c))[:20],
        published=_published(entry.published),
        image=image,
        image_alt=html_to_text(alt or ""),
    )


def release_id(feed: str, item: FeedItem) -> str:
    """``<feed>-<16 hex>``: stable for the item's first key (its guid)."""
    first = item.keys[0] if item.keys else item.link
    return f"{feed}-{hashlib.sha256(first.encode('utf-8', 'surrogatepass')).hexdigest()[:16]}"


def _tag(text: str) -> str:
    return " ".join(text.split())[:100]


def to_release(
    feed: Feed,
    item: FeedItem,
    rid: str,
    *,
    age_limit: bool = True,
    approved_by: str | None = None,
) -> Release:
    """The release ``item`` of ``feed`` becomes (validated like a file's). ``approved_by``
    keeps a person's approval of a draft feed's item (``dissem approve``) through updates.
    The release expires when the item gets older than the feed's ``max_age`` (unless
    ``age_limit`` is False: a backfill, on purpose)."""
    routed = route(
        feed,
        title=item.title,
        summary=item.summary,
        categories=item.categories,
        urls=[item.link, canonical_url(item.link) or ""],
    )
    tags = list(dict.fromkeys([*feed.tags, *(_tag(c) for c in item.categories if _tag(c))]))
    expires = item.published + feed.max_age if age_limit and item.published else None
    if expires is not None and expires > LATEST:
        expires = None
    status, approver = "draft", None
    if feed.status == "approved" and feed.approved_by:
        status, approver = "approved", feed.approved_by
    if approved_by:
        status, approver = "approved", approved_by
    data: dict[str, Any] = {
        "id": rid,
        "title": item.title or _cut(item.summary, 120) or item.link,
        "summary": item.summary,
        "url": item.link,
        "language": feed.language,
        "tags": tags,
        "targets": routed.targets,
        "priority": routed.priority,
        "status": status,
        "approved_by": approver,
        "expires": expires,
    }
    if item.image:
        data["image"] = Image(src=item.image, alt=item.image_alt)
    return Release.model_validate(data)
