"""Mirror the config folder into the database, idempotently, by content hash.

A new or edited release is recorded with its revision (and a revision row for audit); a
withdrawn release is recorded as such; a release whose file is gone is marked deleted; a
release whose file exists but is broken is left untouched. Posts are not touched here (see
:mod:`dissem.worker.planner`): nothing already published is ever changed.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from dissem.config.models import Channel, LoadedConfig, LoadedRelease
from dissem.store.models import ChannelRow, ReleaseRevision, ReleaseRow


@dataclass
class RecordChanges:
    """What one sync changed; all empty on a second sync of the same files."""

    channels_added: list[str] = field(default_factory=list)
    channels_changed: list[str] = field(default_factory=list)
    channels_removed: list[str] = field(default_factory=list)
    releases_added: list[str] = field(default_factory=list)
    releases_changed: list[str] = field(default_factory=list)
    releases_deleted: list[str] = field(default_factory=list)

    @property
    def changed(self) -> bool:
        return any(
            (
                self.channels_added,
                self.channels_changed,
                self.channels_removed,
                self.releases_added,
                self.releases_changed,
                self.releases_deleted,
            )
        )

    def summary(self) -> str:
        parts = [
            f"{len(v)} {k.replace('_', ' ')}" for k, v in vars(self).items() if isinstance(v, list)
        ]
        return ", ".join(parts)


def channel_hash(channel: Channel) -> str:
    data = channel.model_dump(mode="json")
    data["windows"] = [w.text for w in channel.windows]
    blob = json.dumps(data, sort_keys=True, ensure_ascii=False, default=str)
    return hashlib.sha256(blob.encode()).hexdigest()


#: id(channel) -> (the channel, its hash), for the channels of the last sync; the channel
#: is kept so that its id is not reused by another object
_HASHES: dict[int, tuple[Channel, str]] = {}


def _channel_hashes(channels: Mapping[str, Channel]) -> dict[str, str]:
    """Each channel's hash. A Channel is immutable and the loader hands the same object to
    every sync while its file is unchanged: hashing 10,000 of them again was 40% of a sync
    that changed nothing. Only the channels of this sync are remembered."""
    kept: dict[int, tuple[Channel, str]] = {}
    out: dict[str, str] = {}
    for name, channel in channels.items():
        known = _HASHES.get(id(channel))
        digest = known[1] if known is not None and known[0] is channel else channel_hash(channel)
        kept[id(channel)] = (channel, digest)
        out[name] = digest
    _HASHES.clear()
    _HASHES.update(kept)
    return out


def record_config(session: Session, config: LoadedConfig, now: datetime) -> RecordChanges:
    """Writes channels and releases of ``config`` into the session's transaction."""
    changes = RecordChanges()
    _record_channels(session, config, now, changes)
    _record_releases(session, config, now, changes)
    return changes


def _record_channels(
    session: Session, config: LoadedConfig, now: datetime, changes: RecordChanges
) -> None:
    # Compared by hash: only the rows that change are loaded as objects (see _load)
    stored = {
        r.name: r
        for r in session.execute(
            select(ChannelRow.name, ChannelRow.config_hash, ChannelRow.removed)
        )
    }
    digests = _channel_hashes(config.channels)
    removing = (
        []
        if not config.channels or config.channels_incomplete
        else [
            name
            for name, r in stored.items()
            if name not in config.broken_channel_names
            and name not in config.channels
            and not r.removed
        ]
    )
    changing = [
        name
        for name, digest in digests.items()
        if name in stored and (stored[name].config_hash != digest or stored[name].removed)
    ]
    rows = _load(session, ChannelRow, ChannelRow.name, changing + removing)
    for name, channel in config.channels.items():
        digest = digests[name]
        if name not in stored:
            session.add(
                ChannelRow(
                    name=name,
                    platform=channel.platform,
                    account=channel.account,
                    timezone=channel.timezone,
                    enabled=channel.enabled,
                    config_hash=digest,
                    config=_channel_json(channel),
                    removed=False,
                    updated_at=now,
                )
            )
            changes.channels_added.append(name)
        elif name in rows:
            row = rows[name]
            row.platform = channel.platform
            row.account = channel.account
            row.timezone = channel.timezone
            row.enabled = channel.enabled
            row.config_hash = digest
            row.config = _channel_json(channel)
            row.removed = False
            row.updated_at = now
            changes.channels_changed.append(name)
    # A channels.yaml that failed to load gives no channels, and a channel file that could
    # not be read hides its channels: never treat that as removal (``removing`` is empty).
    # A broken channel is written but invalid: what is stored is kept until it is fixed.
    for name in removing:
        row = rows[name]
        row.removed = True
        row.enabled = False
        row.updated_at = now
        changes.channels_removed.append(name)


def _load(session: Session, model: Any, key: Any, keys: list[str]) -> dict[str, Any]:
    """The rows of ``model`` whose ``key`` is one of ``keys``, as objects, 500 a query.

    A sync compares stored channels and releases by their hashes and loads as objects only
    those it changes: an object (with its JSON decoded) for each of 5,000 stored releases
    on every sync was most of an idle worker's CPU."""
    rows: dict[str, Any] = {}
    for start in range(0, len(keys), 500):
        chunk = keys[start : start + 500]
        rows.update(
            (getattr(r, key.key), r) for r in session.scalars(select(model).where(key.in_(chunk)))
        )
    return rows


def _channel_json(channel: Channel) -> dict[str, object]:
    data = channel.model_dump(mode="json")
    data["windows"] = [w.text for w in channel.windows]
    return data


def _record_releases(
    session: Session, config: LoadedConfig, now: datetime, changes: RecordChanges
) -> None:
    stored = {
        r.id: r
        for r in session.execute(select(ReleaseRow.id, ReleaseRow.content_hash, ReleaseRow.deleted))
    }
    seen = {loaded.release.id for loaded in config.releases}
    changing = [
        loaded.release.id
        for loaded in config.releases
        if (r := stored.get(loaded.release.id)) is not None
        and (r.content_hash != loaded.content_hash or r.deleted)
    ]
    deleting = [
        rid
        for rid, r in stored.items()
        if rid not in seen and rid not in config.broken_release_ids and not r.deleted
    ]
    rows = _load(session, ReleaseRow, ReleaseRow.id, changing + deleting)
    touched: list[ReleaseRow] = []
    for loaded in config.releases:
        rid = loaded.release.id
        if rid not in stored:
            row = _new_release_row(loaded, now)
            session.add(row)
            touched.append(row)
            changes.releases_added.append(rid)
        elif rid in rows and rid not in deleting:
            row = rows[rid]
            _update_release_row(row, loaded, now)
            touched.append(row)
            changes.releases_changed.append(rid)
    session.flush()  # release rows first: revisions reference them
    session.add_all(revision_of(row, now) for row in touched)
    for rid in deleting:
        row = rows[rid]
        row.deleted = True
        row.updated_at = now
        changes.releases_deleted.append(rid)


def _release_fields(loaded: LoadedRelease) -> dict[str, object]:
    r = loaded.release
    return {
        "title": r.title,
        "url": r.url,
        "language": r.language,
        "status": r.status,
        "priority": r.priority,
        "not_before": r.not_before,
        "expires": r.expires,
        "source": str(loaded.path),
        "content_hash": loaded.content_hash,
        "data": r.model_dump(mode="json"),
    }


def _new_release_row(loaded: LoadedRelease, now: datetime) -> ReleaseRow:
    row = ReleaseRow(
        id=loaded.release.id, revision=1, deleted=False, created_at=now, updated_at=now
    )
    for key, value in _release_fields(loaded).items():
        setattr(row, key, value)
    return row


def _update_release_row(row: ReleaseRow, loaded: LoadedRelease, now: datetime) -> None:
    for key, value in _release_fields(loaded).items():
        setattr(row, key, value)
    row.revision += 1
    row.deleted = False
    row.updated_at = now


def revision_of(row: ReleaseRow, now: datetime) -> ReleaseRevision:
    """The history row recording ``row`` as it is now."""
    return ReleaseRevision(
        release_id=row.id,
        revision=row.revision,
        content_hash=row.content_hash,
        status=row.status,
        data=row.data,
        recorded_at=now,
    )
