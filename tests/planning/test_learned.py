"""Learned timing in planning: breaking goes now, fixed is unchanged, posts go to the best
slot, a share explores, and nothing ever lands outside the windows, gaps or caps."""

from __future__ import annotations

from bisect import bisect_left
from datetime import UTC, datetime, timedelta

from hypothesis import given, settings
from hypothesis import strategies as st

from dissem.config.models import Channel, Window
from dissem.planning import PlanRequest, day_bounds, openings, plan_many
from dissem.timing import Slot, all_slots, slot_of
from dissem.timing.learned import TimingAdvice, plan_learned, target_slots

NOW = datetime(2026, 3, 2, 5, 0, tzinfo=UTC)  # Monday 06:00 in Berlin
EVENING = Slot(weekend=False, start_hour=18, hours=3)


def berlin(**extra: object) -> Channel:
    return Channel(
        name="embassy",
        platform="mastodon",
        account="@e",
        timezone="Europe/Berlin",
        windows=[Window.parse("mon-fri 07:00-22:00"), Window.parse("sat,sun 09:00-21:00")],
        timing="learned",
        **extra,  # type: ignore[arg-type]
    )


def advice(best: tuple[Slot, ...] = (EVENING,), explore: float = 0.0) -> TimingAdvice:
    posterior = tuple((s, 0.5 if s in best else 0.0, 0.2) for s in all_slots())
    return TimingAdvice(best, posterior, explore)


def test_posts_go_to_the_best_slot_inside_the_windows() -> None:
    ch = berlin()
    due = plan_learned(ch, PlanRequest("r1:embassy:0", NOW), [], NOW, advice())
    assert due is not None and slot_of(due, ch.zone) == EVENING
    assert due.date() == NOW.date()  # the same evening, not a later one
    # fixed timing would have posted at once (the window opens at 07:00)
    fixed = plan_many(ch, [PlanRequest("r1:embassy:0", NOW)], [], NOW)[0]
    assert fixed is not None and fixed < due


def test_breaking_goes_now() -> None:
    ch = berlin()
    request = PlanRequest("b:embassy:0", NOW, priority="breaking")
    assert plan_learned(ch, request, [], NOW, advice()) == NOW


def test_without_advice_or_recommendation_it_is_fixed_timing() -> None:
    ch = berlin()
    taken = [NOW + timedelta(hours=3)]
    for key in ("a", "b", "c", "d"):
        request = PlanRequest(key, NOW)
        fixed = plan_many(ch, [request], taken, NOW)[0]
        assert plan_learned(ch, request, taken, NOW, None) == fixed
        assert plan_learned(ch, request, taken, NOW, advice(best=())) == fixed


def test_a_full_best_slot_falls_back_to_the_next_then_to_the_windows() -> None:
    ch = berlin(daily_cap=1)
    morning = Slot(weekend=False, start_hour=9, hours=3)
    taken = [NOW + timedelta(hours=14)]  # Monday is full (the cap)
    due = plan_learned(ch, PlanRequest("k", NOW), taken, NOW, advice((EVENING, morning)))
    # Monday is full, and Tuesday's evening lies past the 36 h a post may wait for its slot:
    # the next clear slot (Tuesday morning) takes it
    assert due is not None and slot_of(due, ch.zone) == morning
    assert due.astimezone(ch.zone).date().isoformat() == "2026-03-03"
    # with neither in reach, the windows stand (fixed timing)
    request = PlanRequest("k", NOW, expires=NOW + timedelta(hours=40))
    late = plan_learned(ch, request, taken, NOW, advice((EVENING,)))
    assert late == plan_many(ch, [request], taken, NOW)[0]


def test_a_share_of_posts_explores_and_always_the_same_ones() -> None:
    keys = [f"rel{i}:embassy:0" for i in range(1000)]
    exploring = [k for k in keys if target_slots(advice(explore=0.2), k)[1]]
    assert 150 < len(exploring) < 250
    assert exploring == [k for k in keys if target_slots(advice(explore=0.2), k)[1]]
    assert not any(target_slots(advice(explore=0.0), k)[1] for k in keys)
    explored = {target_slots(advice(explore=0.2), k)[0][0] for k in exploring}
    assert len(explored) > 3  # Thompson draws reach other slots too


def _inside(ch: Channel, t: datetime) -> bool:
    return any(o.start <= t < o.end for o in openings(ch, t - timedelta(days=1), t + timedelta(1)))


@st.composite
def learned_scenarios(draw: st.DrawFn) -> dict[str, object]:
    tz = draw(st.sampled_from(["UTC", "Europe/Berlin", "America/New_York", "Asia/Kathmandu"]))
    n = draw(st.integers(1, 3))
    cuts = sorted(draw(st.sets(st.integers(0, 96), min_size=2 * n, max_size=2 * n)))
    windows = []
    for i in range(n):
        a, b = cuts[2 * i], cuts[2 * i + 1]
        days = draw(st.frozensets(st.integers(0, 6), min_size=1))
        end = "24:00" if b == 96 else f"{b // 4:02d}:{b % 4 * 15:02d}"
        names = ",".join(("mon", "tue", "wed", "thu", "fri", "sat", "sun")[d] for d in sorted(days))
        windows.append(Window.parse(f"{names} {a // 4:02d}:{a % 4 * 15:02d}-{end}"))
    ch = Channel(
        name="c",
        platform="x",
        account="@c",
        timezone=tz,
        windows=windows,
        min_gap=timedelta(minutes=15) * draw(st.integers(0, 12)),
        daily_cap=draw(st.none() | st.integers(1, 4)),
        timing="learned",
    )
    now = datetime(2026, 1, 1, tzinfo=UTC) + timedelta(minutes=15) * draw(st.integers(0, 35000))
    slots = all_slots(draw(st.sampled_from([2, 3, 4])))
    best = tuple(draw(st.lists(st.sampled_from(slots), max_size=3, unique=True)))
    posterior = tuple(
        (s, draw(st.floats(-1, 1)), draw(st.floats(0.01, 1))) for s in slots if draw(st.booleans())
    )
    taken = [
        now + timedelta(minutes=15) * k for k in draw(st.lists(st.integers(-16, 300), max_size=10))
    ]
    expires = draw(st.none() | st.integers(1, 400).map(lambda k: now + timedelta(minutes=15) * k))
    return {
        "channel": ch,
        "now": now,
        "taken": taken,
        "request": PlanRequest(draw(st.text(max_size=6)), now, "normal", expires),
        "advice": TimingAdvice(best, posterior, draw(st.floats(0, 0.5))),
    }


@settings(max_examples=200, deadline=None)
@given(learned_scenarios())
def test_learned_planning_never_leaves_windows_gaps_or_caps(sc: dict[str, object]) -> None:
    ch, now, taken, request, adv = (
        sc["channel"], sc["now"], sc["taken"], sc["request"], sc["advice"]
    )  # fmt: skip
    assert isinstance(ch, Channel) and isinstance(now, datetime) and isinstance(taken, list)
    assert isinstance(request, PlanRequest) and isinstance(adv, TimingAdvice)
    due = plan_learned(ch, request, taken, now, adv, horizon=timedelta(days=4))
    if due is None:
        return
    assert due >= now and _inside(ch, due)
    assert request.expires is None or due < request.expires
    assert all(abs(due - x) >= ch.min_gap for x in taken)
    if ch.daily_cap is not None:
        start, end = day_bounds(ch.zone, due.astimezone(ch.zone).date())
        ordered = sorted(taken)
        assert bisect_left(ordered, end) - bisect_left(ordered, start) < ch.daily_cap
