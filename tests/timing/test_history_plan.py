"""read_histories reaches each post's day-old snapshot through the (post_id, taken_at) index.

Over a compacted full-size year (15 M snapshots) a join over the age window let PostgreSQL
hash-join a sequential scan of the whole ``metric_snapshots`` table: 9 s of the weekly
report. Here the query read_histories runs is executed again under ``EXPLAIN ANALYZE`` and
the rows its plan reads from ``metric_snapshots`` are counted: a few a post, not every
snapshot of every post (SQLite: its plan searches the index, never scans the table).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

from sqlalchemy import Engine, event, text
from sqlalchemy.orm import sessionmaker

from dissem.store.db import make_session_factory
from dissem.timing.history import read_histories
from tests.timing.test_history_window import NOW, _add_post, _seed_base

POSTS = 12


def _captured(engine: Engine) -> tuple[str, Any]:
    """The statement (and parameters) read_histories sends for the snapshots."""
    seen: list[tuple[str, Any]] = []

    def grab(conn: Any, cursor: Any, statement: str, parameters: Any, *_: Any) -> None:
        if "metric_snapshots" in statement:
            seen.append((statement, parameters))

    event.listen(engine, "before_cursor_execute", grab)
    try:
        with make_session_factory(engine)() as s:
            found = read_histories(s, NOW)
    finally:
        event.remove(engine, "before_cursor_execute", grab)
    assert sum(len(h.observations) for h in found) == POSTS
    assert len(seen) == 1, seen
    return seen[0]


def _nodes(plan: dict[str, Any]) -> Iterator[dict[str, Any]]:
    yield plan
    for child in plan.get("Plans", ()):
        yield from _nodes(child)


def test_reads_a_few_snapshot_rows_a_post(engine: Engine) -> None:
    factory: sessionmaker[Any] = make_session_factory(engine)
    _seed_base(factory)
    for n in range(POSTS):  # each with its 71 grid snapshots: 852 rows
        _add_post(factory, n, NOW - timedelta(days=30 + n, hours=n), silent=set())
    statement, parameters = _captured(engine)
    with engine.connect() as conn:
        if engine.dialect.name == "sqlite":
            plan = conn.exec_driver_sql("EXPLAIN QUERY PLAN " + statement, parameters).all()
            details = [str(row[-1]) for row in plan]
            assert not [d for d in details if d.startswith("SCAN metric_snapshots")], details
            return
        conn.execute(text("ANALYZE posts"))
        conn.execute(text("ANALYZE metric_snapshots"))
        raw = conn.exec_driver_sql(
            "EXPLAIN (ANALYZE, FORMAT JSON) " + statement, parameters
        ).scalar_one()
    plan = (json.loads(raw) if isinstance(raw, str) else raw)[0]["Plan"]
    read = 0.0
    for node in _nodes(plan):
        if node.get("Relation Name") == "metric_snapshots":
            per_loop = node["Actual Rows"] + node.get("Rows Removed by Filter", 0)
            read += per_loop * node["Actual Loops"]
    # at most the snapshots of each post's age window (1 to 2 days: the grid's 24, 30, 36,
    # 42 and 48 hours), never the 852 rows of the table
    assert read <= 5 * POSTS, json.dumps(plan, indent=1)
