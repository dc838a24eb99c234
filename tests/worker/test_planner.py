"""Planning through sync: parts per channel, due times in windows, skips, expiry, breaking,
evergreen re-shares and re-planning when a channel's windows change."""

from __future__ import annotations

import itertools
import shutil
from datetime import timedelta
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy.orm import Session, sessionmaker

from dissem.store.db import make_engine, make_session_factory
from dissem.store.migrate import upgrade
from dissem.store.models import PostState
from tests.pgdb import empty_tables
from tests.worker.planner_seed import (
    CHANNELS,
    LONG_BODY,
    NOW,
    Folder,
    in_window,
    latest,
    posts,
    publish,
    run_sync,
    store,
    store_url,
)

Factory = sessionmaker[Session]
__all__ = ["store", "store_url"]  # fixtures used by name
IMAGE = {"src": "https://portal.example/img/office.jpg", "alt": "The new office"}


@pytest.fixture
def folder(tmp_path: Path) -> Folder:
    return Folder(tmp_path / "config")


def test_one_post_per_part_per_target_channel(store: Factory, folder: Folder) -> None:
    folder.release("r1", targets=["all"], body=LONG_BODY)
    result = run_sync(store, folder)
    rows = posts(store)
    by_channel: dict[str, list[int]] = {}
    for p in rows:
        by_channel.setdefault(p.channel, []).append(p.part_index)
    # the group "all" holds the group "web": every channel once
    assert set(by_channel) == {"cx", "cm", "cb", "ci"}
    assert by_channel["cx"] == by_channel["cm"] == [1]
    parts = by_channel["cb"]  # Bluesky threads a long release
    assert len(parts) > 1 and parts == list(range(1, len(parts) + 1))
    assert {p.part_total for p in rows if p.channel == "cb"} == {len(parts)}
    assert len({p.idempotency_key for p in rows}) == len(rows)
    scheduled = [p for p in rows if p.state == PostState.SCHEDULED]
    assert len(scheduled) == len(rows) - 1 and result.plan.created == len(scheduled)
    for p in scheduled:
        assert p.due_at is not None and p.due_at >= NOW
        assert in_window(CHANNELS[p.channel], p.due_at), (p.channel, p.due_at)
        assert p.text and p.payload["text"] == p.text
    # a thread goes out together: every part has the first part's due time
    assert len({p.due_at for p in rows if p.channel == "cb"}) == 1


def test_instagram_without_an_image_is_skipped_with_the_reason(
    store: Factory, folder: Folder
) -> None:
    folder.release("r1", targets=["ci"])
    folder.release("r2", targets=["ci"], image=IMAGE)
    run_sync(store, folder)
    (skipped,) = posts(store, "r1")
    assert skipped.state == PostState.SKIPPED and skipped.due_at is None
    assert skipped.skip_reason == "skipped: Instagram needs an image"
    (with_image,) = posts(store, "r2")
    assert with_image.state == PostState.SCHEDULED and with_image.payload["media"]
    # the image added later: the skipped post is replaced by one that goes out
    folder.release("r1", targets=["ci"], image=IMAGE)
    run_sync(store, folder)
    assert [p.state for p in latest(store, "r1")] == [PostState.SCHEDULED]


def test_posts_on_one_channel_keep_the_gap(store: Factory, folder: Folder) -> None:
    for i in range(4):
        folder.release(f"r{i}", targets=["cx"])
    run_sync(store, folder)
    dues = sorted(p.due_at for p in posts(store) if p.due_at)
    assert len(dues) == 4
    for a, b in itertools.pairwise(dues):
        assert b - a >= timedelta(minutes=30)


def test_expiry_before_any_window_and_expiry_passing(store: Factory, folder: Folder) -> None:
    folder.release("old", expires=(NOW - timedelta(hours=1)).isoformat())
    # X opens at 03:00 UTC (10:00 Jakarta), Mastodon at 08:00 UTC (09:00 Berlin)
    folder.release("soon", expires=(NOW + timedelta(hours=2)).isoformat())
    run_sync(store, folder)
    assert {p.state for p in posts(store, "old")} == {PostState.EXPIRED}
    soon = {p.channel: p for p in posts(store, "soon")}
    assert soon["cm"].state == PostState.EXPIRED and soon["cm"].due_at is None
    assert "expires" in (soon["cm"].last_error or "")
    assert soon["cx"].state == PostState.SCHEDULED
    assert soon["cx"].due_at is not None and soon["cx"].due_at < NOW + timedelta(hours=2)
    # not published in time: the next sync after the expiry expires it
    result = run_sync(store, folder, NOW + timedelta(hours=2, minutes=1))
    assert result.plan.expired == 1
    after = {p.channel: p for p in posts(store, "soon")}
    assert after["cx"].state == PostState.EXPIRED and after["cx"].last_error == "release expired"


def test_breaking_is_due_at_once_whatever_the_windows(store: Factory, folder: Folder) -> None:
    folder.release("normal", targets=["cx"])
    folder.release("now", targets=["all"], priority="breaking", image=IMAGE)
    embargo = NOW + timedelta(minutes=7)
    folder.release("later", targets=["cx"], priority="breaking", not_before=embargo.isoformat())
    run_sync(store, folder)
    assert all(not in_window(CHANNELS[c], NOW) for c in ("cx", "cm"))
    dues = {(p.release_id, p.channel): p.due_at for p in posts(store)}
    assert {dues[("now", c)] for c in ("cx", "cm", "cb", "ci")} == {NOW}
    assert dues[("later", "cx")] == embargo
    assert dues[("normal", "cx")] is not None and dues[("normal", "cx")] > NOW


def test_evergreen_is_shared_again_after_its_interval(store: Factory, folder: Folder) -> None:
    folder.channels["cx"]["evergreen_interval"] = "7d"
    folder.write_channels()
    folder.release("guide", targets=["cx", "cm"], priority="evergreen")
    run_sync(store, folder, evergreen_interval_days=3)
    first = {p.channel: p for p in posts(store)}
    assert {p.seq for p in first.values()} == {0}
    # nothing published yet: no re-share, however often it syncs
    assert not run_sync(store, folder, NOW + timedelta(days=9)).changed
    t1 = NOW + timedelta(hours=4)
    publish(store, [first["cx"].id, first["cm"].id], t1)
    result = run_sync(store, folder, t1 + timedelta(hours=1), evergreen_interval_days=3)
    assert result.plan.created == 2
    again = {p.channel: p for p in posts(store) if p.seq == 1}
    assert set(again) == {"cx", "cm"}
    for name, interval in (("cx", timedelta(days=7)), ("cm", timedelta(days=3))):
        post = again[name]
        assert post.state == PostState.SCHEDULED and post.due_at is not None
        assert t1 + interval <= post.due_at < t1 + interval + timedelta(days=3)
        assert in_window(CHANNELS[name], post.due_at)
        assert post.idempotency_key != first[name].idempotency_key
    # once planned, further syncs leave it be
    assert not run_sync(store, folder, t1 + timedelta(hours=2)).changed
    # the channel's windows change: the re-share moves, but never before its interval
    folder.channels["cx"]["windows"] = ["daily 00:00-24:00"]
    folder.write_channels()
    moved = run_sync(store, folder, t1 + timedelta(hours=3), evergreen_interval_days=3)
    assert moved.changes.channels_changed == ["cx"] and moved.plan.replanned == 1
    cx = next(p for p in posts(store) if p.channel == "cx" and p.seq == 1)
    assert cx.due_at is not None and cx.due_at >= t1 + timedelta(days=7)


def test_changed_windows_re_plan_the_channel_only(store: Factory, folder: Folder) -> None:
    folder.release("r1")
    folder.release("r2")
    run_sync(store, folder)
    before = {(p.release_id, p.channel): p for p in posts(store)}
    folder.channels["cx"]["windows"] = ["mon-fri 14:00-15:00"]
    folder.write_channels()
    result = run_sync(store, folder)
    assert result.changes.channels_changed == ["cx"] and result.plan.replanned == 2
    after = {(p.release_id, p.channel): p for p in posts(store)}
    assert set(after) == set(before)
    new_cx = {**CHANNELS["cx"], "windows": ["mon-fri 14:00-15:00"]}
    for key, post in after.items():
        assert post.id == before[key].id and post.state == PostState.SCHEDULED
        assert post.due_at is not None
        if key[1] == "cx":
            assert in_window(new_cx, post.due_at) and post.due_at != before[key].due_at
        else:
            assert post.due_at == before[key].due_at
    cx_dues = sorted(p.due_at for k, p in after.items() if k[1] == "cx" and p.due_at)
    assert cx_dues[1] - cx_dues[0] >= timedelta(minutes=30)


@pytest.fixture(scope="module")
def shared_factory(tmp_path_factory: pytest.TempPathFactory) -> Factory:
    """One SQLite database for the property test, emptied before each example."""
    engine = make_engine(f"sqlite:///{tmp_path_factory.mktemp('plan') / 'dissem.db'}")
    upgrade(engine)
    return make_session_factory(engine)


release_specs = st.lists(
    st.tuples(
        st.sampled_from(["web", "cx", "cm", "all"]),
        st.sampled_from(["normal", "normal", "breaking", "evergreen"]),
        st.integers(min_value=0, max_value=72),  # embargo, hours after NOW
    ),
    min_size=1,
    max_size=6,
)


@settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(specs=release_specs)
def test_any_mix_of_releases_plans_valid_times_and_settles(
    shared_factory: Factory, tmp_path_factory: pytest.TempPathFactory, specs: list[tuple]
) -> None:
    with shared_factory.begin() as s:
        empty_tables(s)
    root = tmp_path_factory.mktemp("cfg")
    shutil.rmtree(root)
    folder = Folder(root)
    for i, (target, priority, hours) in enumerate(specs):
        embargo = (NOW + timedelta(hours=hours)).isoformat() if hours else None
        folder.release(f"r{i}", targets=[target], priority=priority, not_before=embargo)
    run_sync(shared_factory, folder)
    rows = posts(shared_factory)
    assert len({p.idempotency_key for p in rows}) == len(rows)
    normal_firsts: dict[str, list] = {}
    for p in rows:
        assert p.state in (PostState.SCHEDULED, PostState.SKIPPED), p.state
        if p.state != PostState.SCHEDULED:
            continue
        target, priority, hours = specs[int(p.release_id[1:])]
        assert p.due_at is not None and p.due_at >= NOW + timedelta(hours=hours)
        if priority == "breaking":
            assert p.due_at == NOW + timedelta(hours=hours)
        else:
            assert in_window(CHANNELS[p.channel], p.due_at), (p.channel, p.due_at)
            if p.part_index == 1:
                normal_firsts.setdefault(p.channel, []).append(p.due_at)
    for channel, dues in normal_firsts.items():
        gap = {"cx": 30, "cm": 20, "cb": 30, "ci": 30}[channel]
        for a, b in itertools.pairwise(sorted(dues)):
            assert b - a >= timedelta(minutes=gap)
    assert not run_sync(shared_factory, folder, NOW + timedelta(minutes=1)).changed
