"""``dissem run --once`` against the in-process sandbox (the real clock: breaking posts are
due at once). ``dissem run`` as a daemon is tested in tests/worker/test_daemon.py and
``dissem demo`` in tests/worker/test_demo.py."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests
from click.testing import CliRunner
from sqlalchemy.orm import Session, sessionmaker

from dissem.cli import cli
from dissem.sandbox import RunningSandbox, start_sandbox
from dissem.settings import get_settings
from dissem.store.models import PostState
from tests.worker.planner_seed import CHANNELS, TZ, Folder, posts


@pytest.fixture
def sandbox() -> Iterator[RunningSandbox]:
    with start_sandbox() as running:
        yield running


@pytest.fixture
def env(
    db_url: str, tmp_path: Path, sandbox: RunningSandbox, monkeypatch: pytest.MonkeyPatch
) -> Iterator[Folder]:
    folder = Folder(tmp_path / "config")
    monkeypatch.chdir(tmp_path)
    for key, value in {
        "DISSEM_DATABASE_URL": db_url,
        "DISSEM_CONFIG_DIR": str(folder.root),
        "DISSEM_TIMEZONE": TZ,
        "DISSEM_SANDBOX_URL": sandbox.url,
        "DISSEM_REPORT_DIR": str(tmp_path / "reports"),
        "DISSEM_WORKER_ID": "cli-once",
        "DISSEM_LOG_LEVEL": "WARNING",
    }.items():
        monkeypatch.setenv(key, value)
    for channel in CHANNELS.values():
        for var in channel["credentials"].values():
            monkeypatch.setenv(var, f"cli-{var.lower()}")
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    get_settings.cache_clear()
    yield folder
    get_settings.cache_clear()
    # `dissem run` sets up logging on a stream CliRunner closes afterwards: undo it
    root.handlers[:] = handlers
    root.setLevel(level)


def test_run_once_publishes_what_is_due_and_then_nothing(
    env: Folder, sandbox: RunningSandbox, session_factory: sessionmaker[Session]
) -> None:
    env.release("now", targets=["cx", "cm"], priority="breaking")
    env.release("later", targets=["cx"], not_before="2099-01-05T10:00:00+07:00")
    result = CliRunner().invoke(cli, ["run", "--once"])
    assert result.exit_code == 0, result.output
    assert result.stdout.strip() == "run --once: published 2; attempts: ok 2; reconciled 0"
    remote = requests.get(f"{sandbox.url}/_sandbox/posts", timeout=10).json()
    assert sorted(p["platform"] for p in remote) == ["mastodon", "x"]
    states = {(p.release_id, p.channel): p.state for p in posts(session_factory)}
    assert states == {
        ("now", "cx"): PostState.PUBLISHED,
        ("now", "cm"): PostState.PUBLISHED,
        ("later", "cx"): PostState.SCHEDULED,
    }
    again = CliRunner().invoke(cli, ["run", "--once"])
    assert again.exit_code == 0, again.output
    assert again.stdout.strip() == "run --once: published 0; attempts: none; reconciled 0"
    assert len(requests.get(f"{sandbox.url}/_sandbox/posts", timeout=10).json()) == 2


def test_run_once_without_credentials_keeps_posts_scheduled(
    env: Folder, session_factory: sessionmaker[Session], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv(CHANNELS["cm"]["credentials"]["access_token"])
    # in sandbox mode placeholders stand in for missing credentials (test_first_hour_worker)
    monkeypatch.delenv("DISSEM_SANDBOX_URL")
    get_settings.cache_clear()
    env.release("now", targets=["cm"], priority="breaking")
    result = CliRunner().invoke(cli, ["run", "--once"])
    assert result.exit_code == 0, result.output
    assert "published 0; attempts: credentials 1" in result.stdout
    (post,) = posts(session_factory)
    assert post.state == PostState.SCHEDULED and post.attempts == 0
