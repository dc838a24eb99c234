"""Fixtures for the feed tests: a local feed server, a config folder with one channel, and
a helper that polls a feed like the worker does."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import yaml
from sqlalchemy.orm import Session, sessionmaker

from dissem.config.loader import load_config
from dissem.config.models import LoadedConfig
from dissem.settings import Settings
from dissem.worker.feed_poll import PollResult, poll_feed
from dissem.worker.sync import sync
from tests.feeds.feed_server import FeedServer

EXAMPLE = Path(__file__).parents[2] / "dissem" / "example"
NOW = datetime(2026, 12, 1, 8, 0, tzinfo=UTC)


@pytest.fixture
def server() -> Iterator[FeedServer]:
    with FeedServer() as srv:
        yield srv


@dataclass
class Desk:
    """A config folder with feeds, a database, and polls on a given clock."""

    root: Path
    settings: Settings
    factory: sessionmaker[Session]

    def feeds(self, *feeds: dict[str, Any]) -> LoadedConfig:
        full = []
        for f in feeds:
            entry = {"targets": ["hq-mastodon"], "status": "approved", "approved_by": "Ana"}
            entry.update(f)
            full.append(entry)
        (self.root / "feeds.yaml").write_text(yaml.safe_dump({"feeds": full}))
        config = load_config(self.root, timezone="UTC")
        assert config.problems == []
        return config

    def poll(self, config: LoadedConfig, name: str, now: datetime = NOW, **kw: Any) -> PollResult:
        kw.setdefault("force", True)
        return poll_feed(self.factory, self.settings, config, name, now=now, **kw)

    def sync(self, config: LoadedConfig, now: datetime = NOW) -> Any:
        return sync(self.factory, self.settings, now, config=config)


@pytest.fixture
def desk(tmp_path: Path, db_url: str, session_factory: sessionmaker[Session]) -> Desk:
    root = tmp_path / "config"
    root.mkdir()
    shutil.copy(EXAMPLE / "channels.yaml", root / "channels.yaml")
    shutil.copytree(EXAMPLE / "channels", root / "channels")
    (root / "releases").mkdir()
    settings = Settings(
        database_url=db_url,
        config_dir=root,
        feed_timeout=2.0,
        feed_deadline=2.0,
        feed_max_bytes=256 * 1024,
        feed_host_interval=0,
        feed_trusted_networks="127.0.0.0/8",  # the local feed server
        _env_file=None,  # type: ignore[call-arg]
    )
    d = Desk(root, settings, session_factory)
    config = d.feeds()
    d.sync(config)  # the channels recorded
    return d
