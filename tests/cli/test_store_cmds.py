"""``dissem db upgrade``, ``dissem sync`` and ``dissem queue``."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from alembic.script import ScriptDirectory
from click.testing import CliRunner
from sqlalchemy import inspect, update
from sqlalchemy.orm import Session, sessionmaker

from dissem.cli import cli
from dissem.settings import get_settings
from dissem.store.db import make_engine, transaction
from dissem.store.migrate import MIGRATIONS
from dissem.store.models import Post, PostState
from tests.worker.planner_seed import CHANNELS, NOW, TZ, Folder, posts, run_sync

Factory = sessionmaker[Session]


@pytest.fixture
def folder(tmp_path: Path) -> Folder:
    return Folder(tmp_path / "config")


@pytest.fixture
def env(db_url: str, folder: Folder, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    for key in ("DISSEM_SANDBOX_URL", "DISSEM_LOG_FORMAT"):
        monkeypatch.delenv(key, raising=False)
    monkeypatch.setenv("DISSEM_DATABASE_URL", db_url)
    monkeypatch.setenv("DISSEM_CONFIG_DIR", str(folder.root))
    monkeypatch.setenv("DISSEM_TIMEZONE", TZ)
    get_settings.cache_clear()
    yield db_url
    get_settings.cache_clear()


def test_db_upgrade_migrates_a_fresh_database(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    url = f"sqlite:///{tmp_path / 'fresh.db'}"
    monkeypatch.setenv("DISSEM_DATABASE_URL", url)
    get_settings.cache_clear()
    try:
        first = CliRunner().invoke(cli, ["db", "upgrade"])
        again = CliRunner().invoke(cli, ["db", "upgrade"])
    finally:
        get_settings.cache_clear()
    assert first.exit_code == 0, first.output
    head = ScriptDirectory(str(MIGRATIONS)).get_current_head()
    assert head is not None and first.output.startswith(f"database at revision {head}")
    assert again.exit_code == 0 and again.output == first.output
    engine = make_engine(url)
    assert {"posts", "releases", "channels", "attempts"} <= set(inspect(engine).get_table_names())
    engine.dispose()


def test_sync_reports_a_broken_file_with_its_line_and_syncs_the_rest(
    env: str, folder: Folder, session_factory: Factory
) -> None:
    folder.release("r1")
    folder.release("r2", targets=["cx"])
    bad = folder.root / "releases" / "bad.yaml"
    bad.write_text(
        "title: Broken\nurl: https://portal.example/b\ntargets: [web]\n"
        "status: approved\napproved_by: Editor\nsumary: a typo\n"
    )
    result = CliRunner().invoke(cli, ["sync"])
    assert result.exit_code == 2, result.output
    assert "bad.yaml:6" in result.stderr and "sumary" in result.stderr
    assert "2 releases added" in result.stdout
    assert {p.release_id for p in posts(session_factory)} == {"r1", "r2"}
    # idempotent: a second sync changes nothing, and still says what is wrong
    again = CliRunner().invoke(cli, ["sync", "--json"])
    assert again.exit_code == 2 and "bad.yaml:6" in again.stderr
    assert all(v == [] for v in json.loads(again.stdout).values())
    # fixed: exit 0 and the release is synced
    bad.write_text(bad.read_text().replace("sumary", "summary"))
    fixed = CliRunner().invoke(cli, ["sync", "--json"])
    assert fixed.exit_code == 0, fixed.output
    assert json.loads(fixed.stdout)["releases_added"] == ["bad"]


def _queue(*args: str) -> list[dict[str, Any]]:
    result = CliRunner().invoke(cli, ["queue", "--json", *args])
    assert result.exit_code == 0, result.output
    rows: list[dict[str, Any]] = json.loads(result.stdout)
    return rows


def test_queue_rows_show_due_times_in_the_channel_zone_and_utc(
    env: str, folder: Folder, session_factory: Factory
) -> None:
    folder.release("r1", targets=["all"])
    folder.release("r2", targets=["cm"])
    run_sync(session_factory, folder)
    rows = _queue()
    stored = {p.id: p for p in posts(session_factory)}
    shown = [r for r in rows if r["state"] == PostState.SCHEDULED]
    assert len(shown) == 4 and len(rows) == 4  # the skipped Instagram post is closed
    assert [r["due_utc"] for r in rows] == sorted(r["due_utc"] for r in rows)
    for row in rows:
        post = stored[row["id"]]
        assert (row["channel"], row["platform"], row["release"]) == (
            post.channel,
            post.platform,
            post.release_id,
        )
        assert post.due_at is not None
        utc = datetime.strptime(row["due_utc"], "%Y-%m-%d %H:%M UTC").replace(tzinfo=UTC)
        assert utc == post.due_at.replace(second=0, microsecond=0)
        zone = ZoneInfo(CHANNELS[post.channel]["timezone"])
        local_text, abbreviation = row["due_local"].rsplit(" ", 1)
        local = datetime.strptime(local_text, "%Y-%m-%d %H:%M").replace(tzinfo=zone)
        assert local == utc and abbreviation == local.tzname()
    zones = {r["channel"]: r["due_local"].rsplit(" ", 1)[1] for r in rows}
    assert zones == {"cx": "WIB", "cm": "CET", "cb": "EST"}
    every = _queue("--all")
    assert len(every) == 5 and {r["state"] for r in every} == {"scheduled", "skipped"}
    skipped = next(r for r in every if r["state"] == "skipped")
    assert skipped["due_local"] is None and skipped["due_utc"] is None
    assert len(_queue("--limit", "2")) == 2


def test_queue_problems_shows_only_posts_that_need_a_person(
    env: str, folder: Folder, session_factory: Factory
) -> None:
    folder.release("r1", targets=["all"])
    run_sync(session_factory, folder)
    assert _queue("--problems") == []
    text = CliRunner().invoke(cli, ["queue", "--problems"])
    assert text.exit_code == 0 and text.stdout.strip() == "no problem posts"
    ids = {p.channel: p.id for p in posts(session_factory)}
    error = "ContentRejected: " + "the text is too long for this platform " * 3
    with transaction(session_factory) as s:
        for channel, state in (("cx", "failed"), ("cm", "unconfirmed"), ("cb", "published")):
            s.execute(
                update(Post)
                .where(Post.id == ids[channel])
                .values(state=state, last_error=error if state == "failed" else None)
            )
    problems = _queue("--problems")
    assert {(r["channel"], r["state"]) for r in problems} == {
        ("cx", "failed"),
        ("cm", "unconfirmed"),
    }
    assert next(r for r in problems if r["state"] == "failed")["last_error"] == error
    assert "cb" not in {r["channel"] for r in _queue()}  # published is not upcoming
    table = CliRunner().invoke(cli, ["queue", "--problems"]).stdout.splitlines()
    header = "ID CHANNEL PLATFORM DUE (LOCAL) DUE (UTC) STATE LAST ERROR"
    assert table[0].split() == header.split()
    failed_line = next(line for line in table if " failed " in line)
    assert failed_line.endswith(error.rstrip())  # the whole reason, never cut off
    assert len(table) == 3
    # sync leaves failed and unconfirmed posts to people: nothing changes an hour later
    later = run_sync(session_factory, folder, NOW + timedelta(hours=1))
    assert not later.changed
