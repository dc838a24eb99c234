"""An idle worker's sync (every 30 s, nothing changed) builds no object per stored release
or channel: with 5,000 releases that was most of the idle worker's CPU."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import event
from sqlalchemy.orm import Session, sessionmaker

from dissem.store.models import ChannelRow, ReleaseRow
from tests.worker.planner_seed import NOW, Folder, run_sync, store, store_url

Factory = sessionmaker[Session]
__all__ = ["store", "store_url"]  # fixtures used by name


@pytest.fixture
def folder(tmp_path: Path) -> Folder:
    return Folder(tmp_path / "config")


def test_a_sync_that_changes_nothing_loads_no_release_or_channel_rows(
    store: Factory, folder: Folder
) -> None:
    for rid in ("r1", "r2", "r3"):
        folder.release(rid)
    run_sync(store, folder)
    loaded: list[object] = []

    def count(target: object, context: object) -> None:
        loaded.append(target)

    event.listen(ReleaseRow, "load", count)
    event.listen(ChannelRow, "load", count)
    try:
        result = run_sync(store, folder, NOW)
    finally:
        event.remove(ReleaseRow, "load", count)
        event.remove(ChannelRow, "load", count)
    assert not result.changed
    assert loaded == []


def test_a_changed_release_loads_only_itself(store: Factory, folder: Folder) -> None:
    for rid in ("r1", "r2", "r3"):
        folder.release(rid)
    run_sync(store, folder)
    folder.release("r2", title="A new title")
    loaded: list[str] = []

    def count(target: ReleaseRow, context: object) -> None:
        loaded.append(target.id)

    event.listen(ReleaseRow, "load", count)
    try:
        result = run_sync(store, folder, NOW)
    finally:
        event.remove(ReleaseRow, "load", count)
    assert result.changed
    assert set(loaded) == {"r2"}
