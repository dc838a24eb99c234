"""The week's aggregation does work in proportion to its posts, not their square.

At a full-rate year (35,000 posts a week, raw snapshots for the last week) SQLite scanned the
whole derived table of the week's latest snapshots once per post (a LEFT JOIN on a
subquery): two minutes for the report of the last week. The work is counted in SQLite VM
steps (``set_progress_handler``), so the test does not depend on the machine's speed.
"""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

from sqlalchemy.orm import Session, sessionmaker

from dissem.reports.aggregate import query_channel_totals
from dissem.reports.weekly import IsoWeek
from dissem.store.db import make_engine, make_session_factory, transaction
from dissem.store.migrate import upgrade
from dissem.store.models import ChannelRow, MetricSnapshot, Post, PostState, ReleaseRow

TZ = "Asia/Jakarta"
WEEK = IsoWeek.parse("2026-W48")
START, END = WEEK.bounds(TZ)
SNAPS = 30


def _factory(tmp: Path, posts: int) -> sessionmaker[Session]:
    engine = make_engine(f"sqlite:///{tmp / f'week{posts}.db'}")
    upgrade(engine)
    factory = make_session_factory(engine)
    with transaction(factory) as s:
        s.add(
            ChannelRow(
                name="x_main",
                platform="x",
                account="@x",
                timezone="UTC",
                enabled=True,
                config_hash="h",
                config={},
                removed=False,
                updated_at=START,
            )
        )
        s.add(
            ReleaseRow(
                id="rel",
                title="T",
                url="https://portal.example/rel",
                language="id",
                status="approved",
                priority="normal",
                source="test",
                content_hash="c",
                revision=1,
                deleted=False,
                data={},
                created_at=START,
                updated_at=START,
            )
        )
    for n in range(posts):
        at = START + timedelta(seconds=(n * 7919) % (7 * 86400 - 3600))
        with transaction(factory) as s:
            post = Post(
                release_id="rel",
                channel="x_main",
                platform="x",
                seq=n,
                text=f"post {n}",
                payload={},
                idempotency_key=f"k{n}",
                state=PostState.PUBLISHED,
                published_at=at,
                planned_at=at,
                attempts=1,
                remote_id=f"r{n}",
                created_at=at,
                updated_at=at,
            )
            s.add(post)
            s.flush()
            # hourly snapshots, some after the week's end (the report must not read them)
            s.add_all(
                MetricSnapshot(
                    post_id=post.id, taken_at=at + timedelta(hours=h), likes=n + h, raw={}
                )
                for h in range(1, SNAPS + 1)
            )
    return factory


def _steps(factory: sessionmaker[Session]) -> tuple[int, int | None]:
    """SQLite VM steps (in thousands) of the week's channel totals, and their likes."""
    steps = [0]

    def tick() -> int:
        steps[0] += 1
        return 0

    with factory() as s:
        raw = s.connection().connection.driver_connection
        assert raw is not None
        raw.set_progress_handler(tick, 1000)
        totals = query_channel_totals(s, START, END)
        raw.set_progress_handler(None, 0)
    assert len(totals) == 1
    return steps[0], totals[0].metrics["likes"]


def _expected_likes(posts: int) -> int:
    """Each post's latest snapshot at or before the week's end: likes = n + its hour."""
    total = 0
    for n in range(posts):
        at = START + timedelta(seconds=(n * 7919) % (7 * 86400 - 3600))
        hours = min(SNAPS, int((END - at).total_seconds() // 3600))
        total += n + hours
    return total


def test_week_totals_scale_linearly(tmp_path: Path) -> None:
    small, big = 60, 240
    steps_small, likes_small = _steps(_factory(tmp_path, small))
    steps_big, likes_big = _steps(_factory(tmp_path, big))
    assert likes_small == _expected_likes(small)
    assert likes_big == _expected_likes(big)
    # 4 times the posts: about 4 times the work (quadratic would be 16 times)
    assert steps_big <= 6 * max(steps_small, 1), (steps_small, steps_big)
