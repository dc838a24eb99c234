"""The model's inputs, read from the database, and the advice planning uses.

Each channel's published posts (first parts; the last :data:`LOOKBACK` days) and, for each,
the first snapshot taken at :attr:`Params.age` or up to twice that (a collector that was
away takes it late): its engagement (the report's sum) and its impressions (views, else
reach). A post with no snapshot in that span is not measured. Channels come from the
``channels`` table (the config as last synced), so ``dissem insights`` needs no config
folder.

Fitting reads the whole group of a channel (same platform and region), so
:class:`TimingCache` fits each group once per planning pass, and only for groups holding a
channel with ``timing: learned``: fixed channels cost nothing and plan exactly as before.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Collection, Sequence
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import DateTime, Integer, Select, func, literal, or_, select, true
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.orm import Session
from sqlalchemy.sql.compiler import SQLCompiler
from sqlalchemy.sql.functions import FunctionElement

from dissem.config.models import Channel, Window
from dissem.planning.due import HORIZON, PlanRequest
from dissem.platforms.types import ENGAGEMENT_METRICS
from dissem.store.models import ChannelRow, MetricSnapshot, Post, PostState
from dissem.timing.learned import TimingAdvice, plan_learned
from dissem.timing.model import ChannelHistory, ChannelTiming, Observation, Params, fit, group_of

__all__ = ["ENGAGEMENT", "LOOKBACK", "TimingCache", "read_histories", "timing_for"]

#: how far back posts are read: a season, so an audience's habits can drift
LOOKBACK = timedelta(days=120)
#: the interactions summed into engagement (the weekly report's sum)
ENGAGEMENT = ENGAGEMENT_METRICS


def _windows(config: dict[str, object]) -> tuple[Window, ...]:
    raw = config.get("windows")
    if not isinstance(raw, list):
        return (Window.parse("daily 00:00-24:00"),)
    return tuple(Window.parse(str(text)) for text in raw)


class _PlusSeconds(FunctionElement[datetime]):
    """``a + n seconds`` for a stored datetime, exact on SQLite and PostgreSQL."""

    type = DateTime()
    inherit_cache = True


@compiles(_PlusSeconds, "sqlite")
def _plus_sqlite(element: _PlusSeconds, compiler: SQLCompiler, **kw: Any) -> str:
    # SQLite keeps SQLAlchemy's text 'YYYY-MM-DD HH:MM:SS.ffffff': shift the whole seconds
    # and keep the fraction as it is, so the bound compares exactly with stored values
    # (strftime would round the fraction to milliseconds, and .999999 to the next second).
    col, seconds = (compiler.process(c, **kw) for c in element.clauses)
    return (
        f"(strftime('%Y-%m-%d %H:%M:%S', substr({col}, 1, 19), '+' || ({seconds}) || ' seconds') "
        f"|| substr({col}, 20))"
    )


@compiles(_PlusSeconds)
def _plus_default(element: _PlusSeconds, compiler: SQLCompiler, **kw: Any) -> str:
    col, seconds = (compiler.process(c, **kw) for c in element.clauses)
    return f"({col} + ({seconds}) * INTERVAL '1 second')"


def _seconds(span: timedelta) -> Any:
    """A whole number of seconds as a literal (a fraction would not shift SQLite's text)."""
    if span.microseconds:
        raise ValueError(f"learned timing ages are whole seconds, not {span}")
    return literal(int(span.total_seconds()), Integer)


#: the snapshot columns an observation is made of
_READ = (*ENGAGEMENT, "views", "reach")


def _outcome(c: Any) -> tuple[Any, Any]:
    """Engagement (the sum of the interactions given; the query keeps only snapshots giving
    one) and exposure (views, else reach), computed by the database: two columns a post
    come back instead of every metric."""
    engagement = sum(
        (func.coalesce(c[m], 0) for m in ENGAGEMENT[1:]), func.coalesce(c[ENGAGEMENT[0]], 0)
    )
    return engagement, func.coalesce(c["views"], c["reach"])


def read_histories(
    session: Session,
    now: datetime,
    names: Collection[str] | None = None,
    params: Params | None = None,
) -> list[ChannelHistory]:
    """Histories of the channels named (every stored channel when None), oldest post first."""
    params = params or Params()
    stmt = select(ChannelRow).where(ChannelRow.removed.is_(False))
    if names is not None:
        stmt = stmt.where(ChannelRow.name.in_(sorted(names)))
    rows = list(session.scalars(stmt))
    if not rows:
        return []
    # One query: for each post of the look-back, its first snapshot aged ``age`` to twice
    # that which reports any engagement, found by a correlated ``ORDER BY taken_at, id
    # LIMIT 1`` on the post's own snapshots: one short walk of the (post_id, taken_at) index
    # a post, however many snapshots the table holds. A join over the age window instead (a
    # window function picking each post's first) let PostgreSQL hash-join a sequential scan
    # of the whole table: 9 s over a compacted full-size year (15 M rows). PostgreSQL gets
    # the subquery as a LATERAL join (a join on ``id = (subquery)`` is hashed over a scan of
    # the table too); SQLite, which has no LATERAL, looks the snapshot up by the subquery's
    # id, by rowid.
    first = (
        select(MetricSnapshot.id, *(getattr(MetricSnapshot, m) for m in _READ))
        .where(
            MetricSnapshot.post_id == Post.id,
            MetricSnapshot.taken_at >= _PlusSeconds(Post.published_at, _seconds(params.age)),
            MetricSnapshot.taken_at <= _PlusSeconds(Post.published_at, _seconds(2 * params.age)),
            or_(*(getattr(MetricSnapshot, m).is_not(None) for m in ENGAGEMENT)),
        )
        .order_by(MetricSnapshot.taken_at, MetricSnapshot.id)
        .limit(1)
    )
    query: Select[Any]
    if session.get_bind().dialect.name == "postgresql":
        lateral = first.lateral("first")
        query = select(Post.channel, Post.published_at, *_outcome(lateral.c)).join(lateral, true())
    else:
        snapshot_id = first.with_only_columns(MetricSnapshot.id).correlate(Post)
        query = select(Post.channel, Post.published_at, *_outcome(MetricSnapshot.__table__.c)).join(
            MetricSnapshot, MetricSnapshot.id == snapshot_id.scalar_subquery()
        )
    query = query.where(
        Post.channel.in_([r.name for r in rows]),
        Post.part_index == 1,
        Post.state == PostState.PUBLISHED,
        Post.published_at >= now - LOOKBACK,
        Post.published_at <= now - params.age,
    )
    by_channel: dict[str, list[Observation]] = defaultdict(list)
    for channel, at, engagement, exposure in session.execute(query):
        by_channel[channel].append(Observation(at, int(engagement), exposure))
    return [
        ChannelHistory(
            name=r.name,
            platform=r.platform,
            timezone=r.timezone,
            windows=_windows(r.config),
            observations=tuple(sorted(by_channel.get(r.name, []), key=Observation.order)),
        )
        for r in sorted(rows, key=lambda r: r.name)
    ]


def timing_for(
    session: Session,
    now: datetime,
    names: Collection[str] | None = None,
    params: Params | None = None,
) -> dict[str, ChannelTiming]:
    """The fitted model of each channel named (all when None), each fitted with its whole
    group (the stored channels of the same platform and region)."""
    rows = session.execute(
        select(ChannelRow.name, ChannelRow.platform, ChannelRow.timezone).where(
            ChannelRow.removed.is_(False)
        )
    ).all()
    if names is None:
        wanted = {r.name for r in rows}
        read = None
    else:
        wanted = set(names)
        groups = {group_of(r.platform, r.timezone) for r in rows if r.name in wanted}
        read = {r.name for r in rows if group_of(r.platform, r.timezone) in groups}
    fitted = fit(read_histories(session, now, read, params), params)
    return {name: t for name, t in fitted.items() if name in wanted}


class TimingCache:
    """One planning pass's learned timing: each group fitted once, on first need."""

    def __init__(self, session: Session, now: datetime, params: Params | None = None) -> None:
        self.session = session
        self.now = now
        self.params = params or Params()
        self._timing: dict[str, ChannelTiming] = {}
        self._groups: set[str] = set()

    def advice(self, channel: Channel) -> TimingAdvice | None:
        """None for ``timing: fixed`` (or a channel not stored yet)."""
        if channel.timing != "learned":
            return None
        group = group_of(channel.platform, channel.timezone)
        if group not in self._groups:
            self._groups.add(group)
            members = self.session.execute(
                select(ChannelRow.name, ChannelRow.platform, ChannelRow.timezone).where(
                    ChannelRow.removed.is_(False)
                )
            ).all()
            names = [m.name for m in members if group_of(m.platform, m.timezone) == group]
            self._timing.update(timing_for(self.session, self.now, names, self.params))
        timing = self._timing.get(channel.name)
        return None if timing is None else TimingAdvice.from_timing(timing, channel.explore)

    def plan(
        self,
        channel: Channel,
        request: PlanRequest,
        taken: Sequence[datetime],
        *,
        stagger_seconds: int,
        horizon: timedelta = HORIZON,
    ) -> datetime | None:
        """The due time of one post: fixed timing, or learned (:func:`plan_learned`)."""
        return plan_learned(
            channel,
            request,
            taken,
            self.now,
            self.advice(channel),
            stagger_seconds=stagger_seconds,
            horizon=horizon,
        )
