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
from collections.abc import Collection, Iterable, Sequence
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from dissem.config.models import Channel, Window
from dissem.planning.due import HORIZON, PlanRequest
from dissem.platforms.types import ENGAGEMENT_METRICS
from dissem.store.models import METRIC_COLUMNS, ChannelRow, MetricSnapshot, Post, PostState
from dissem.timing.learned import TimingAdvice, plan_learned
from dissem.timing.model import ChannelHistory, ChannelTiming, Observation, Params, fit, group_of

__all__ = ["ENGAGEMENT", "LOOKBACK", "TimingCache", "read_histories", "timing_for"]

#: how far back posts are read: a season, so an audience's habits can drift
LOOKBACK = timedelta(days=120)
#: the interactions summed into engagement (the weekly report's sum)
ENGAGEMENT = ENGAGEMENT_METRICS
_CHUNK = 500


def _windows(config: dict[str, object]) -> tuple[Window, ...]:
    raw = config.get("windows")
    if not isinstance(raw, list):
        return (Window.parse("daily 00:00-24:00"),)
    return tuple(Window.parse(str(text)) for text in raw)


def _chunks(ids: Sequence[int]) -> Iterable[Sequence[int]]:
    for i in range(0, len(ids), _CHUNK):
        yield ids[i : i + _CHUNK]


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
    posts = session.execute(
        select(Post.id, Post.channel, Post.published_at).where(
            Post.channel.in_([r.name for r in rows]),
            Post.part_index == 1,
            Post.state == PostState.PUBLISHED,
            Post.published_at >= now - LOOKBACK,
            Post.published_at <= now - params.age,
        )
    ).all()
    published = {pid: (channel, at) for pid, channel, at in posts if at is not None}
    chosen: dict[int, Observation] = {}
    columns = [getattr(MetricSnapshot, m) for m in METRIC_COLUMNS]
    # Posts in publication order, so a chunk's posts were published close together: the
    # snapshots it can use lie between its first post's time + age and its last one's +
    # 2 x age, and the (post_id, taken_at) index reads only those, not every post's whole
    # history (a year at 5,000 posts a day: seconds instead of minutes for the report).
    order = sorted(published, key=lambda pid: (published[pid][1], pid))
    for chunk in _chunks(order):
        snaps = session.execute(
            select(MetricSnapshot.post_id, MetricSnapshot.taken_at, *columns)
            .where(
                MetricSnapshot.post_id.in_(chunk),
                MetricSnapshot.taken_at >= published[chunk[0]][1] + params.age,
                MetricSnapshot.taken_at <= published[chunk[-1]][1] + 2 * params.age,
            )
            .order_by(MetricSnapshot.post_id, MetricSnapshot.taken_at, MetricSnapshot.id)
        )
        for pid, taken_at, *values in snaps:
            if pid in chosen:
                continue
            at = published[pid][1]
            if not params.age <= taken_at - at <= 2 * params.age:
                continue
            metrics = dict(zip(METRIC_COLUMNS, values, strict=True))
            counts = [metrics[m] for m in ENGAGEMENT if metrics[m] is not None]
            if not counts:
                continue  # the platform reports no engagement: nothing to learn from
            exposure = metrics["views"] if metrics["views"] is not None else metrics["reach"]
            chosen[pid] = Observation(at, int(sum(counts)), exposure)
    by_channel: dict[str, list[Observation]] = defaultdict(list)
    for pid, obs in chosen.items():
        by_channel[published[pid][0]].append(obs)
    return [
        ChannelHistory(
            name=r.name,
            platform=r.platform,
            timezone=r.timezone,
            windows=_windows(r.config),
            observations=tuple(sorted(by_channel.get(r.name, []))),
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
