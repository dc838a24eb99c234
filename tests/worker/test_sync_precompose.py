"""A new release is composed before the sync's transaction, so the config is recorded and
planned in one pass, not rolled back and recorded again (issue 15: one release to 1,000
channels composed and planned in under a second)."""

from __future__ import annotations

from collections import Counter
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy.orm import Session, sessionmaker

from dissem.worker import planner, sync
from tests.worker.planner_seed import NOW, Folder, posts, run_sync, store, store_url

Factory = sessionmaker[Session]
__all__ = ["store", "store_url"]  # fixtures used by name


@pytest.fixture
def folder(tmp_path: Path) -> Folder:
    return Folder(tmp_path / "config")


@pytest.fixture
def passes(monkeypatch: pytest.MonkeyPatch) -> Counter[str]:
    """Counts planning passes and compositions made during the test."""
    counts: Counter[str] = Counter()
    record_and_plan = sync._record_and_plan
    compose = planner.compose

    def counted_pass(*args: Any, **kwargs: Any) -> Any:
        counts["passes"] += 1
        return record_and_plan(*args, **kwargs)

    def counted_compose(*args: Any, **kwargs: Any) -> Any:
        counts["compositions"] += 1
        return compose(*args, **kwargs)

    monkeypatch.setattr(sync, "_record_and_plan", counted_pass)
    monkeypatch.setattr(planner, "compose", counted_compose)
    return counts


def test_a_new_release_is_recorded_and_planned_in_one_pass(
    store: Factory, folder: Folder, passes: Counter[str]
) -> None:
    folder.release("r1", targets=["all"])
    first = run_sync(store, folder)
    assert not first.problems and first.plan.created >= 3
    assert passes["passes"] == 1
    made = passes["compositions"]
    assert made == len({p.channel for p in posts(store, "r1")})

    passes.clear()
    folder.release("r2", targets=["all"])
    second = run_sync(store, folder, NOW + timedelta(minutes=5))
    assert second.plan.created == first.plan.created
    assert passes == {"passes": 1, "compositions": made}


def test_draft_and_unchanged_releases_are_not_composed_ahead(
    store: Factory, folder: Folder, passes: Counter[str]
) -> None:
    folder.release("r1", targets=["all"])
    folder.release("r2", targets=["all"], status="draft", approved_by=None)
    run_sync(store, folder)
    assert posts(store, "r2") == []
    composed = passes["compositions"]
    passes.clear()
    run_sync(store, folder, NOW + timedelta(minutes=5))
    assert passes == {"passes": 1}
    assert composed == len({p.channel for p in posts(store, "r1")})


def test_an_edited_release_still_gets_its_new_text(
    store: Factory, folder: Folder, passes: Counter[str]
) -> None:
    folder.release("r1", targets=["all"])
    run_sync(store, folder)
    folder.release("r1", targets=["all"], title="A new title")
    run_sync(store, folder, NOW + timedelta(minutes=5))
    texts = [p.text for p in posts(store, "r1") if p.text]
    assert any("A new title" in t for t in texts)
