"""Zero duplicates: a story is known by its guid and canonical URL across feed changes,
feeds and restarts; an edited story updates its unsent posts and never posts again."""

from __future__ import annotations

import string
from datetime import timedelta

from hypothesis import given
from hypothesis import strategies as st
from sqlalchemy import func, select

from dissem.feeds import canonical_url, item_keys
from dissem.store.db import make_engine, make_session_factory
from dissem.store.models import Post, PostState, ReleaseRow
from tests.feeds.conftest import NOW, Desk
from tests.feeds.feed_server import FeedServer, Route, article, rss


def _item(n: int, **kw: object) -> dict[str, object]:
    base: dict[str, object] = {
        "title": f"Story {n}",
        "link": f"http://portal.example/news/{n}-story",
        "guid": f"http://portal.example/?p={n}",
        "description": f"Body {n}",
        "pub": NOW - timedelta(minutes=n),
    }
    base.update(kw)
    return base


def _count(desk: Desk) -> tuple[int, int]:
    with desk.factory() as s:
        releases = s.scalar(select(func.count()).select_from(ReleaseRow)) or 0
        posts = s.scalar(
            select(func.count()).select_from(Post).where(Post.state != PostState.CANCELLED)
        )
        return int(releases), int(posts or 0)


def _start(desk: Desk, server: FeedServer, items: list[dict[str, object]]) -> object:
    server.routes["/rss"] = Route(rss([]))
    config = desk.feeds({"name": "news", "url": server.url("/rss"), "fetch_article": False})
    desk.poll(config, "news")
    server.routes["/rss"] = Route(rss(items))
    assert len(desk.poll(config, "news").new) == len(items)
    return config


def test_feed_changes_post_nothing_twice(desk: Desk, server: FeedServer) -> None:
    items = [_item(1), _item(2), _item(3)]
    config = _start(desk, server, items)
    assert _count(desk) == (3, 3)
    later = NOW
    changes = [
        # guid switched http -> https (and www. added)
        [_item(i, guid=f"https://www.portal.example/?p={i}") for i in (1, 2, 3)],
        # utm_* and fbclid added to the links, a fragment too
        [
            _item(i, link=f"http://portal.example/news/{i}-story?utm_source=rss&fbclid=x#top")
            for i in (1, 2, 3)
        ],
        # reordered
        [_item(3), _item(1), _item(2)],
        # an item dropping out ...
        [_item(1), _item(3)],
        # ... and coming back
        [_item(1), _item(2), _item(3)],
    ]
    for feed_items in changes:
        later += timedelta(minutes=10)
        server.routes["/rss"] = Route(rss(feed_items))
        result = desk.poll(config, "news", later)  # type: ignore[arg-type]
        assert result.error is None and result.new == [] and result.updated == []
        assert _count(desk) == (3, 3)


def test_headline_edit_updates_unsent_posts_and_never_posts_again(
    desk: Desk, server: FeedServer
) -> None:
    config = _start(desk, server, [_item(1), _item(2)])
    with desk.factory() as s:  # story 2 already went out
        post = s.scalars(select(Post).join(ReleaseRow).where(ReleaseRow.title == "Story 2")).one()
        post.state, post.published_at = PostState.PUBLISHED, NOW
        s.commit()
    server.routes["/rss"] = Route(
        rss(
            [
                _item(
                    1, title="Story 1 (updated)", link="http://portal.example/news/1-story-updated"
                ),
                _item(
                    2, title="Story 2 (updated)", link="http://portal.example/news/2-story-updated"
                ),
            ]
        )
    )
    result = desk.poll(config, "news", NOW + timedelta(minutes=10))  # type: ignore[arg-type]
    assert result.new == [] and len(result.updated) == 2
    with desk.factory() as s:
        open_posts = s.scalars(select(Post).where(Post.state == PostState.SCHEDULED)).all()
        assert [p.text.splitlines()[0] for p in open_posts] == ["Story 1 (updated)"]
        published = s.scalars(select(Post).where(Post.state == PostState.PUBLISHED)).all()
        assert len(published) == 1 and "Story 2 (updated)" not in published[0].text
        rows = s.scalars(select(ReleaseRow).order_by(ReleaseRow.title)).all()
        assert [r.revision for r in rows] == [2, 2]
    # the same text again: nothing changes
    again = desk.poll(config, "news", NOW + timedelta(minutes=20))  # type: ignore[arg-type]
    assert again.updated == [] and again.new == []


def test_same_story_on_two_domains_by_canonical_link(desk: Desk, server: FeedServer) -> None:
    server.routes["/a"] = Route(rss([]))
    server.routes["/b"] = Route(rss([]))
    config = desk.feeds(
        {"name": "en", "url": server.url("/a")},
        {"name": "mirror", "url": server.url("/b")},
    )
    desk.poll(config, "en")
    desk.poll(config, "mirror")
    story = server.url("/news/1")
    server.routes["/a"] = Route(rss([_item(1, link=story, guid="en-1")]))
    server.routes["/news/1"] = Route(article(canonical=story), content_type="text/html")
    assert len(desk.poll(config, "en").new) == 1
    # the mirror's own address (another domain in production; here another path on the
    # one local server), whose page names the original as canonical
    mirrored = server.url("/mirror/berita-1")
    server.routes["/b"] = Route(rss([_item(1, link=mirrored, guid="mirror-1")]))
    server.routes["/mirror/berita-1"] = Route(article(canonical=story), content_type="text/html")
    result = desk.poll(config, "mirror")
    assert result.new == [] and result.duplicates == 1
    assert _count(desk) == (1, 1)


def test_restart_between_polls_posts_nothing_twice(
    desk: Desk, server: FeedServer, db_url: str
) -> None:
    config = _start(desk, server, [_item(1), _item(2)])
    fresh = make_engine(db_url)  # a new process: a new engine, nothing in memory
    try:
        desk.factory = make_session_factory(fresh)
        server.routes["/rss"] = Route(rss([_item(2), _item(1)]), conditional=False)
        result = desk.poll(config, "news", NOW + timedelta(minutes=10))  # type: ignore[arg-type]
        assert result.new == [] and _count(desk) == (2, 2)
    finally:
        fresh.dispose()


_hosts = st.from_regex(r"[a-z][a-z0-9]{0,10}\.(org|example|co\.id)", fullmatch=True)
_segments = st.lists(
    st.text(string.ascii_letters + string.digits + "-_.~", min_size=1, max_size=8), max_size=4
)
_params = st.lists(
    st.tuples(
        st.sampled_from(["id", "page", "lang", "q"]), st.text(string.ascii_letters, max_size=5)
    ),
    max_size=3,
    unique_by=lambda kv: kv[0],
)
_tracking = st.lists(
    st.tuples(
        st.sampled_from(["utm_source", "utm_medium", "UTM_Campaign", "fbclid", "gclid", "mc_eid"]),
        st.text(string.ascii_letters, max_size=5),
    ),
    max_size=3,
)


@given(
    host=_hosts,
    segments=_segments,
    params=_params,
    tracking=_tracking,
    scheme=st.sampled_from(["http", "https", "HTTP", "HtTpS"]),
    www=st.booleans(),
    upper_host=st.booleans(),
    fragment=st.text(string.ascii_letters, max_size=6),
    shuffle=st.randoms(use_true_random=False),
)
def test_url_folding_property(
    host: str,
    segments: list[str],
    params: list[tuple[str, str]],
    tracking: list[tuple[str, str]],
    scheme: str,
    www: bool,
    upper_host: bool,
    fragment: str,
    shuffle: object,
) -> None:
    path = "/" + "/".join(segments)
    plain = f"https://{host}{path}" + (
        "?" + "&".join(f"{k}={v}" for k, v in params) if params else ""
    )
    query = [*params, *tracking]
    shuffle.shuffle(query)  # type: ignore[attr-defined]
    written_host = ("www." if www else "") + (host.upper() if upper_host else host)
    port = ":443" if scheme.lower() == "https" and www else ""
    written = f"{scheme}://{written_host}{port}{path}"
    if query:
        written += "?" + "&".join(f"{k}={v}" for k, v in query)
    if fragment:
        written += "#" + fragment
    folded = canonical_url(written)
    assert folded == canonical_url(plain)
    assert folded is not None and canonical_url(folded) == folded  # idempotent
    assert "utm_" not in folded.lower() and "fbclid" not in folded and "#" not in folded
    assert item_keys(written, written) == item_keys(plain, plain)


@given(
    a=st.text(string.ascii_lowercase, min_size=1, max_size=8),
    b=st.text(string.ascii_lowercase, min_size=1, max_size=8),
)
def test_different_articles_stay_different(a: str, b: str) -> None:
    same = canonical_url(f"https://portal.example/{a}") == canonical_url(
        f"https://portal.example/{b}"
    )
    assert same == (a == b)
    assert canonical_url(f"https://portal.example/x?id={a}") != canonical_url(
        "https://portal.example/x"
    )


def test_not_http_is_no_url() -> None:
    assert canonical_url("ftp://portal.example/a") is None
    assert canonical_url("urn:uuid:1234") is None
    assert item_keys("urn:uuid:1234", "") == ["guid:urn:uuid:1234"]
