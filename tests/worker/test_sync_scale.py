"""Sync at scale: a sync that plans nothing reads no posts' times.

Planning counts each channel's planned and published first parts (gap and daily cap). With
a million posts, reading them all on every sync took seconds each 30 s, though a sync that
changes nothing plans no release: they are read per channel, when a channel is planned.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, event
from sqlalchemy.orm import Session, sessionmaker

from dissem.store.models import PostState
from tests.worker.planner_seed import NOW, Folder, posts, run_sync, store, store_url

Factory = sessionmaker[Session]
__all__ = ["store", "store_url"]  # fixtures used by name


@pytest.fixture
def folder(tmp_path: Path) -> Folder:
    return Folder(tmp_path / "config")


@contextmanager
def statements(engine: Engine) -> Iterator[list[str]]:
    seen: list[str] = []

    def capture(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        seen.append(" ".join(statement.split()))

    event.listen(engine, "before_cursor_execute", capture)
    try:
        yield seen
    finally:
        event.remove(engine, "before_cursor_execute", capture)


def _reads_taken_times(statement: str) -> bool:
    """The planner's read of first parts' times (due or published) by state."""
    return (
        statement.startswith("SELECT")
        and "posts.published_at" in statement
        and "posts.part_index =" in statement
        and "FROM posts" in statement
        and "metric_snapshots" not in statement
    )


def test_a_sync_that_plans_nothing_reads_no_posts_times(store: Factory, folder: Folder) -> None:
    folder.release("r1")
    run_sync(store, folder)
    assert {p.state for p in posts(store)} == {PostState.SCHEDULED}
    engine = store.kw["bind"]
    with statements(engine) as seen:
        result = run_sync(store, folder, NOW)
    assert not result.changed
    assert [s for s in seen if _reads_taken_times(s)] == []


def test_a_new_release_reads_only_its_channels_times(store: Factory, folder: Folder) -> None:
    folder.release("r1")
    run_sync(store, folder)
    folder.release("r2")
    engine = store.kw["bind"]
    with statements(engine) as seen:
        run_sync(store, folder, NOW)
    reads = [s for s in seen if _reads_taken_times(s)]
    assert reads, "planning r2 reads its channels' taken times"
    # only the release's channels, by name (one of them, or a batch of them), never all
    assert all("posts.channel =" in s or "posts.channel IN" in s for s in reads)
    assert len({p.idempotency_key for p in posts(store)}) == len(posts(store))
