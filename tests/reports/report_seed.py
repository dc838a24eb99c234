"""A small, known week of history for the report tests (week 2026-W48, Asia/Jakarta)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy.orm import Session, sessionmaker

from dissem.store.db import transaction
from dissem.store.models import (
    ChannelRow,
    FeedEvent,
    FeedState,
    MetricSnapshot,
    Post,
    PostState,
    ReleaseRow,
)

WEEK = "2026-W48"
TZ = "Asia/Jakarta"  # UTC+7: the week is 2026-11-22T17:00Z .. 2026-11-29T17:00Z
START = datetime(2026, 11, 22, 17, 0, tzinfo=UTC)
END = START + timedelta(days=7)
CHANNELS = {
    "kemlu-x": "x",
    "kemlu-bsky": "bluesky",
    "kemlu-tg": "telegram",
    "embassy-masto": "mastodon",
}


def _channel(name: str, platform: str) -> ChannelRow:
    return ChannelRow(
        name=name,
        platform=platform,
        account=f"@{name}",
        timezone=TZ,
        config_hash="h",
        config={"name": name, "platform": platform, "account": f"@{name}", "timezone": TZ},
        updated_at=START,
    )


def _release(rid: str, title: str) -> ReleaseRow:
    return ReleaseRow(
        id=rid,
        title=title,
        url=f"https://portal.example.go.id/{rid}",
        language="id",
        status="approved",
        priority="normal",
        source=f"config/releases/{rid}.md",
        content_hash="c",
        data={},
        created_at=START - timedelta(days=30),
        updated_at=START - timedelta(days=30),
    )


_n = [0]


def _post(channel: str, release: str, published_at: datetime | None, **kw: Any) -> Post:
    _n[0] += 1
    n = _n[0]
    values: dict[str, Any] = {
        "release_id": release,
        "channel": channel,
        "platform": CHANNELS[channel],
        "seq": n,
        "text": f"Post {n}: <b>news</b> & views on {channel}",
        "payload": {},
        "idempotency_key": f"key-{n}-{channel}",
        "state": PostState.PUBLISHED,
        "published_at": published_at,
        "planned_at": published_at,
        "remote_id": f"remote-{n}",
        "remote_url": f"https://social.example/{channel}/{n}",
        "attempts": 1,
        "created_at": START - timedelta(days=10),
        "updated_at": published_at or START + timedelta(days=2),
    }
    values.update(kw)
    return Post(**values)


def _snap(post: Post, taken_at: datetime, **metrics: int) -> MetricSnapshot:
    return MetricSnapshot(post_id=post.id, taken_at=taken_at, raw={"seed": True}, **metrics)


def seed_week(factory: sessionmaker[Session]) -> dict[str, int]:
    """Writes the week; returns post ids by a short name. Expected figures are in EXPECTED."""
    d = timedelta(days=1)
    h = timedelta(hours=1)
    with transaction(factory) as s:
        s.add_all([_channel(n, p) for n, p in CHANNELS.items()])
        s.add_all(
            [_release("r1", "Minister visits Jakarta"), _release("r2", "Visa <b>rules</b> & fees")]
        )
        s.flush()
        posts = {
            # published Monday (local) on time, two snapshots in the week + one after it
            "x1": _post("kemlu-x", "r1", START + 3 * h, text="=SUM(A1) formula-looking text"),
            # published Tuesday, 40 minutes late, retried once
            "x2": _post(
                "kemlu-x",
                "r2",
                START + d + 5 * h,
                planned_at=START + d + 4 * h + 20 * timedelta(minutes=1),
                attempts=2,
                last_error="TransientError: HTTP 503 from x",
            ),
            "b1": _post("kemlu-bsky", "r1", START + 4 * h),
            "t1": _post("kemlu-tg", "r1", START + 5 * h),  # Telegram: no metrics at all
            "m1": _post("embassy-masto", "r2", START + 2 * d),
            # published the week before (for week-over-week)
            "x0": _post("kemlu-x", "r1", START - 3 * d),
            # published the week after (must not count)
            "x9": _post("kemlu-x", "r2", END + h),
            # failures in the week
            "f1": _post(
                "kemlu-x",
                "r2",
                None,
                state=PostState.FAILED,
                remote_id=None,
                remote_url=None,
                last_error="ContentRejected: text too long",
                updated_at=START + 2 * d,
            ),
            "f2": _post(
                "kemlu-bsky",
                "r2",
                None,
                state=PostState.NEEDS_REVIEW,
                remote_id=None,
                remote_url=None,
                last_error="OutcomeUnknown: timeout after sending",
                updated_at=START + 3 * d,
            ),
        }
        s.add_all(posts.values())
        s.flush()
        p = posts
        s.add_all(
            [
                _snap(p["x1"], START + 4 * h, likes=5, reposts=1, replies=0, quotes=0,
                      bookmarks=0, views=100),
                _snap(p["x1"], START + 2 * d, likes=40, reposts=10, replies=3, quotes=2,
                      bookmarks=1, views=2000),
                _snap(p["x1"], END + d, likes=999, reposts=999, views=99999),  # after the week
                _snap(p["x2"], START + 3 * d, likes=7, reposts=2, replies=1, quotes=0,
                      bookmarks=0, views=300),
                _snap(p["b1"], START + 6 * d, likes=12, reposts=4, replies=2, quotes=1),
                _snap(p["m1"], START + 5 * d, likes=3, reposts=5, replies=0),
                _snap(p["x0"], START - 2 * d, likes=20, reposts=2, replies=0, quotes=0,
                      bookmarks=0, views=500),
            ]
        )  # fmt: skip
        return {k: v.id for k, v in posts.items()}


# x1 = 40+10+3+2+1 = 56; x2 = 7+2+1 = 10; b1 = 12+4+2+1 = 19; m1 = 3+5 = 8; t1 = not reported
EXPECTED = {
    "posts": 5,
    "engagement": 56 + 10 + 19 + 8,
    "views": 2000 + 300,
    "channels_active": 4,
    "on_time": 4,
    "late": 1,
    "retried": 1,
    "failed": 1,
    "needs_review": 1,
    "previous_posts": 1,
    "previous_engagement": 22,
    "channel_engagement": {"kemlu-x": 66, "kemlu-bsky": 19, "embassy-masto": 8, "kemlu-tg": None},
}


def seed_feeds(factory: sessionmaker[Session]) -> None:
    """Feed decisions around the week: "portal-en" decided items in it (and one the week
    before, one the week after, which must not count); "portal-id" was polled but decided
    nothing this week. Expected counts are in FEED_EXPECTED."""
    h = timedelta(hours=1)
    events = [
        *(("portal-en", "seen", START + h) for _ in range(5)),  # first run: recorded
        ("portal-en", "new", START + 2 * h),
        ("portal-en", "new", START + 3 * timedelta(days=1)),
        ("portal-en", "new", END - h),  # Sunday 23:00 local: still in the week
        ("portal-en", "updated", START + 4 * h),
        ("portal-en", "duplicate", START + 5 * h),
        ("portal-en", "too_old", START + 6 * h),
        ("portal-en", "too_old", START + 6 * h),
        ("portal-en", "over_cap", START + 7 * h),
        ("portal-en", "new", START - h),  # the week before
        ("portal-en", "new", END),  # the week after
        ("portal-id", "seen", START - 2 * timedelta(days=1)),  # the week before only
    ]
    with transaction(factory) as s:
        s.add_all(
            FeedState(name=name, url=f"https://portal.example.go.id/{name}.xml", updated_at=START)
            for name in ("portal-en", "portal-id")
        )
        s.add_all(
            FeedEvent(feed=feed, guid=f"g{i}", decision=decision, at=at)
            for i, (feed, decision, at) in enumerate(events)
        )


FEED_EXPECTED = {
    "portal-en": {
        "new": 3,
        "backfill": 0,
        "seen": 5,
        "updated": 1,
        "duplicate": 1,
        "too_old": 2,
        "over_cap": 1,
        "invalid": 0,
        "total": 13,
    },
    "portal-id": {
        "new": 0,
        "backfill": 0,
        "seen": 0,
        "updated": 0,
        "duplicate": 0,
        "too_old": 0,
        "over_cap": 0,
        "invalid": 0,
        "total": 0,
    },
}
