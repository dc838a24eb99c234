"""The one "now" of dissem: aware UTC time, the type of a clock a caller can pass in, and
the check that a time zone name exists.

Everything that reads the time takes a ``now`` or a :data:`Clock` (default :func:`utcnow`),
so tests and the demo's simulated week step time instead of waiting for it.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime

__all__ = ["Clock", "check_zone", "utcnow"]

#: a function that says what time it is (aware, UTC)
Clock = Callable[[], datetime]


def utcnow() -> datetime:
    """The current time, aware, in UTC."""
    return datetime.now(UTC)


def check_zone(name: str) -> None:
    """Raises ``ValueError`` naming ``name`` when it is not an IANA time zone."""
    from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError(
            f"no time zone named {name[:80]!r}: use an IANA name such as Europe/Berlin"
        ) from None
