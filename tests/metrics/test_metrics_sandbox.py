"""The metrics round against the sandbox's real stand-ins, whose counters grow with time."""

from __future__ import annotations

import uuid
from collections.abc import Iterator, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from dissem.compose.types import Part
from dissem.config.models import Channel
from dissem.metrics.collect import collect_due_metrics
from dissem.metrics.schedule import first_snapshot_at, parse_schedule
from dissem.platforms.base import MemoryContext, MetricSample, Platform
from dissem.platforms.registry import build_adapter
from dissem.sandbox import RunningSandbox, start_sandbox
from dissem.sandbox.faults import Fault
from dissem.settings import Settings
from dissem.store.db import transaction
from dissem.store.models import MetricSnapshot, Post
from tests.metrics.metrics_seed import add_channel, add_post, add_release

H = timedelta(hours=1)
CREDENTIALS: dict[str, tuple[str, dict[str, str]]] = {
    # platform -> (account, credentials)
    "x": (
        "@dissem_news",
        {
            "api_key": "m-x-api-key-5f0c2d41",
            "api_secret": "m-x-api-secret-9a1b7e33",
            "access_token": "m-x-access-token-77d0c1e2",
            "access_token_secret": "m-x-access-secret-c3a8f019",
        },
    ),
    "mastodon": ("@news@example.social", {"access_token": "m-mastodon-token-0b7f5c9e2d"}),
    "bluesky": ("news.example.org", {"app_password": "m-bsky-app-pass-4k2m-9q7r"}),
    "telegram": ("@dissem_news", {"bot_token": "123456789:AAE-metrics-secret-token"}),
}
COUNTS = {"x": 3, "mastodon": 2, "bluesky": 27, "telegram": 2}


class Clock:
    """The sandbox's clock, moved by the test (the same ``now`` the round gets)."""

    def __init__(self) -> None:
        self.now = datetime.now(UTC).replace(microsecond=0)

    def __call__(self) -> datetime:
        return self.now


class Recording:
    """Wraps an adapter and records the size of every metrics batch."""

    def __init__(self, adapter: Platform) -> None:
        self.adapter = adapter
        self.traits = adapter.traits
        self.batches: list[int] = []

    def fetch_metrics(self, remote_ids: Sequence[str]) -> dict[str, MetricSample]:
        self.batches.append(len(remote_ids))
        return self.adapter.fetch_metrics(remote_ids)


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def sandbox(clock: Clock) -> Iterator[RunningSandbox]:
    with start_sandbox(clock=clock) as running:
        yield running


def _channel(platform: str) -> tuple[Channel, dict[str, str]]:
    account, creds = CREDENTIALS[platform]
    env = {f"METRICS_{platform.upper()}_{k.upper()}": v for k, v in creds.items()}
    channel = Channel(
        name=f"{platform}-main",
        platform=platform,  # type: ignore[arg-type]
        account=account,
        timezone="UTC",
        credentials={k: f"METRICS_{platform.upper()}_{k.upper()}" for k in creds},
    )
    return channel, env


def _snapshots(factory: sessionmaker[Session]) -> list[MetricSnapshot]:
    with transaction(factory) as s:
        return list(s.scalars(select(MetricSnapshot).order_by(MetricSnapshot.id)))


def test_growing_counters_land_on_schedule(
    session_factory: sessionmaker[Session], sandbox: RunningSandbox, clock: Clock
) -> None:
    settings = Settings(sandbox_url=sandbox.url, http_timeout=5.0)
    schedule = parse_schedule(settings.metrics_schedule)
    add_release(session_factory, "rel-1", clock.now)
    adapters: dict[str, Any] = {}
    platform_of: dict[int, str] = {}
    for platform, count in COUNTS.items():
        channel, env = _channel(platform)
        add_channel(session_factory, channel.name, platform, clock.now)
        adapter = build_adapter(channel, settings, environ=env)
        adapters[channel.name] = Recording(adapter)
        for i in range(count):
            text = f"metrics {platform} {i} {uuid.uuid4().hex[:8]}"
            part = Part(index=1, total=1, text=text, length=len(text), limit=300)
            remote = adapter.publish(part, MemoryContext(uuid.uuid4().hex))
            pid = add_post(
                session_factory,
                channel=channel.name,
                platform=platform,
                release="rel-1",
                published_at=clock.now,
                next_metrics_at=first_snapshot_at(clock.now, schedule),
                remote_id=remote.remote_id,
            )
            platform_of[pid] = platform
    try:
        for _ in range(3):  # three hourly rounds
            clock.now += H
            stats = collect_due_metrics(
                session_factory, settings, clock.now, adapters=adapters.__getitem__
            )
            assert stats.errors == {} and stats.rate_limited == []
        # batches follow each platform's own limit (Bluesky: 25 ids per call)
        assert adapters["bluesky-main"].batches == [25, 2] * 3
        assert adapters["x-main"].batches == [3] * 3
        assert adapters["telegram-main"].batches == []  # no metrics: never asked
        snaps = _snapshots(session_factory)
        assert {platform_of[s.post_id] for s in snaps} == {"x", "mastodon", "bluesky"}
        assert len(snaps) == 3 * (COUNTS["x"] + COUNTS["mastodon"] + COUNTS["bluesky"])
        by_post: dict[int, list[MetricSnapshot]] = {}
        for s in snaps:
            by_post.setdefault(s.post_id, []).append(s)
        for series in by_post.values():
            likes = [s.likes for s in series]
            assert all(v is not None for v in likes)
            assert likes == sorted(likes)  # counters never go down
            assert series[-1].raw  # the platform's payload is kept
        x_series = next(v for k, v in by_post.items() if platform_of[k] == "x")
        assert x_series[-1].views is not None and x_series[-1].views > x_series[0].views
        assert x_series[0].shares is None  # X does not report shares: NULL, never 0
        with transaction(session_factory) as s:
            tg = s.scalars(select(Post).where(Post.platform == "telegram")).all()
        assert tg and all(p.next_metrics_at is None for p in tg)

        # a throttled platform and a failing one do not stop the rest
        sandbox.faults.force("mastodon", Fault.THROTTLE, writes_only=False)
        sandbox.faults.force("x", Fault.ERROR, writes_only=False)
        clock.now += H
        before = len(_snapshots(session_factory))
        stats = collect_due_metrics(
            session_factory, settings, clock.now, adapters=adapters.__getitem__
        )
        assert stats.rate_limited == ["mastodon-main"]
        assert set(stats.errors) == {"x-main"}
        assert stats.snapshots == COUNTS["bluesky"]
        assert len(_snapshots(session_factory)) == before + COUNTS["bluesky"]
    finally:
        for recording in adapters.values():
            recording.adapter.close()
