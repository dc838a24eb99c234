"""next_window_instant and openings on ordinary days (DST days: test_dst.py)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from dissem.config.models import Channel, Window
from dissem.planning import Opening, next_window_instant, openings


def make_channel(tz: str, *windows: str) -> Channel:
    return Channel(
        name="c",
        platform="mastodon",
        account="@a",
        timezone=tz,
        windows=[Window.parse(w) for w in windows],
    )


def local(tz: str, text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=ZoneInfo(tz))


# 2026-05-11 is a Monday; 2026-05-16 a Saturday.
CASES = [
    # (zone, windows, t local, expected local)
    ("Asia/Jakarta", ["mon-fri 07:00-21:00"], "2026-05-11 10:00", "2026-05-11 10:00"),
    ("Asia/Jakarta", ["mon-fri 07:00-21:00"], "2026-05-11 06:59", "2026-05-11 07:00"),
    ("Asia/Jakarta", ["mon-fri 07:00-21:00"], "2026-05-11 21:00", "2026-05-12 07:00"),
    ("Asia/Jakarta", ["mon-fri 07:00-21:00"], "2026-05-15 22:00", "2026-05-18 07:00"),
    ("Asia/Jakarta", ["mon-fri 07:00-21:00"], "2026-05-16 10:00", "2026-05-18 07:00"),
    ("Europe/Berlin", ["sat-sun 10:00-12:00"], "2026-05-11 10:00", "2026-05-16 10:00"),
    ("Europe/Berlin", ["sat-sun 10:00-12:00"], "2026-05-16 11:59", "2026-05-16 11:59"),
    ("Europe/Berlin", ["sat-sun 10:00-12:00"], "2026-05-17 12:00", "2026-05-23 10:00"),
    (
        "Asia/Tokyo",
        ["daily 07:00-09:00", "daily 12:00-14:00", "daily 19:00-21:00"],
        "2026-05-11 09:00",
        "2026-05-11 12:00",
    ),
    (
        "Asia/Tokyo",
        ["daily 07:00-09:00", "daily 12:00-14:00", "daily 19:00-21:00"],
        "2026-05-11 14:30",
        "2026-05-11 19:00",
    ),
    (
        "Asia/Tokyo",
        ["daily 07:00-09:00", "daily 12:00-14:00", "daily 19:00-21:00"],
        "2026-05-11 21:00",
        "2026-05-12 07:00",
    ),
    # A window ending at midnight includes 23:59:59 and excludes the midnight itself.
    ("America/New_York", ["mon 20:00-24:00"], "2026-05-11 23:59:59", "2026-05-11 23:59:59"),
    ("America/New_York", ["mon 20:00-24:00"], "2026-05-12 00:00", "2026-05-18 20:00"),
    ("America/New_York", ["mon 20:00-00:00"], "2026-05-11 19:00", "2026-05-11 20:00"),
    # Different windows on different days.
    (
        "Europe/Berlin",
        ["mon-fri 08:00-18:00", "sat 10:00-11:00"],
        "2026-05-15 18:00",
        "2026-05-16 10:00",
    ),
    ("UTC", ["daily 00:00-24:00"], "2026-05-11 03:17:05", "2026-05-11 03:17:05"),
]


@pytest.mark.parametrize(("tz", "windows", "t", "expected"), CASES)
def test_next_window_instant(tz: str, windows: list[str], t: str, expected: str) -> None:
    got = next_window_instant(make_channel(tz, *windows), local(tz, t))
    assert got == local(tz, expected)
    assert got is not None and got.tzinfo is UTC


def test_next_window_instant_none_only_without_windows() -> None:
    no_windows = Channel(name="c", platform="x", account="a", timezone="UTC", windows=[])
    assert next_window_instant(no_windows, datetime(2026, 5, 11, tzinfo=UTC)) is None
    once_a_week = make_channel("Pacific/Kiritimati", "sun 23:59-24:00")
    got = next_window_instant(once_a_week, local("Pacific/Kiritimati", "2026-05-18 00:00"))
    assert got == local("Pacific/Kiritimati", "2026-05-24 23:59")


def test_naive_time_is_refused() -> None:
    with pytest.raises(ValueError, match="aware"):
        next_window_instant(make_channel("UTC", "daily 07:00-09:00"), datetime(2026, 5, 11))


def test_input_zone_does_not_matter() -> None:
    ch = make_channel("Asia/Jakarta", "daily 07:00-08:00")
    t_utc = datetime(2026, 5, 11, 1, 30, tzinfo=UTC)  # 08:30 WIB: window just closed
    t_ny = t_utc.astimezone(ZoneInfo("America/New_York"))
    assert next_window_instant(ch, t_utc) == next_window_instant(ch, t_ny)
    assert next_window_instant(ch, t_utc) == datetime(2026, 5, 12, 0, 0, tzinfo=UTC)


def test_openings_are_ordered_adjacent_and_bounded() -> None:
    ch = make_channel("Asia/Jakarta", "mon 22:00-24:00", "tue 00:00-02:00")
    got = list(
        openings(ch, local("Asia/Jakarta", "2026-05-11 00:00"), local("Asia/Jakarta", "2026-05-20"))
    )
    assert got == [
        Opening(
            datetime(2026, 5, 11).date(),
            datetime(2026, 5, 11, 15, tzinfo=UTC),
            datetime(2026, 5, 11, 17, tzinfo=UTC),
        ),
        Opening(
            datetime(2026, 5, 12).date(),
            datetime(2026, 5, 11, 17, tzinfo=UTC),
            datetime(2026, 5, 11, 19, tzinfo=UTC),
        ),
        Opening(
            datetime(2026, 5, 18).date(),
            datetime(2026, 5, 18, 15, tzinfo=UTC),
            datetime(2026, 5, 18, 17, tzinfo=UTC),
        ),
        Opening(
            datetime(2026, 5, 19).date(),
            datetime(2026, 5, 18, 17, tzinfo=UTC),
            datetime(2026, 5, 18, 19, tzinfo=UTC),
        ),
    ]


def test_openings_skip_windows_already_closed_and_start_before_until() -> None:
    ch = make_channel("UTC", "daily 08:00-10:00", "daily 12:00-13:00")
    since = datetime(2026, 5, 11, 10, 0, tzinfo=UTC)
    got = list(openings(ch, since, since + timedelta(hours=2, seconds=1)))
    assert [(o.start.hour, o.end.hour) for o in got] == [(12, 13)]
    assert list(openings(ch, since, since + timedelta(hours=2))) == []
