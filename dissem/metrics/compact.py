"""Compaction of the metrics history: keep what reports and learned timing read, drop the rest.

A post collects about 70 snapshots in its first 30 days; 1,000 channels at 5 posts a day add
over 100 million rows a year. ``DISSEM_METRICS_RETENTION`` (off when empty) thins them by the
post's age, e.g. ``hourly@7d,daily@90d,final``:

- ``GRAIN@SPAN`` terms, spans increasing: the first term whose span the post's age *now*
  is under gives the grain of its whole history: keep the last snapshot of each GRAIN
  (``all``: every snapshot; ``hourly``; ``daily``) of snapshot age. So a post keeps hourly
  snapshots until it is 7 days old, then one a day of age until it is 90 days old.
- ``final`` (always the last term): once the post is older than the last span, keep only
  its final snapshot (and those below).

Whatever the rule, a post always keeps (so nothing a reader uses changes):

- its final snapshot (latest ``taken_at``, then ``id``): ``dissem metrics`` and any later
  weekly report read it;
- the snapshot the weekly report of its own week reads: the latest taken at or before the
  end of the ISO week (in ``DISSEM_TIMEZONE``) holding ``published_at``
  (:func:`dissem.reports.aggregate.latest_snapshots`);
- the snapshots learned timing reads (:func:`dissem.timing.history.read_histories`): those
  aged ``Params.age`` to twice that, up to and including the first that reports any
  engagement.

``DISSEM_METRICS_RAW_DAYS`` (off when unset) empties the ``raw`` platform payload of
snapshots taken more than that many days ago; no reader uses it after collection.

:func:`compact_once` walks the published posts old enough to thin, ``batch`` posts per
transaction (keyset on the post id; posts under an ``all`` first span are skipped), so no
transaction is long and a worker stopped midway
loses nothing: the next run picks up where the rule still finds rows to drop.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import String, cast, delete, select, update
from sqlalchemy.orm import Session, sessionmaker

from dissem.retention import Retention, parse_retention
from dissem.settings import Settings
from dissem.store.db import transaction
from dissem.store.models import MetricSnapshot, Post, PostState
from dissem.timing.history import ENGAGEMENT
from dissem.timing.model import Params

__all__ = ["CompactStats", "Retention", "compact_once", "parse_retention"]


@dataclass
class CompactStats:
    posts: int = 0  # posts examined
    deleted: int = 0  # snapshots deleted
    raw_cleared: int = 0  # snapshots whose raw payload was emptied
    batches: int = 0  # transactions


@dataclass(frozen=True)
class _Snap:
    id: int
    taken_at: datetime
    engaged: bool  # reports any engagement metric (learned timing skips those that do not)


def _week_end(published_at: datetime, zone: ZoneInfo) -> datetime:
    """End (exclusive, UTC) of the local ISO week holding ``published_at``."""
    local = published_at.astimezone(zone).date()
    monday = local - timedelta(days=local.weekday())
    return datetime.combine(monday + timedelta(days=7), time(0), tzinfo=zone).astimezone(UTC)


def keep_ids(
    published_at: datetime,
    snaps: Sequence[_Snap],
    rule: Retention,
    zone: ZoneInfo,
    params: Params,
    now: datetime,
) -> set[int]:
    """The ids to keep of one post's snapshots (``snaps`` in ``(taken_at, id)`` order)."""
    if not snaps:
        return set()
    keep = {snaps[-1].id}  # final
    end = _week_end(published_at, zone)
    in_week = [s for s in snaps if s.taken_at <= end]
    if in_week:
        keep.add(in_week[-1].id)  # the report of its week
    for s in snaps:  # learned timing: the first engaged snapshot at age .. 2 * age
        if params.age <= s.taken_at - published_at <= 2 * params.age:
            keep.add(s.id)
            if s.engaged:
                break
    tier = next((t for t in rule.tiers if now - published_at < t[1]), None)
    if tier is None:
        return keep  # final
    grain = tier[0]
    if grain is None:
        return {s.id for s in snaps}
    last_of: dict[int, int] = {}
    for s in snaps:
        age = s.taken_at - published_at
        if age < timedelta(0):
            keep.add(s.id)
        else:
            last_of[age // grain] = s.id  # later ones overwrite: the last of each grain
    keep.update(last_of.values())
    return keep


def compact_once(
    session_factory: sessionmaker[Session],
    settings: Settings,
    now: datetime,
    batch: int = 500,
) -> CompactStats:
    """One pass of the retention rule and the raw payload age limit, ``batch`` posts per
    transaction. Does nothing for a part that is off."""
    stats = CompactStats()
    rule = parse_retention(settings.metrics_retention)
    if rule is not None:
        _thin(session_factory, settings, now, rule, batch, stats)
    if settings.metrics_raw_days is not None:
        _clear_raw(session_factory, now - timedelta(days=settings.metrics_raw_days), batch, stats)
    return stats


def _thin(
    session_factory: sessionmaker[Session],
    settings: Settings,
    now: datetime,
    rule: Retention,
    batch: int,
    stats: CompactStats,
) -> None:
    zone = ZoneInfo(settings.timezone)
    params = Params()
    engaged_cols = [getattr(MetricSnapshot, m) for m in ENGAGEMENT]
    # a post under the first span keeps every snapshot when that span's grain is ``all``
    newest = now - rule.first_span if rule.tiers[0][0] is None else now
    after = 0
    while True:
        with transaction(session_factory) as s:
            posts = s.execute(
                select(Post.id, Post.published_at)
                .where(
                    Post.id > after,
                    Post.state == PostState.PUBLISHED,
                    Post.published_at <= newest,
                )
                .order_by(Post.id)
                .limit(batch)
            ).all()
            if not posts:
                return
            after = posts[-1][0]
            published = {pid: at for pid, at in posts if at is not None}
            by_post: dict[int, list[_Snap]] = {pid: [] for pid in published}
            rows = s.execute(
                select(MetricSnapshot.post_id, MetricSnapshot.id, MetricSnapshot.taken_at)
                .add_columns(*engaged_cols)
                .where(MetricSnapshot.post_id.in_(sorted(published)))
                .order_by(MetricSnapshot.post_id, MetricSnapshot.taken_at, MetricSnapshot.id)
            )
            for pid, sid, taken_at, *values in rows:
                by_post[pid].append(_Snap(sid, taken_at, any(v is not None for v in values)))
            drop: list[int] = []
            for pid, snaps in by_post.items():
                kept = keep_ids(published[pid], snaps, rule, zone, params, now)
                drop.extend(x.id for x in snaps if x.id not in kept)
            for i in range(0, len(drop), 1000):
                s.execute(delete(MetricSnapshot).where(MetricSnapshot.id.in_(drop[i : i + 1000])))
            stats.posts += len(posts)
            stats.deleted += len(drop)
            stats.batches += 1


def _clear_raw(
    session_factory: sessionmaker[Session], before: datetime, batch: int, stats: CompactStats
) -> None:
    # JSON has no equality on PostgreSQL: compare its text ({} is stored as '{}' on both)
    not_empty = cast(MetricSnapshot.raw, String) != "{}"
    empty: dict[str, Any] = {}
    while True:
        with transaction(session_factory) as s:
            ids = list(
                s.scalars(
                    select(MetricSnapshot.id)
                    .where(MetricSnapshot.taken_at < before, not_empty)
                    .order_by(MetricSnapshot.id)
                    .limit(batch)
                )
            )
            if not ids:
                return
            s.execute(
                update(MetricSnapshot).where(MetricSnapshot.id.in_(ids)).values(raw=empty),
                execution_options={"synchronize_session": False},
            )
            stats.raw_cleared += len(ids)
            stats.batches += 1
