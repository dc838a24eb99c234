"""People and feeds: approving a draft feed's item, exporting it as a release file, and
what ``dissem feeds`` / ``dissem feeds items`` and the weekly report read.

An approval is a new revision of the release (``release_revisions`` keeps who approved,
in ``data.approved_by``, and when, in ``recorded_at``) plus a ``feed_events`` row
(``approved``). Sync plans feed releases from what is stored (:mod:`dissem.worker.feed_plan`),
and a later update of the item keeps the approval, so nothing undoes it.
"""

from __future__ import annotations

import hashlib
import json
import re
from datetime import datetime
from typing import Any

import yaml
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from dissem.config.models import LoadedConfig, Release
from dissem.errors import ReviewError
from dissem.settings import Settings
from dissem.store.db import transaction
from dissem.store.models import FeedEvent, FeedItem, FeedState, ReleaseRow
from dissem.worker.feed_plan import SOURCE_PREFIX, plan_feed_releases
from dissem.worker.planner import PlanChanges
from dissem.worker.records import revision_of

__all__ = [
    "approve_release",
    "export_release",
    "feed_rows",
    "item_rows",
]

APPROVED = "approved"


def _feed_release(session: Session, release_id: str) -> ReleaseRow:
    row = session.get(ReleaseRow, release_id)
    if row is None or row.deleted:
        raise ReviewError(f"no release {release_id!r}; see `dissem feeds items`")
    if not row.source.startswith(SOURCE_PREFIX):
        raise ReviewError(
            f"release {release_id!r} comes from {row.source}: approve it in its file "
            "(status: approved, approved_by: NAME)"
        )
    return row


def approve_release(
    session_factory: sessionmaker[Session],
    settings: Settings,
    config: LoadedConfig,
    release_id: str,
    *,
    by: str,
    now: datetime,
) -> PlanChanges:
    """Approves the draft feed release ``release_id`` in the name of ``by`` and plans its
    posts. Raises :class:`~dissem.errors.ReviewError`."""
    who = " ".join(by.split())
    if not who:
        raise ReviewError("name who approves (--by NAME)")
    with transaction(session_factory) as session:
        row = _feed_release(session, release_id)
        if row.status == APPROVED:
            approver = row.data.get("approved_by")
            raise ReviewError(f"release {release_id!r} is already approved (by {approver})")
        data = dict(row.data)
        data["status"], data["approved_by"] = APPROVED, who
        rel = Release.model_validate(data)
        row.data = rel.model_dump(mode="json")
        row.status = APPROVED
        row.content_hash = hashlib.sha256(
            json.dumps(row.data, sort_keys=True, ensure_ascii=False).encode()
        ).hexdigest()
        row.revision += 1
        row.updated_at = now
        session.flush()
        session.add(revision_of(row, now))
        item = session.scalar(select(FeedItem).where(FeedItem.release_id == row.id))
        session.add(
            FeedEvent(
                feed=row.source[len(SOURCE_PREFIX) :],
                guid=item.guid if item is not None else row.url,
                decision=APPROVED,
                release_id=row.id,
                detail=f"by {who}",
                at=now,
            )
        )
    return plan_feed_releases(session_factory, settings, config, now, [release_id])


def export_release(session_factory: sessionmaker[Session], release_id: str) -> str:
    """The feed release ``release_id`` as the text of a release file (``releases/<id>.yaml``,
    valid against the release schema). Raises :class:`~dissem.errors.ReviewError`."""
    with session_factory() as session:
        row = _feed_release(session, release_id)
        data = dict(row.data)
    rel = Release.model_validate(data)
    out: dict[str, Any] = rel.model_dump(mode="json", exclude_none=True, exclude_defaults=True)
    out = {"id": rel.id, "title": rel.title, "url": rel.url, **out}
    out["targets"] = list(rel.targets)
    out["status"] = rel.status
    text = yaml.safe_dump(out, sort_keys=False, allow_unicode=True, width=88)
    Release.model_validate(yaml.safe_load(text))  # what a file holds, checked
    header = f"# exported from feed {row.source[len(SOURCE_PREFIX) :]} by dissem\n"
    return "# yaml-language-server: $schema=../schemas/release.schema.json\n" + header + text


def feed_rows(session_factory: sessionmaker[Session], config: LoadedConfig) -> list[dict[str, Any]]:
    """One row per feed of ``config`` (and per feed stored but no longer configured)."""
    with session_factory() as session:
        states = {s.name: s for s in session.scalars(select(FeedState))}
    names = [f.name for f in config.feeds] + sorted(set(states) - {f.name for f in config.feeds})
    enabled = {f.name: f.enabled for f in config.feeds}
    rows: list[dict[str, Any]] = []
    for name in names:
        s = states.get(name)
        rows.append(
            {
                "feed": name,
                "configured": name in enabled,
                "enabled": enabled.get(name, False),
                "last_poll": s.last_poll_at.isoformat() if s and s.last_poll_at else None,
                "next_poll": s.next_poll_at.isoformat() if s and s.next_poll_at else None,
                "status": s.last_status if s else None,
                "seen": s.items_seen if s else 0,
                "new": s.items_new if s else 0,
                "updated": s.items_updated if s else 0,
                "held": s.items_held if s else 0,
                "errors": s.errors if s else 0,
                "failures": s.failures if s else 0,
                "last_error": s.last_error if s else None,
            }
        )
    return rows


def item_rows(
    session_factory: sessionmaker[Session], feed: str | None = None, *, limit: int = 50
) -> list[dict[str, Any]]:
    """The latest items (of ``feed``, or of all), newest first."""
    stmt = select(FeedItem, ReleaseRow.status).outerjoin(
        ReleaseRow, ReleaseRow.id == FeedItem.release_id
    )
    if feed is not None:
        stmt = stmt.where(FeedItem.feed == feed)
    stmt = stmt.order_by(FeedItem.last_seen_at.desc(), FeedItem.id.desc()).limit(limit)
    with session_factory() as session:
        return [
            {
                "feed": item.feed,
                "guid": item.guid,
                "title": item.title,
                "url": item.url,
                "decision": item.decision,
                "release": item.release_id,
                "release_status": status,
                "published": item.published_at.isoformat() if item.published_at else None,
                "first_seen": item.first_seen_at.isoformat(),
            }
            for item, status in session.execute(stmt)
        ]


def safe_file_name(release_id: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]", "_", release_id) + ".yaml"
