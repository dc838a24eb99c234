"""The snapshot cadence by post age: a table of cases and properties."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from dissem.metrics.schedule import (
    first_snapshot_at,
    next_snapshot_at,
    parse_schedule,
)

DEFAULT = parse_schedule("1h@1d,6h@7d,1d@30d")
PUB = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)
H = timedelta(hours=1)
D = timedelta(days=1)


def test_parse_default() -> None:
    assert [(s.interval, s.until) for s in DEFAULT.steps] == [(H, D), (6 * H, 7 * D), (D, 30 * D)]
    ages = DEFAULT.grid_ages()
    assert ages[:3] == [H, 2 * H, 3 * H]
    assert ages[23] == D and ages[24] == D + 6 * H
    assert ages[-1] == 30 * D
    assert len(ages) == 24 + 24 + 23


@pytest.mark.parametrize(
    "spec",
    ["", "1h", "0h@1d", "1h@1d,1h@1d", "2d@1d", "1h@2d,1d@1d", "1x@1d", "1h@1d,,5d@3d"],
)
def test_parse_rejects(spec: str) -> None:
    if spec == "":
        assert parse_schedule(spec).steps == ()
        return
    with pytest.raises(ValueError, match="metrics schedule step"):
        parse_schedule(spec)


def test_uneven_step_ends_on_its_boundary() -> None:
    s = parse_schedule("5h@1d,1w@3w")
    assert s.grid_ages() == [5 * H, 10 * H, 15 * H, 20 * H, D, 8 * D, 15 * D, 21 * D]


# (last snapshot age or None, now age) -> next due age or None
CASES = [
    (None, timedelta(0), H),  # just published: first snapshot at 1h
    (None, 30 * timedelta(minutes=1), H),
    (H, H + timedelta(minutes=4), 2 * H),  # taken on time: next hour
    (H + timedelta(minutes=4), H + timedelta(minutes=5), 2 * H),  # late take does not drift
    (23 * H, 23 * H, D),
    (D, D, D + 6 * H),  # day 1 over: every 6 hours
    (D + 6 * H, D + 6 * H, D + 12 * H),
    (7 * D, 7 * D, 8 * D),  # week over: daily
    (29 * D, 29 * D, 30 * D),
    (30 * D, 30 * D, None),  # day 30 taken: done
    (31 * D, 31 * D, None),
    (None, 3 * D + H, 3 * D),  # never taken, 3 days old: one snapshot now (latest grid)
    (2 * H, 5 * D + 7 * H, 5 * D + 6 * H),  # daemon was away: missed points collapse
    (20 * D, 45 * D, 30 * D),  # final grid point still owed: taken once
]


@pytest.mark.parametrize(("last", "now", "expected"), CASES)
def test_next_snapshot_table(
    last: timedelta | None, now: timedelta, expected: timedelta | None
) -> None:
    last_at = None if last is None else PUB + last
    got = next_snapshot_at(PUB, last_at, PUB + now, DEFAULT)
    assert got == (None if expected is None else PUB + expected)


def test_first_snapshot_at() -> None:
    assert first_snapshot_at(PUB, DEFAULT) == PUB + H
    assert first_snapshot_at(PUB, parse_schedule("")) is None


ages = st.integers(min_value=0, max_value=40 * 86400).map(lambda s: timedelta(seconds=s))
GRID = set(DEFAULT.grid_ages())


@settings(max_examples=150, deadline=None)
@given(last=st.none() | ages, delta=ages)
def test_next_is_a_grid_point_after_last(last: timedelta | None, delta: timedelta) -> None:
    now = (last or timedelta(0)) + delta
    got = next_snapshot_at(PUB, None if last is None else PUB + last, PUB + now, DEFAULT)
    if got is None:
        assert last is not None and last >= 30 * D
        return
    age = got - PUB
    assert age in GRID
    assert last is None or age > last
    if got > PUB + now:
        # a future due time: no grid point was skipped between the last snapshot and now
        assert not [g for g in GRID if (last is None or g > last) and g <= now]
    else:
        # overdue: the latest grid point that has passed, and nothing later has
        assert not [g for g in GRID if age < g <= now]


@settings(max_examples=60, deadline=None)
@given(
    poll_minutes=st.integers(min_value=1, max_value=180),
    spec=st.sampled_from(["1h@1d,6h@7d,1d@30d", "30m@6h,2h@2d", "1d@10d", "5h@1d,1w@3w"]),
)
def test_polling_collector_follows_the_cadence(poll_minutes: int, spec: str) -> None:
    """A collector polling every N minutes takes a bounded number of snapshots, in order, each
    one no earlier than its due time, and stops after the schedule's end."""
    schedule = parse_schedule(spec)
    grid = schedule.grid_ages()
    step = timedelta(minutes=poll_minutes)
    taken: list[timedelta] = []
    due = first_snapshot_at(PUB, schedule)
    now = PUB
    while due is not None and now - PUB < schedule.end + 2 * step:
        now += step
        if due <= now:
            taken.append(now - PUB)
            due = next_snapshot_at(PUB, now, now, schedule)
    assert due is None  # the schedule always ends
    assert 1 <= len(taken) <= len(grid)
    assert taken == sorted(set(taken))
    assert taken[-1] >= schedule.end
    # never two snapshots inside one grid interval
    for a, b in itertools.pairwise(taken):
        nxt = schedule.next_age_after(a)
        assert nxt is not None and b >= nxt
    finest = min(b - a for a, b in zip([timedelta(0), *grid], grid, strict=False))
    if step <= finest:
        assert len(taken) == len(grid)  # polling at least as often as the grid: none missed
