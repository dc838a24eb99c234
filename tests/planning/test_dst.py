"""Windows, days, gaps and caps on DST transition days.

Semantics under test (see dissem/planning/windows.py): a window opens the first time the
local clock reads its start and closes the first time it reads its end. A start inside a
spring-forward gap opens at the first existing instant; the repeated autumn hour is never
counted twice and never reopens a window that already closed.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from dissem.config.models import Channel, Window
from dissem.planning import day_bounds, first_reach, next_window_instant, openings, plan_due_time


def make_channel(tz: str, *windows: str, gap_min: int = 0, cap: int | None = None) -> Channel:
    return Channel(
        name="c",
        platform="mastodon",
        account="@a",
        timezone=tz,
        windows=[Window.parse(w) for w in windows],
        min_gap=timedelta(minutes=gap_min),
        daily_cap=cap,
    )


def utc(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


def one_opening(ch: Channel, day: str) -> tuple[datetime, datetime]:
    """The single opening of ``ch`` on local date ``day``."""
    d = date.fromisoformat(day)
    found = [
        (o.start, o.end)
        for o in openings(ch, utc(day) - timedelta(days=2), utc(day) + timedelta(days=2))
        if o.day == d
    ]
    assert len(found) == 1, found
    return found[0]


# Transitions: New York 2026-03-08 02:00 EST -> 03:00 EDT (07:00Z), 2026-11-01 02:00 EDT ->
# 01:00 EST (06:00Z); Berlin 2026-03-29 02:00 CET -> 03:00 CEST (01:00Z), 2026-10-25
# 03:00 CEST -> 02:00 CET (01:00Z); Lord Howe 2026-10-04 02:00 -> 02:30 (+10:30 -> +11).
OPENING_CASES = [
    # Spring forward: a start in the gap opens at the first existing instant.
    ("America/New_York", "sun 02:30-04:00", "2026-03-08", "2026-03-08 07:00", "2026-03-08 08:00"),
    ("America/New_York", "sun 01:00-03:00", "2026-03-08", "2026-03-08 06:00", "2026-03-08 07:00"),
    ("America/New_York", "sun 01:30-02:30", "2026-03-08", "2026-03-08 06:30", "2026-03-08 07:00"),
    ("Europe/Berlin", "sun 02:30-05:00", "2026-03-29", "2026-03-29 01:00", "2026-03-29 03:00"),
    ("Europe/Berlin", "sun 00:00-24:00", "2026-03-29", "2026-03-28 23:00", "2026-03-29 22:00"),
    (
        "Australia/Lord_Howe",
        "sun 02:00-03:00",
        "2026-10-04",
        "2026-10-03 15:30",
        "2026-10-03 16:00",
    ),
    # Fall back: from the first occurrence of start to the first time the clock reads end.
    ("America/New_York", "sun 01:00-02:00", "2026-11-01", "2026-11-01 05:00", "2026-11-01 07:00"),
    ("America/New_York", "sun 00:00-01:30", "2026-11-01", "2026-11-01 04:00", "2026-11-01 05:30"),
    ("America/New_York", "sun 01:30-03:00", "2026-11-01", "2026-11-01 05:30", "2026-11-01 08:00"),
    ("America/New_York", "sun 00:00-24:00", "2026-11-01", "2026-11-01 04:00", "2026-11-02 05:00"),
    ("Europe/Berlin", "sun 02:00-03:00", "2026-10-25", "2026-10-25 00:00", "2026-10-25 02:00"),
    ("Europe/Berlin", "sun 02:30-02:45", "2026-10-25", "2026-10-25 00:30", "2026-10-25 00:45"),
]


@pytest.mark.parametrize(("tz", "window", "day", "opens", "closes"), OPENING_CASES)
def test_opening_on_transition_day(tz: str, window: str, day: str, opens: str, closes: str) -> None:
    assert one_opening(make_channel(tz, window), day) == (utc(opens), utc(closes))


def test_window_inside_spring_gap_is_empty_that_day() -> None:
    ch = make_channel("America/New_York", "sun 02:00-02:30")
    got = next_window_instant(ch, utc("2026-03-08 05:00"))  # 00:00 EST on the day
    assert got == datetime(2026, 3, 15, 2, 0, tzinfo=ZoneInfo("America/New_York"))


def test_window_start_in_gap_next_window_instant_is_0300_local() -> None:
    ch = make_channel("America/New_York", "sun 02:30-04:00")
    got = next_window_instant(ch, utc("2026-03-08 05:00"))
    assert got is not None
    assert got.astimezone(ch.zone).strftime("%H:%M %Z") == "03:00 EDT"


def test_repeated_hour_inside_window_counts_as_inside() -> None:
    ch = make_channel("America/New_York", "sun 01:00-02:00")
    second_0130 = utc("2026-11-01 06:30")  # 01:30 EST, the second 01:30
    assert second_0130.astimezone(ch.zone).fold == 1
    assert next_window_instant(ch, second_0130) == second_0130


def test_repeated_hour_does_not_reopen_a_closed_window() -> None:
    ch = make_channel("America/New_York", "sun 00:00-01:30")
    second_0100 = utc("2026-11-01 06:00")  # 01:00 EST: the clock reads inside 00:00-01:30
    assert next_window_instant(ch, second_0100) == utc("2026-11-08 05:00")  # next Sunday


@pytest.mark.parametrize(
    ("tz", "day", "hours"),
    [
        ("America/New_York", "2026-03-08", 23),
        ("America/New_York", "2026-11-01", 25),
        ("Europe/Berlin", "2026-03-29", 23),
        ("Europe/Berlin", "2026-10-25", 25),
        ("Australia/Lord_Howe", "2026-10-04", 23.5),
        ("Asia/Jakarta", "2026-10-25", 24),
    ],
)
def test_local_day_length(tz: str, day: str, hours: float) -> None:
    start, end = day_bounds(ZoneInfo(tz), date.fromisoformat(day))
    assert end - start == timedelta(hours=hours)


def test_first_reach_gap_and_repeat() -> None:
    ny = ZoneInfo("America/New_York")
    assert first_reach(ny, datetime(2026, 3, 8, 2, 30)) == utc("2026-03-08 07:00")
    assert first_reach(ny, datetime(2026, 11, 1, 1, 30)) == utc("2026-11-01 05:30")
    assert first_reach(ny, datetime(2026, 11, 1, 2, 0)) == utc("2026-11-01 07:00")


def test_gap_is_real_time_across_spring_forward() -> None:
    ch = make_channel("America/New_York", "sun 01:00-05:00", gap_min=30)
    due = plan_due_time(
        ch,
        earliest=utc("2026-03-08 06:55"),  # 01:55 EST
        taken=[utc("2026-03-08 06:50")],  # 01:50 EST
        key="k",
        priority="normal",
        now=utc("2026-03-08 06:00"),
        stagger_seconds=0,
    )
    # 30 real minutes after 01:50 EST is 03:20 EDT (02:20 never happens).
    assert due == utc("2026-03-08 07:20")


def test_cap_counts_the_whole_25_hour_day_once() -> None:
    ch = make_channel("America/New_York", "sun 00:00-24:00", "mon 00:00-24:00", cap=2)
    taken = [utc("2026-11-01 05:30"), utc("2026-11-01 06:30")]  # the first and second 01:30
    due = plan_due_time(
        ch,
        earliest=utc("2026-11-01 04:00"),
        taken=taken,
        key="k",
        priority="normal",
        now=utc("2026-11-01 04:00"),
        stagger_seconds=0,
    )
    assert due == utc("2026-11-02 05:00")  # Monday 00:00 EST, the next local day


def test_plan_in_repeated_hour_with_gap() -> None:
    ch = make_channel("Europe/Berlin", "sun 02:00-03:00", gap_min=45)
    due = plan_due_time(
        ch,
        earliest=utc("2026-10-25 00:00"),  # 02:00 CEST, the first 02:00
        taken=[utc("2026-10-25 00:30")],
        key="k",
        priority="normal",
        now=utc("2026-10-25 00:00"),
        stagger_seconds=0,
    )
    # 02:00 CEST conflicts; 01:15Z is 02:15 CET, in the repeated hour, still in the window.
    assert due == utc("2026-10-25 01:15")
    assert due is not None and due.astimezone(ch.zone).fold == 1
