"""The per-channel model: it finds a clear best slot, stays silent on thin data, and pulls
slots with few posts toward the channel's platform+region group."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

from dissem.sandbox.audience import Audience
from dissem.timing import ChannelHistory, Observation, Params, Slot, fit, slot_of
from dissem.timing.model import outcomes
from dissem.timing.slots import all_slots, windows_in_slot
from tests.timing.audiences import MORNING, simulate

BEST = Slot(weekend=False, start_hour=9, hours=3)  # MORNING peaks at 10:30 on weekdays


def test_a_clear_best_slot_is_found_with_its_numbers() -> None:
    timing = fit([simulate("embassy", MORNING, 160)])["embassy"]
    assert timing.best == BEST, timing.reason
    est = timing.estimate(BEST)
    assert est.recommended and est.count >= 3
    assert est.low < est.lift < est.high and est.lift > 0.10
    assert est.p_clear >= 0.8 and est.p_top >= 0.5
    assert "weekdays 09:00-12:00 is clearly better" in timing.reason
    assert timing.measure == "per impression"


def test_thin_data_gets_no_recommendation() -> None:
    timing = fit([simulate("small", MORNING, 12)])["small"]
    assert timing.best is None and timing.recommended == ()
    assert "only 12 measured post(s)" in timing.reason
    assert not any(e.recommended for e in timing.slots)


def test_a_flat_audience_gets_no_recommendation() -> None:
    flat = Audience(timezone="Europe/Berlin", peaks=(), floor=1.0, noise=0.2)
    timing = fit([simulate("flat", flat, 160)])["flat"]
    assert timing.best is None
    assert "no slot in the windows is clearly better" in timing.reason


def test_a_slot_outside_the_windows_is_never_recommended() -> None:
    history = simulate("narrow", MORNING, 160, windows=("daily 13:00-23:00",))
    all_hours = replace(history, windows=())  # the model reads the windows it is given
    assert fit([all_hours])["narrow"].best is None  # no window at all: nothing to recommend
    timing = fit([history])["narrow"]
    assert timing.best != BEST and not timing.estimate(BEST).in_windows


def _history(name: str, platform: str, zs: dict[Slot, list[float]]) -> ChannelHistory:
    """Posts whose engagement per impression is exp(z) times a constant, in given slots."""
    obs = []
    week = datetime(2026, 3, 2, tzinfo=UTC)
    k = 0
    for slot, values in zs.items():
        for z in values:
            day = week + timedelta(days=(k % 5) + 5 * slot.weekend + 7 * (k // 5))
            at = day + timedelta(hours=slot.start_hour + 1)
            obs.append(Observation(at, round(1000 * 2.718281828**z), 10_000))
            k += 1
    return ChannelHistory(name, platform, "UTC", (), tuple(sorted(obs, key=Observation.order)))


def test_few_posts_are_shrunk_toward_the_group() -> None:
    slots = all_slots()
    high = slots[3]  # weekdays 09:00-12:00
    # one channel: three posts in `high` at +0.6, ten in each other weekday slot around 0
    own = {s: [0.3, -0.3] * 5 for s in slots[:8]} | {high: [0.9, 0.3, 0.6]}
    # its group either agrees (others +0.6 there) or not (others 0 there), with many posts
    agree = {s: [0.0, 0.1, -0.1] * 4 for s in slots[:8]} | {high: [0.6, 0.7, 0.5] * 4}
    disagree = {s: [0.0, 0.1, -0.1] * 4 for s in slots[:8]}
    fitted = {}
    for label, other in (("agree", agree), ("disagree", disagree)):
        histories = [_history("me", "x", own)] + [_history(f"o{i}", "x", other) for i in range(6)]
        fitted[label] = fit(histories)["me"].estimate(high)
    # the channel's own data is the same both times; only the group differs
    a, d = fitted["agree"], fitted["disagree"]
    assert a.count == d.count == 3 and a.own_mean == d.own_mean
    assert a.own_mean is not None
    assert d.group_mean < a.group_mean
    assert d.mean < a.mean  # pulled toward its group
    assert d.group_mean < d.mean < a.own_mean  # between the group and its own posts
    # a channel of another platform or region is no part of the group
    others = [_history(f"o{i}", "bluesky", agree) for i in range(6)]
    alone = fit([_history("me", "x", own), *others])
    assert alone["me"].group == "x/UTC" and alone["me"].estimate(high).group_mean == 0.0


def test_slots_read_the_local_clock_and_cut_windows() -> None:
    from zoneinfo import ZoneInfo

    from dissem.config.models import Window

    zone = ZoneInfo("Asia/Jakarta")
    # 02:30 UTC on a Friday is 09:30 in Jakarta; 18:00 UTC Friday is Saturday 01:00 there
    assert slot_of(datetime(2026, 3, 6, 2, 30, tzinfo=UTC), zone) == BEST
    assert slot_of(datetime(2026, 3, 6, 18, 0, tzinfo=UTC), zone) == Slot(True, 0, 3)
    cut = windows_in_slot([Window.parse("mon-sat 10:30-24:00")], BEST)
    assert [w.text for w in cut] == ["mon,tue,wed,thu,fri 10:30-12:00"]
    assert windows_in_slot([Window.parse("sat,sun 00:00-24:00")], BEST) == []
    assert Params().min_posts > 12  # the thin-data test above relies on this


def test_posts_at_the_same_time_with_and_without_impressions_sort() -> None:
    """Two posts of a channel at the same minute with the same engagement, one with
    impressions and one without: ordering them raised TypeError (None < int)."""
    at = datetime(2026, 8, 3, 9, 0, tzinfo=UTC)
    obs = (Observation(at, 4, None), Observation(at, 4, 120), Observation(at, 4, None))
    history = ChannelHistory("c", "x", "UTC", (), obs)
    measure, outcome = outcomes(history, Params())
    assert measure in ("per impression", "per post") and len(outcome) <= 3
    assert sorted(obs, key=Observation.order)[-1].exposure == 120
