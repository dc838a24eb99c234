"""``dissem queue --problems`` at scale: it reads the posts in problem states, not every
post of every channel (SQLite did when the pause and broken-file lists were empty: 4.3 s
at a million posts)."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import Engine, event, text
from sqlalchemy.orm import Session, sessionmaker

from dissem.cli.store_cmds import queue_rows
from dissem.settings import Settings
from dissem.store.models import PostState
from tests.worker.queue_seed import T0, add_channel, add_post, qengine, qfactory, queue_db, qurl

__all__ = ["qengine", "qfactory", "queue_db", "qurl"]  # fixtures used by name

Factory = sessionmaker[Session]


def test_problems_are_looked_up_by_state(qengine: Engine, qfactory: Factory) -> None:
    if qengine.dialect.name != "sqlite":
        pytest.skip("query plans are checked on SQLite")
    for i in range(20):
        add_channel(qfactory, f"c{i:02d}")
        for k in range(20):
            add_post(qfactory, f"c{i:02d}", due_at=T0 + timedelta(hours=k))
    failed = add_post(qfactory, "c03", due_at=T0, state=PostState.FAILED)
    with qengine.begin() as conn:
        conn.execute(text("ANALYZE"))  # as a long-running database has statistics
    statements: list[tuple[str, Any]] = []

    @event.listens_for(qengine, "before_cursor_execute")
    def capture(conn, cursor, statement, params, context, many):  # type: ignore[no-untyped-def]
        if "FROM posts" in statement:
            statements.append((statement, params))

    settings = Settings(_env_file=None)  # type: ignore[call-arg]
    rows = queue_rows(qfactory, settings, problems=True, show_all=False, limit=50, now=T0)
    event.remove(qengine, "before_cursor_execute", capture)
    assert [r["id"] for r in rows] == [failed]
    ((statement, params),) = statements
    with qengine.connect() as conn:
        plan = [str(r[-1]) for r in conn.exec_driver_sql(f"EXPLAIN QUERY PLAN {statement}", params)]
        conn.execute(text("SELECT 1"))
    posts = [d for d in plan if " posts " in f" {d} "]
    assert posts and all("state=?" in d for d in posts), plan
