"""Polling feeds served over real HTTP: first run, backfill, conditional GET, items to
releases (text, image, tags, time), rules, age limit and cap, drafts, decisions counted."""

from __future__ import annotations

from datetime import timedelta

import yaml
from sqlalchemy import select

from dissem.cli.store_cmds import queue_rows
from dissem.config.models import Release
from dissem.feeds import decision_counts
from dissem.store.models import FeedEvent, FeedState, Post, PostState, ReleaseRevision, ReleaseRow
from dissem.worker.feed_review import approve_release, export_release, feed_rows, item_rows
from tests.feeds.conftest import NOW, Desk
from tests.feeds.feed_server import FeedServer, Route, article, atom, rss


def _item(n: int, **kw: object) -> dict[str, object]:
    base: dict[str, object] = {
        "title": f"Story {n}",
        "link": f"https://portal.example/news/{n}",
        "guid": f"story-{n}",
        "description": f"<p>Body of <b>story</b> {n} &amp; more</p>",
        "pub": NOW - timedelta(minutes=10 * n),
    }
    base.update(kw)
    return base


def _releases(desk: Desk) -> dict[str, ReleaseRow]:
    with desk.factory() as s:
        return {
            r.id: r for r in s.scalars(select(ReleaseRow).where(ReleaseRow.source.like("feed:%")))
        }


def test_first_run_records_items_as_seen_and_posts_nothing(desk: Desk, server: FeedServer) -> None:
    server.routes["/rss"] = Route(rss([_item(i) for i in range(1, 6)]))
    config = desk.feeds({"name": "news", "url": server.url("/rss"), "fetch_article": False})
    first = desk.poll(config, "news")
    assert first.error is None and first.seen == 5 and first.new == []
    assert _releases(desk) == {}
    with desk.factory() as s:
        state = s.get(FeedState, "news")
        assert state is not None and state.items_seen == 5 and state.initialized
        decisions = [e.decision for e in s.scalars(select(FeedEvent))]
    assert decisions == ["seen"] * 5
    # a new item afterwards is posted: a release, its posts planned and in the queue
    server.routes["/rss"] = Route(rss([_item(0), *[_item(i) for i in range(1, 6)]]))
    second = desk.poll(config, "news", NOW + timedelta(minutes=10))
    assert second.seen == 0 and len(second.new) == 1
    (rid,) = second.new
    queued = queue_rows(desk.factory, desk.settings, problems=False, show_all=False, limit=50)
    assert [q["release"] for q in queued] == [rid]
    assert queued[0]["state"] == PostState.SCHEDULED


def test_backfill_posts_the_newest_n_on_purpose(desk: Desk, server: FeedServer) -> None:
    server.routes["/rss"] = Route(rss([_item(i) for i in range(1, 6)]))
    config = desk.feeds({"name": "news", "url": server.url("/rss"), "fetch_article": False})
    desk.poll(config, "news")
    result = desk.poll(config, "news", backfill=2)
    assert len(result.new) == 2
    titles = sorted(r.title for r in _releases(desk).values())
    assert titles == ["Story 1", "Story 2"]  # the newest two
    again = desk.poll(config, "news", backfill=2)  # already posted: never twice
    assert again.new == [] and len(_releases(desk)) == 2


def test_unchanged_feed_is_answered_304(desk: Desk, server: FeedServer) -> None:
    server.routes["/rss"] = Route(rss([_item(1)]))
    config = desk.feeds({"name": "news", "url": server.url("/rss"), "fetch_article": False})
    desk.poll(config, "news")
    results = [desk.poll(config, "news", NOW + timedelta(minutes=10 * i)) for i in range(1, 21)]
    assert all(r.not_modified and r.status == 304 for r in results)
    assert server.not_modified == 20


def test_item_becomes_release_text_tags_time_image(desk: Desk, server: FeedServer) -> None:
    server.routes["/atom"] = Route(
        atom(
            [
                {"title": "Old", "link": server.url("/a/0"), "pub": NOW - timedelta(hours=1)},
            ]
        ),
        content_type="application/atom+xml",
    )
    config = desk.feeds(
        {"name": "atom", "url": server.url("/atom"), "tags": ["berita"], "language": "id"}
    )
    desk.poll(config, "atom")
    pub = (NOW - timedelta(minutes=5)).astimezone(__import__("zoneinfo").ZoneInfo("Asia/Jakarta"))
    server.routes["/atom"] = Route(
        atom(
            [
                {
                    "title": "Minister &amp; envoy meet",
                    "link": server.url("/a/1?utm_source=rss"),
                    "pub": pub,
                    "description": "<p>Talks <b>held</b> in Jakarta.</p><script>x()</script>",
                    "categories": ["Diplomacy", "Asia"],
                },
                {"title": "Old", "link": server.url("/a/0"), "pub": NOW - timedelta(hours=1)},
            ]
        ),
        content_type="application/atom+xml",
    )
    server.routes["/a/1"] = Route(
        article(image=server.url("/img/1.jpg"), alt="The minister at the table"),
        content_type="text/html",
    )
    result = desk.poll(config, "atom", NOW + timedelta(minutes=10))
    (rid,) = result.new
    rel = Release.model_validate(_releases(desk)[rid].data)
    assert rel.title == "Minister & envoy meet"
    assert rel.summary == "Talks held in Jakarta."
    assert rel.tags == ["berita", "Diplomacy", "Asia"]
    assert rel.language == "id" and rel.status == "approved" and rel.approved_by == "Ana"
    assert rel.image is not None and rel.image.src == server.url("/img/1.jpg")
    assert rel.image.alt == "The minister at the table"
    assert rel.expires == pub.astimezone(NOW.tzinfo) + timedelta(hours=48)
    with desk.factory() as s:
        assert s.get(FeedState, "atom").hub == "https://hub.example/"  # type: ignore[union-attr]


def test_feed_media_comes_before_og_image(desk: Desk, server: FeedServer) -> None:
    server.routes["/rss"] = Route(rss([]))
    config = desk.feeds({"name": "news", "url": server.url("/rss")})
    desk.poll(config, "news")
    server.routes["/rss"] = Route(
        rss([_item(1, link=server.url("/a/1"), image=server.url("/m.jpg"), alt="Feed alt")])
    )
    server.routes["/a/1"] = Route(
        article(image=server.url("/og.jpg"), alt="og alt"), content_type="text/html"
    )
    server.routes["/a/2"] = Route(
        article(image=server.url("/m2.jpg"), alt="Same image"), content_type="text/html"
    )
    (rid,) = desk.poll(config, "news").new
    rel = Release.model_validate(_releases(desk)[rid].data)
    # the feed's image and its own alt (media:description); the page's describes another
    assert rel.image is not None and (rel.image.src, rel.image.alt) == (
        server.url("/m.jpg"),
        "Feed alt",
    )
    server.routes["/rss"] = Route(
        rss([_item(2, link=server.url("/a/2"), image=server.url("/m2.jpg"))])
    )
    (rid,) = desk.poll(config, "news").new
    rel = Release.model_validate(_releases(desk)[rid].data)
    assert rel.image is not None and (rel.image.src, rel.image.alt) == (
        server.url("/m2.jpg"),
        "Same image",
    )


def test_rules_route_by_category_keyword_url_and_breaking(desk: Desk, server: FeedServer) -> None:
    server.routes["/rss"] = Route(rss([]))
    config = desk.feeds(
        {
            "name": "news",
            "url": server.url("/rss"),
            "fetch_article": False,
            "breaking_keywords": ["earthquake"],
            "rules": [
                {"categories": ["economy"], "targets": ["hq-x"]},
                {
                    "urls": ["https://portal.example/consular/*"],
                    "targets": ["hq-bluesky"],
                    "priority": "breaking",
                },
                {"keywords": ["sport"], "targets": ["hq-telegram"]},
            ],
        }
    )
    desk.poll(config, "news")
    server.routes["/rss"] = Route(
        rss(
            [
                _item(1, categories=["Economy"]),
                _item(2, link="https://portal.example/consular/2"),
                _item(3, title="Sport: a win"),
                _item(4, title="Earthquake felt in Bali"),
            ]
        )
    )
    desk.poll(config, "news")
    by_title = {r.title: Release.model_validate(r.data) for r in _releases(desk).values()}
    assert by_title["Story 1"].targets == ["hq-x"] and by_title["Story 1"].priority == "normal"
    assert (
        by_title["Story 2"].targets == ["hq-bluesky"] and by_title["Story 2"].priority == "breaking"
    )
    assert by_title["Sport: a win"].targets == ["hq-telegram"]
    assert by_title["Earthquake felt in Bali"].targets == ["hq-mastodon"]
    assert by_title["Earthquake felt in Bali"].priority == "breaking"


def test_too_old_and_over_cap_are_held_and_counted(desk: Desk, server: FeedServer) -> None:
    server.routes["/rss"] = Route(rss([]))
    config = desk.feeds(
        {
            "name": "news",
            "url": server.url("/rss"),
            "fetch_article": False,
            "cap_per_hour": 2,
            "max_age": "6h",
        }
    )
    desk.poll(config, "news")
    items = [_item(i) for i in range(1, 5)] + [_item(9, pub=NOW - timedelta(hours=7))]
    server.routes["/rss"] = Route(rss(items))
    result = desk.poll(config, "news")
    assert len(result.new) == 2 and result.held == 3
    with desk.factory() as s:
        counts = decision_counts(s, NOW - timedelta(days=1), NOW + timedelta(days=1))
    assert counts == {"news": {"new": 2, "over_cap": 2, "too_old": 1}}
    row = next(r for r in feed_rows(desk.factory, config) if r["feed"] == "news")
    assert (row["new"], row["held"], row["status"]) == (2, 3, 200)
    # an hour later there is room again for new items (the held ones stay held)
    server.routes["/rss"] = Route(rss([_item(0), *items]))
    later = desk.poll(config, "news", NOW + timedelta(minutes=61))
    assert len(later.new) == 1 and later.held == 0


def test_draft_feed_items_wait_until_approved(desk: Desk, server: FeedServer) -> None:
    server.routes["/rss"] = Route(rss([]))
    config = desk.feeds(
        {
            "name": "news",
            "url": server.url("/rss"),
            "fetch_article": False,
            "status": "draft",
            "approved_by": None,
        }
    )
    desk.poll(config, "news")
    server.routes["/rss"] = Route(rss([_item(1)]))
    (rid,) = desk.poll(config, "news").new
    with desk.factory() as s:
        assert s.scalars(select(Post).where(Post.release_id == rid)).all() == []
    assert _releases(desk)[rid].status == "draft"
    # exported as a release file, valid against the release model
    text = export_release(desk.factory, rid)
    data = yaml.safe_load(text)
    assert Release.model_validate(data).status == "draft" and data["id"] == rid
    later = NOW + timedelta(minutes=5)
    plan = approve_release(desk.factory, desk.settings, config, rid, by="Budi", now=later)
    assert plan.created == 1
    desk.sync(config, later + timedelta(minutes=1))  # sync does not undo the approval
    row = _releases(desk)[rid]
    assert row.status == "approved" and row.data["approved_by"] == "Budi" and not row.deleted
    with desk.factory() as s:
        rev = s.scalars(
            select(ReleaseRevision)
            .where(ReleaseRevision.release_id == rid)
            .order_by(ReleaseRevision.revision)
        ).all()[-1]
        assert (
            rev.status == "approved"
            and rev.data["approved_by"] == "Budi"
            and rev.recorded_at == later
        )
        posts = s.scalars(select(Post).where(Post.release_id == rid)).all()
        assert [p.state for p in posts] == [PostState.SCHEDULED]
    # an update of the item keeps the approval
    server.routes["/rss"] = Route(rss([_item(1, title="Story 1, updated")]))
    desk.poll(config, "news", later + timedelta(minutes=10))
    row = _releases(desk)[rid]
    assert row.status == "approved" and row.data["approved_by"] == "Budi"
    assert [i["decision"] for i in item_rows(desk.factory, "news")] == ["new"]


def test_sync_keeps_feed_releases(desk: Desk, server: FeedServer) -> None:
    server.routes["/rss"] = Route(rss([]))
    config = desk.feeds({"name": "news", "url": server.url("/rss"), "fetch_article": False})
    desk.poll(config, "news")
    server.routes["/rss"] = Route(rss([_item(1)]))
    (rid,) = desk.poll(config, "news").new
    result = desk.sync(config, NOW + timedelta(minutes=1))
    assert result.changes.releases_deleted == [] and not _releases(desk)[rid].deleted
    with desk.factory() as s:
        assert len(s.scalars(select(Post).where(Post.release_id == rid)).all()) == 1
