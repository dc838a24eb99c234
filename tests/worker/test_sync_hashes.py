"""A sync that changes nothing does not hash unchanged channels again.

Sync compares each channel with its stored row by a hash of its settings. The loader hands
the same Channel objects to every sync while their file is unchanged; hashing 10,000 of
them again was 40% of the CPU of a sync that changed nothing.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from sqlalchemy.orm import Session, sessionmaker

from dissem.store.models import ChannelRow
from dissem.worker import records
from tests.worker.planner_seed import NOW, Folder, run_sync, store, store_url

Factory = sessionmaker[Session]
__all__ = ["store", "store_url"]  # fixtures used by name


@pytest.fixture
def folder(tmp_path: Path) -> Folder:
    return Folder(tmp_path / "config")


@pytest.fixture
def hashed(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The names of the channels hashed, in order."""
    seen: list[str] = []
    real = records.channel_hash

    def counting(channel: Any) -> str:
        seen.append(channel.name)
        return real(channel)

    monkeypatch.setattr(records, "channel_hash", counting)
    return seen


def stored_hashes(store: Factory) -> dict[str, str]:
    with store() as session:
        return {r.name: r.config_hash for r in session.query(ChannelRow)}


def test_unchanged_channels_are_not_hashed_again(
    store: Factory, folder: Folder, hashed: list[str]
) -> None:
    folder.release("r1")
    first = run_sync(store, folder)
    assert sorted(first.changes.channels_added) == ["cb", "ci", "cm", "cx"]
    assert sorted(hashed) == ["cb", "ci", "cm", "cx"]
    before = stored_hashes(store)
    hashed.clear()
    run_sync(store, folder, NOW.replace(minute=1))
    assert hashed == []
    assert stored_hashes(store) == before


def test_a_changed_channel_is_hashed_and_recorded(
    store: Factory, folder: Folder, hashed: list[str]
) -> None:
    run_sync(store, folder)
    before = stored_hashes(store)
    hashed.clear()
    folder.channels["cm"]["min_gap"] = "45m"
    folder.write_channels()  # one file: every channel in it is read (and hashed) again
    again = run_sync(store, folder, NOW.replace(minute=1))
    assert sorted(hashed) == ["cb", "ci", "cm", "cx"]
    assert again.changes.channels_changed == ["cm"]
    after = stored_hashes(store)
    assert after["cm"] != before["cm"]
    assert {n: h for n, h in after.items() if n != "cm"} == {
        n: h for n, h in before.items() if n != "cm"
    }
