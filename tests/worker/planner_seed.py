"""Test helpers for sync and planning: a small config folder written in ``tmp_path``, sync
with an explicit ``now``, and reading posts back.

The folder holds four channels in four time zones (X in Jakarta, Mastodon in Berlin, a
threading Bluesky in New York, Instagram in Tokyo) and groups ``web`` (X, Mastodon) and
``all`` (web, Bluesky, Instagram).
"""

from __future__ import annotations

import copy
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
import yaml
from sqlalchemy import select, update
from sqlalchemy.orm import Session, sessionmaker

from dissem.config.models import Window
from dissem.settings import Settings
from dissem.store.db import make_engine, make_session_factory, transaction
from dissem.store.models import Post, PostState
from dissem.worker.sync import SyncResult, sync
from tests.pgdb import BACKENDS, empty_tables, migrated_database

#: Monday 30 November 2026, 09:00 in Jakarta (02:00 UTC).
NOW = datetime(2026, 11, 30, 2, 0, tzinfo=UTC)
TZ = "Asia/Jakarta"

CHANNELS: dict[str, dict[str, Any]] = {
    "cx": {
        "platform": "x",
        "account": "@cx_demo",
        "timezone": "Asia/Jakarta",
        "windows": ["mon-fri 10:00-18:00"],
        "min_gap": "30m",
        "credentials": {
            "api_key": "PLAN_X_API_KEY",
            "api_secret": "PLAN_X_API_SECRET",
            "access_token": "PLAN_X_ACCESS_TOKEN",
            "access_token_secret": "PLAN_X_ACCESS_SECRET",
        },
    },
    "cm": {
        "platform": "mastodon",
        "account": "@cm@social.example",
        "timezone": "Europe/Berlin",
        "windows": ["mon-fri 09:00-17:00"],
        "min_gap": "20m",
        "credentials": {"access_token": "PLAN_MASTODON_TOKEN"},
    },
    "cb": {
        "platform": "bluesky",
        "account": "cb.example.org",
        "timezone": "America/New_York",
        "windows": ["daily 08:00-20:00"],
        "thread": True,
        "credentials": {"app_password": "PLAN_BLUESKY_PASSWORD"},
    },
    "ci": {
        "platform": "instagram",
        "account": "17841400000000009",
        "timezone": "Asia/Tokyo",
        "windows": ["daily 11:00-21:00"],
        "credentials": {"access_token": "PLAN_INSTAGRAM_TOKEN"},
    },
}
GROUPS = {"web": ["cx", "cm"], "all": ["web", "cb", "ci"]}

#: Long enough that the threading Bluesky channel needs several parts.
LONG_BODY = " ".join(
    f"Paragraph {i} of the statement explains the new consular service in some detail."
    for i in range(1, 13)
)


@pytest.fixture(scope="module", params=BACKENDS)
def store_url(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Any:
    """One migrated database per test module (a SQLite file or a PostgreSQL database):
    a PostgreSQL database per test costs more than these tests; tables are emptied instead."""
    with migrated_database(request.param, tmp_path_factory.mktemp("plan")) as url:
        yield url


@pytest.fixture
def store(store_url: str) -> Iterator[sessionmaker[Session]]:
    """A session factory on the module's database, emptied."""
    engine = make_engine(store_url)
    with engine.begin() as conn:
        empty_tables(conn)
    yield make_session_factory(engine)
    engine.dispose()


class Folder:
    """A config folder in ``root`` that tests edit between syncs."""

    def __init__(self, root: Path) -> None:
        self.root = root
        (root / "releases").mkdir(parents=True, exist_ok=True)
        self.channels: dict[str, dict[str, Any]] = copy.deepcopy(CHANNELS)
        self.groups: dict[str, list[str]] = copy.deepcopy(GROUPS)
        self.write_channels()

    def write_channels(self, *, raw: list[dict[str, Any]] | None = None) -> None:
        items = raw if raw is not None else [{"name": n, **c} for n, c in self.channels.items()]
        doc = {"channels": items, "groups": self.groups}
        (self.root / "channels.yaml").write_text(yaml.safe_dump(doc, sort_keys=False))

    def release(self, rid: str, **fields: Any) -> Path:
        """Writes ``releases/<rid>.yaml``: approved, targeting ``web`` unless told otherwise."""
        data: dict[str, Any] = {
            "title": f"Release {rid}",
            "summary": f"What release {rid} is about.",
            "url": f"https://portal.example/news/{rid}",
            "language": "en",
            "targets": ["web"],
            "status": "approved",
            "approved_by": "Editor",
        }
        data.update(fields)
        data = {k: v for k, v in data.items() if v is not None}
        path = self.root / "releases" / f"{rid}.yaml"
        path.write_text(yaml.safe_dump(data, sort_keys=False, allow_unicode=True))
        return path

    def delete(self, rid: str) -> None:
        (self.root / "releases" / f"{rid}.yaml").unlink()


def settings_for(folder: Folder, **overrides: Any) -> Settings:
    values: dict[str, Any] = {"config_dir": folder.root, "timezone": TZ}
    values.update(overrides)
    return Settings(_env_file=None, **values)  # type: ignore[call-arg]


def run_sync(
    factory: sessionmaker[Session], folder: Folder, now: datetime = NOW, **overrides: Any
) -> SyncResult:
    return sync(factory, settings_for(folder, **overrides), now)


def posts(factory: sessionmaker[Session], release: str | None = None) -> list[Post]:
    """Every post (of ``release``), by channel, seq and part."""
    stmt = select(Post).order_by(Post.channel, Post.seq, Post.part_index, Post.id)
    if release is not None:
        stmt = stmt.where(Post.release_id == release)
    with factory() as s:
        return list(s.scalars(stmt))


def latest(factory: sessionmaker[Session], release: str | None = None) -> list[Post]:
    """The current posts: per release and channel, those of the highest ``seq`` (an edit or
    a re-share makes a new ``seq``; the replaced posts stay behind, cancelled)."""
    rows = posts(factory, release)
    top: dict[tuple[str, str], int] = {}
    for p in rows:
        top[(p.release_id, p.channel)] = max(p.seq, top.get((p.release_id, p.channel), 0))
    return [p for p in rows if p.seq == top[(p.release_id, p.channel)]]


def publish(factory: sessionmaker[Session], post_ids: list[int], at: datetime) -> None:
    """Marks posts published at ``at``, as dispatch would."""
    with transaction(factory) as s:
        for i, pid in enumerate(post_ids):
            s.execute(
                update(Post)
                .where(Post.id == pid)
                .values(
                    state=PostState.PUBLISHED,
                    published_at=at,
                    remote_id=f"remote-{pid}",
                    attempts=1,
                    updated_at=at + timedelta(seconds=i),
                )
            )


def in_window(channel: dict[str, Any], due: datetime) -> bool:
    """Whether ``due`` falls inside one of the channel's windows, in its own zone."""
    local = due.astimezone(ZoneInfo(channel["timezone"]))
    seconds = local.hour * 3600 + local.minute * 60 + local.second
    for text in channel.get("windows", ["daily 00:00-24:00"]):
        w = Window.parse(text)
        if local.weekday() in w.days and w.start_seconds() <= seconds < w.end_seconds():
            return True
    return False
