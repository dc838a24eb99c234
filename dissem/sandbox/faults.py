"""Fault injection for the sandbox, reproducible from a seed.

A spec is a comma-separated list of ``key=value``; a key may be prefixed by a platform to
apply to that platform only::

    latency_ms=50,error_rate=0.1,throttle_rate=0.05,drop_rate=0.02,seed=1,x.throttle_rate=0.2

- ``error``: the platform answers its own 5xx shape; nothing is applied.
- ``throttle``: the platform answers its own throttle signal (429 and reset header, or
  Meta error codes); nothing is applied.
- ``drop``: the request IS applied, then the connection is closed without an answer (the
  client cannot know whether the post exists).
- ``latency_ms``: every answer of that platform waits this long first.

Each platform draws from its own random generator seeded by ``(seed, platform)``, so one
platform's sequence does not depend on how requests to others interleave. Tests can also
:meth:`FaultPlan.force` the next N write requests of a platform to fail a given way.
"""

from __future__ import annotations

import random
import threading
from collections import deque
from dataclasses import dataclass, replace
from enum import Enum

__all__ = ["Fault", "FaultPlan", "FaultRates", "parse_faults"]


class Fault(Enum):
    """What the sandbox does instead of (or after) answering normally."""

    ERROR = "error"
    THROTTLE = "throttle"
    DROP = "drop"


@dataclass(frozen=True)
class FaultRates:
    """Probabilities per request (0..1) and a fixed latency, for one platform."""

    latency_ms: float = 0.0
    error_rate: float = 0.0
    throttle_rate: float = 0.0
    drop_rate: float = 0.0

    def __post_init__(self) -> None:
        for name in ("error_rate", "throttle_rate", "drop_rate"):
            value = getattr(self, name)
            if not 0.0 <= value <= 1.0:
                raise ValueError(f"{name}={value} is not between 0 and 1")
        if self.error_rate + self.throttle_rate + self.drop_rate > 1.0:
            raise ValueError("error_rate + throttle_rate + drop_rate is more than 1")
        if self.latency_ms < 0:
            raise ValueError("latency_ms is negative")


_KEYS = {"latency_ms", "error_rate", "throttle_rate", "drop_rate"}


def parse_faults(spec: str | None) -> FaultPlan:
    """A :class:`FaultPlan` from a spec string (see the module doc); empty means no faults.

    Raises ``ValueError`` naming the bad item.
    """
    seed = 0
    default: dict[str, float] = {}
    per_platform: dict[str, dict[str, float]] = {}
    for raw in (spec or "").split(","):
        item = raw.strip()
        if not item:
            continue
        key, sep, value = item.partition("=")
        if not sep:
            raise ValueError(f"fault {item!r} is not key=value")
        key = key.strip()
        platform, dot, name = key.rpartition(".")
        try:
            number = float(value)
        except ValueError:
            raise ValueError(f"fault {item!r}: {value.strip()!r} is not a number") from None
        if name == "seed" and not dot:
            seed = int(number)
            continue
        if name not in _KEYS:
            raise ValueError(f"unknown fault {key!r}; use {', '.join(sorted(_KEYS))} or seed")
        (per_platform.setdefault(platform, {}) if dot else default)[name] = number
    base = FaultRates(**default)
    return FaultPlan(
        default=base,
        per_platform={p: replace(base, **v) for p, v in per_platform.items()},
        seed=seed,
    )


class FaultPlan:
    """Decides, request by request, whether a platform fails and how. Thread-safe."""

    def __init__(
        self,
        default: FaultRates | None = None,
        per_platform: dict[str, FaultRates] | None = None,
        seed: int = 0,
    ) -> None:
        self.default = default or FaultRates()
        self.per_platform = dict(per_platform or {})
        self.seed = seed
        self._lock = threading.Lock()
        self._rngs: dict[str, random.Random] = {}
        self._forced: dict[str, deque[tuple[Fault, bool]]] = {}

    def rates(self, platform: str) -> FaultRates:
        """The rates in force for ``platform``."""
        return self.per_platform.get(platform, self.default)

    def force(
        self, platform: str, fault: Fault, count: int = 1, *, writes_only: bool = True
    ) -> None:
        """Makes the next ``count`` write requests (any requests when not ``writes_only``) to
        ``platform`` fail with ``fault``."""
        with self._lock:
            self._forced.setdefault(platform, deque()).extend([(fault, writes_only)] * count)

    def clear(self) -> None:
        """Removes forced faults (rates stay)."""
        with self._lock:
            self._forced.clear()

    def decide(self, platform: str, *, write: bool) -> Fault | None:
        """The fault for this request, or None to answer normally.

        A forced fault is taken by the next request it applies to; otherwise one draw from
        the platform's generator picks error, throttle, drop or nothing by the rates.
        """
        with self._lock:
            forced = self._forced.get(platform)
            if forced and (write or not forced[0][1]):
                return forced.popleft()[0]
            rates = self.rates(platform)
            if not (rates.error_rate or rates.throttle_rate or rates.drop_rate):
                return None
            rng = self._rngs.get(platform)
            if rng is None:
                rng = self._rngs[platform] = random.Random(f"{self.seed}:{platform}")
            draw = rng.random()
        if draw < rates.error_rate:
            return Fault.ERROR
        if draw < rates.error_rate + rates.throttle_rate:
            return Fault.THROTTLE
        if draw < rates.error_rate + rates.throttle_rate + rates.drop_rate:
            return Fault.DROP
        return None
