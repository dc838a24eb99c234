"""The metrics round against fake adapters, on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from dissem.errors import AuthError, CredentialsMissing, RateLimited
from dissem.metrics.collect import collect_due_metrics
from dissem.metrics.schedule import first_snapshot_at, parse_schedule
from dissem.platforms.base import Platform
from dissem.settings import Settings
from dissem.store.db import transaction
from dissem.store.models import MetricSnapshot, Post
from tests.metrics.metrics_seed import FakeAdapter, add_channel, add_post, add_release

T0 = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)
H = timedelta(hours=1)
SETTINGS = Settings(metrics_schedule="1h@1d,6h@7d,1d@30d")
SCHEDULE = parse_schedule(SETTINGS.metrics_schedule)


def _snapshots(factory: sessionmaker[Session]) -> list[MetricSnapshot]:
    with transaction(factory) as s:
        return list(s.scalars(select(MetricSnapshot).order_by(MetricSnapshot.id)))


def _post(factory: sessionmaker[Session], post_id: int) -> Post:
    with transaction(factory) as s:
        post = s.get(Post, post_id)
        assert post is not None
        return post


def _setup(factory: sessionmaker[Session], channels: dict[str, str]) -> None:
    for name, platform in channels.items():
        add_channel(factory, name, platform, T0)
    add_release(factory, "rel-1", T0)


def _published(factory: sessionmaker[Session], channel: str, platform: str = "x") -> int:
    return add_post(
        factory,
        channel=channel,
        platform=platform,
        release="rel-1",
        published_at=T0,
        next_metrics_at=first_snapshot_at(T0, SCHEDULE),
    )


def test_snapshots_land_on_schedule(session_factory: sessionmaker[Session]) -> None:
    _setup(session_factory, {"x-main": "x"})
    pid = _published(session_factory, "x-main")
    fake = FakeAdapter("x-main")

    def adapters(name: str) -> Platform:
        return fake

    # before the first grid point: nothing is due
    stats = collect_due_metrics(
        session_factory, SETTINGS, T0 + 59 * 60 * timedelta(seconds=1), adapters=adapters
    )
    assert stats.due == 0 and stats.calls == 0 and _snapshots(session_factory) == []
    # a round every 15 minutes over two days takes the hourly then 6-hourly snapshots
    now = T0
    while now < T0 + 2 * 24 * H:
        now += timedelta(minutes=15)
        collect_due_metrics(session_factory, SETTINGS, now, adapters=adapters)
    taken = [s.taken_at - T0 for s in _snapshots(session_factory)]
    assert taken == [k * H for k in range(1, 25)] + [24 * H + k * 6 * H for k in range(1, 5)]
    post = _post(session_factory, pid)
    assert post.next_metrics_at == T0 + 54 * H
    last = _snapshots(session_factory)[-1]
    assert last.likes == 10 * len(taken) and last.views == 100 * len(taken)
    assert last.replies is None and last.reach is None  # not reported stays NULL
    assert last.raw["public_metrics"]["like_count"] == 10 * len(taken)


def test_schedule_ends_after_thirty_days(session_factory: sessionmaker[Session]) -> None:
    _setup(session_factory, {"x-main": "x"})
    pid = _published(session_factory, "x-main")
    fake = FakeAdapter("x-main")
    now = T0
    rounds = 0
    while rounds < 200:
        post = _post(session_factory, pid)
        if post.next_metrics_at is None:
            break
        now = max(now + H, post.next_metrics_at)
        collect_due_metrics(session_factory, SETTINGS, now, adapters=lambda _n: fake)
        rounds += 1
    assert _post(session_factory, pid).next_metrics_at is None
    snaps = _snapshots(session_factory)
    assert len(snaps) == len(SCHEDULE.grid_ages())
    assert snaps[-1].taken_at - T0 == timedelta(days=30)
    # later rounds take nothing more
    stats = collect_due_metrics(
        session_factory, SETTINGS, now + 5 * 24 * H, adapters=lambda _n: fake
    )
    assert stats.due == 0 and len(_snapshots(session_factory)) == len(snaps)


def test_batches_respect_the_platform_batch_size(session_factory: sessionmaker[Session]) -> None:
    _setup(session_factory, {"x-main": "x", "x-two": "x"})
    ids = [_published(session_factory, "x-main") for _ in range(7)]
    ids += [_published(session_factory, "x-two") for _ in range(2)]
    fakes = {"x-main": FakeAdapter("x-main", batch=3), "x-two": FakeAdapter("x-two", batch=25)}
    stats = collect_due_metrics(session_factory, SETTINGS, T0 + H, adapters=fakes.__getitem__)
    assert [len(b) for b in fakes["x-main"].batches] == [3, 3, 1]
    assert [len(b) for b in fakes["x-two"].batches] == [2]
    assert stats.calls == 4 and stats.snapshots == 9
    assert {s.post_id for s in _snapshots(session_factory)} == set(ids)


def test_one_platform_error_does_not_stop_the_rest(session_factory: sessionmaker[Session]) -> None:
    _setup(session_factory, {"x-main": "x", "bsky-main": "bluesky", "masto": "mastodon"})
    broken = [_published(session_factory, "x-main") for _ in range(4)]
    ok = [_published(session_factory, "bsky-main", "bluesky") for _ in range(2)]
    limited = [_published(session_factory, "masto", "mastodon") for _ in range(4)]
    retry_at = T0 + 3 * H
    fakes = {
        "x-main": FakeAdapter("x-main", error=AuthError("token expired", platform="x")),
        "bsky-main": FakeAdapter("bsky-main"),
        "masto": FakeAdapter("masto", batch=2, error=RateLimited("slow", retry_at=retry_at)),
    }

    def adapters(name: str) -> Platform:
        if name == "nope":
            raise KeyError(name)
        return fakes[name]

    stats = collect_due_metrics(session_factory, SETTINGS, T0 + H, adapters=adapters)
    assert {s.post_id for s in _snapshots(session_factory)} == set(ok)
    assert "x-main" in stats.errors and "token expired" in stats.errors["x-main"]
    assert stats.rate_limited == ["masto"]
    assert len(fakes["x-main"].batches) == 1  # skipped for the rest of the round
    assert len(fakes["masto"].batches) == 1  # never blocks: one call, then skipped
    for pid in limited[:2]:
        assert _post(session_factory, pid).next_metrics_at == retry_at
    for pid in limited[2:]:  # not asked this round: still due
        assert _post(session_factory, pid).next_metrics_at == T0 + H
    for pid in broken[:3]:  # a failed batch waits for its next grid time, not every round
        assert _post(session_factory, pid).next_metrics_at == T0 + 2 * H
    assert _post(session_factory, broken[3]).next_metrics_at == T0 + H


def test_telegram_gets_no_zero_snapshots(session_factory: sessionmaker[Session]) -> None:
    _setup(session_factory, {"tg": "telegram", "x-main": "x"})
    tg = [_published(session_factory, "tg", "telegram") for _ in range(3)]
    x = _published(session_factory, "x-main")
    fakes = {"tg": FakeAdapter("tg", metrics=()), "x-main": FakeAdapter("x-main")}
    stats = collect_due_metrics(session_factory, SETTINGS, T0 + H, adapters=fakes.__getitem__)
    assert stats.not_reported == 3 and fakes["tg"].batches == []
    assert [s.post_id for s in _snapshots(session_factory)] == [x]
    for pid in tg:
        assert _post(session_factory, pid).next_metrics_at is None


def test_telegram_default_adapters_need_no_credentials(
    session_factory: sessionmaker[Session],
) -> None:
    """With dissem building the adapters, a platform without metrics needs no adapter."""
    _setup(session_factory, {"tg": "telegram"})
    pid = _published(session_factory, "tg", "telegram")
    stats = collect_due_metrics(session_factory, SETTINGS, T0 + H)
    assert stats.not_reported == 1 and stats.errors == {}
    assert _post(session_factory, pid).next_metrics_at is None


def test_telegram_without_credentials_is_settled_quietly(
    session_factory: sessionmaker[Session],
) -> None:
    """The daemon's factory cannot build a Telegram adapter without its token: the platform
    reports no metrics anyway, so the posts are settled without an error."""
    _setup(session_factory, {"tg": "telegram", "x-main": "x"})
    tg = _published(session_factory, "tg", "telegram")
    x = _published(session_factory, "x-main")

    def adapters(name: str) -> Platform:
        raise CredentialsMissing(name, "TELEGRAM_TOKEN")

    stats = collect_due_metrics(session_factory, SETTINGS, T0 + H, adapters=adapters)
    assert stats.not_reported == 1 and set(stats.errors) == {"x-main"}
    assert _post(session_factory, tg).next_metrics_at is None
    assert _post(session_factory, x).next_metrics_at == T0 + 2 * H


def test_paused_and_disabled_channels_are_skipped(session_factory: sessionmaker[Session]) -> None:
    add_channel(session_factory, "paused", "x", T0, paused_until=T0 + 10 * H)
    add_channel(session_factory, "off", "x", T0, enabled=False)
    add_channel(session_factory, "x-main", "x", T0)
    add_release(session_factory, "rel-1", T0)
    p1 = _published(session_factory, "paused")
    _published(session_factory, "off")
    p3 = _published(session_factory, "x-main")
    fake = FakeAdapter("any")
    stats = collect_due_metrics(session_factory, SETTINGS, T0 + H, adapters=lambda _n: fake)
    assert stats.skipped_paused == 2 and stats.snapshots == 1
    assert [s.post_id for s in _snapshots(session_factory)] == [p3]
    assert _post(session_factory, p1).next_metrics_at == T0 + H  # still due after the pause
    stats = collect_due_metrics(session_factory, SETTINGS, T0 + 11 * H, adapters=lambda _n: fake)
    assert p1 in {s.post_id for s in _snapshots(session_factory)}


def test_budget_bounds_a_round_and_interleaves_channels(
    session_factory: sessionmaker[Session],
) -> None:
    _setup(session_factory, {"big": "x", "small": "x"})
    for _ in range(12):
        _published(session_factory, "big")
    small = _published(session_factory, "small")
    fakes = {"big": FakeAdapter("big", batch=2), "small": FakeAdapter("small", batch=2)}
    stats = collect_due_metrics(
        session_factory, SETTINGS, T0 + H, adapters=fakes.__getitem__, budget_calls=3
    )
    assert stats.calls == 3 and stats.budget_exhausted
    assert small in {s.post_id for s in _snapshots(session_factory)}  # not starved by "big"
    assert stats.snapshots == 5
    # time budget: a clock that jumps past the budget after the first call
    ticks = iter([0.0, 0.0, 100.0, 100.0, 100.0])
    stats = collect_due_metrics(
        session_factory,
        SETTINGS,
        T0 + H,
        adapters=fakes.__getitem__,
        budget_seconds=10,
        clock=lambda: next(ticks),
    )
    assert stats.calls == 1 and stats.budget_exhausted
    # the rest is collected by later rounds
    while stats.due:
        stats = collect_due_metrics(session_factory, SETTINGS, T0 + H, adapters=fakes.__getitem__)
    assert len(_snapshots(session_factory)) == 13


def test_missing_ids_move_on_without_a_snapshot(session_factory: sessionmaker[Session]) -> None:
    _setup(session_factory, {"x-main": "x"})
    gone = add_post(
        session_factory,
        channel="x-main",
        platform="x",
        release="rel-1",
        published_at=T0,
        next_metrics_at=T0 + H,
        remote_id="deleted-1",
    )
    fake = FakeAdapter("x-main", unknown=["deleted-1"])
    stats = collect_due_metrics(session_factory, SETTINGS, T0 + H, adapters=lambda _n: fake)
    assert stats.missing == 1 and _snapshots(session_factory) == []
    assert _post(session_factory, gone).next_metrics_at == T0 + 2 * H


def test_history_is_kept_as_a_time_series(session_factory: sessionmaker[Session]) -> None:
    _setup(session_factory, {"x-main": "x"})
    pid = _published(session_factory, "x-main")
    fake = FakeAdapter("x-main")
    for k in range(1, 4):
        collect_due_metrics(session_factory, SETTINGS, T0 + k * H, adapters=lambda _n: fake)
    snaps = [s for s in _snapshots(session_factory) if s.post_id == pid]
    assert [s.likes for s in snaps] == [10, 20, 30]
    assert [s.taken_at for s in snaps] == [T0 + H, T0 + 2 * H, T0 + 3 * H]
