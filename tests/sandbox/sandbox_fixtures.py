"""Importable helpers for the sandbox tests (the fixtures themselves live in conftest.py)."""

from __future__ import annotations

from datetime import UTC, datetime

#: Where the tests' simulated clock starts: a fixed instant, so LinkedIn-Version headers
#: such as ``202608`` stay active however late the suite runs.
START = datetime(2026, 11, 30, 9, 0, tzinfo=UTC)


class Clock:
    """A settable clock for the sandbox: tests move ``now`` forward instead of sleeping."""

    def __init__(self, now: datetime = START) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now
