"""Sync end to end: a config folder in, posts out, one transaction per sync.

Each test edits files in a folder as a person would and syncs with an explicit ``now``.
"""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from dissem.compose.types import Composition
from dissem.config.models import Channel, Release
from dissem.store.db import transaction
from dissem.store.models import (
    Attempt,
    ChannelRow,
    Post,
    PostState,
    ReleaseRevision,
    ReleaseRow,
)
from dissem.worker import planner
from tests.worker.planner_seed import (
    NOW,
    Folder,
    latest,
    posts,
    publish,
    run_sync,
    store,
    store_url,
)

Factory = sessionmaker[Session]
__all__ = ["store", "store_url"]  # fixtures used by name


@pytest.fixture
def folder(tmp_path: Path) -> Folder:
    return Folder(tmp_path / "config")


def _snapshot(factory: Factory) -> list[tuple[object, ...]]:
    return [
        (
            p.id,
            p.release_id,
            p.channel,
            p.seq,
            p.part_index,
            p.state,
            p.text,
            p.due_at,
            p.idempotency_key,
            p.release_revision,
        )
        for p in posts(factory)
    ]


def _revisions(factory: Factory) -> int:
    with factory() as s:
        return int(s.scalar(select(func.count()).select_from(ReleaseRevision)) or 0)


def test_second_sync_changes_nothing(store: Factory, folder: Folder) -> None:
    folder.release("r1", targets=["all"], body="Short body.")
    folder.release("r2", targets=["cx"], priority="breaking")
    folder.release("r3", status="draft", approved_by=None)
    first = run_sync(store, folder)
    assert first.changed and not first.problems
    before, revisions = _snapshot(store), _revisions(store)
    assert len(before) >= 5
    second = run_sync(store, folder, NOW + timedelta(minutes=5))
    assert not second.changed, (second.changes, second.plan)
    assert _snapshot(store) == before
    assert _revisions(store) == revisions == 3


def test_draft_gets_no_posts_and_approval_going_back_to_draft_holds(
    store: Factory, folder: Folder
) -> None:
    folder.release("r1", status="draft", approved_by=None)
    run_sync(store, folder)
    assert posts(store) == []
    folder.release("r1")
    run_sync(store, folder)
    assert {p.state for p in posts(store)} == {PostState.SCHEDULED}
    folder.release("r1", status="draft", approved_by=None)
    result = run_sync(store, folder)
    held = posts(store)
    assert len(held) == 2 and {p.state for p in held} == {PostState.PENDING}
    assert result.plan.held == 2
    # approved again: scheduled again (the held posts stay behind, cancelled)
    folder.release("r1")
    run_sync(store, folder)
    again = latest(store)
    assert len(again) == 2 and {p.state for p in again} == {PostState.SCHEDULED}
    assert {p.state for p in posts(store)} == {PostState.SCHEDULED, PostState.CANCELLED}


def test_withdrawn_cancels_scheduled_posts_but_not_published(
    store: Factory, folder: Folder
) -> None:
    folder.release("r1")
    run_sync(store, folder)
    cm = next(p for p in posts(store) if p.channel == "cm")
    publish(store, [cm.id], NOW + timedelta(hours=1))
    folder.release("r1", status="withdrawn")
    result = run_sync(store, folder, NOW + timedelta(hours=2))
    by_channel = {p.channel: p for p in posts(store)}
    assert by_channel["cx"].state == PostState.CANCELLED
    assert by_channel["cx"].last_error == "withdrawn"
    assert by_channel["cm"].state == PostState.PUBLISHED
    assert result.plan.cancelled == 1


def test_deleting_the_file_cancels_open_posts(store: Factory, folder: Folder) -> None:
    folder.release("r1")
    folder.release("r2")
    run_sync(store, folder)
    folder.delete("r1")
    result = run_sync(store, folder)
    assert result.changes.releases_deleted == ["r1"]
    assert {p.state for p in posts(store, "r1")} == {PostState.CANCELLED}
    assert {p.state for p in posts(store, "r2")} == {PostState.SCHEDULED}
    with store() as s:
        row = s.get(ReleaseRow, "r1")
        assert row is not None and row.deleted


def test_cancelled_posts_come_back_when_the_release_returns(store: Factory, folder: Folder) -> None:
    """Withdrawn then approved again, or a deleted file restored (git revert): the posts
    the planner cancelled never went out, so the release is planned again."""
    folder.release("r1")
    folder.release("r2")
    run_sync(store, folder)
    folder.release("r1", status="withdrawn")
    folder.delete("r2")
    run_sync(store, folder)
    assert {p.state for p in posts(store)} == {PostState.CANCELLED}
    folder.release("r1")
    folder.release("r2")
    run_sync(store, folder)
    states = [(p.release_id, p.channel, p.state) for p in latest(store)]
    assert sorted(states) == [
        ("r1", "cm", PostState.SCHEDULED),
        ("r1", "cx", PostState.SCHEDULED),
        ("r2", "cm", PostState.SCHEDULED),
        ("r2", "cx", PostState.SCHEDULED),
    ]


def test_a_post_a_person_cancelled_stays_cancelled(store: Factory, folder: Folder) -> None:
    from dissem.worker.review import cancel_post

    folder.release("r1")
    run_sync(store, folder)
    cx = next(p for p in posts(store) if p.channel == "cx")
    cancel_post(store, cx.id, NOW)
    folder.release("r1", title="Edited title")
    run_sync(store, folder)
    after = {p.channel: p for p in latest(store)}
    assert after["cx"].id == cx.id and after["cx"].state == PostState.CANCELLED
    assert "Edited title" in after["cm"].text


def test_editing_recomposes_unpublished_posts_only(store: Factory, folder: Folder) -> None:
    folder.release("r1", title="Consulate opens new office")
    run_sync(store, folder)
    old = {p.channel: p for p in posts(store)}
    publish(store, [old["cx"].id], NOW + timedelta(hours=2))
    folder.release("r1", title="Consulate opens a bigger office")
    result = run_sync(store, folder, NOW + timedelta(hours=3))
    assert result.changes.releases_changed == ["r1"]
    new = {p.channel: p for p in latest(store)}
    # the published post is never changed
    assert new["cx"].id == old["cx"].id and new["cx"].text == old["cx"].text
    assert new["cx"].state == PostState.PUBLISHED
    assert "Consulate opens new office" in new["cx"].text
    # the scheduled one is rewritten, with a fresh key, and stays scheduled
    assert "Consulate opens a bigger office" in new["cm"].text
    assert new["cm"].state == PostState.SCHEDULED
    assert new["cm"].idempotency_key != old["cm"].idempotency_key
    assert {p.release_revision for p in new.values()} == {2}
    # and nothing is stale afterwards: a further sync changes nothing
    assert not run_sync(store, folder, NOW + timedelta(hours=3)).changed


def test_a_channel_leaving_the_targets_cancels_its_open_posts(
    store: Factory, folder: Folder
) -> None:
    folder.release("r1", targets=["cx", "cm"])
    run_sync(store, folder)
    folder.release("r1", targets=["cx"])
    run_sync(store, folder)
    by_channel = {p.channel: p for p in posts(store)}
    assert by_channel["cm"].state == PostState.CANCELLED
    assert by_channel["cm"].last_error == "no longer a target"
    assert by_channel["cx"].state == PostState.SCHEDULED
    # back in the targets: posted after all
    folder.release("r1", targets=["cx", "cm"])
    run_sync(store, folder)
    states = {(p.channel, p.state) for p in latest(store)}
    assert states == {("cx", PostState.SCHEDULED), ("cm", PostState.SCHEDULED)}


def test_a_removed_channel_cancels_its_open_posts(store: Factory, folder: Folder) -> None:
    folder.release("r1", targets=["web"])
    run_sync(store, folder)
    del folder.channels["cm"]
    folder.groups["web"] = ["cx"]
    folder.write_channels()
    result = run_sync(store, folder)
    assert result.changes.channels_removed == ["cm"]
    states = {(p.channel, p.state) for p in posts(store)}
    assert states == {("cx", PostState.SCHEDULED), ("cm", PostState.CANCELLED)}


def test_a_broken_channel_is_not_treated_as_removed(store: Factory, folder: Folder) -> None:
    folder.release("r1", targets=["cx", "cm"])
    folder.release("r2", targets=["web"], priority="evergreen")  # planned on every sync
    run_sync(store, folder)
    before = {(p.release_id, p.channel): (p.id, p.state) for p in posts(store)}
    folder.channels["cm"]["timezone"] = "Europe/Berlinn"  # a typo: the entry is invalid
    folder.write_channels()
    folder.release("r1", targets=["cx", "cm"], title="Edited while cm is broken")
    result = run_sync(store, folder)
    assert result.problems and "Europe/Berlinn" in str(result.problems[0])
    assert result.changes.channels_removed == []
    with store() as s:
        row = s.get(ChannelRow, "cm")
        assert row is not None and not row.removed and row.enabled
    after = {(p.release_id, p.channel): (p.id, p.state) for p in posts(store)}
    assert after[("r1", "cm")] == before[("r1", "cm")]
    assert after[("r2", "cm")] == before[("r2", "cm")]
    assert after[("r1", "cx")][1] == PostState.SCHEDULED


def test_a_broken_release_file_is_left_as_it_was(store: Factory, folder: Folder) -> None:
    folder.release("r1")
    folder.release("r2")
    run_sync(store, folder)
    before = _snapshot(store)
    path = folder.root / "releases" / "r1.yaml"
    path.write_text(path.read_text() + "colour: blue\n")  # an unknown key
    folder.release("r2", title="Second, edited")
    result = run_sync(store, folder)
    assert [p.path for p in result.problems] and "r1.yaml" in str(result.problems[0])
    assert result.changes.releases_deleted == [] and result.changes.releases_changed == ["r2"]
    r1_before = [row for row in before if row[1] == "r1"]
    assert [row for row in _snapshot(store) if row[1] == "r1"] == r1_before
    assert all("Second, edited" in p.text for p in latest(store, "r2"))


def test_a_release_whose_compose_fails_does_not_stop_the_others(
    store: Factory, folder: Folder, monkeypatch: pytest.MonkeyPatch
) -> None:
    real = planner.compose

    def flaky(release: Release, channel: Channel, now: object) -> Composition:
        if release.id == "bad":
            raise RuntimeError("template exploded")
        return real(release, channel, now)  # type: ignore[arg-type]

    monkeypatch.setattr(planner, "compose", flaky)
    for rid in ("a", "bad", "c"):
        folder.release(rid)
    result = run_sync(store, folder)
    assert [e.split(":")[0] for e in result.plan.errors] == ["bad"]
    assert "template exploded" in result.plan.errors[0]
    assert {p.release_id for p in posts(store)} == {"a", "c"}
    with store() as s:
        assert s.get(ReleaseRow, "bad") is not None  # recorded, just not planned
    # fixed (nothing in the file changed): the next sync plans it
    monkeypatch.setattr(planner, "compose", real)
    again = run_sync(store, folder, NOW + timedelta(minutes=1))
    assert not again.plan.errors
    bad = posts(store, "bad")
    assert len(bad) == 2 and {p.state for p in bad} == {PostState.SCHEDULED}
    assert not run_sync(store, folder, NOW + timedelta(minutes=2)).changed


def test_an_edit_whose_compose_fails_keeps_the_old_posts_until_fixed(
    store: Factory, folder: Folder, monkeypatch: pytest.MonkeyPatch
) -> None:
    folder.release("r1", title="First title")
    run_sync(store, folder)
    old = {p.channel: p.id for p in posts(store)}
    real = planner.compose

    def broken(release: Release, channel: Channel, now: object) -> Composition:
        if release.title == "Second title":
            raise RuntimeError("boom")
        return real(release, channel, now)  # type: ignore[arg-type]

    monkeypatch.setattr(planner, "compose", broken)
    folder.release("r1", title="Second title")
    result = run_sync(store, folder)
    assert result.plan.errors
    kept = posts(store)
    assert {p.channel: p.id for p in kept} == old and all("First title" in p.text for p in kept)
    monkeypatch.setattr(planner, "compose", real)
    run_sync(store, folder)
    assert all("Second title" in p.text for p in latest(store))


def test_a_failed_post_with_attempts_is_recomposed_and_its_history_kept(
    store: Factory, folder: Folder
) -> None:
    """A post that failed (attempt rows point at it) and is then fixed by an edit: the new
    text goes out as a new post; the failed one and its attempts stay, for audit."""
    folder.release("r1", title="Too long for the platform")
    run_sync(store, folder)
    cx = next(p for p in posts(store) if p.channel == "cx")
    with transaction(store) as s:
        s.add(
            Attempt(
                post_id=cx.id,
                worker="w1",
                started_at=NOW,
                finished_at=NOW,
                outcome="rejected",
                error="ContentRejected: too long",
            )
        )
        post = s.get(Post, cx.id)
        assert post is not None
        post.state, post.attempts, post.last_error = PostState.FAILED, 1, "too long"
    folder.release("r1", title="Shorter")
    result = run_sync(store, folder)
    assert not result.plan.errors, result.plan.errors
    now_cx = [p for p in posts(store) if p.channel == "cx"]
    assert (now_cx[0].id, now_cx[0].state) == (cx.id, PostState.CANCELLED)
    assert now_cx[-1].state == PostState.SCHEDULED and "Shorter" in now_cx[-1].text
    assert now_cx[-1].idempotency_key != cx.idempotency_key
    with store() as s:
        assert s.scalar(select(func.count()).select_from(Attempt)) == 1


def test_a_missing_config_folder_deletes_nothing(store: Factory, folder: Folder) -> None:
    """A wrong DISSEM_CONFIG_DIR, or a checkout half done, is a mistake to report, not the
    deletion of every release."""
    folder.release("r1")
    run_sync(store, folder)
    before = _snapshot(store)
    folder.root.rename(folder.root.with_name("moved"))
    result = run_sync(store, folder, NOW + timedelta(minutes=1))
    assert result.problems and "config folder not found" in str(result.problems[0])
    assert not result.changed
    assert _snapshot(store) == before
    with store() as s:
        row = s.get(ReleaseRow, "r1")
        assert row is not None and not row.deleted


def test_a_disabled_channel_posts_nothing_until_enabled_again(
    store: Factory, folder: Folder
) -> None:
    folder.release("r1")
    run_sync(store, folder)
    folder.channels["cm"]["enabled"] = False
    folder.write_channels()
    run_sync(store, folder)
    assert {(p.channel, p.state) for p in latest(store)} == {
        ("cx", PostState.SCHEDULED),
        ("cm", PostState.CANCELLED),
    }
    folder.channels["cm"]["enabled"] = True
    folder.write_channels()
    run_sync(store, folder)
    assert {(p.channel, p.state) for p in latest(store)} == {
        ("cx", PostState.SCHEDULED),
        ("cm", PostState.SCHEDULED),
    }
    assert not run_sync(store, folder).changed
