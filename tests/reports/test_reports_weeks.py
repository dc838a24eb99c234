"""ISO week parsing, week bounds in a time zone, the default week, formats."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from dissem.reports.weekly import IsoWeek, last_complete_week, parse_formats


@pytest.mark.parametrize(
    ("text", "year", "week"),
    [
        ("2026-W48", 2026, 48),
        ("2026W48", 2026, 48),
        (" 2026-w01 ", 2026, 1),
        ("2026-W53", 2026, 53),
    ],
)
def test_parse(text: str, year: int, week: int) -> None:
    parsed = IsoWeek.parse(text)
    assert (parsed.year, parsed.week) == (year, week)
    assert str(parsed) == f"{year}-W{week:02d}"


@pytest.mark.parametrize("text", ["2026-48", "W48", "2026-W00", "2025-W53", "2026-W54", "x"])
def test_parse_rejects(text: str) -> None:
    with pytest.raises(ValueError, match=r"ISO week|has no week"):
        IsoWeek.parse(text)


def test_bounds_in_jakarta() -> None:
    start, end = IsoWeek.parse("2026-W48").bounds("Asia/Jakarta")
    assert start == datetime(2026, 11, 22, 17, 0, tzinfo=UTC)  # Mon 23 Nov 00:00 +07
    assert end == datetime(2026, 11, 29, 17, 0, tzinfo=UTC)


def test_bounds_across_dst_are_not_seven_times_24h() -> None:
    # Europe/Berlin leaves summer time on Sunday 25 Oct 2026: that week has 169 hours
    start, end = IsoWeek.parse("2026-W43").bounds("Europe/Berlin")
    assert (end - start).total_seconds() == 169 * 3600


def test_previous_and_year_boundary() -> None:
    assert str(IsoWeek.parse("2027-W01").previous()) == "2026-W53"
    assert str(IsoWeek.parse("2026-W48").previous()) == "2026-W47"
    assert IsoWeek.containing(date(2026, 1, 1)) == IsoWeek(2026, 1)


@pytest.mark.parametrize(
    ("now", "zone", "expected"),
    [
        # Monday 30 Nov 2026 00:30 in Jakarta is still Sunday in UTC
        (datetime(2026, 11, 29, 17, 30, tzinfo=UTC), "Asia/Jakarta", "2026-W48"),
        (datetime(2026, 11, 29, 17, 30, tzinfo=UTC), "UTC", "2026-W47"),
        (datetime(2026, 12, 3, 12, 0, tzinfo=UTC), "Asia/Jakarta", "2026-W48"),
    ],
)
def test_last_complete_week(now: datetime, zone: str, expected: str) -> None:
    assert str(last_complete_week(now, zone)) == expected


@settings(max_examples=80, deadline=None)
@given(st.datetimes(min_value=datetime(2000, 1, 1), max_value=datetime(2090, 1, 1)))
def test_last_complete_week_has_ended(naive: datetime) -> None:
    now = naive.replace(tzinfo=UTC)
    week = last_complete_week(now, "Asia/Jakarta")
    start, end = week.bounds("Asia/Jakarta")
    assert end <= now < end + (end - start)
    assert IsoWeek.parse(str(week)) == week


def test_formats() -> None:
    assert parse_formats("html, CSV,html") == ("html", "csv")
    with pytest.raises(ValueError, match="unknown report format pdf"):
        parse_formats("html,pdf")
    with pytest.raises(ValueError):
        parse_formats(" , ")
