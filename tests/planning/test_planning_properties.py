"""Properties of planning, checked against a brute-force oracle written independently.

The oracle decides "inside a window" from the local clock alone: an instant is inside a
window when the highest reading the clock has shown so far falls in ``[start, end)`` on
one of the window's days (this is the documented rule for DST days). It then walks a
15-minute grid (plus the stagger offset) to show no earlier valid instant was skipped.
All generated times, gaps and window bounds sit on that grid, and every zone used has
offsets and 2026 transitions on it, so the earliest valid instant is always a grid point
or a grid point plus the offset.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from functools import cache
from zoneinfo import ZoneInfo

from hypothesis import given, settings
from hypothesis import strategies as st

from dissem.config.models import Channel, Window
from dissem.planning import PlanRequest, next_window_instant, plan_due_time, plan_many
from dissem.planning.stagger import stagger_offset

Q = timedelta(minutes=15)
HORIZON = timedelta(days=3)  # small so the brute force stays cheap
ZONES = [
    "UTC",
    "Asia/Jakarta",
    "Asia/Tokyo",
    "Asia/Kolkata",
    "Asia/Kathmandu",
    "Europe/Berlin",
    "Europe/London",
    "America/New_York",
    "America/St_Johns",
    "America/Santiago",  # changes at midnight
    "America/Havana",  # springs forward from midnight
    "Australia/Lord_Howe",  # 30-minute DST
    "Pacific/Chatham",  # +12:45 / +13:45
]
SETTINGS = settings(max_examples=150, deadline=None)
LIGHT = settings(max_examples=100, deadline=None)


@cache
def transitions_2026(tz: str) -> tuple[datetime, ...]:
    """UTC instants at which ``tz`` changes offset in 2026 (found by scanning)."""
    zone = ZoneInfo(tz)
    out = []
    step = timedelta(hours=6)  # coarse scan, then refine to the quarter hour
    t = datetime(2026, 1, 1, tzinfo=UTC)
    while t.year == 2026:
        if t.astimezone(zone).utcoffset() != (t + step).astimezone(zone).utcoffset():
            x = t
            while x.astimezone(zone).utcoffset() == (x + Q).astimezone(zone).utcoffset():
                x += Q
            out.append(x + Q)
        t += step
    for x in out:  # the grid argument in the module docstring needs this
        assert (x - datetime(2026, 1, 1, tzinfo=UTC)) % Q == timedelta(0), (tz, x)
    return tuple(out)


def reading(zone: ZoneInfo, t: datetime) -> datetime:
    return t.astimezone(zone).replace(tzinfo=None)


def clock_high(zone: ZoneInfo, t: datetime) -> datetime:
    """The highest local reading shown at or before ``t`` (second resolution)."""
    r = t.astimezone(zone)
    if r.fold == 0:  # not a repeated reading: nothing earlier read later
        return r.replace(tzinfo=None)
    floor = t.replace(second=0, microsecond=0)
    before = (reading(zone, floor - timedelta(minutes=k, seconds=1)) for k in range(361))
    return max(r.replace(tzinfo=None), *before)


def window_of(ch: Channel, t: datetime) -> tuple[date, int] | None:
    """(local day, window index) of the window ``t`` is in, by the clock-reading rule."""
    m = clock_high(ch.zone, t)
    for i, w in enumerate(ch.windows):
        if m.weekday() in w.days and w.start <= m.time() and (w.end is None or m.time() < w.end):
            return (m.date(), i)
    return None


def quarter_time(n: int) -> time:
    return time(n // 4, n % 4 * 15)


def quarter_of(x: datetime) -> int:
    """Index (0..96) of the quarter hour ``x`` (naive, local) falls in on its own day."""
    return (x - datetime.combine(x.date(), time())) // Q


@st.composite
def channel_and_start(draw: st.DrawFn) -> tuple[Channel, datetime]:
    """A channel and a grid instant; usually the instant is shortly before one of the
    zone's 2026 transitions and window bounds cluster around the clock readings there."""
    tz = draw(st.sampled_from(ZONES))
    transitions = transitions_2026(tz)
    cut = st.integers(0, 96)
    days = st.frozensets(st.integers(0, 6), min_size=1)
    if transitions and draw(st.integers(0, 3)) > 0:
        tau = draw(st.sampled_from(transitions))
        zone = ZoneInfo(tz)
        before, after = reading(zone, tau - Q) + Q, reading(zone, tau)  # the clock jumps
        hot = {q for x in (before, after) for q in range(quarter_of(x) - 4, quarter_of(x) + 5)}
        cut = st.sampled_from(sorted(q for q in hot if 0 <= q <= 96)) | cut
        jump_days = frozenset({before.weekday(), after.weekday()})
        days = days.map(lambda d: d | jump_days) | days
        start = tau + Q * draw(st.integers(-96, 24))
    else:
        start = datetime(2026, 1, 1, tzinfo=UTC) + Q * draw(st.integers(0, 365 * 96))
    n = draw(st.integers(1, 3))
    # Distinct sorted cut points paired up never overlap, whatever days each window gets.
    cuts = sorted(draw(st.sets(cut, min_size=2 * n, max_size=2 * n)))
    windows = [
        Window(
            days=draw(days),
            start=quarter_time(cuts[2 * i]),
            end=None if cuts[2 * i + 1] == 96 else quarter_time(cuts[2 * i + 1]),
            text=f"w{i}",
        )
        for i in range(n)
    ]
    ch = Channel(
        name="c",
        platform="mastodon",
        account="@a",
        timezone=tz,
        windows=windows,
        min_gap=Q * draw(st.integers(0, 12)),
        daily_cap=draw(st.none() | st.integers(1, 4)),
    )
    return ch, start


@st.composite
def scenarios(draw: st.DrawFn) -> dict[str, object]:
    ch, now = draw(channel_and_start())
    earliest = now + Q * draw(st.integers(-8, 96))
    base = max(now, earliest)
    taken = [base + Q * k for k in draw(st.lists(st.integers(-16, 192), max_size=8))]
    expires = draw(st.none() | st.integers(0, 288).map(lambda k: base + Q * k))
    return {
        "channel": ch,
        "now": now,
        "earliest": earliest,
        "taken": taken,
        "expires": expires,
        "key": draw(st.text(max_size=8)),
        "priority": draw(st.sampled_from(["normal", "evergreen"])),
        "stagger_seconds": draw(st.sampled_from([0, 120, 900])),
    }


def is_valid(
    ch: Channel,
    t: datetime,
    *,
    low: datetime,
    limit: datetime,
    offset: timedelta,
    taken: list[datetime],
    taken_days: list[date],
) -> bool:
    """Every condition of the planning rule, checked naively."""
    if not low <= t < limit or any(abs(t - x) < ch.min_gap for x in taken):
        return False
    where = window_of(ch, t)
    if where is None or window_of(ch, t - offset) != where:
        return False
    return ch.daily_cap is None or taken_days.count(where[0]) < ch.daily_cap


@SETTINGS
@given(scenarios())
def test_plan_due_time_is_the_earliest_valid_instant(sc: dict[str, object]) -> None:
    ch = sc["channel"]
    assert isinstance(ch, Channel)
    due = plan_due_time(**sc, horizon=HORIZON)  # type: ignore[arg-type]
    base = max(sc["now"], sc["earliest"])  # type: ignore[type-var]
    assert isinstance(base, datetime)
    offset = stagger_offset(str(sc["key"]), int(sc["stagger_seconds"]))  # type: ignore[call-overload]
    expires = sc["expires"]
    limit = base + HORIZON if expires is None else min(base + HORIZON, expires)  # type: ignore[type-var]
    taken = list(sc["taken"])  # type: ignore[call-overload]
    taken_days = [clock_high(ch.zone, x).date() for x in taken]
    check = {
        "low": base + offset,
        "limit": limit,
        "offset": offset,
        "taken": taken,
        "taken_days": taken_days,
    }

    if due is not None:
        assert due.tzinfo is UTC
        assert due >= base
        assert is_valid(ch, due, **check)  # inside a window, gap kept, under the cap
    stop = due if due is not None else limit
    g = base
    while g < stop:
        for candidate in (g, g + offset):
            assert not (candidate < stop and is_valid(ch, candidate, **check)), candidate
        g += Q


@LIGHT
@given(scenarios())
def test_breaking_goes_at_once_unless_expired(sc: dict[str, object]) -> None:
    sc["priority"] = "breaking"
    due = plan_due_time(**sc)  # type: ignore[arg-type]
    base = max(sc["now"], sc["earliest"])  # type: ignore[type-var]
    expires = sc["expires"]
    assert due == (None if expires is not None and expires <= base else base)  # type: ignore[operator]


@LIGHT
@given(channel_and_start())
def test_next_window_instant_is_the_first_instant_inside(case: tuple[Channel, datetime]) -> None:
    ch, t = case
    got = next_window_instant(ch, t)
    assert got is not None  # every generated channel has a window
    assert got >= t and window_of(ch, got) is not None
    g = t
    while g < got:
        assert window_of(ch, g) is None, g
        g += Q


@SETTINGS
@given(scenarios(), st.lists(st.integers(0, 96), min_size=1, max_size=6))
def test_plan_many_keeps_gap_and_cap_among_all(sc: dict[str, object], starts: list[int]) -> None:
    ch = sc["channel"]
    now = sc["now"]
    assert isinstance(ch, Channel) and isinstance(now, datetime)
    taken = list(sc["taken"])  # type: ignore[call-overload]
    reqs = [PlanRequest(f"r{i}", now + Q * k) for i, k in enumerate(starts)]
    got = plan_many(ch, reqs, taken, now)
    planned = [d for d in got if d is not None]
    for req, due in zip(reqs, got, strict=True):
        if due is not None:
            assert due >= max(now, req.earliest)
            assert window_of(ch, due) is not None
            others = taken + [d for d in planned if d is not due]
            assert all(abs(due - x) >= ch.min_gap for x in others)
    if ch.daily_cap is not None:
        days = [clock_high(ch.zone, d).date() for d in planned]
        prior = [clock_high(ch.zone, x).date() for x in taken]
        for day in set(days):
            # A planned post never pushes its day over the cap (taken alone may be over it).
            assert days.count(day) + prior.count(day) <= max(ch.daily_cap, prior.count(day))
            assert days.count(day) == 0 or prior.count(day) < ch.daily_cap
