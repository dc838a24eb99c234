"""Singleton jobs: only one holder at a time on PostgreSQL."""

from __future__ import annotations

import sqlite3
import threading
import time
from pathlib import Path

from sqlalchemy import Engine, text

from dissem.store.db import make_engine
from dissem.store.locks import lock_key, singleton


def test_lock_key_is_stable_and_distinct() -> None:
    assert lock_key("sync") == lock_key("sync")
    assert lock_key("sync") != lock_key("report")
    assert -(2**63) <= lock_key("x") < 2**63


def test_second_holder_is_refused_until_release(engine: Engine) -> None:
    other = make_engine(engine.url.render_as_string(hide_password=False))
    try:
        with singleton(engine, "sync") as first:
            assert first
            with singleton(other, "sync") as second:
                # SQLite serves one worker: the lock is always granted there
                assert second is (engine.dialect.name != "postgresql")
            with singleton(other, "report") as unrelated:
                assert unrelated
        with singleton(other, "sync") as again:
            assert again
    finally:
        other.dispose()


def test_sqlite_readers_do_not_take_the_write_lock(tmp_path: Path) -> None:
    """A read-only engine reads while a writer holds the write lock, and a writer takes the
    lock while a read-only transaction is open (WAL and a plain ``BEGIN``)."""
    db = tmp_path / "r.db"
    url = f"sqlite:///{db}"
    writer = make_engine(url)
    reader = make_engine(url, read_only=True)
    with writer.begin() as w:
        w.execute(text("CREATE TABLE t (x INTEGER)"))
        w.execute(text("INSERT INTO t VALUES (1)"))
    holder = sqlite3.connect(db, timeout=0.5, isolation_level=None)
    seen: list[int] = []
    failed: list[BaseException] = []

    def read() -> None:
        try:
            with reader.begin() as r:
                seen.append(r.execute(text("SELECT count(*) FROM t")).scalar_one())
        except BaseException as exc:  # reported by the assertions below
            failed.append(exc)

    thread = threading.Thread(target=read, daemon=True)
    try:
        holder.execute("BEGIN IMMEDIATE")  # the write lock, held
        holder.execute("INSERT INTO t VALUES (2)")  # not committed: readers see one row
        started = time.monotonic()
        thread.start()
        thread.join(timeout=5)
        took = time.monotonic() - started
        assert not thread.is_alive(), "the reader waited for the write lock"
        assert failed == [] and seen == [1]
        assert took < 5
        holder.execute("COMMIT")

        # the other way round: an open read transaction leaves the write lock free
        with reader.begin() as r:
            assert r.execute(text("SELECT count(*) FROM t")).scalar_one() == 2
            holder.execute("BEGIN IMMEDIATE")  # busy for 0.5 s at most, then raises
            holder.execute("INSERT INTO t VALUES (3)")
            holder.execute("COMMIT")
            assert r.execute(text("SELECT count(*) FROM t")).scalar_one() == 2  # snapshot
    finally:
        if holder.in_transaction:
            holder.execute("ROLLBACK")
        holder.close()
        if thread.ident is not None:
            thread.join(timeout=60)
        writer.dispose()
        reader.dispose()
    with reader.connect() as c:
        assert c.execute(text("SELECT count(*) FROM t")).scalar_one() == 3
    reader.dispose()
