"""Sync composes with no transaction open: a slow template never stops another writer.

The composition is held on an Event (a test hook in place of the composer) while the test
writes the very rows the sync is replacing; before the fix, the sync held SQLite's write
lock (PostgreSQL: the posts' row locks) for the whole composition and that write failed.
"""

from __future__ import annotations

import threading
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import event, update
from sqlalchemy.orm import Session, sessionmaker

from dissem.compose.types import Composition
from dissem.config.models import Channel, Release
from dissem.store.db import make_engine
from dissem.store.models import Post, PostState
from dissem.worker import planner
from dissem.worker.sync import SyncResult
from tests.worker.planner_seed import NOW, Folder, latest, posts, run_sync, store, store_url

Factory = sessionmaker[Session]
__all__ = ["store", "store_url"]  # fixtures used by name

#: how long the other writer waits for a lock before giving up (the worker's is 30 s)
LOCK_WAIT_MS = 1000


def _write_posts_of(url: str, release: str) -> int:
    """What dispatch does to posts meanwhile (one short write), waiting at most a second
    for a lock."""
    engine = make_engine(url)
    sqlite = engine.dialect.name == "sqlite"
    if sqlite:

        @event.listens_for(engine, "connect")
        def _short_wait(dbapi_conn: Any, _record: Any) -> None:  # after make_engine's own
            cur = dbapi_conn.cursor()
            cur.execute(f"PRAGMA busy_timeout={LOCK_WAIT_MS}")
            cur.close()

    try:
        with engine.begin() as conn:
            if not sqlite:
                conn.exec_driver_sql(f"SET LOCAL lock_timeout = '{LOCK_WAIT_MS}ms'")
            result = conn.execute(
                update(Post)
                .where(Post.release_id == release)
                .values(updated_at=NOW + timedelta(seconds=1))
            )
            return int(result.rowcount)
    finally:
        engine.dispose()


def test_a_slow_composition_holds_no_lock_another_writer_needs(
    store: Factory, store_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    folder = Folder(tmp_path / "config")
    folder.release("r1", title="First title")
    run_sync(store, folder)
    before = {p.id for p in posts(store)}
    assert len(before) == 2

    real = planner.compose
    composing, written = threading.Event(), threading.Event()

    def slow(release: Release, channel: Channel, now: Any) -> Composition:
        composing.set()
        assert written.wait(30), "the test never wrote"
        return real(release, channel, now)

    monkeypatch.setattr(planner, "compose", slow)
    folder.release("r1", title="Second title")  # an edit: both posts are re-composed
    out: dict[str, SyncResult | BaseException] = {}

    def run() -> None:
        try:
            out["sync"] = run_sync(store, folder, NOW + timedelta(minutes=1))
        except BaseException as exc:  # reported below
            out["sync"] = exc

    thread = threading.Thread(target=run)
    thread.start()
    try:
        assert composing.wait(30)
        # the template is still rendering: the posts it replaces can be written all the same
        assert _write_posts_of(store_url, "r1") == 2
    finally:
        written.set()
        thread.join(60)
    result = out["sync"]
    assert isinstance(result, SyncResult), result
    assert result.plan.recomposed == 2 and not result.plan.errors
    new = latest(store, "r1")
    assert {p.state for p in new} == {PostState.SCHEDULED} and not {p.id for p in new} & before
    assert all("Second title" in p.text for p in new)
    monkeypatch.setattr(planner, "compose", real)
    assert not run_sync(store, folder, NOW + timedelta(minutes=2)).changed


def test_compositions_are_made_once_per_sync_and_only_for_what_the_pass_needs(
    store: Factory, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The pass that lacked compositions is rolled back and run again; nothing is composed
    twice, and a sync with nothing to do composes nothing."""
    folder = Folder(tmp_path / "config")
    folder.release("r1")
    folder.release("r2", targets=["cx"])
    real = planner.compose
    calls: list[tuple[str, str]] = []

    def counted(release: Release, channel: Channel, now: Any) -> Composition:
        calls.append((release.id, channel.name))
        return real(release, channel, now)

    monkeypatch.setattr(planner, "compose", counted)
    first = run_sync(store, folder)
    assert sorted(calls) == [("r1", "cm"), ("r1", "cx"), ("r2", "cx")]
    assert first.plan.created == 3 and len(posts(store)) == 3
    calls.clear()
    assert not run_sync(store, folder, NOW + timedelta(minutes=1)).changed
    assert calls == []


@settings(
    max_examples=12,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    rounds=st.lists(
        st.dictionaries(
            st.sampled_from(["r1", "r2", "r3"]),
            st.tuples(
                st.sampled_from(["Title A", "Title B", "Title C"]),
                st.sampled_from([["web"], ["cx"], ["cm"], ["all"]]),
                st.sampled_from(["approved", "draft", "withdrawn"]),
            ),
            max_size=3,
        ),
        min_size=1,
        max_size=3,
    )
)
def test_any_history_of_edits_composes_outside_and_settles(
    store: Factory, monkeypatch: pytest.MonkeyPatch, rounds: list[dict[str, Any]]
) -> None:
    """Whatever the edits, each sync composes only outside a transaction (the composer
    checks that no write transaction holds the database), never the same release and
    channel twice, and the sync after it changes and composes nothing."""
    import tempfile

    from tests.pgdb import empty_tables

    with store() as s, s.begin():
        empty_tables(s)
    real = planner.compose
    calls: list[tuple[str, str]] = []
    engine = store.kw["bind"]

    def checked(release: Release, channel: Channel, now: Any) -> Composition:
        calls.append((release.id, channel.name))
        assert engine.pool.checkedout() == 0, "composing while a connection is held"
        return real(release, channel, now)

    monkeypatch.setattr(planner, "compose", checked)
    with tempfile.TemporaryDirectory() as tmp:
        folder = Folder(Path(tmp) / "config")
        when = NOW
        for edits in rounds:
            for rid, (title, targets, status) in edits.items():
                approved = "Editor" if status == "approved" else None
                folder.release(
                    rid, title=title, targets=targets, status=status, approved_by=approved
                )
            calls.clear()
            run_sync(store, folder, when)
            assert len(calls) == len(set(calls)), calls
            calls.clear()
            when += timedelta(minutes=1)
            again = run_sync(store, folder, when)
            assert not again.changed and calls == [], (again.changes, again.plan, calls)
            when += timedelta(minutes=1)
