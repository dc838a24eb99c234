"""Sandbox audiences: how much a post's engagement depends on when it went out.

Each sandbox account can have an :class:`Audience`: in its own time zone, engagement rises
around one or two peak hours of the day (bumps of a given width above a quiet ``floor``),
weekends are scaled by ``weekend``, and every post gets seeded log-normal ``noise``. The
audience multiplies a post's interactions (likes, reposts, replies, ...) but not its views,
so engagement *per impression* depends on the local hour and weekday, as
:mod:`dissem.timing` assumes. Levels are normalised to a mean of 1 over the week.

Audiences are off unless asked for (engagement is then exactly what it always was):
``dissem sandbox --audiences on`` gives every account a seeded audience of its own, and a
JSON file sets them by hand::

    {"seed": 7, "timezone": "Asia/Jakarta", "noise": 0.25,
     "accounts": {"mastodon:embassy": {"timezone": "Europe/Berlin",
                                       "peaks": [[9, 1.0], [20, 0.5]], "weekend": 0.7}}}

Accounts are keyed ``platform:account`` (or just ``account``); accounts not listed get a
seeded audience in ``timezone``. The benchmark (``benchmarks/timing.py``) draws its
simulated snapshots from this same code.
"""

from __future__ import annotations

import hashlib
import json
import math
import random
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from functools import cached_property, lru_cache
from pathlib import Path
from statistics import NormalDist
from typing import Any
from zoneinfo import ZoneInfo

from dissem.config.models import check_timezone

__all__ = ["Audience", "Audiences", "parse_audiences", "random_audience"]

_NORMAL = NormalDist()
_KEYS = ("timezone", "peaks", "width", "weekend", "floor", "noise", "seed")


def _unit(*parts: object) -> float:
    """A number in (0, 1) that depends only on ``parts`` (stable across processes)."""
    digest = hashlib.blake2b(":".join(map(str, parts)).encode(), digest_size=8).digest()
    return (int.from_bytes(digest, "big") + 0.5) / 2.0**64


@dataclass(frozen=True)
class Audience:
    """When one account's audience engages (see the module doc)."""

    timezone: str = "UTC"
    peaks: tuple[tuple[float, float], ...] = ((9.0, 1.0), (20.0, 0.6))  # (local hour, height)
    width: float = 2.0  # hours: the standard deviation of each bump
    weekend: float = 1.0  # multiplier on Saturdays and Sundays
    floor: float = 0.3  # level of the quietest hours, before the bumps
    noise: float = 0.25  # standard deviation of the per-post log-normal noise
    seed: int = 0

    def __post_init__(self) -> None:
        check_timezone(self.timezone)
        if self.width <= 0 or self.weekend <= 0 or self.floor < 0 or self.noise < 0:
            raise ValueError("audience: width and weekend must be > 0, floor and noise >= 0")
        if not self.peaks and self.floor <= 0:
            raise ValueError("audience: give peaks or a floor above 0")

    def _raw(self, hour: float, weekend: bool) -> float:
        level = self.floor
        for peak, height in self.peaks:
            d = abs(hour - peak) % 24.0
            d = min(d, 24.0 - d)
            level += height * math.exp(-0.5 * (d / self.width) ** 2)
        return level * (self.weekend if weekend else 1.0)

    @cached_property
    def _mean(self) -> float:
        steps = [(h / 4.0, wd >= 5) for wd in range(7) for h in range(96)]
        return sum(self._raw(h, we) for h, we in steps) / len(steps)

    def level_at(self, hour: float, weekend: bool) -> float:
        """The expected multiplier at a local ``hour`` (0-24) of a weekday or weekend day."""
        return self._raw(hour, weekend) / self._mean

    def level(self, instant: datetime) -> float:
        """The expected multiplier (mean 1 over the week) at an aware ``instant``."""
        local = instant.astimezone(ZoneInfo(self.timezone))
        hour = local.hour + local.minute / 60.0 + local.second / 3600.0
        return self.level_at(hour, local.weekday() >= 5)

    def lift(self, key: str, instant: datetime) -> float:
        """The multiplier of one post (``key`` seeds its noise): level times noise whose
        mean is 1."""
        z = _NORMAL.inv_cdf(_unit(self.seed, key))
        return self.level(instant) * math.exp(self.noise * z - self.noise**2 / 2.0)

    @classmethod
    def from_json(cls, data: Mapping[str, Any], **defaults: Any) -> Audience:
        unknown = set(data) - set(_KEYS)
        if unknown:
            raise ValueError(f"audience: unknown key(s) {sorted(unknown)}; use {list(_KEYS)}")
        merged = {**defaults, **data}
        if "peaks" in merged:
            merged["peaks"] = tuple((float(h), float(v)) for h, v in merged["peaks"])
        return cls(**merged)


def random_audience(seed: int, key: str, timezone: str = "UTC", noise: float = 0.25) -> Audience:
    """A seeded audience for ``key`` (``platform:account``): one or two peaks between 07:00
    and 22:00, a weekend factor from 0.6 to 1.4."""
    rng = random.Random(f"{seed}:{key}")
    peaks = [(rng.uniform(7.0, 22.0), rng.uniform(0.6, 1.5))]
    if rng.random() < 0.6:
        peaks.append((rng.uniform(7.0, 22.0), rng.uniform(0.3, 1.0)))
    return Audience(
        timezone=timezone,
        peaks=tuple(peaks),
        width=rng.uniform(1.5, 3.0),
        weekend=rng.uniform(0.6, 1.4),
        floor=rng.uniform(0.2, 0.5),
        noise=noise,
        seed=seed,
    )


@lru_cache(maxsize=4096)
def _seeded(seed: int, key: str, timezone: str, noise: float) -> Audience:
    return random_audience(seed, key, timezone, noise)


@dataclass(frozen=True)
class Audiences:
    """Every account's audience: the listed ones, and seeded ones for the rest."""

    accounts: Mapping[str, Audience] = field(default_factory=dict)
    seed: int = 0
    timezone: str = "UTC"
    noise: float = 0.25

    def for_account(self, platform: str, account: str) -> Audience:
        found = self.accounts.get(f"{platform}:{account}") or self.accounts.get(account)
        return found or random_audience(
            self.seed, f"{platform}:{account}", self.timezone, self.noise
        )

    def lift(self, platform: str, account: str, key: str, instant: datetime) -> float:
        """The multiplier of one post of ``account``; ``key`` (its remote id) seeds the noise."""
        return self.for_account(platform, account).lift(key, instant)


def parse_audiences(spec: str) -> Audiences | None:
    """``""`` or ``off``: none (flat engagement); ``on`` or ``seed=7,timezone=Asia/Jakarta,
    noise=0.2``: a seeded audience per account; anything else is a JSON file's path.

    Raises ValueError with a hint for anything else.
    """
    text = spec.strip()
    if text.lower() in ("", "off"):
        return None
    if text.lower() == "on":
        return Audiences()
    if "=" in text and not Path(text).exists():
        opts: dict[str, Any] = {}
        for part in text.split(","):
            key, _, value = part.partition("=")
            key = key.strip()
            if key == "seed":
                opts["seed"] = int(value)
            elif key == "noise":
                opts["noise"] = float(value)
            elif key == "timezone":
                opts["timezone"] = check_timezone(value.strip())
            else:
                raise ValueError(f"audiences: unknown option {key!r}; use seed, noise, timezone")
        return Audiences(**opts)
    path = Path(text)
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise ValueError(
            f"audiences: cannot read {text!r}: {exc.strerror}; write on, off, "
            "seed=N or the path of a JSON file"
        ) from None
    except json.JSONDecodeError as exc:
        raise ValueError(f"audiences: {text!r} is not JSON: {exc}") from None
    if not isinstance(data, dict):
        raise ValueError(f"audiences: {text!r} must hold a JSON object")
    seed = int(data.get("seed", 0))
    timezone = check_timezone(str(data.get("timezone", "UTC")))
    noise = float(data.get("noise", 0.25))
    accounts = {
        str(k): Audience.from_json(v, seed=seed, noise=noise, timezone=timezone)
        for k, v in dict(data.get("accounts", {})).items()
    }
    return Audiences(accounts, seed, timezone, noise)
