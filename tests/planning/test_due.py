"""plan_due_time, plan_many, stagger, next_evergreen, lateness: tables of cases."""

from __future__ import annotations

import os
import random
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

import dissem.planning
from dissem.config.models import Channel, Window
from dissem.planning import (
    PlanRequest,
    lateness,
    next_evergreen,
    plan_due_time,
    plan_many,
    stagger_offset,
)

JKT = "Asia/Jakarta"  # UTC+7 all year


def make_channel(
    tz: str,
    *windows: str,
    gap_min: float = 0,
    cap: int | None = None,
    evergreen: timedelta | None = None,
) -> Channel:
    return Channel(
        name="c",
        platform="mastodon",
        account="@a",
        timezone=tz,
        windows=[Window.parse(w) for w in windows],
        min_gap=timedelta(minutes=gap_min),
        daily_cap=cap,
        evergreen_interval=evergreen,
    )


def local(tz: str, text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=ZoneInfo(tz))


def key_with_offset(predicate: object, stagger_seconds: int = 120) -> tuple[str, int]:
    """A key whose stagger offset satisfies ``predicate`` (found by trying key-0, key-1...)."""
    for i in range(10_000):
        seconds = int(stagger_offset(f"key-{i}", stagger_seconds).total_seconds())
        if predicate(seconds):  # type: ignore[operator]
            return f"key-{i}", seconds
    raise AssertionError("no key found")


# 2026-05-11 is a Monday. Times are Jakarta local; stagger is off in this table.
WEEKDAYS = "mon-fri 07:00-21:00"
# fmt: off
CASES = [
    # (id, windows, gap min, cap, now, earliest, taken, expires, priority, expected)
    ("inside window", [WEEKDAYS], 0, None, "05-11 10:00", "05-11 10:00", [], None, "normal",
     "05-11 10:00"),
    ("embargo in future, before window", [WEEKDAYS], 0, None, "05-11 03:00", "05-12 05:00", [],
     None, "normal", "05-12 07:00"),
    ("embargo inside window", [WEEKDAYS], 0, None, "05-11 03:00", "05-12 15:30", [], None,
     "normal", "05-12 15:30"),
    ("embargo in past: now wins", [WEEKDAYS], 0, None, "05-11 12:00", "05-10 09:00", [], None,
     "normal", "05-11 12:00"),
    ("weekend waits for monday", [WEEKDAYS], 0, None, "05-16 09:00", "05-16 09:00", [], None,
     "normal", "05-18 07:00"),
    ("several windows a day", ["daily 07:00-09:00", "daily 12:00-14:00"], 0, None, "05-11 09:30",
     "05-11 09:30", [], None, "normal", "05-11 12:00"),
    ("window ends at midnight", ["daily 20:00-24:00"], 0, None, "05-11 23:59", "05-11 23:59", [],
     None, "normal", "05-11 23:59"),
    ("gap pushes past later post", [WEEKDAYS], 30, None, "05-11 10:00", "05-11 10:00",
     ["05-11 10:20"], None, "normal", "05-11 10:50"),
    ("gap pushes past earlier post", [WEEKDAYS], 30, None, "05-11 10:00", "05-11 10:00",
     ["05-11 09:45"], None, "normal", "05-11 10:15"),
    ("gap exactly met", [WEEKDAYS], 30, None, "05-11 10:00", "05-11 10:00",
     ["05-11 09:30", "05-11 10:30"], None, "normal", "05-11 10:00"),
    ("gap chain", [WEEKDAYS], 30, None, "05-11 10:00", "05-11 10:00",
     ["05-11 10:10", "05-11 10:40", "05-11 11:30"], None, "normal", "05-11 12:00"),
    ("gap pushes to next window", ["daily 09:00-10:00", "daily 14:00-15:00"], 30, None,
     "05-11 09:30", "05-11 09:30", ["05-11 09:50"], None, "normal", "05-11 14:00"),
    ("gap pushes to next day", [WEEKDAYS], 30, None, "05-11 20:40", "05-11 20:40",
     ["05-11 20:45"], None, "normal", "05-12 07:00"),
    ("cap reached: next local day", [WEEKDAYS], 0, 2, "05-11 10:00", "05-11 10:00",
     ["05-11 07:30", "05-11 08:00"], None, "normal", "05-12 07:00"),
    ("cap not reached", [WEEKDAYS], 0, 3, "05-11 10:00", "05-11 10:00",
     ["05-11 07:30", "05-11 08:00"], None, "normal", "05-11 10:00"),
    ("cap full friday: monday", [WEEKDAYS], 0, 1, "05-15 10:00", "05-15 10:00", ["05-15 07:00"],
     None, "normal", "05-18 07:00"),
    ("cap counts other days' posts not", [WEEKDAYS], 0, 1, "05-11 10:00", "05-11 10:00",
     ["05-10 23:59", "05-12 00:00"], None, "normal", "05-11 10:00"),
    ("expires before any slot", [WEEKDAYS], 0, None, "05-16 09:00", "05-16 09:00", [],
     "05-18 06:59", "normal", None),
    ("expires exactly at slot", [WEEKDAYS], 0, None, "05-16 09:00", "05-16 09:00", [],
     "05-18 07:00", "normal", None),
    ("expires just after slot", [WEEKDAYS], 0, None, "05-16 09:00", "05-16 09:00", [],
     "05-18 07:01", "normal", "05-18 07:00"),
    ("gap pushes past expiry", [WEEKDAYS], 30, None, "05-11 10:00", "05-11 10:00",
     ["05-11 10:10"], "05-11 10:30", "normal", None),
    ("expired already", [WEEKDAYS], 0, None, "05-11 10:00", "05-11 10:00", [], "05-11 09:00",
     "normal", None),
    ("evergreen plans like normal", [WEEKDAYS], 30, None, "05-16 09:00", "05-16 09:00",
     ["05-18 07:10"], None, "evergreen", "05-18 07:40"),
    ("breaking ignores window", [WEEKDAYS], 0, None, "05-16 03:00", "05-16 03:00", [], None,
     "breaking", "05-16 03:00"),
    ("breaking ignores gap and cap", [WEEKDAYS], 30, 1, "05-11 10:00", "05-11 10:00",
     ["05-11 10:00", "05-11 10:05"], None, "breaking", "05-11 10:00"),
    ("breaking keeps embargo", [WEEKDAYS], 0, None, "05-11 10:00", "05-16 23:00", [], None,
     "breaking", "05-16 23:00"),
    ("breaking past expiry", [WEEKDAYS], 0, None, "05-11 10:00", "05-11 10:00", [],
     "05-11 10:00", "breaking", None),
]
# fmt: on


@pytest.mark.parametrize(
    ("windows", "gap", "cap", "now", "earliest", "taken", "expires", "priority", "expected"),
    [c[1:] for c in CASES],
    ids=[c[0] for c in CASES],
)
def test_plan_due_time_table(
    windows: list[str],
    gap: int,
    cap: int | None,
    now: str,
    earliest: str,
    taken: list[str],
    expires: str | None,
    priority: str,
    expected: str | None,
) -> None:
    def at(text: str) -> datetime:
        return local(JKT, f"2026-{text}")

    due = plan_due_time(
        make_channel(JKT, *windows, gap_min=gap, cap=cap),
        earliest=at(earliest),
        taken=[at(x) for x in taken],
        key="release-1/c",
        priority=priority,
        now=at(now),
        expires=at(expires) if expires else None,
        stagger_seconds=0,
    )
    assert due == (at(expected) if expected else None)
    assert due is None or due.tzinfo is UTC


def test_cap_counts_local_day_not_utc_day() -> None:
    ch = make_channel("Asia/Tokyo", "daily 08:00-20:00", cap=1)
    # Both instants are on 2026-05-11 in UTC but on different days in Tokyo.
    taken = [local("Asia/Tokyo", "2026-05-11 10:00")]  # 01:00Z
    start = local("Asia/Tokyo", "2026-05-12 08:00")  # 2026-05-11 23:00Z
    due = plan_due_time(
        ch, earliest=start, taken=taken, key="k", priority="normal", now=start, stagger_seconds=0
    )
    assert due == start


def test_no_windows_normal_is_none_breaking_is_not() -> None:
    ch = Channel(name="c", platform="x", account="a", timezone="UTC", windows=[])
    now = datetime(2026, 5, 11, tzinfo=UTC)
    kw = {"earliest": now, "taken": [], "key": "k", "now": now}
    assert plan_due_time(ch, priority="normal", **kw) is None  # type: ignore[arg-type]
    assert plan_due_time(ch, priority="breaking", **kw) == now  # type: ignore[arg-type]


def test_horizon_gives_up() -> None:
    ch = make_channel("UTC", "daily 09:00-10:00", cap=1)
    now = datetime(2026, 5, 11, tzinfo=UTC)
    taken = [now + timedelta(days=d, hours=9) for d in range(10)]
    args = {"earliest": now, "taken": taken, "key": "k", "priority": "normal", "now": now}
    assert plan_due_time(ch, horizon=timedelta(days=9), **args) is None  # type: ignore[arg-type]
    got = plan_due_time(ch, horizon=timedelta(days=11), stagger_seconds=0, **args)  # type: ignore[arg-type]
    assert got == now + timedelta(days=10, hours=9)


def test_bad_inputs_are_refused() -> None:
    ch = make_channel("UTC", "daily 09:00-10:00")
    now = datetime(2026, 5, 11, tzinfo=UTC)
    with pytest.raises(ValueError, match="aware"):
        plan_due_time(
            ch, earliest=datetime(2026, 5, 11), taken=[], key="k", priority="normal", now=now
        )
    with pytest.raises(ValueError, match="priority"):
        plan_due_time(ch, earliest=now, taken=[], key="k", priority="urgent", now=now)  # type: ignore[arg-type]


# --- stagger -------------------------------------------------------------------------------


def test_stagger_is_within_bounds_and_spreads() -> None:
    offsets = [stagger_offset(f"release-7/embassy-{i}", 120) for i in range(1000)]
    assert all(timedelta(0) <= o < timedelta(seconds=120) for o in offsets)
    assert all(o.microseconds == 0 for o in offsets)
    assert len(set(offsets)) > 100  # 1000 keys over 120 values: nearly all values used
    assert stagger_offset("x", 0) == timedelta(0)
    assert stagger_offset("x", -5) == timedelta(0)
    assert stagger_offset("x", 1) == timedelta(0)


def test_stagger_is_the_same_in_another_process() -> None:
    keys = [f"release-7/embassy-{i}" for i in range(20)]
    here = [int(stagger_offset(k, 120).total_seconds()) for k in keys]
    code = (
        "from dissem.planning import stagger_offset\n"
        f"print([int(stagger_offset(k, 120).total_seconds()) for k in {keys!r}])"
    )
    env = {**os.environ, "PYTHONHASHSEED": "12345"}
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, env=env, check=True
    )
    assert out.stdout.strip() == str(here)


def test_stagger_applies_at_window_opening_and_mid_window() -> None:
    ch = make_channel(JKT, WEEKDAYS)
    key, seconds = key_with_offset(lambda s: s > 0)
    before = local(JKT, "2026-05-11 05:00")
    due = plan_due_time(ch, earliest=before, taken=[], key=key, priority="normal", now=before)
    assert due == local(JKT, "2026-05-11 07:00") + timedelta(seconds=seconds)
    mid = local(JKT, "2026-05-11 12:34")
    due = plan_due_time(ch, earliest=mid, taken=[], key=key, priority="normal", now=mid)
    assert due == mid + timedelta(seconds=seconds)


def test_stagger_never_leaves_the_window() -> None:
    ch = make_channel(JKT, "daily 09:00-09:01")
    key, seconds = key_with_offset(lambda s: s >= 60)
    now = local(JKT, "2026-05-11 08:00")
    due = plan_due_time(ch, earliest=now, taken=[], key=key, priority="normal", now=now)
    assert due is None  # a one-minute window never fits a 60 s or longer stagger
    key, seconds = key_with_offset(lambda s: 0 < s < 60)
    due = plan_due_time(ch, earliest=now, taken=[], key=key, priority="normal", now=now)
    assert due == local(JKT, "2026-05-11 09:00") + timedelta(seconds=seconds)


def test_breaking_ignores_stagger() -> None:
    ch = make_channel(JKT, WEEKDAYS)
    key, _ = key_with_offset(lambda s: s > 0)
    now = local(JKT, "2026-05-11 12:00")
    assert plan_due_time(ch, earliest=now, taken=[], key=key, priority="breaking", now=now) == now


# --- plan_many -----------------------------------------------------------------------------


def test_plan_many_keeps_gap_and_cap_among_the_batch() -> None:
    ch = make_channel(JKT, WEEKDAYS, gap_min=30, cap=3)
    now = local(JKT, "2026-05-11 10:00")
    reqs = [PlanRequest(f"r{i}", now) for i in range(4)]
    got = plan_many(ch, reqs, taken=[local(JKT, "2026-05-11 08:00")], now=now, stagger_seconds=0)
    assert got == [
        local(JKT, "2026-05-11 10:00"),
        local(JKT, "2026-05-11 10:30"),
        local(JKT, "2026-05-12 07:00"),  # cap 3 reached on Monday (08:00, 10:00, 10:30)
        local(JKT, "2026-05-12 07:30"),
    ]


def test_plan_many_breaking_joins_taken_and_none_does_not() -> None:
    ch = make_channel(JKT, WEEKDAYS, gap_min=30)
    now = local(JKT, "2026-05-11 10:00")
    reqs = [
        PlanRequest("b", now, "breaking"),
        PlanRequest("gone", now, "normal", expires=now + timedelta(minutes=5)),
        PlanRequest("n", now, "normal"),
    ]
    got = plan_many(ch, reqs, taken=[], now=now, stagger_seconds=0)
    assert got == [now, None, now + timedelta(minutes=30)]


def test_plan_many_matches_plan_due_time_step_by_step() -> None:
    ch = make_channel("Europe/Berlin", "mon-fri 08:00-18:00", gap_min=20, cap=5)
    now = local("Europe/Berlin", "2026-05-11 09:00")
    rng = random.Random(7)
    taken = [now + timedelta(minutes=rng.randrange(0, 5000)) for _ in range(15)]
    reqs = [
        PlanRequest(f"r{i}", now + timedelta(minutes=rng.randrange(0, 3000))) for i in range(30)
    ]
    got = plan_many(ch, reqs, taken=list(reversed(taken)), now=now)
    acc = list(taken)
    for req, due in zip(reqs, got, strict=True):
        one = plan_due_time(
            ch, earliest=req.earliest, taken=acc, key=req.key, priority="normal", now=now
        )
        assert one == due
        if due is not None:
            acc.append(due)


# --- evergreen, lateness, public surface ------------------------------------------------


def test_next_evergreen() -> None:
    last = local(JKT, "2026-05-11 10:00")
    default = timedelta(days=30)
    assert next_evergreen(make_channel(JKT, WEEKDAYS), last, default) == last + default
    own = make_channel(JKT, WEEKDAYS, evergreen=timedelta(days=7))
    got = next_evergreen(own, last, default)
    assert got == last + timedelta(days=7)
    assert got.tzinfo is UTC


def test_lateness() -> None:
    due = datetime(2026, 5, 11, 10, 0, tzinfo=UTC)
    assert lateness(due, due + timedelta(seconds=42)) == timedelta(seconds=42)
    assert lateness(due, due - timedelta(seconds=5)) == timedelta(0)
    assert lateness(due, due.astimezone(ZoneInfo(JKT))) == timedelta(0)


def test_public_surface() -> None:
    for name in dissem.planning.__all__:
        assert hasattr(dissem.planning, name), name


# --- speed ---------------------------------------------------------------------------------


def test_ten_thousand_posts_on_a_hundred_channels_is_fast() -> None:
    zones = ["Asia/Jakarta", "Europe/Berlin", "America/New_York", "Asia/Tokyo", "UTC"]
    now = datetime(2026, 3, 1, tzinfo=UTC)
    rng = random.Random(1)
    channels = [
        make_channel(zones[i % 5], "mon-fri 07:00-21:00", "sat 09:00-12:00", gap_min=20, cap=24)
        for i in range(100)
    ]
    started = time.perf_counter()
    planned = 0
    for i, ch in enumerate(channels):
        reqs = [
            PlanRequest(f"rel-{j}/ch-{i}", now + timedelta(minutes=rng.randrange(0, 20_000)))
            for j in range(100)
        ]
        planned += sum(d is not None for d in plan_many(ch, reqs, taken=[], now=now))
    elapsed = time.perf_counter() - started
    print(f"planned {planned} posts on 100 channels in {elapsed:.2f} s")
    assert planned == 10_000
    assert elapsed < 5.0
