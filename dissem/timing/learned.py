"""Learned timing: place a post in its channel's best open slot, inside every rule.

A channel with ``timing: learned`` has a :class:`TimingAdvice` (made from its fitted model,
:mod:`dissem.timing`). :func:`plan_learned` then plans one post so:

* a ``breaking`` post is planned exactly as with fixed timing: it goes now;
* a share ``explore`` of ordinary posts (chosen by a stable hash of the post's key, so
  re-planning decides the same way) *explores*: Thompson sampling draws each slot's
  engagement from its posterior and targets the slot that wins the draw, so slots the
  model is unsure of still get posts and the model keeps learning;
* every other post targets the recommended slots, best first; without a recommendation
  (too little data, nothing clearly better) it is planned exactly as with fixed timing;
* a target slot is planned by the very same rule as fixed timing (:mod:`dissem.planning.due`)
  on the channel's windows *cut down to that slot* (:func:`~dissem.timing.slots.windows_in_slot`),
  within ``max_delay`` of when the post could first go. Each cut-down window opens a stable
  share (up to :data:`SPREAD`, from the post's key) of its length late, so posts spread over
  the slot rather than all going out the minute it opens. The cut-down windows lie inside the
  channel's windows, and the gap, the daily cap and the expiry are checked as always, so a
  learned post can never land outside windows, gaps or caps. When no target slot has room
  in time, the post is planned as with fixed timing.
"""

from __future__ import annotations

import hashlib
import random
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import datetime, time, timedelta

from dissem.config.models import Channel, Window
from dissem.planning.due import HORIZON, PlanRequest, plan_many
from dissem.timing.model import ChannelTiming
from dissem.timing.slots import Slot, windows_in_slot

__all__ = ["DEFAULT_MAX_DELAY", "TimingAdvice", "plan_learned", "target_slots"]

#: how long a post may wait for a better slot: long enough to reach any block of the
#: same kind of day (weekday or weekend) from any moment
DEFAULT_MAX_DELAY = timedelta(hours=36)
#: a post aimed at a slot may open its search up to this share of the slot's length late
SPREAD = 0.8


@dataclass(frozen=True)
class TimingAdvice:
    """What planning needs of a channel's model: the clear slots (best first) and each
    in-window slot's posterior ``(slot, mean, sd)`` for exploring."""

    best: tuple[Slot, ...]
    posterior: tuple[tuple[Slot, float, float], ...]
    explore: float = 0.1
    max_delay: timedelta = DEFAULT_MAX_DELAY

    @classmethod
    def from_timing(
        cls, timing: ChannelTiming, explore: float, max_delay: timedelta = DEFAULT_MAX_DELAY
    ) -> TimingAdvice:
        posterior = tuple((e.slot, e.mean, e.sd) for e in timing.slots if e.in_windows)
        return cls(timing.recommended, posterior, explore, max_delay)


def _unit(*parts: str) -> float:
    digest = hashlib.blake2b(":".join(parts).encode("utf-8"), digest_size=8).digest()
    return int.from_bytes(digest, "big") / 2.0**64


def _later_start(window: Window, share: float) -> Window:
    """``window`` opening ``share`` of its length later (whole minutes): posts aimed at a
    slot spread over it instead of all going out as it opens, so the slot is measured as a
    whole and one audience is not hit at the same minute every day."""
    start = window.start.hour * 60 + window.start.minute
    end = 24 * 60 if window.end is None else window.end.hour * 60 + window.end.minute
    moved = start + int((end - start) * share)
    return replace(window, start=time(moved // 60, moved % 60))


def target_slots(advice: TimingAdvice, key: str) -> tuple[list[Slot], bool]:
    """The slots a post with ``key`` aims at, in order, and whether it explores. Stable:
    the same key always gives the same answer."""
    if advice.posterior and _unit(key, "explore") < advice.explore:
        rng = random.Random(f"thompson:{key}")
        draws = [(rng.gauss(mean, sd), slot) for slot, mean, sd in advice.posterior]
        return [max(draws)[1]], True
    return list(advice.best), False


def plan_learned(
    channel: Channel,
    request: PlanRequest,
    taken: Sequence[datetime],
    now: datetime,
    advice: TimingAdvice | None,
    *,
    stagger_seconds: int = 120,
    horizon: timedelta = HORIZON,
) -> datetime | None:
    """The due time (UTC) of one post on ``channel``, by the rule in the module doc.

    With ``advice`` None (fixed timing) this is exactly :func:`plan_many` of one request.
    """

    def fixed() -> datetime | None:
        return plan_many(
            channel, [request], taken, now, stagger_seconds=stagger_seconds, horizon=horizon
        )[0]

    if advice is None or request.priority == "breaking":
        return fixed()
    slots, _ = target_slots(advice, request.key)
    spread = _unit(request.key, "spread") * SPREAD
    for slot in slots:
        windows = [_later_start(w, spread) for w in windows_in_slot(list(channel.windows), slot)]
        if not windows:
            continue
        narrowed = channel.model_copy(update={"windows": windows})
        due = plan_many(
            narrowed,
            [request],
            taken,
            now,
            stagger_seconds=stagger_seconds,
            horizon=min(horizon, advice.max_delay),
        )[0]
        if due is not None:
            return due
    return fixed()
