"""Alt text of a feed item's image: the ``media:description`` (else ``media:title``) nested
in its Media RSS ``media:content`` (or its ``media:group``), never the item's own
description; without one, the article page's ``og:image:alt`` (for that same image)."""

from __future__ import annotations

from datetime import timedelta
from email.utils import format_datetime

from hypothesis import given
from hypothesis import strategies as st
from sqlalchemy import select

from dissem.config.models import Release
from dissem.feeds import parse
from dissem.store.models import ReleaseRow
from tests.feeds.conftest import NOW, Desk
from tests.feeds.feed_server import FeedServer, Route, article, rss


def _document(base: str) -> bytes:
    """A real RSS 2.0 document as portals write it: Media RSS in every shape."""
    pub = format_datetime(NOW - timedelta(minutes=5))

    def item(n: int, inner: str) -> str:
        return (
            f"<item><title>Story {n}</title><link>{base}/a/{n}</link>"
            f'<guid isPermaLink="false">story-{n}</guid><pubDate>{pub}</pubDate>{inner}</item>'
        )

    items = [
        # the item's description first, then the image described in its media:content
        item(
            1,
            f"<description>Body of story 1</description>"
            f'<media:content url="{base}/img/1.jpg" medium="image" type="image/jpeg">'
            "<media:title>Title of the photo</media:title>"
            "<media:description>The minister greets the envoy</media:description>"
            "</media:content>",
        ),
        # the image's description BEFORE the item's (feedparser then swaps summary/content)
        item(
            2,
            f'<media:content url="{base}/img/2.jpg" medium="image">'
            '<media:description type="plain">Harbour at dawn</media:description>'
            "</media:content><description>Body of story 2</description>",
        ),
        # only a media:title
        item(
            3,
            f"<description>Body of story 3</description>"
            f'<media:content url="{base}/img/3.jpg" medium="image">'
            "<media:title>Flags at the summit</media:title></media:content>",
        ),
        # a media:group describing its contents
        item(
            4,
            "<description>Body of story 4</description><media:group>"
            "<media:description>Rice fields in Bali</media:description>"
            f'<media:content url="{base}/img/4.jpg" medium="image" width="1200"/>'
            f'<media:content url="{base}/img/4-small.jpg" medium="image" width="300"/>'
            "</media:group>",
        ),
        # no description of the image at all: the item's text must not become its alt
        item(
            5,
            "<description>Body of story 5, never an alt text</description>"
            f'<media:content url="{base}/img/5.jpg" medium="image" type="image/jpeg"/>',
        ),
    ]
    return (
        '<?xml version="1.0" encoding="utf-8"?>\n'
        '<rss version="2.0" xmlns:media="http://search.yahoo.com/mrss/"><channel>'
        "<title>Portal</title><link>https://portal.example/</link><description>d</description>"
        + "".join(items)
        + "</channel></rss>"
    ).encode()


def test_image_alt_comes_from_the_media_content_description(desk: Desk, server: FeedServer) -> None:
    server.routes["/rss"] = Route(rss([]))
    config = desk.feeds({"name": "news", "url": server.url("/rss")})
    desk.poll(config, "news")  # first run: nothing to record
    server.routes["/rss"] = Route(_document(server.base))
    for n in range(1, 6):  # every page shows the feed's image with its own alt
        server.routes[f"/a/{n}"] = Route(
            article(image=server.url(f"/img/{n}.jpg"), alt=f"Page alt {n}"),
            content_type="text/html",
        )
    result = desk.poll(config, "news", NOW + timedelta(minutes=10))
    assert result.error is None and len(result.new) == 5
    with desk.factory() as s:
        rows = s.scalars(select(ReleaseRow).where(ReleaseRow.source == "feed:news")).all()
        releases = {r.title: Release.model_validate(r.data) for r in rows}
    images = {
        title: (rel.image.src, rel.image.alt) if rel.image else None
        for title, rel in releases.items()
    }
    assert images == {
        "Story 1": (server.url("/img/1.jpg"), "The minister greets the envoy"),
        "Story 2": (server.url("/img/2.jpg"), "Harbour at dawn"),
        "Story 3": (server.url("/img/3.jpg"), "Flags at the summit"),
        "Story 4": (server.url("/img/4.jpg"), "Rice fields in Bali"),
        "Story 5": (server.url("/img/5.jpg"), "Page alt 5"),  # og:image:alt, not the body
    }
    assert releases["Story 1"].summary == "Body of story 1"


def test_no_alt_from_item_text_or_ambiguous_urls() -> None:
    base = "https://portal.example"
    doc = _document(base).replace(
        b"</channel>",
        # the same image described differently by another item: which one is a guess
        f'<item><title>6</title><media:content url="{base}/img/1.jpg">'.encode()
        + b"<media:description>Another view</media:description></media:content></item>"
        + b"</channel>",
    )
    alts = parse.media_alts(doc)
    assert f"{base}/img/1.jpg" not in alts and f"{base}/img/5.jpg" not in alts
    assert alts[f"{base}/img/2.jpg"] == "Harbour at dawn"
    parsed = parse.parse_feed(doc)
    assert all("Body of story" not in alt for e in parsed.entries for _url, alt in e.media)
    assert parse.media_alts(b"<rss><channel><item>broken") == {}  # feedparser reads it loosely


@given(alt=st.text(st.characters(blacklist_categories=("Cs", "Cc", "Cn")), min_size=1, max_size=80))
def test_any_alt_text_survives_the_round_trip(alt: str) -> None:
    escaped = alt.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    doc = (
        '<rss version="2.0" xmlns:media="http://search.yahoo.com/mrss/"><channel><title>t'
        "</title><item><title>x</title><description>body</description>"
        '<media:content url="https://p.example/i.jpg" medium="image"><media:description>'
        f"{escaped}</media:description></media:content></item></channel></rss>"
    ).encode()
    expected = alt.strip()
    assert parse.media_alts(doc) == ({"https://p.example/i.jpg": expected} if expected else {})
