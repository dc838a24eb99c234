"""One broken file never stops the others, end to end: the worker syncs a config holding a
release with an out-of-range value, a channel and a release override whose templates are
over budget, and publishes everything else to the sandbox; a releases folder that cannot be
read keeps every stored release instead of cancelling its posts."""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import requests
import yaml
from sqlalchemy import select

from dissem.sandbox import start_sandbox
from dissem.settings import Settings
from dissem.store.db import make_engine, make_session_factory
from dissem.store.models import Post, PostState
from dissem.worker.daemon import Worker
from dissem.worker.sync import sync

#: Monday 30 November 2026, 09:00 in Jakarta.
NOW = datetime(2026, 11, 30, 2, 0, tzinfo=UTC)
SLOW = "{% for i in range(3000) %}{% for j in range(3000) %}{% endfor %}{% endfor %}{{ title }}"

CHANNELS: list[dict[str, Any]] = [
    {
        "name": "ok-x",
        "platform": "x",
        "account": "@ok_x",
        "timezone": "Asia/Jakarta",
        "min_gap": "1m",
        "credentials": {"oauth2_user_token": "ISO_X_TOKEN"},
    },
    {
        "name": "ok-mastodon",
        "platform": "mastodon",
        "account": "@ok@social.example",
        "timezone": "Europe/Berlin",
        "min_gap": "1m",
        "credentials": {"access_token": "ISO_MASTODON_TOKEN"},
    },
    {
        "name": "slow-x",  # its template is over budget: the channel is broken, not the rest
        "platform": "x",
        "account": "@slow_x",
        "timezone": "Asia/Jakarta",
        "template": SLOW,
        "credentials": {"oauth2_user_token": "ISO_X_SLOW_TOKEN"},
    },
]


class Clock:
    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now


def release(root: Path, rid: str, **fields: Any) -> None:
    data = {
        "title": f"Release {rid}",
        "summary": f"What {rid} is about.",
        "url": f"https://portal.example/news/{rid}",
        "targets": ["ok-x", "ok-mastodon"],
        "status": "approved",
        "approved_by": "Editor",
        **fields,
    }
    (root / "releases" / f"{rid}.yaml").write_text(yaml.safe_dump(data, sort_keys=False))


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    root = tmp_path / "config"
    (root / "releases").mkdir(parents=True)
    (root / "channels.yaml").write_text(yaml.safe_dump({"channels": CHANNELS}, sort_keys=False))
    return root


@pytest.fixture
def creds(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    for channel in CHANNELS:
        for var in channel["credentials"].values():
            monkeypatch.setenv(var, f"test-{var.lower()}")
    yield


def settings_for(db_url: str, root: Path, **more: Any) -> Settings:
    return Settings(
        _env_file=None,  # type: ignore[call-arg]
        database_url=db_url,
        config_dir=root,
        timezone="Asia/Jakarta",
        report_dir=root.parent / "reports",
        worker_id="w-iso",
        **more,
    )


def test_the_worker_publishes_everything_that_is_not_broken(
    db_url: str, folder: Path, creds: None
) -> None:
    release(folder, "fine", targets=["ok-x", "ok-mastodon", "slow-x"])
    release(folder, "also-fine", targets=["ok-mastodon"])
    release(folder, "year-one", not_before="0001-01-01 00:00:00")  # out of range
    release(folder, "far-future", expires="9999-12-31T23:59:59-12:00")  # out of range
    release(folder, "bad-gap", overrides={"ok-x": {"text": "{{ title|center(2000000000) }}"}})
    clock = Clock(NOW)
    with start_sandbox(clock=clock) as sandbox:
        worker = Worker(settings_for(db_url, folder, sandbox_url=sandbox.url), clock=clock)
        try:
            first = worker.run_once()
            assert first.synced
            clock.now = NOW + timedelta(hours=2)
            worker.run_once()
            with worker.session_factory() as s:
                posts = list(s.scalars(select(Post)))
        finally:
            worker.close()
        remote = requests.get(f"{sandbox.url}/_sandbox/posts", timeout=10).json()
    published = {(p.release_id, p.channel) for p in posts if p.state == PostState.PUBLISHED}
    assert published == {
        ("fine", "ok-x"),
        ("fine", "ok-mastodon"),
        ("also-fine", "ok-mastodon"),
    }
    assert len(remote) == 3
    assert not any(p.channel == "slow-x" for p in posts)
    assert not any(p.release_id in ("year-one", "far-future", "bad-gap") for p in posts)


@pytest.mark.parametrize("kind", ["missing", "file", "dangling link", "link loop"])
def test_an_unreadable_releases_folder_keeps_every_release(
    db_url: str, folder: Path, kind: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(folder.parent)
    release(folder, "r1")
    release(folder, "r2")
    settings = settings_for(db_url, folder)
    engine = make_engine(db_url)
    factory = make_session_factory(engine)
    try:
        sync(factory, settings, NOW)
        with factory() as s:
            before = {(p.id, p.state) for p in s.scalars(select(Post))}
        assert len(before) == 4 and {state for _, state in before} == {PostState.SCHEDULED}
        releases = folder / "releases"
        shutil.rmtree(releases)
        if kind == "file":
            releases.write_text("not a folder\n")
        elif kind == "dangling link":
            os.symlink(folder / "nowhere", releases)
        elif kind == "link loop":
            os.symlink(releases, releases)
        result = sync(factory, settings, NOW + timedelta(minutes=1))
        with factory() as s:
            after = {(p.id, p.state) for p in s.scalars(select(Post))}
    finally:
        engine.dispose()
    assert after == before
    assert result.changes.releases_deleted == []
    (problem,) = [p for p in result.problems if p.path == "config/releases"]
    assert (problem.line, problem.column) == (1, 1) and "kept" in problem.message
