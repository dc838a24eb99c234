"""Mirroring config into the database: idempotent, revisions, deletions, broken files."""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy import event, func, select
from sqlalchemy.orm import Session, sessionmaker

from dissem.config.models import Channel, LoadedConfig, LoadedRelease, Release
from dissem.store.db import transaction
from dissem.store.models import ChannelRow, ReleaseRevision, ReleaseRow
from dissem.worker.records import record_config

NOW = datetime(2026, 11, 30, 3, 0, tzinfo=UTC)


def _channel(name: str = "hq-x", **kw: object) -> Channel:
    data: dict[str, object] = {
        "name": name,
        "platform": "x",
        "account": "@hq",
        "timezone": "Asia/Jakarta",
        "windows": ["mon-fri 07:00-21:00"],
    }
    data.update(kw)
    return Channel.model_validate(data)


def _release(rid: str = "r1", title: str = "Title", **kw: object) -> LoadedRelease:
    data: dict[str, object] = {
        "id": rid,
        "title": title,
        "url": "https://portal.example/a",
        "targets": ["hq-x"],
        "status": "approved",
        "approved_by": "editor",
    }
    data.update(kw)
    rel = Release.model_validate(data)
    digest = hashlib.sha256(rel.model_dump_json().encode()).hexdigest()
    return LoadedRelease(release=rel, path=Path(f"releases/{rid}.yaml"), content_hash=digest)


def _config(*releases: LoadedRelease, channels: list[Channel] | None = None) -> LoadedConfig:
    chans = channels if channels is not None else [_channel()]
    return LoadedConfig(
        root=Path("config"), channels={c.name: c for c in chans}, releases=list(releases)
    )


def _count(factory: sessionmaker[Session], model: type) -> int:
    with factory() as s:
        return int(s.scalar(select(func.count()).select_from(model)) or 0)


def test_second_sync_changes_nothing(session_factory: sessionmaker[Session]) -> None:
    config = _config(_release("r1"), _release("r2"))
    with transaction(session_factory) as s:
        first = record_config(s, config, NOW)
    assert first.releases_added == ["r1", "r2"] and first.channels_added == ["hq-x"]
    with transaction(session_factory) as s:
        second = record_config(s, config, NOW)
    assert not second.changed, second.summary()
    assert _count(session_factory, ReleaseRevision) == 2


def test_edit_records_a_new_revision(session_factory: sessionmaker[Session]) -> None:
    with transaction(session_factory) as s:
        record_config(s, _config(_release("r1", "Old")), NOW)
    with transaction(session_factory) as s:
        changes = record_config(s, _config(_release("r1", "New")), NOW)
    assert changes.releases_changed == ["r1"]
    with session_factory() as s:
        row = s.get(ReleaseRow, "r1")
        assert row is not None and row.revision == 2 and row.title == "New"
        revs = s.scalars(select(ReleaseRevision.revision).order_by(ReleaseRevision.revision))
        assert list(revs) == [1, 2]


def test_withdrawn_and_deleted(session_factory: sessionmaker[Session]) -> None:
    with transaction(session_factory) as s:
        record_config(s, _config(_release("r1"), _release("r2")), NOW)
    config = _config(_release("r1", status="withdrawn"))
    with transaction(session_factory) as s:
        changes = record_config(s, config, NOW)
    assert changes.releases_changed == ["r1"] and changes.releases_deleted == ["r2"]
    with session_factory() as s:
        r1, r2 = s.get(ReleaseRow, "r1"), s.get(ReleaseRow, "r2")
        assert r1 is not None and r1.status == "withdrawn"
        assert r2 is not None and r2.deleted


def test_broken_file_leaves_release_untouched(session_factory: sessionmaker[Session]) -> None:
    with transaction(session_factory) as s:
        record_config(s, _config(_release("r1"), _release("r2")), NOW)
    config = _config(_release("r1"))
    config.broken_release_ids.add("r2")
    with transaction(session_factory) as s:
        changes = record_config(s, config, NOW)
    assert not changes.changed
    with session_factory() as s:
        r2 = s.get(ReleaseRow, "r2")
        assert r2 is not None and not r2.deleted and r2.revision == 1


def test_channel_change_and_removal(session_factory: sessionmaker[Session]) -> None:
    with transaction(session_factory) as s:
        record_config(s, _config(channels=[_channel(), _channel("hq-m", platform="mastodon")]), NOW)
    with transaction(session_factory) as s:
        changes = record_config(s, _config(channels=[_channel(daily_cap=3)]), NOW)
    assert changes.channels_changed == ["hq-x"] and changes.channels_removed == ["hq-m"]
    with session_factory() as s:
        removed = s.get(ChannelRow, "hq-m")
        assert removed is not None and removed.removed and not removed.enabled
    # an unreadable channels.yaml (no channels at all) must not remove every channel
    with transaction(session_factory) as s:
        changes = record_config(s, _config(channels=[]), NOW)
    assert changes.channels_removed == []


def test_a_sync_that_changes_nothing_loads_no_stored_rows(
    session_factory: sessionmaker[Session],
) -> None:
    """Stored releases and channels are compared by their hashes: building an object (and
    decoding its JSON) for each of 5,000 releases cost most of an idle worker's CPU."""
    config = _config(_release("r1"), _release("r2"), _release("gone"))
    with transaction(session_factory) as s:
        record_config(s, config, NOW)
    config = _config(_release("r1"), _release("r2"))
    with transaction(session_factory) as s:
        record_config(s, config, NOW)  # "gone" deleted
    loaded: list[object] = []

    def count(target: object, context: object) -> None:
        loaded.append(target)

    event.listen(ReleaseRow, "load", count)
    event.listen(ChannelRow, "load", count)
    try:
        with transaction(session_factory) as s:
            changes = record_config(s, config, NOW)
    finally:
        event.remove(ReleaseRow, "load", count)
        event.remove(ChannelRow, "load", count)
    assert not (changes.releases_added or changes.releases_changed or changes.releases_deleted)
    assert not (changes.channels_added or changes.channels_changed or changes.channels_removed)
    assert loaded == []
