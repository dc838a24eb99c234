"""``dissem insights``: the model read from the stored history (posts and their snapshot at
one day), printed with numbers and plain words; on SQLite and PostgreSQL."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
from click.testing import CliRunner
from sqlalchemy.orm import Session, sessionmaker

from dissem.cli import cli
from dissem.config.models import Channel
from dissem.settings import get_settings
from dissem.store.db import transaction
from dissem.store.models import ChannelRow, MetricSnapshot, Post, PostState, ReleaseRow
from dissem.timing.history import read_histories
from tests.timing.audiences import MORNING, simulate

#: ``dissem insights`` reads the history up to the wall clock: posts lie in the 9 weeks before
_TODAY = datetime.now(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
START = _TODAY - timedelta(days=_TODAY.weekday() + 63)
NOW = START + timedelta(days=60)


@pytest.fixture
def env(db_url: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.setenv("DISSEM_DATABASE_URL", db_url)
    get_settings.cache_clear()
    yield
    get_settings.cache_clear()


def seed(factory: sessionmaker[Session], name: str, posts: int) -> None:
    """A channel whose posts were measured: a snapshot at 1 h and one at 1 day (the one
    the model reads), from the simulated audience."""
    history = simulate(name, MORNING, posts, start=START)
    channel = Channel(name=name, platform="mastodon", account=f"@{name}", timezone=MORNING.timezone)
    config = channel.model_dump(mode="json") | {"windows": [w.text for w in channel.windows]}
    with transaction(factory) as s:
        s.add(
            ChannelRow(
                name=name,
                platform="mastodon",
                account=channel.account,
                timezone=channel.timezone,
                config_hash="h",
                config=config,
                updated_at=NOW,
            )
        )
        s.add(
            ReleaseRow(
                id=f"r-{name}", title="T", url="https://portal.example/r", language="en",
                status="approved", priority="normal", source="x", content_hash="c", data={},
                created_at=NOW, updated_at=NOW,
            )
        )  # fmt: skip
        s.flush()
        for i, obs in enumerate(history.observations):
            post = Post(
                release_id=f"r-{name}", channel=name, platform="mastodon", seq=i,
                state=PostState.PUBLISHED, text="t", payload={}, idempotency_key=f"{name}{i}",
                published_at=obs.published_at, created_at=NOW, updated_at=NOW,
            )  # fmt: skip
            s.add(post)
            s.flush()
            early = obs.published_at + timedelta(hours=1)
            s.add(MetricSnapshot(post_id=post.id, taken_at=early, likes=1, views=5))
            day = obs.published_at + timedelta(days=1, minutes=3)
            s.add(
                MetricSnapshot(
                    post_id=post.id, taken_at=day, likes=obs.engagement, views=obs.exposure
                )
            )


def test_history_reads_the_snapshot_at_one_day(session_factory: sessionmaker[Session]) -> None:
    seed(session_factory, "embassy", 30)
    with session_factory() as s:
        (history,) = read_histories(s, NOW)
    expected = simulate("embassy", MORNING, 30, start=START).observations
    assert history.observations == expected
    assert [w.text for w in history.windows] == ["daily 00:00-24:00"]


def test_insights_prints_slots_and_the_recommendation(
    env: None, session_factory: sessionmaker[Session]
) -> None:
    seed(session_factory, "embassy", 160)
    seed(session_factory, "consulate", 8)
    result = CliRunner().invoke(cli, ["insights"])
    assert result.exit_code == 0, result.output
    assert "embassy (mastodon/Europe, Europe/Berlin): 160 measured posts" in result.output
    assert "weekdays 09:00-12:00" in result.output and "<- recommended" in result.output
    assert "In plain words: weekdays 09:00-12:00 is clearly better" in result.output
    assert "consulate" in result.output and "only 8 measured post(s)" in result.output
    one = CliRunner().invoke(cli, ["insights", "embassy", "--json"])
    data = json.loads(one.output)
    assert [d["channel"] for d in data] == ["embassy"]
    assert data[0]["recommended"][0] == "weekday-09"
    slot = next(x for x in data[0]["slots"] if x["slot"] == "weekday-09")
    assert slot["low"] < slot["lift"] < slot["high"] and slot["posts"] >= 3
    missing = CliRunner().invoke(cli, ["insights", "nowhere"])
    assert missing.exit_code == 1 and "no channel 'nowhere'" in missing.output
