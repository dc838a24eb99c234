"""Posting windows as instants: local wall-clock windows turned into UTC intervals.

A window such as ``mon-fri 07:00-21:00`` means, on each listed local date ``D``::

    [ first instant the local clock reads D start,  first instant it reads D end )

(``end`` of None means the next local midnight). Reading "first instant the clock reads
at least X" gives one rule that covers both DST transitions:

* **Spring forward** (a local hour does not exist): a boundary inside the gap resolves to
  the first existing instant after it. ``02:30-04:00`` on New York's 2026-03-08 opens at
  03:00 EDT; a window lying wholly inside the gap (``02:00-02:30``) is empty that day.
* **Fall back** (a local hour happens twice): a boundary inside the repeated hour resolves
  to its *first* occurrence, and a window is never reopened by the clock going back.
  ``01:00-02:00`` on New York's 2026-11-01 runs from the first 01:00 (EDT) to 02:00 EST,
  two real hours with no gap and no double counting; ``00:00-01:30`` closes at the first
  01:30 and stays closed through the repeated 01:00-01:30 EST; ``01:30-03:00`` opens at
  the first 01:30 and stays open through the whole repeated hour until 03:00 EST.

Equivalently: an instant is inside a window when the highest reading the local clock has
shown so far falls within ``[start, end)`` on a listed day. A local *day* is delimited the
same way (from the first reading of its 00:00 to the first reading of the next day's),
which is what the daily cap counts in.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from functools import lru_cache
from zoneinfo import ZoneInfo

from dissem.config.models import Channel, Window

__all__ = [
    "Opening",
    "day_bounds",
    "first_reach",
    "next_window_instant",
    "openings",
    "require_aware",
]

# A window that exists at all recurs within a week; two weeks also clears any DST day on
# which a short window happens to vanish.
_SEARCH_DAYS = 15

_DaySpans = tuple[tuple[time, time | None], ...]


def require_aware(value: datetime, name: str) -> datetime:
    """Returns ``value`` in UTC; raises ValueError if it is naive (no time zone)."""
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValueError(f"{name} must be time-zone aware, got naive {value.isoformat()}")
    return value.astimezone(UTC)


def _reading(zone: ZoneInfo, instant: datetime) -> datetime:
    """What the local clock shows at ``instant`` (naive local datetime)."""
    return instant.astimezone(zone).replace(tzinfo=None)


@lru_cache(maxsize=65536)
def first_reach(zone: ZoneInfo, local: datetime) -> datetime:
    """The first instant (UTC) at which the clock in ``zone`` reads ``local`` or later.

    ``local`` is naive. An existing time gives its first occurrence (fold 0); a time that
    a spring-forward skips gives the transition instant, the first one that exists.
    """
    early = local.replace(tzinfo=zone, fold=0).astimezone(UTC)
    if _reading(zone, early) == local:
        return early
    # In a gap, fold 0 and fold 1 map to instants on either side of the transition.
    late = local.replace(tzinfo=zone, fold=1).astimezone(UTC)
    lo, hi = sorted((early, late))
    if _reading(zone, lo) >= local or _reading(zone, hi) < local:
        return hi  # not a plain single transition; hi is past the gap either way
    # Transitions fall on whole seconds: bisect for the first second whose reading >= local.
    lo_s, hi_s = int(lo.timestamp()), int(hi.timestamp())
    while hi_s - lo_s > 1:
        mid = (lo_s + hi_s) // 2
        if _reading(zone, datetime.fromtimestamp(mid, UTC)) >= local:
            hi_s = mid
        else:
            lo_s = mid
    return datetime.fromtimestamp(hi_s, UTC)


def day_bounds(zone: ZoneInfo, day: date) -> tuple[datetime, datetime]:
    """The UTC interval ``[start, end)`` of local day ``day`` in ``zone``."""
    start = first_reach(zone, datetime.combine(day, time()))
    end = first_reach(zone, datetime.combine(day + timedelta(days=1), time()))
    return start, end


@dataclass(frozen=True, slots=True)
class Opening:
    """One window on one local day, as the UTC interval ``[start, end)`` (never empty)."""

    day: date
    start: datetime
    end: datetime


@lru_cache(maxsize=1024)
def _spans_by_weekday(windows: tuple[Window, ...]) -> tuple[_DaySpans, ...]:
    """For each weekday (0=Monday), its windows' ``(start, end)`` sorted by start."""
    return tuple(
        tuple(sorted(((w.start, w.end) for w in windows if wd in w.days), key=lambda s: s[0]))
        for wd in range(7)
    )


def _spans(windows: Sequence[Window]) -> tuple[_DaySpans, ...]:
    return _spans_by_weekday(tuple(windows))


def openings(channel: Channel, since: datetime, until: datetime) -> Iterator[Opening]:
    """The channel's openings that end after ``since`` and start before ``until``, in order.

    Yields nothing when the channel has no window. Both bounds are aware datetimes.
    """
    since = require_aware(since, "since")
    until = require_aware(until, "until")
    spans = _spans(channel.windows)
    if not any(spans):
        return
    zone = channel.zone
    # No earlier day can have a window left: its windows end by the first reading of the
    # next midnight, and the clock already reads this date at ``since``.
    day = since.astimezone(zone).date()
    while True:
        day_start, day_end = day_bounds(zone, day)
        if day_start >= until:
            return
        for start, end in spans[day.weekday()]:
            opens = first_reach(zone, datetime.combine(day, start))
            if opens >= until:
                return
            closes = day_end if end is None else first_reach(zone, datetime.combine(day, end))
            if closes > opens and closes > since:
                yield Opening(day, opens, closes)
        day += timedelta(days=1)


def next_window_instant(channel: Channel, t: datetime) -> datetime | None:
    """The earliest instant ``>= t`` inside one of the channel's windows, in UTC.

    Returns None only when the channel has no window at all.
    """
    t = require_aware(t, "t")
    for opening in openings(channel, t, t + timedelta(days=_SEARCH_DAYS)):
        return max(t, opening.start)
    return None
