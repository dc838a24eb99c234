"""Mirror the config folder into the database, idempotently, by content hash.

A new or edited release is recorded with its revision (and a revision row for audit); a
withdrawn release is recorded as such; a release whose file is gone is marked deleted; a
release whose file exists but is broken is left untouched. Posts are not touched here (see
:mod:`dissem.worker.planner`): nothing already published is ever changed.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from datetime import datetime

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


def record_config(session: Session, config: LoadedConfig, now: datetime) -> RecordChanges:
    """Writes channels and releases of ``config`` into the session's transaction."""
    changes = RecordChanges()
    _record_channels(session, config, now, changes)
    _record_releases(session, config, now, changes)
    return changes


def _record_channels(
    session: Session, config: LoadedConfig, now: datetime, changes: RecordChanges
) -> None:
    rows = {r.name: r for r in session.scalars(select(ChannelRow))}
    for name, channel in config.channels.items():
        digest = channel_hash(channel)
        row = rows.get(name)
        if row is None:
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
        elif row.config_hash != digest or row.removed:
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
    # not be read hides its channels: never treat that as removal.
    if not config.channels or config.channels_incomplete:
        return
    for name, row in rows.items():
        if name in config.broken_channel_names:
            continue  # written but invalid: keep what is stored until it is fixed
        if name not in config.channels and not row.removed:
            row.removed = True
            row.enabled = False
            row.updated_at = now
            changes.channels_removed.append(name)


def _channel_json(channel: Channel) -> dict[str, object]:
    data = channel.model_dump(mode="json")
    data["windows"] = [w.text for w in channel.windows]
    return data


def _record_releases(
    session: Session, config: LoadedConfig, now: datetime, changes: RecordChanges
) -> None:
    rows = {r.id: r for r in session.scalars(select(ReleaseRow))}
    seen: set[str] = set()
    touched: list[ReleaseRow] = []
    for loaded in config.releases:
        rid = loaded.release.id
        seen.add(rid)
        row = rows.get(rid)
        if row is None:
            row = _new_release_row(loaded, now)
            session.add(row)
            touched.append(row)
            changes.releases_added.append(rid)
        elif row.content_hash != loaded.content_hash or row.deleted:
            _update_release_row(row, loaded, now)
            touched.append(row)
            changes.releases_changed.append(rid)
    session.flush()  # release rows first: revisions reference them
    session.add_all(_revision(row, now) for row in touched)
    for rid, row in rows.items():
        if rid in seen or rid in config.broken_release_ids or row.deleted:
            continue
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


def _revision(row: ReleaseRow, now: datetime) -> ReleaseRevision:
    return ReleaseRevision(
        release_id=row.id,
        revision=row.revision,
        content_hash=row.content_hash,
        status=row.status,
        data=row.data,
        recorded_at=now,
    )
