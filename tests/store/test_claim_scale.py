"""Claiming with many channels due: the claim reads the head of the due index, not every
channel, and still takes the channels whose first due post is oldest, one post each."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import Engine, event, text
from sqlalchemy.orm import Session, sessionmaker

from dissem.store import queue as queue_module
from dissem.store import queue_sql
from dissem.store.models import PostState
from dissem.store.queue import claim_due_posts, next_due_at
from tests.worker.queue_seed import (
    T0,
    add_channel,
    add_post,
    add_thread,
    qengine,
    qfactory,
    queue_db,
    qurl,
)

__all__ = ["qengine", "qfactory", "queue_db", "qurl"]  # fixtures used by name

Factory = sessionmaker[Session]


def claim(factory: Factory, limit: int, now: datetime = T0) -> list[Any]:
    return claim_due_posts(factory, "w1", now, limit=limit, lease_seconds=60)


def test_claim_reads_channels_by_key_not_all_of_them(qengine: Engine, qfactory: Factory) -> None:
    """With 60 channels due and 2 wanted, no statement of the claim scans the channels
    table (the per-channel query did: one probe of the posts index per channel)."""
    if qengine.dialect.name != "sqlite":
        pytest.skip("query plans are checked on SQLite")
    for i in range(60):
        add_channel(qfactory, f"c{i:02d}")
        add_post(qfactory, f"c{i:02d}", due_at=T0 - timedelta(seconds=60 - i))
    statements: list[tuple[str, Any]] = []

    @event.listens_for(qengine, "before_cursor_execute")
    def capture(conn, cursor, statement, params, context, many):  # type: ignore[no-untyped-def]
        if statement.lstrip().upper().startswith("SELECT"):
            statements.append((statement, params))

    got = claim(qfactory, limit=2)
    event.remove(qengine, "before_cursor_execute", capture)
    assert [c.channel for c in got] == ["c00", "c01"]
    with qengine.connect() as conn:
        for sql, params in statements:
            plan = conn.exec_driver_sql(f"EXPLAIN QUERY PLAN {sql}", params).all()
            details = [str(row[-1]) for row in plan]
            assert not [d for d in details if d.startswith("SCAN channels")], (sql, details)
            conn.execute(text("SELECT 1"))


def test_a_backlog_filling_the_window_does_not_hide_other_channels(
    qfactory: Factory, monkeypatch: pytest.MonkeyPatch
) -> None:
    """One channel's 12 old due posts fill a window of 8: the claim still finds the other
    channels (through the per-channel query)."""
    monkeypatch.setattr(queue_module, "CLAIM_WINDOW", 8)
    add_channel(qfactory, "busy")
    add_channel(qfactory, "late")
    add_channel(qfactory, "later")
    for k in range(12):
        add_post(qfactory, "busy", due_at=T0 - timedelta(hours=1, seconds=-k))
    late = add_post(qfactory, "late", due_at=T0 - timedelta(minutes=1))
    later = add_post(qfactory, "later", due_at=T0)
    got = claim(qfactory, limit=3)
    assert [c.channel for c in got] == ["busy", "late", "later"]
    assert [c.post_id for c in got][1:] == [late, later]


def test_paused_and_busy_channels_in_the_head_are_passed_over(qfactory: Factory) -> None:
    add_channel(qfactory, "paused", paused_until=T0 + timedelta(hours=1))
    add_channel(qfactory, "open")
    for k in range(30):
        add_post(qfactory, "paused", due_at=T0 - timedelta(hours=2, seconds=-k))
    first = add_post(qfactory, "open", due_at=T0 - timedelta(minutes=5))
    add_post(qfactory, "open", due_at=T0 - timedelta(minutes=4))
    assert [c.post_id for c in claim(qfactory, limit=5)] == [first]
    assert claim(qfactory, limit=5) == []  # "open" is busy with ``first`` now


# --- the claim against a model of its rules ----------------------------------------------

_channel = st.fixed_dictionaries(
    {
        "state": st.sampled_from(["open", "open", "open", "paused", "disabled"]),
        # minutes before T0 of each post (negative: not yet due)
        "posts": st.lists(st.integers(-3, 6), max_size=4),
        "thread": st.booleans(),  # one two-part thread besides, due 2 minutes ago
        "busy": st.booleans(),  # a post publishing under a live lease
    }
)


@settings(
    max_examples=25,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    channels=st.lists(_channel, min_size=1, max_size=6),
    limit=st.integers(1, 4),
    window=st.integers(1, 6),
)
def test_claim_matches_its_rules(
    qengine: Engine,
    qfactory: Factory,
    channels: list[dict[str, Any]],
    limit: int,
    window: int,
) -> None:
    """Whatever the window: the channels claimed are the open, idle ones with a claimable
    post, those whose first due post is oldest first, each with its earliest claimable
    post (a thread's second part only once its first is out)."""
    with qengine.begin() as conn:
        conn.execute(text("DELETE FROM attempts"))
        conn.execute(text("DELETE FROM posts"))
        conn.execute(text("DELETE FROM channels"))
    expected: list[tuple[datetime, str, int]] = []  # (first due, channel, post) per channel
    for i, c in enumerate(channels):
        name = f"c{i}"
        add_channel(
            qfactory,
            name,
            enabled=c["state"] != "disabled",
            paused_until=T0 + timedelta(hours=1) if c["state"] == "paused" else None,
        )
        due: list[tuple[datetime, int]] = []
        for k, minutes in enumerate(c["posts"]):
            at = T0 - timedelta(minutes=minutes, seconds=k)
            due.append((at, add_post(qfactory, name, due_at=at)))
        if c["thread"]:
            at = T0 - timedelta(minutes=2, milliseconds=500)
            first, _second = add_thread(qfactory, name, 2, due_at=at)
            due.append((at, first))  # the second part waits for the first
        if c["busy"]:
            add_post(qfactory, name, due_at=T0 - timedelta(days=1), state=PostState.PUBLISHING)
            with qengine.begin() as conn:
                conn.execute(
                    text("UPDATE posts SET lease_expires = :at WHERE state = 'publishing'"),
                    {"at": (T0 + timedelta(minutes=1)).replace(tzinfo=None)},
                )
        ready = sorted((at, post) for at, post in due if at <= T0)
        if c["state"] == "open" and not c["busy"] and ready:
            expected.append((ready[0][0], name, ready[0][1]))
    want = [(name, post) for _, name, post in sorted(expected)[:limit]]
    with pytest.MonkeyPatch.context() as m:
        m.setattr(queue_module, "CLAIM_WINDOW", window)
        got = claim(qfactory, limit=limit)
    assert [(c.channel, c.post_id) for c in got] == want


def test_next_due_reads_the_due_index_not_every_channel(qengine: Engine, qfactory: Factory) -> None:
    """Every dispatch round of every worker asks when to look again: with nothing due it
    walked every channel's posts (14 ms on SQLite with a million posts, each second)."""
    if qengine.dialect.name != "sqlite":
        pytest.skip("query plans are checked on SQLite")
    for i in range(60):
        add_channel(qfactory, f"c{i:02d}")
        for k in range(10):
            add_post(qfactory, f"c{i:02d}", due_at=T0 + timedelta(minutes=i + 1, hours=k))
    with qengine.begin() as conn:
        conn.execute(text("ANALYZE"))  # as a long-running database has statistics
    statements: list[tuple[str, Any]] = []

    @event.listens_for(qengine, "before_cursor_execute")
    def capture(conn, cursor, statement, params, context, many):  # type: ignore[no-untyped-def]
        if statement.lstrip().upper().startswith("SELECT"):
            statements.append((statement, params))

    assert next_due_at(qfactory, T0) == T0 + timedelta(minutes=1)
    event.remove(qengine, "before_cursor_execute", capture)
    with qengine.connect() as conn:
        for sql, params in statements:
            plan = conn.exec_driver_sql(f"EXPLAIN QUERY PLAN {sql}", params).all()
            details = [str(row[-1]) for row in plan]
            scans = [d for d in details if d.startswith(("SCAN channels", "SCAN posts"))]
            assert not scans, (sql, details)
            conn.execute(text("SELECT 1"))


def test_a_channel_claimed_since_the_head_was_read_is_passed_over(
    qengine: Engine, qfactory: Factory
) -> None:
    """Eight workers read the same head: one that locks channels after another worker
    committed a claim on the first must pass it over and take the next, not lock it and
    have the claim refuse it (claiming nothing, then sleeping)."""
    for name in ("c1", "c2"):
        add_channel(qfactory, name)
        add_post(qfactory, name, due_at=T0 - timedelta(minutes=1))
    add_post(qfactory, "c1", due_at=T0 - timedelta(seconds=30))
    assert [c.channel for c in claim(qfactory, limit=1)] == ["c1"]  # the other worker
    postgres = qengine.dialect.name == "postgresql"
    statement = queue_sql.CLAIM_CHANNELS_LOCKED if postgres else queue_sql.CLAIM_CHANNELS
    with qengine.begin() as conn:
        rows = conn.execute(statement, {"now": T0, "names": ["c1", "c2"], "limit": 1}).all()
    assert [r.name for r in rows if r.post_id is not None][:1] == ["c2"]
