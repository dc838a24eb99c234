"""Retry delays: exponential backoff with jitter, as data (never a sleep).

Retry ``n`` (1-based) waits ``base * 2**(n-1)`` seconds capped at ``cap``, then jittered
down to a uniform point in the upper half of that span ("equal jitter"): retries of many
posts that failed together spread out, yet none comes back sooner than half the planned
delay.
"""

from __future__ import annotations

import random
from datetime import datetime, timedelta

__all__ = ["backoff_delay", "next_retry_at"]

_rng = random.Random()


def backoff_delay(
    attempt: int, *, base: float, cap: float, rng: random.Random | None = None
) -> float:
    """Seconds to wait before retry ``attempt`` (1 for the first retry).

    Always within ``[min(base, cap) / 2, cap]`` and never above ``base * 2**(attempt-1)``.
    ``attempt`` below 1 counts as 1; ``base``/``cap`` below 0 count as 0.
    """
    base = max(0.0, base)
    cap = max(0.0, cap)
    n = max(1, attempt)
    # Doubling stops at 2**64: far past any cap, and far from float overflow.
    span = min(cap, base * 2.0 ** min(n - 1, 64))
    r = rng or _rng
    return span / 2 + r.random() * (span / 2)


def next_retry_at(
    now: datetime, attempt: int, *, base: float, cap: float, rng: random.Random | None = None
) -> datetime:
    """``now`` plus :func:`backoff_delay` for ``attempt``."""
    return now + timedelta(seconds=backoff_delay(attempt, base=base, cap=cap, rng=rng))
