"""Seeded simulated audiences for the timing tests: posts drawn from the sandbox's own
audience and engagement code, as :mod:`dissem.metrics` would have measured them at one day."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta

from dissem.config.models import Window
from dissem.sandbox.audience import Audience
from dissem.sandbox.state import engagement
from dissem.timing import ChannelHistory, Observation
from dissem.timing.history import ENGAGEMENT

START = datetime(2026, 3, 2, tzinfo=UTC)  # a Monday
#: engagement peaks at 10:00 local on weekdays, and weekends are quiet
MORNING = Audience(
    timezone="Europe/Berlin", peaks=((10.5, 2.0),), width=1.0, weekend=0.5, floor=0.2, noise=0.2
)


def simulate(
    name: str,
    audience: Audience,
    posts: int,
    *,
    seed: int = 1,
    platform: str = "mastodon",
    windows: tuple[str, ...] = ("daily 06:00-23:00",),
    start: datetime = START,
) -> ChannelHistory:
    """``posts`` posts at random times within 06:00-23:00 local over the weeks needed."""
    rng = random.Random(seed)
    obs = []
    for i in range(posts):
        day = start + timedelta(days=i * 56 // max(posts, 1))
        t = day + timedelta(hours=rng.uniform(5, 20))  # 06:00-21:00 Berlin, roughly
        key = f"{name}-{i}"
        counts = engagement(key, t, t + timedelta(days=1), audience.lift(key, t))
        obs.append(Observation(t, sum(counts[m] for m in ENGAGEMENT), counts["views"]))
    return ChannelHistory(
        name=name,
        platform=platform,
        timezone=audience.timezone,
        windows=tuple(Window.parse(w) for w in windows),
        observations=tuple(sorted(obs, key=Observation.order)),
    )
