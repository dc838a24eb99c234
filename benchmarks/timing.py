"""Learned timing in simulation: does it find each audience's best slot, and does it pay?

100 channels in five platform+region groups (each group's audiences share a shape, each
channel's differs from it a little; :mod:`dissem.sandbox.audience`, the sandbox's own
code), each posting 1 to 3 releases a day that arrive at random between 06:00 and 22:00
local time, for 8 simulated weeks. Every channel runs twice on the same releases:

* **fixed**: planned as today (``timing: fixed``: as early as the windows allow);
* **learned**: ``timing: learned``, its model refitted every simulated day from the
  measured posts of all learned channels (:func:`dissem.timing.fit`, the group shrinkage
  included), planned by :func:`dissem.timing.learned.plan_learned` (10 % exploring).

A post's outcome is the sandbox's engagement at one day of age
(:func:`dissem.sandbox.state.engagement` times the audience's lift at publication): the
same numbers a sandbox channel would report to the metrics collector. Twenty thin
channels (two posts a week) run beside them and must not get a wrong recommendation.

Figures at 2, 4 and 8 weeks:

* recommended slot == the audience's true best slot in the windows (or within 5 % of its
  engagement): share of all channels, and of channels with a recommendation;
* median engagement per post, learned vs fixed, in the week before the checkpoint (pooled
  over channels, and the median of each channel's own ratio);
* posts outside their windows (both arms), which must be zero;
* thin channels: how many got a recommendation, and how many of those were wrong.

Run: ``.venv/bin/python benchmarks/timing.py [--channels N] [--weeks W] [--seed S]``
(about a minute). Prints the figures and the ratios; writes nothing.
"""

from __future__ import annotations

import argparse
import random
import statistics
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from dissem.config.models import Channel, Window
from dissem.planning.due import PlanRequest
from dissem.planning.windows import openings
from dissem.sandbox.audience import Audience, random_audience
from dissem.sandbox.state import engagement
from dissem.timing import ChannelHistory, Observation, Params, Slot, all_slots, fit
from dissem.timing.history import ENGAGEMENT
from dissem.timing.learned import TimingAdvice, plan_learned
from dissem.timing.slots import windows_in_slot

START = datetime(2026, 3, 2, tzinfo=UTC)  # a Monday
GROUPS = (
    ("mastodon", "Europe/Berlin"),
    ("x", "Asia/Jakarta"),
    ("bluesky", "America/New_York"),
    ("facebook", "Asia/Tokyo"),
    ("linkedin", "Europe/London"),
)
WINDOWS = (
    ("mon-fri 07:00-22:00", "sat,sun 09:00-21:00"),
    ("mon-fri 08:00-20:00", "sat,sun 10:00-18:00"),
    ("daily 06:00-23:00",),
)
CHECKPOINTS = (2, 4, 8)


@dataclass
class Sim:
    """One channel in one arm."""

    channel: Channel
    audience: Audience
    per_day: float
    learned: bool
    taken: list[datetime] = field(default_factory=list)
    posts: list[tuple[datetime, int, int]] = field(default_factory=list)  # due, engagement, views

    def history(self, until: datetime, age: timedelta) -> ChannelHistory:
        obs = tuple(Observation(t, e, v) for t, e, v in self.posts if t + age <= until)
        c = self.channel
        return ChannelHistory(c.name, c.platform, c.timezone, tuple(c.windows), obs)


def make_channels(n: int, thin: int, seed: int) -> list[tuple[Channel, Audience, float]]:
    rng = random.Random(seed)
    out = []
    for i in range(n + thin):
        platform, tz = GROUPS[i % len(GROUPS)]
        shape = random_audience(seed, f"group:{platform}", tz, noise=0.3)
        audience = Audience(
            timezone=tz,
            peaks=tuple(
                ((h + rng.gauss(0, 1.0)) % 24, v * rng.uniform(0.8, 1.2)) for h, v in shape.peaks
            ),
            width=shape.width,
            weekend=shape.weekend * rng.uniform(0.9, 1.1),
            floor=shape.floor,
            noise=0.3,
            seed=seed + i,
        )
        windows = [Window.parse(w) for w in WINDOWS[rng.randrange(len(WINDOWS))]]
        channel = Channel(
            name=f"{'thin' if i >= n else 'ch'}{i:03d}",
            platform=platform,  # type: ignore[arg-type]
            account=f"@a{i}",
            timezone=tz,
            windows=windows,
            min_gap=timedelta(minutes=45),
            daily_cap=4,
            timing="learned",
        )
        per_day = 2.0 / 7.0 if i >= n else rng.uniform(1.0, 3.0)
        out.append((channel, audience, per_day))
    return out


def true_values(channel: Channel, audience: Audience, params: Params) -> dict[Slot, float]:
    """Each in-window slot's true mean level over its window minutes."""
    values: dict[Slot, float] = {}
    for slot in all_slots(params.block_hours):
        levels = []
        for w in windows_in_slot(list(channel.windows), slot):
            end = 24 * 60 if w.end is None else w.end.hour * 60 + w.end.minute
            start = w.start.hour * 60 + w.start.minute
            for m in range(start, end, 5):
                levels.extend(audience.level_at(m / 60.0, slot.weekend) for _ in w.days)
        if levels:
            values[slot] = sum(levels) / len(levels)
    return values


def arrivals(
    per_day: float, day: datetime, audience: Audience, rng: random.Random
) -> list[datetime]:
    count = int(per_day) + (rng.random() < per_day - int(per_day))
    zone = ZoneInfo(audience.timezone)
    local_day = day.astimezone(zone).date()
    out = []
    for _ in range(count):
        minute = rng.uniform(6 * 60, 22 * 60)
        local = datetime.combine(local_day, datetime.min.time()) + timedelta(minutes=minute)
        out.append(local.replace(tzinfo=zone).astimezone(UTC))
    return sorted(out)


def publish(sim: Sim, key: str, due: datetime) -> None:
    lift = sim.audience.lift(key, due)
    counts = engagement(key, due, due + timedelta(days=1), lift)
    sim.posts.append((due, sum(counts[m] for m in ENGAGEMENT), counts["views"]))
    sim.taken.append(due)


def outside(channel: Channel, due: datetime) -> bool:
    return not any(
        o.start <= due < o.end
        for o in openings(channel, due - timedelta(days=1), due + timedelta(seconds=1))
    )


def checkpoint(
    week: int,
    sims: dict[str, dict[bool, Sim]],
    now: datetime,
    params: Params,
    truth: dict[str, dict[Slot, float]],
) -> dict[str, float]:
    learned = [s[True] for s in sims.values()]
    fitted = fit([s.history(now, params.age) for s in learned], params)
    main = [name for name in sims if name.startswith("ch")]
    thin = [name for name in sims if name.startswith("thin")]

    def correct(name: str) -> bool | None:
        best = fitted[name].best
        if best is None:
            return None
        values = truth[name]
        return values.get(best, 0.0) >= 0.95 * max(values.values())

    verdicts = {name: correct(name) for name in sims}
    with_rec = [n for n in main if verdicts[n] is not None]
    right = [n for n in main if verdicts[n]]
    week_start = now - timedelta(days=7)

    def last_week(sim: Sim) -> list[int]:
        return [e for t, e, _ in sim.posts if week_start <= t < now]

    pooled_l = [e for n in main for e in last_week(sims[n][True])]
    pooled_f = [e for n in main for e in last_week(sims[n][False])]
    ratios = []
    for n in main:
        a, b = last_week(sims[n][True]), last_week(sims[n][False])
        if a and b and statistics.median(b) > 0:
            ratios.append(statistics.median(a) / statistics.median(b))
    whole_l = [e for n in main for _, e, _ in sims[n][True].posts]
    whole_f = [e for n in main for _, e, _ in sims[n][False].posts]
    out_of_windows = sum(
        outside(sim.channel, t)
        for arms in sims.values()
        for sim in arms.values()
        for t, _, _ in sim.posts
    )
    thin_rec = [n for n in thin if verdicts[n] is not None]
    thin_wrong = [n for n in thin_rec if not verdicts[n]]
    return {
        "week": week,
        "correct_of_all": len(right) / len(main),
        "with_recommendation": len(with_rec) / len(main),
        "correct_of_recommended": (len(right) / len(with_rec)) if with_rec else float("nan"),
        "wrong": len(with_rec) - len(right),
        "median_ratio_pooled_week": statistics.median(pooled_l) / statistics.median(pooled_f),
        "median_of_channel_ratios_week": statistics.median(ratios),
        "median_ratio_pooled_so_far": statistics.median(whole_l) / statistics.median(whole_f),
        "posts_outside_windows": out_of_windows,
        "posts": sum(len(s.posts) for arms in sims.values() for s in arms.values()),
        "thin_recommended": len(thin_rec),
        "thin_wrong": len(thin_wrong),
        "thin_posts_median": statistics.median(len(sims[n][True].posts) for n in thin)
        if thin
        else 0,
    }


def run(n: int, thin: int, weeks: int, seed: int, explore: float) -> list[dict[str, float]]:
    params = Params()
    rng = random.Random(seed)
    sims: dict[str, dict[bool, Sim]] = {}
    truth: dict[str, dict[Slot, float]] = {}
    for channel, audience, per_day in make_channels(n, thin, seed):
        channel = channel.model_copy(update={"explore": explore})
        sims[channel.name] = {arm: Sim(channel, audience, per_day, arm) for arm in (False, True)}
        truth[channel.name] = true_values(channel, audience, params)
    advice: dict[str, TimingAdvice | None] = {}
    results = []
    for day in range(weeks * 7):
        now = START + timedelta(days=day)
        fitted = fit([s[True].history(now, params.age) for s in sims.values()], params)
        advice = {name: TimingAdvice.from_timing(t, explore) for name, t in fitted.items()}
        for name, arms in sims.items():
            fixed = arms[False]
            for k, arrival in enumerate(arrivals(fixed.per_day, now, fixed.audience, rng)):
                for learned, sim in arms.items():
                    key = f"{name}:{day}:{k}:{int(learned)}"
                    request = PlanRequest(key=key, earliest=arrival)
                    due = plan_learned(
                        sim.channel,
                        request,
                        sorted(sim.taken),
                        arrival,
                        advice[name] if learned else None,
                    )
                    if due is not None:
                        publish(sim, key, due)
        if (day + 1) % 7 == 0 and (day + 1) // 7 in CHECKPOINTS:
            results.append(checkpoint((day + 1) // 7, sims, now + timedelta(days=1), params, truth))
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--channels", type=int, default=100)
    parser.add_argument("--thin", type=int, default=20)
    parser.add_argument("--weeks", type=int, default=8)
    parser.add_argument("--seed", type=int, default=14)
    parser.add_argument("--explore", type=float, default=0.1)
    args = parser.parse_args()
    began = time.perf_counter()
    results = run(args.channels, args.thin, args.weeks, args.seed, args.explore)
    print(f"{args.channels} channels (+{args.thin} thin), 1-3 posts/day, seed {args.seed}")
    for r in results:
        print(
            f"week {r['week']}: best slot found {r['correct_of_all']:.0%} of channels "
            f"({r['with_recommendation']:.0%} have a recommendation, "
            f"{r['correct_of_recommended']:.0%} of those right, {r['wrong']} wrong); "
            f"engagement/post learned/fixed: week {r['median_ratio_pooled_week']:.2f} "
            f"(channel median {r['median_of_channel_ratios_week']:.2f}), "
            f"so far {r['median_ratio_pooled_so_far']:.2f}; "
            f"outside windows {r['posts_outside_windows']} of {r['posts']}; "
            f"thin: {r['thin_recommended']} recommended, {r['thin_wrong']} wrong "
            f"(median {r['thin_posts_median']} posts)"
        )
    print(f"took {time.perf_counter() - began:.0f}s")


if __name__ == "__main__":
    main()
