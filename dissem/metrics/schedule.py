"""When a post's next metrics snapshot is due: a cadence by post age. Pure: no clock, no I/O.

A schedule is written ``"1h@1d,6h@7d,1d@30d"``: a snapshot every hour until the post is one
day old, every 6 hours until it is 7 days old, daily until 30 days, then none. Each step
starts where the previous one ended, so the snapshot *ages* form a grid::

    1h, 2h, ..., 24h, 30h, 36h, ..., 168h, 8d, 9d, ..., 30d

A snapshot is due when the post reaches the next grid age after the last snapshot. A
collector that was away (daemon stopped) does not catch up on every missed grid point: the
missed ones collapse into one snapshot taken now.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, timedelta

__all__ = [
    "Schedule",
    "ScheduleStep",
    "first_snapshot_at",
    "next_snapshot_at",
    "parse_schedule",
]

_STEP_RE = re.compile(r"^\s*(\d+)\s*([smhdw])\s*@\s*(\d+)\s*([smhdw])\s*$")
_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 7 * 86400}


@dataclass(frozen=True)
class ScheduleStep:
    """Snapshots every ``interval`` while the post is younger than ``until``."""

    interval: timedelta
    until: timedelta


@dataclass(frozen=True)
class Schedule:
    """An ordered cadence; ``until`` grows strictly from step to step."""

    steps: tuple[ScheduleStep, ...]

    @property
    def end(self) -> timedelta:
        """Age after which no snapshot is taken (zero for an empty schedule)."""
        return self.steps[-1].until if self.steps else timedelta(0)

    def grid_ages(self) -> list[timedelta]:
        """Every snapshot age, ascending (for tests and documentation; may be long)."""
        ages: list[timedelta] = []
        start = timedelta(0)
        for step in self.steps:
            age = start + step.interval
            while age < step.until:
                ages.append(age)
                age += step.interval
            ages.append(step.until)
            start = step.until
        return ages

    def next_age_after(self, age: timedelta) -> timedelta | None:
        """The smallest grid age strictly greater than ``age``; None past the end."""
        start = timedelta(0)
        for step in self.steps:
            if age < step.until:
                if age < start:
                    return min(start + step.interval, step.until)
                k = (age - start) // step.interval + 1
                return min(start + k * step.interval, step.until)
            start = step.until
        return None

    def last_age_at_or_before(self, age: timedelta) -> timedelta | None:
        """The largest grid age <= ``age``; None before the first one."""
        start = timedelta(0)
        best: timedelta | None = None
        for step in self.steps:
            if age >= step.until:
                best = step.until
                start = step.until
                continue
            k = (age - start) // step.interval
            if k >= 1:
                best = start + k * step.interval
            break
        return best


def parse_schedule(spec: str) -> Schedule:
    """Parses ``"1h@1d,6h@7d,1d@30d"`` (units s, m, h, d, w).

    Raises ``ValueError`` naming the bad step when a step is malformed, an interval is zero,
    an interval is longer than its step, or the ages do not grow.
    """
    steps: list[ScheduleStep] = []
    previous = timedelta(0)
    for raw in spec.split(","):
        if not raw.strip():
            continue
        m = _STEP_RE.match(raw)
        if not m:
            raise ValueError(
                f"metrics schedule step {raw.strip()!r} is not INTERVAL@AGE, e.g. 6h@7d"
            )
        interval = timedelta(seconds=int(m.group(1)) * _UNITS[m.group(2)])
        until = timedelta(seconds=int(m.group(3)) * _UNITS[m.group(4)])
        if interval <= timedelta(0):
            raise ValueError(f"metrics schedule step {raw.strip()!r}: the interval must be > 0")
        if until <= previous:
            raise ValueError(
                f"metrics schedule step {raw.strip()!r}: ages must grow from step to step"
            )
        if interval > until - previous:
            raise ValueError(
                f"metrics schedule step {raw.strip()!r}: the interval is longer than the step"
            )
        steps.append(ScheduleStep(interval, until))
        previous = until
    return Schedule(tuple(steps))


def next_snapshot_at(
    published_at: datetime,
    last_taken_at: datetime | None,
    now: datetime,
    schedule: Schedule,
) -> datetime | None:
    """When the next snapshot of a post published at ``published_at`` is due.

    Returns None when the schedule is over (the last snapshot was taken at or after the
    final grid age). Otherwise returns the first grid time after ``last_taken_at`` (after
    ``published_at`` when no snapshot was taken yet); when that time is already past at
    ``now``, the missed grid points collapse: the latest grid time at or before ``now`` is
    returned, which is <= ``now`` and so due at once. A result <= ``now`` means "take one
    snapshot now".
    """
    since = published_at if last_taken_at is None else max(last_taken_at, published_at)
    age = schedule.next_age_after(since - published_at)
    if age is None:
        return None
    due = published_at + age
    if due > now:
        return due
    latest = schedule.last_age_at_or_before(now - published_at)
    assert latest is not None  # due <= now, so at least one grid age has passed
    return published_at + latest


def first_snapshot_at(published_at: datetime, schedule: Schedule) -> datetime | None:
    """``next_metrics_at`` for a post that was just published (None for an empty schedule)."""
    age = schedule.next_age_after(timedelta(0))
    return None if age is None else published_at + age
