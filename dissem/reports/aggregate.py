"""The numbers of a weekly report, aggregated in SQL (SQLite and PostgreSQL alike).

Definitions (the report footer states them too):

- A post *of the week* is a post in state ``published`` whose ``published_at`` falls in the
  week ``[start, end)``. The parts of a thread (one release on one channel, one ``seq``)
  count as ONE post: its first published part of the week stands for it (text, link, id),
  its time is that part's, it was retried when any part was.
- Its *figures* are those of its latest snapshot taken at or before ``end`` (latest
  ``taken_at``, then ``id``), found for each post of the week by one probe of the
  ``(post_id, taken_at)`` index.
  A thread's figures are the sums over its parts, except views and reach
  (:data:`THREAD_MAX_METRICS`): those of its most-seen part, as the same people read on.
- *Engagement* = likes + reposts + replies + quotes + bookmarks + shares + link clicks, over
  the names the platform reports; views and reach are exposure and are shown apart.
- NULL means "not reported by the platform" and is never counted as zero: a sum over nothing
  reported stays NULL.
- *On time*: published no later than :data:`ON_TIME_TOLERANCE` after the planned time.
- The reason a post was *retried* is the error of its latest failed attempt (the
  ``attempts`` table): a post that went out at last has no ``last_error`` any more.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, cast

from sqlalchemy import Subquery, and_, case, func, select
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.orm import Session, aliased
from sqlalchemy.sql.compiler import SQLCompiler
from sqlalchemy.sql.elements import ColumnElement
from sqlalchemy.sql.functions import FunctionElement
from sqlalchemy.types import Float

from dissem.platforms.base import ENGAGEMENT_METRICS
from dissem.store.models import (
    METRIC_COLUMNS,
    Attempt,
    MetricSnapshot,
    Post,
    PostState,
    ReleaseRow,
)

__all__ = [
    "ENGAGEMENT_METRICS",
    "ON_TIME_TOLERANCE",
    "THREAD_MAX_METRICS",
    "ChannelTotals",
    "PostRow",
    "ProblemCount",
    "engagement_of",
    "latest_snapshots",
    "query_channel_totals",
    "query_post_rows",
    "query_problems",
]

ON_TIME_TOLERANCE = timedelta(minutes=15)
#: a thread's figure is its best part's, not the sum (the same readers see every part)
THREAD_MAX_METRICS: frozenset[str] = frozenset({"views", "reach"})


def engagement_of(metrics: Mapping[str, int | None]) -> int | None:
    """Sum of the reported engagement metrics; None when none of them was reported."""
    values = [metrics[m] for m in ENGAGEMENT_METRICS if metrics.get(m) is not None]
    return sum(v for v in values if v is not None) if values else None


class _SecondsBetween(FunctionElement[float]):
    """``a - b`` in seconds, portable over SQLite and PostgreSQL."""

    type = Float()
    inherit_cache = True


@compiles(_SecondsBetween, "sqlite")
def _seconds_sqlite(element: _SecondsBetween, compiler: SQLCompiler, **kw: Any) -> str:
    a, b = (compiler.process(c, **kw) for c in element.clauses)
    return f"((julianday({a}) - julianday({b})) * 86400.0)"


@compiles(_SecondsBetween)
def _seconds_default(element: _SecondsBetween, compiler: SQLCompiler, **kw: Any) -> str:
    a, b = (compiler.process(c, **kw) for c in element.clauses)
    return f"EXTRACT(EPOCH FROM ({a} - {b}))"


def _in_week(start: datetime, end: datetime) -> tuple[ColumnElement[bool], ...]:
    return (
        Post.state == PostState.PUBLISHED,
        Post.published_at >= start,
        Post.published_at < end,
    )


def _latest_id(end: datetime) -> Any:
    """The id of the enclosing query's post's latest snapshot taken at or before ``end``
    (latest ``taken_at``, then ``id``): one probe of the ``(post_id, taken_at)`` index."""
    return (
        select(MetricSnapshot.id)
        .where(MetricSnapshot.post_id == Post.id, MetricSnapshot.taken_at <= end)
        .order_by(MetricSnapshot.taken_at.desc(), MetricSnapshot.id.desc())
        .limit(1)
        .correlate(Post)
        .scalar_subquery()
    )


def latest_snapshots(start: datetime, end: datetime) -> Subquery:
    """One row per post of the week: its latest snapshot taken at or before ``end``."""
    return (
        select(
            MetricSnapshot.post_id,
            MetricSnapshot.taken_at,
            *(getattr(MetricSnapshot, m) for m in METRIC_COLUMNS),
        )
        .select_from(Post)
        .join(MetricSnapshot, MetricSnapshot.id == _latest_id(end))
        .where(*_in_week(start, end))
        .subquery("latest")
    )


def _week_units(start: datetime, end: datetime) -> Subquery:
    """One row per post of the week, a thread's parts folded into one (see the module doc):
    its first part, part count, times, most attempts, snapshots and summed figures.

    Each post is joined to its latest snapshot by id (:func:`_latest_id`), not to a derived
    table of them: SQLite scanned such a table once per post (two minutes for a week of
    35,000 posts with raw snapshots)."""
    return (
        select(
            Post.release_id,
            Post.channel,
            Post.seq,
            Post.platform,
            func.min(Post.part_index).label("first_part"),
            func.count(Post.id).label("parts"),
            func.min(Post.published_at).label("published_at"),
            func.min(Post.planned_at).label("planned_at"),
            func.max(Post.attempts).label("attempts"),
            func.count(MetricSnapshot.post_id).label("snapped"),
            func.max(MetricSnapshot.taken_at).label("snapshot_at"),
            *(
                (func.max if m in THREAD_MAX_METRICS else func.sum)(
                    getattr(MetricSnapshot, m)
                ).label(m)
                for m in METRIC_COLUMNS
            ),
        )
        .select_from(Post)
        .outerjoin(MetricSnapshot, MetricSnapshot.id == _latest_id(end))
        .where(*_in_week(start, end))
        .group_by(Post.release_id, Post.channel, Post.seq, Post.platform)
        .subquery("units")
    )


@dataclass(frozen=True)
class ChannelTotals:
    """Sums over one channel's posts of the week (metric sums are None when not reported)."""

    channel: str
    platform: str
    posts: int
    on_time: int
    retried: int
    with_snapshot: int
    metrics: Mapping[str, int | None]

    @property
    def engagement(self) -> int | None:
        return engagement_of(self.metrics)


def query_channel_totals(session: Session, start: datetime, end: datetime) -> list[ChannelTotals]:
    """Per-channel sums for the week (a thread counted once), one grouped SQL query."""
    units = _week_units(start, end)
    late_by = _SecondsBetween(units.c.published_at, units.c.planned_at)
    on_time = case(
        (units.c.planned_at.is_(None), 1),
        (late_by <= ON_TIME_TOLERANCE.total_seconds(), 1),
        else_=0,
    )
    stmt = (
        select(
            units.c.channel,
            units.c.platform,
            func.count(),
            func.sum(on_time),
            func.sum(case((units.c.attempts > 1, 1), else_=0)),
            func.sum(case((units.c.snapped > 0, 1), else_=0)),
            *(func.sum(units.c[m]) for m in METRIC_COLUMNS),
        )
        .group_by(units.c.channel, units.c.platform)
        .order_by(units.c.channel)
    )
    out = []
    for row in session.execute(stmt):
        sums = row[6:]
        out.append(
            ChannelTotals(
                channel=row[0],
                platform=row[1],
                posts=int(row[2]),
                on_time=int(row[3] or 0),
                retried=int(row[4] or 0),
                with_snapshot=int(row[5] or 0),
                metrics={
                    m: None if v is None else int(v)
                    for m, v in zip(METRIC_COLUMNS, sums, strict=True)
                },
            )
        )
    return out


@dataclass(frozen=True)
class PostRow:
    """One post of the week with its latest figures (a thread: its first part, ``parts``
    > 1, the figures over all its parts)."""

    post_id: int
    channel: str
    platform: str
    release_id: str
    release_title: str
    release_url: str
    text: str
    url: str | None
    published_at: datetime
    planned_at: datetime | None
    attempts: int
    snapshot_at: datetime | None
    metrics: Mapping[str, int | None]
    seq: int = 0
    parts: int = 1

    @property
    def engagement(self) -> int | None:
        return engagement_of(self.metrics)

    @property
    def on_time(self) -> bool:
        return self.planned_at is None or self.published_at - self.planned_at <= ON_TIME_TOLERANCE


def query_post_rows(session: Session, start: datetime, end: datetime) -> list[PostRow]:
    """Every post of the week (a thread once) with its latest figures, oldest first."""
    units = _week_units(start, end)
    head = aliased(Post)
    stmt = (
        select(
            head.id,
            head.channel,
            head.platform,
            head.release_id,
            ReleaseRow.title,
            ReleaseRow.url,
            head.text,
            head.remote_url,
            units.c.published_at,
            units.c.planned_at,
            units.c.attempts,
            units.c.snapshot_at,
            head.seq,
            units.c.parts,
            *(units.c[m] for m in METRIC_COLUMNS),
        )
        .select_from(units)
        .join(
            head,
            and_(
                head.release_id == units.c.release_id,
                head.channel == units.c.channel,
                head.seq == units.c.seq,
                head.part_index == units.c.first_part,
            ),
        )
        .join(ReleaseRow, ReleaseRow.id == head.release_id)
        .order_by(units.c.published_at, head.id)
    )
    return [
        PostRow(
            post_id=r[0],
            channel=r[1],
            platform=r[2],
            release_id=r[3],
            release_title=r[4],
            release_url=r[5],
            text=r[6],
            url=r[7],
            published_at=cast(datetime, r[8]),
            planned_at=r[9],
            attempts=int(r[10] or 0),
            snapshot_at=r[11],
            seq=int(r[12]),
            parts=int(r[13]),
            metrics={
                m: None if v is None else int(v)
                for m, v in zip(METRIC_COLUMNS, r[14:], strict=True)
            },
        )
        for r in session.execute(stmt)
    ]


@dataclass(frozen=True)
class ProblemCount:
    """How many posts ended in ``state`` in the week with this ``last_error`` (a thread
    once, by its first failing part); ``state`` "retried": posts of the week published after
    a retry, by the error of their latest failed attempt."""

    state: str
    reason: str | None
    count: int


def query_problems(session: Session, start: datetime, end: datetime) -> list[ProblemCount]:
    """Failed, unconfirmed and needs-review posts whose state changed in the week, and the
    week's retried posts, grouped by state and reason."""
    problems = (
        select(Post.release_id, Post.channel, Post.seq, Post.state, Post.last_error)
        .where(Post.state.in_(PostState.PROBLEMS), Post.updated_at >= start, Post.updated_at < end)
        .order_by(Post.part_index.desc(), Post.id.desc())
    )
    first: dict[tuple[str, str, int], tuple[str, str | None]] = {}
    for r in session.execute(problems):  # the lowest part of a thread is written last
        first[(r[0], r[1], r[2])] = (r[3], r[4])
    counts = Counter(first.values())
    out = [ProblemCount(state, reason, n) for (state, reason), n in counts.items()]

    retried = (
        select(Post.release_id, Post.channel, Post.seq, Post.last_error, Attempt.error)
        .select_from(Post)
        .outerjoin(Attempt, and_(Attempt.post_id == Post.id, Attempt.error.is_not(None)))
        .where(*_in_week(start, end), Post.attempts > 1)
        .order_by(Attempt.started_at, Attempt.id)
    )
    reasons: dict[tuple[str, str, int], str | None] = {}
    for row in session.execute(retried):  # oldest first: the latest failed attempt wins
        key = (row[0], row[1], row[2])
        reasons[key] = row[4] or reasons.get(key) or row[3]
    by_reason = Counter(reasons.values())
    out += [ProblemCount("retried", reason, n) for reason, n in by_reason.items()]
    return out


def sum_optional(values: Iterable[int | None]) -> int | None:
    """Sum of the values that are not None; None when all are None (nothing reported)."""
    present = [v for v in values if v is not None]
    return sum(present) if present else None
