"""The metrics round: snapshot every published post whose ``next_metrics_at`` has come.

One round (:func:`collect_due_metrics`) is what the daemon runs every few minutes on its own
thread. Its contract:

- Posts are read in one short transaction; network calls happen outside any transaction;
  each batch's results are written in their own short transaction.
- Remote ids are batched per channel up to the platform's ``traits.metrics_batch``.
- A round is bounded: at most ``budget_calls`` platform calls and ``budget_seconds`` of
  time; what is left stays due for the next round, so metrics never starve publishing.
  Batches of different channels are interleaved so one busy channel cannot use the budget up.
- ``RateLimited`` skips that channel for the rest of the round and moves the batch's posts
  to ``retry_at`` at the earliest; it never sleeps. Any other failure of one channel is
  recorded and the round goes on with the others; the failed posts wait for their next grid
  time instead of being asked again every round.
- Paused, disabled and removed channels are skipped (their posts stay due).
- A platform that reports no metrics (Telegram) gets no snapshot at all, never zeros: its
  posts get ``next_metrics_at = NULL`` and the report says "not reported by the platform".
- A snapshot row is only written by the worker whose conditional update moved the post's
  ``next_metrics_at`` on, so two workers running a round at once cannot double a snapshot.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import and_, func, or_, select, update
from sqlalchemy.orm import Session, sessionmaker

from dissem.errors import RateLimited
from dissem.metrics.adapters import RoundAdapters
from dissem.metrics.schedule import Schedule, next_snapshot_at, parse_schedule
from dissem.platforms.base import MetricSample, Platform
from dissem.redact import redact
from dissem.settings import Settings
from dissem.store.db import transaction
from dissem.store.models import METRIC_COLUMNS, ChannelRow, MetricSnapshot, Post, PostState

__all__ = ["CollectStats", "collect_due_metrics"]

log = logging.getLogger(__name__)

#: most due posts read per round; the budget bounds the calls anyway
MAX_POSTS_PER_ROUND = 20_000


@dataclass
class CollectStats:
    """What one round did."""

    due: int = 0  # posts read as due this round
    calls: int = 0  # fetch_metrics calls made
    snapshots: int = 0  # snapshot rows written
    not_reported: int = 0  # posts on platforms without metrics, marked done
    finished: int = 0  # posts whose schedule ended with this round
    missing: int = 0  # ids a platform did not return (deleted or hidden posts)
    skipped_paused: int = 0  # due posts of paused, disabled or removed channels
    rate_limited: list[str] = field(default_factory=list)  # channel names
    errors: dict[str, str] = field(default_factory=dict)  # channel -> redacted message
    budget_exhausted: bool = False


@dataclass(frozen=True)
class _Due:
    id: int
    channel: str
    remote_id: str
    published_at: datetime
    next_metrics_at: datetime


@dataclass
class _Batch:
    channel: str
    posts: list[_Due]


def collect_due_metrics(
    session_factory: sessionmaker[Session],
    settings: Settings,
    now: datetime,
    *,
    adapters: Callable[[str], Platform] | None = None,
    budget_calls: int = 60,
    budget_seconds: float = 45.0,
    clock: Callable[[], float] = time.monotonic,
) -> CollectStats:
    """Runs one metrics round at ``now`` (aware UTC) and returns what it did.

    ``adapters`` maps a channel name to a ready adapter (tests, the daemon's own pool); by
    default adapters are built from the synced channel rows and closed at the end of the
    round. ``clock`` measures the time budget only; every timestamp written is ``now``.
    """
    schedule = parse_schedule(settings.metrics_schedule)
    stats = CollectStats()
    started = clock()
    due, channels = _read_due(session_factory, now, stats)
    if not due:
        return stats
    pool = RoundAdapters(channels, settings, adapters)
    try:
        batches = _plan_batches(due, pool, session_factory, schedule, now, stats)
        skipped: set[str] = set()
        for batch in batches:
            if batch.channel in skipped:
                continue
            if stats.calls >= budget_calls or clock() - started >= budget_seconds:
                stats.budget_exhausted = True
                break
            if not _collect_batch(batch, pool, session_factory, schedule, now, stats):
                skipped.add(batch.channel)
    finally:
        pool.close()
    log.info(
        "metrics round: %d due, %d calls, %d snapshots, %d not reported, %d errors",
        stats.due,
        stats.calls,
        stats.snapshots,
        stats.not_reported,
        len(stats.errors),
    )
    return stats


def _read_due(
    session_factory: sessionmaker[Session], now: datetime, stats: CollectStats
) -> tuple[list[_Due], dict[str, ChannelRow]]:
    active = and_(
        ChannelRow.enabled.is_(True),
        ChannelRow.removed.is_(False),
        or_(ChannelRow.paused_until.is_(None), ChannelRow.paused_until <= now),
    )
    base = (
        select(Post.id)
        .join(ChannelRow, ChannelRow.name == Post.channel)
        .where(
            Post.state == PostState.PUBLISHED,
            Post.next_metrics_at.is_not(None),
            Post.next_metrics_at <= now,
            Post.remote_id.is_not(None),
            Post.published_at.is_not(None),
        )
    )
    with transaction(session_factory) as session:
        rows = session.execute(
            base.add_columns(Post.channel, Post.remote_id, Post.published_at, Post.next_metrics_at)
            .where(active)
            .order_by(Post.next_metrics_at, Post.id)
            .limit(MAX_POSTS_PER_ROUND)
        ).all()
        stats.skipped_paused = (
            session.scalar(select(func.count()).select_from(base.where(~active).subquery())) or 0
        )
        names = {r.channel for r in rows}
        channels = {
            c.name: c for c in session.scalars(select(ChannelRow).where(ChannelRow.name.in_(names)))
        }
    due = [_Due(r.id, r.channel, r.remote_id, r.published_at, r.next_metrics_at) for r in rows]
    stats.due = len(due)
    return due, channels


def _plan_batches(
    due: list[_Due],
    pool: RoundAdapters,
    session_factory: sessionmaker[Session],
    schedule: Schedule,
    now: datetime,
    stats: CollectStats,
) -> list[_Batch]:
    """Batches per channel, interleaved across channels; posts of platforms without metrics
    (and of channels whose adapter cannot be had) are settled here without any call."""
    by_channel: dict[str, list[_Due]] = {}
    for post in due:
        by_channel.setdefault(post.channel, []).append(post)
    per_channel: list[list[_Batch]] = []
    for channel, posts in by_channel.items():
        try:
            traits = pool.traits(channel)
        except Exception as exc:  # one channel's broken set-up never stops the rest
            stats.errors[channel] = redact(f"{type(exc).__name__}: {exc}")
            _postpone(session_factory, posts, schedule, now, None)
            continue
        if not traits.metrics:
            _mark_not_reported(session_factory, posts)
            stats.not_reported += len(posts)
            continue
        size = max(1, traits.metrics_batch)
        per_channel.append(
            [_Batch(channel, posts[i : i + size]) for i in range(0, len(posts), size)]
        )
    return list(_interleave(per_channel))


def _interleave(lists: Sequence[list[_Batch]]) -> Iterator[_Batch]:
    depth = max((len(x) for x in lists), default=0)
    for i in range(depth):
        for batches in lists:
            if i < len(batches):
                yield batches[i]


def _collect_batch(
    batch: _Batch,
    pool: RoundAdapters,
    session_factory: sessionmaker[Session],
    schedule: Schedule,
    now: datetime,
    stats: CollectStats,
) -> bool:
    """Fetches and records one batch. Returns False when the channel must be skipped for the
    rest of the round (rate limited, or its adapter failed)."""
    stats.calls += 1
    try:
        adapter = pool.adapter(batch.channel)
        samples = adapter.fetch_metrics([p.remote_id for p in batch.posts])
    except RateLimited as exc:
        stats.rate_limited.append(batch.channel)
        _postpone(session_factory, batch.posts, None, now, exc.retry_at)
        return False
    except Exception as exc:  # any failure stays with its channel
        stats.errors[batch.channel] = redact(f"{type(exc).__name__}: {exc}")
        log.warning("metrics for channel %s failed: %s", batch.channel, stats.errors[batch.channel])
        _postpone(session_factory, batch.posts, schedule, now, None)
        return False
    _record(session_factory, batch.posts, samples, schedule, now, stats)
    return True


def _record(
    session_factory: sessionmaker[Session],
    posts: list[_Due],
    samples: dict[str, MetricSample],
    schedule: Schedule,
    now: datetime,
    stats: CollectStats,
) -> None:
    with transaction(session_factory) as session:
        for post in posts:
            following = next_snapshot_at(post.published_at, now, now, schedule)
            if not _advance(session, post, following):
                continue  # another worker took this snapshot
            if following is None:
                stats.finished += 1
            sample = samples.get(post.remote_id)
            if sample is None:
                stats.missing += 1
                continue
            values = {k: int(v) for k, v in sample.values.items() if k in METRIC_COLUMNS}
            session.add(
                MetricSnapshot(post_id=post.id, taken_at=now, raw=dict(sample.raw), **values)
            )
            stats.snapshots += 1


def _advance(session: Session, post: _Due, following: datetime | None) -> bool:
    """Moves ``next_metrics_at`` on only if nobody else did since the round read it."""
    result = session.execute(
        update(Post)
        .where(Post.id == post.id, Post.next_metrics_at == post.next_metrics_at)
        .values(next_metrics_at=following)
        .execution_options(synchronize_session=False)
    )
    return bool(getattr(result, "rowcount", 0))


def _postpone(
    session_factory: sessionmaker[Session],
    posts: list[_Due],
    schedule: Schedule | None,
    now: datetime,
    retry_at: datetime | None,
) -> None:
    """After a failure: wait for ``retry_at`` (rate limit) or the next grid time (schedule);
    with neither, the posts stay due and the next round tries again."""
    with transaction(session_factory) as session:
        for post in posts:
            if retry_at is not None:
                following: datetime | None = max(retry_at, post.next_metrics_at)
            elif schedule is not None:
                following = next_snapshot_at(post.published_at, now, now, schedule)
            else:
                continue
            _advance(session, post, following)


def _mark_not_reported(session_factory: sessionmaker[Session], posts: list[_Due]) -> None:
    with transaction(session_factory) as session:
        for post in posts:
            _advance(session, post, None)
