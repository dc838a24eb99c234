"""Singleton jobs: only one holder at a time on PostgreSQL."""

from __future__ import annotations

from sqlalchemy import Engine

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


def test_sqlite_readers_do_not_take_the_write_lock(tmp_path: object) -> None:
    from pathlib import Path

    from sqlalchemy import text

    url = f"sqlite:///{Path(str(tmp_path)) / 'r.db'}"
    writer = make_engine(url)
    reader = make_engine(url, read_only=True)
    try:
        with writer.begin() as w:
            w.execute(text("CREATE TABLE t (x INTEGER)"))
        with reader.begin() as r:
            r.execute(text("SELECT count(*) FROM t")).scalar()
            # a reader in a transaction does not block a writer (WAL + deferred BEGIN)
            with writer.begin() as w2:
                w2.execute(text("PRAGMA busy_timeout=200"))
                w2.execute(text("INSERT INTO t VALUES (1)"))
    finally:
        writer.dispose()
        reader.dispose()
