"""Fixtures for the sandbox tests: a settable clock and an in-process sandbox running on it."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from dissem.sandbox import RunningSandbox, start_sandbox
from tests.sandbox.sandbox_fixtures import Clock


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def sb(clock: Clock) -> Iterator[RunningSandbox]:
    """A sandbox on 127.0.0.1 whose time is ``clock``; stopped after the test."""
    with start_sandbox(clock=clock) as running:
        yield running
