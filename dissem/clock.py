"""The one "now" of dissem: aware UTC time, and the type of a clock a caller can pass in.

Everything that reads the time takes a ``now`` or a :data:`Clock` (default :func:`utcnow`),
so tests and the demo's simulated week step time instead of waiting for it.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime

__all__ = ["Clock", "utcnow"]

#: a function that says what time it is (aware, UTC)
Clock = Callable[[], datetime]


def utcnow() -> datetime:
    """The current time, aware, in UTC."""
    return datetime.now(UTC)
