"""Compaction of the metrics history (dissem/metrics/compact.py): reports and learned timing
read the same numbers before and after; the rule drops exactly the rows it names; raw payloads
age out; every transaction handles at most ``batch`` posts."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from pydantic import ValidationError
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from dissem.metrics.compact import compact_once, parse_retention
from dissem.reports.figures import build_week_figures
from dissem.reports.weekly import IsoWeek
from dissem.settings import Settings
from dissem.store.db import transaction
from dissem.store.models import MetricSnapshot
from dissem.timing.history import read_histories
from dissem.worker.daemon import Worker
from tests.metrics.metrics_seed import add_channel, add_post, add_release

NOW = datetime(2026, 12, 7, 3, 0, tzinfo=UTC)
TZ = "Asia/Jakarta"
HOURS = [1, 2, 20, 24, 30, 40, 49, 50, 60, 70, 100, 130, 136, 137, 140, 160, 200, 500, 900]


def _settings(**kw: Any) -> Settings:
    return Settings(timezone=TZ, **kw)


def _ages() -> list[timedelta]:
    """The collector's cadence: hourly to 1 day, 6-hourly to 7 days, daily to 30 days."""
    hours = list(range(1, 24)) + list(range(24, 24 * 7, 6)) + list(range(24 * 7, 24 * 30, 24))
    return [timedelta(hours=h, minutes=7) for h in hours]


def _seed(factory: sessionmaker[Session], posts: int = 24) -> list[int]:
    add_channel(factory, "x_main", "x", NOW)
    add_channel(factory, "bsky", "bluesky", NOW)
    add_release(factory, "rel", NOW)
    ids = []
    for n in range(posts):
        at = NOW - timedelta(days=3 + 5 * n, hours=n % 7)
        channel, platform = ("x_main", "x") if n % 2 else ("bsky", "bluesky")
        pid = add_post(factory, channel=channel, platform=platform, release="rel", published_at=at)
        ids.append(pid)
        with transaction(factory) as s:
            for i, age in enumerate(_ages()):
                if at + age > NOW:
                    break
                # the first day-old snapshot of every third post reports no engagement
                silent = n % 3 == 0 and age == timedelta(days=1, minutes=7)
                s.add(
                    MetricSnapshot(
                        post_id=pid,
                        taken_at=at + age,
                        likes=None if silent else i * (n + 1),
                        reposts=None if silent else i,
                        views=100 * i,
                        raw={"n": i},
                    )
                )
    return ids


def _reports(factory: sessionmaker[Session]) -> list[Any]:
    out = []
    week = IsoWeek.containing(NOW.date()).previous()
    with factory() as s:
        for _ in range(20):
            start, end = week.bounds(TZ)
            out.append(build_week_figures(s, str(week), start, end, TZ, now=NOW))
            week = week.previous()
        out.append(read_histories(s, NOW))
    return out


def _count(factory: sessionmaker[Session]) -> int:
    with factory() as s:
        return len(list(s.scalars(select(MetricSnapshot.id))))


@pytest.mark.parametrize("rule", ["hourly@7d,daily@90d,final", "hourly@2d,daily@20d,final"])
def test_reports_and_learned_timing_unchanged(
    session_factory: sessionmaker[Session], rule: str
) -> None:
    _seed(session_factory)
    before, rows = _reports(session_factory), _count(session_factory)
    stats = compact_once(session_factory, _settings(metrics_retention=rule), NOW)
    assert stats.deleted > 0
    assert _count(session_factory) == rows - stats.deleted
    assert _reports(session_factory) == before
    again = compact_once(session_factory, _settings(metrics_retention=rule), NOW)
    assert again.deleted == 0  # idempotent


def _taken(factory: sessionmaker[Session], pid: int) -> list[timedelta]:
    with factory() as s:
        return [
            t
            for t in s.scalars(
                select(MetricSnapshot.taken_at)
                .where(MetricSnapshot.post_id == pid)
                .order_by(MetricSnapshot.taken_at)
            )
        ]


@pytest.mark.parametrize(
    ("rule", "expected"),
    [
        # the post is 97 days old: under 400 days, one a day of age: 20 (day 0), 40 (1),
        # 70 (2: 48h..71h), 100 (4), 140 (5), 160 (6), 200 (8), 500 (20), 900 (37); learned
        # timing (24h..48h, the first engaged): 24; its week's report (latest at or before
        # 137h): 137
        ("all@2d,daily@400d,final", [20, 24, 40, 70, 100, 137, 140, 160, 200, 500, 900]),
        # hourly: the last of each hour of age (49h and 50h are different hours)
        ("all@2d,hourly@400d,final", HOURS),
        ("hourly@30d,hourly@400d,final", HOURS),
        # older than the last span: the final one, learned timing's and the report's
        ("all@2d,daily@90d,final", [24, 137, 900]),
        ("all@200d,final", HOURS),
    ],
)
def test_rule_keeps_exactly_what_it_names(
    session_factory: sessionmaker[Session], rule: str, expected: list[int]
) -> None:
    add_channel(session_factory, "x_main", "x", NOW)
    add_release(session_factory, "rel", NOW)
    # Tuesday 00:00 UTC (07:00 Jakarta): its week ends Monday 00:00 Jakarta, 5d17h later
    at = datetime(2026, 9, 1, 0, 0, tzinfo=UTC)
    pid = add_post(session_factory, channel="x_main", platform="x", release="rel", published_at=at)
    with transaction(session_factory) as s:
        for h in HOURS:
            s.add(MetricSnapshot(post_id=pid, taken_at=at + timedelta(hours=h), likes=h))
    compact_once(session_factory, _settings(metrics_retention=rule), NOW)
    kept = sorted(int((t - at).total_seconds() // 3600) for t in _taken(session_factory, pid))
    assert kept == expected


def test_raw_payloads_cleared_after_n_days(session_factory: sessionmaker[Session]) -> None:
    ids = _seed(session_factory, posts=6)
    compact_once(session_factory, _settings(metrics_raw_days=30), NOW)
    with session_factory() as s:
        rows = s.execute(select(MetricSnapshot.taken_at, MetricSnapshot.raw)).all()
    assert rows and len(ids) == 6
    for taken_at, raw in rows:
        assert (raw == {}) == (taken_at < NOW - timedelta(days=30)), taken_at
    assert any(raw != {} for _, raw in rows)
    assert _count(session_factory) == len(rows)  # no rule: nothing deleted


def test_batches_bounded(session_factory: sessionmaker[Session]) -> None:
    _seed(session_factory, posts=9)
    opened = []

    def counting() -> Session:
        opened.append(1)
        return session_factory()

    rule = "hourly@2d,daily@20d,final"
    stats = compact_once(counting, _settings(metrics_retention=rule), NOW, batch=2)  # type: ignore[arg-type]
    assert stats.posts == 9 and stats.batches == 5  # ceil(9 / 2) transactions of <= 2 posts
    assert len(opened) == 6  # and one that found nothing left


@pytest.mark.parametrize(
    "text", ["final", "daily@90d", "hourly@7d,daily@7d,final", "weekly@7d,final", "hourly@7,final"]
)
def test_bad_retention_rules(text: str) -> None:
    with pytest.raises(ValueError, match="DISSEM_METRICS_RETENTION"):
        parse_retention(text)
    with pytest.raises(ValidationError, match="DISSEM_METRICS_RETENTION"):
        _settings(metrics_retention=text)


def test_empty_rule_is_off(session_factory: sessionmaker[Session]) -> None:
    _seed(session_factory, posts=3)
    rows = _count(session_factory)
    assert compact_once(session_factory, _settings(), NOW).batches == 0
    assert _count(session_factory) == rows
    assert parse_retention("") is None


def test_daemon_job_compacts_hourly(db_url: str, tmp_path: Path) -> None:
    def worker(**kw: Any) -> Worker:
        settings = Settings(
            _env_file=None,  # type: ignore[call-arg]
            database_url=db_url,
            config_dir=tmp_path,
            timezone=TZ,
            **kw,
        )
        return Worker(settings, clock=lambda: NOW)

    off = worker()
    try:
        _seed(off.session_factory, posts=4)
        rows = _count(off.session_factory)
        assert off.compact_job() == 0 and "compact" not in off.last_run
        job = off._scheduler().get_job("compact")
        assert job is not None and job.trigger.interval == timedelta(hours=1)
    finally:
        off.close()
    on = worker(metrics_retention="hourly@2d,daily@20d,final", metrics_raw_days=30)
    try:
        assert on.compact_job() > 0 and on.last_run["compact"] == NOW
        assert _count(on.session_factory) < rows
    finally:
        on.close()
