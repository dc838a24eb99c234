"""Choosing due times: pure functions of a channel, the posts it already has, and ``now``.

The rule for a ``normal`` or ``evergreen`` post with stagger offset ``o`` (see
:mod:`dissem.planning.stagger`): its due time is the earliest instant ``t`` such that

* ``t >= max(now, earliest) + o``;
* ``t`` lies in one of the channel's windows, at least ``o`` after that window opened
  (so a post waiting for a window goes out ``o`` after it opens, not on the dot with every
  other channel), and before the window closes;
* ``|t - x| >= channel.min_gap`` for every ``x`` in ``taken`` (gap on both sides);
* fewer than ``channel.daily_cap`` of ``taken`` fall on ``t``'s local day;
* ``t`` is before ``expires`` and within ``horizon`` of ``max(now, earliest)``.

A ``breaking`` post goes out at ``max(now, earliest)``, ignoring windows, gap, cap and
stagger (a paused channel is dispatch's business, not planning's). When no instant
qualifies the result is None: the post expires or is cancelled.

Every datetime argument must be aware; every datetime returned is in UTC.
"""

from __future__ import annotations

from bisect import bisect_left, bisect_right, insort
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Literal

from dissem.config.models import Channel
from dissem.planning.stagger import stagger_offset
from dissem.planning.windows import day_bounds, openings, require_aware

__all__ = [
    "HORIZON",
    "PlanRequest",
    "Priority",
    "lateness",
    "next_evergreen",
    "plan_due_time",
    "plan_many",
]

Priority = Literal["normal", "breaking", "evergreen"]

HORIZON = timedelta(days=60)
"""How far past ``max(now, earliest)`` planning looks before giving up (returns None)."""

_PRIORITIES: frozenset[str] = frozenset(("normal", "breaking", "evergreen"))


@dataclass(frozen=True)
class PlanRequest:
    """One post to plan: its stable ``key`` (seeds the stagger), embargo and expiry."""

    key: str
    earliest: datetime
    priority: str = "normal"  # a Priority; str so values read from storage pass as they are
    expires: datetime | None = None


def plan_due_time(
    channel: Channel,
    *,
    earliest: datetime,
    taken: Sequence[datetime],
    key: str,
    priority: str,
    now: datetime,
    expires: datetime | None = None,
    stagger_seconds: int = 120,
    horizon: timedelta = HORIZON,
) -> datetime | None:
    """The due time (UTC) of one post on ``channel``, by the rule in this module's docstring.

    ``taken`` holds the channel's other planned or published posts, in any order;
    ``priority`` is one of :data:`Priority`. Returns None when no instant qualifies before
    ``expires`` or within ``horizon``.
    Raises ValueError for a naive datetime or an unknown priority.
    """
    ordered = sorted(require_aware(x, "taken") for x in taken)
    return _plan(
        channel,
        ordered,
        PlanRequest(key, earliest, priority, expires),
        now=require_aware(now, "now"),
        stagger_seconds=stagger_seconds,
        horizon=horizon,
    )


def plan_many(
    channel: Channel,
    requests: Sequence[PlanRequest],
    taken: Sequence[datetime],
    now: datetime,
    *,
    stagger_seconds: int = 120,
    horizon: timedelta = HORIZON,
) -> list[datetime | None]:
    """Plans ``requests`` on one channel in the order given; one due time (or None) each.

    Each planned post joins ``taken`` before the next is planned, so the batch keeps the
    gap and the daily cap among itself as well as against ``taken``.
    """
    now = require_aware(now, "now")
    ordered = sorted(require_aware(x, "taken") for x in taken)
    out: list[datetime | None] = []
    for request in requests:
        due = _plan(
            channel,
            ordered,
            request,
            now=now,
            stagger_seconds=stagger_seconds,
            horizon=horizon,
        )
        if due is not None:
            insort(ordered, due)
        out.append(due)
    return out


def next_evergreen(
    channel: Channel, last_published: datetime, default_interval: timedelta
) -> datetime:
    """When an evergreen post may be shared again (UTC): use it as ``earliest`` to re-plan.

    The channel's ``evergreen_interval`` wins over ``default_interval`` (the setting
    ``evergreen_interval_days``).
    """
    interval = channel.evergreen_interval or default_interval
    return require_aware(last_published, "last_published") + interval


def lateness(due_at: datetime, published_at: datetime) -> timedelta:
    """How late a post went out compared with its due time; zero if on time or early."""
    late = require_aware(published_at, "published_at") - require_aware(due_at, "due_at")
    return max(late, timedelta(0))


def _plan(
    channel: Channel,
    taken: list[datetime],
    request: PlanRequest,
    *,
    now: datetime,
    stagger_seconds: int,
    horizon: timedelta,
) -> datetime | None:
    """``plan_due_time`` on ``taken`` already sorted and in UTC."""
    if request.priority not in _PRIORITIES:
        raise ValueError(f"unknown priority {request.priority!r}; use one of {sorted(_PRIORITIES)}")
    base = max(now, require_aware(request.earliest, "earliest"))
    limit = base + horizon
    if request.expires is not None:
        limit = min(limit, require_aware(request.expires, "expires"))
    if base >= limit:
        return None
    if request.priority == "breaking":
        return base

    offset = stagger_offset(request.key, stagger_seconds)
    low = base + offset
    full_day: date | None = None
    for opening in openings(channel, low, limit):
        if opening.day == full_day:
            continue
        if channel.daily_cap is not None:
            day_start, day_end = day_bounds(channel.zone, opening.day)
            if bisect_left(taken, day_end) - bisect_left(taken, day_start) >= channel.daily_cap:
                full_day = opening.day
                continue
        t = _clear_of(taken, max(low, opening.start + offset), channel.min_gap, opening.end)
        if t < opening.end:
            return t if t < limit else None
    return None


def _clear_of(taken: list[datetime], t: datetime, gap: timedelta, end: datetime) -> datetime:
    """The earliest instant ``>= t`` at least ``gap`` from every ``taken`` (sorted).

    Stops early once the answer reaches ``end``; the caller then moves to the next window.
    """
    while t < end:
        # The first post after t - gap is the only one that can conflict with t; if it is
        # closer than gap, nothing between t and its time + gap can be clear of it.
        i = bisect_right(taken, t - gap)
        if i == len(taken) or taken[i] >= t + gap:
            return t
        t = taken[i] + gap
    return t
