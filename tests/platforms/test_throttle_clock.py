"""A throttle's reset is read on the adapter's clock: on a simulated clock (the demo, tests)
that the platform's stand-in shares, the channel waits the platform's wait from simulated
now. Graph (Facebook, Instagram, Threads) added its wait to the wall clock: in the demo's
simulated week a throttled Threads post was held until long after the week, and expired."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest

from dissem.config.models import PLATFORMS
from dissem.errors import RateLimited
from dissem.platforms.base import Platform
from dissem.sandbox import Fault, RunningSandbox
from tests.platforms.conftest import FakeClock
from tests.platforms.test_contract import ctx


@pytest.mark.parametrize("platform", PLATFORMS)
def test_throttle_reset_is_on_the_adapters_clock(
    platform: str,
    make_adapter: Callable[..., Platform],
    specs: dict[str, Any],
    sandbox: RunningSandbox,
    clock: FakeClock,
    unique: Callable[[str], str],
) -> None:
    spec = specs[platform]
    adapter = make_adapter(platform)
    clock.advance(-timedelta(days=30))  # the sandbox and the adapter, a month back
    adapter.clock = clock
    sandbox.faults.force(platform, Fault.THROTTLE)
    before = clock()
    with pytest.raises(RateLimited) as caught:
        adapter.publish(spec.part(unique("throttled on a simulated clock")), ctx())
    wait = caught.value.retry_at - before
    assert abs(wait - spec.retry_after) < timedelta(seconds=3), (platform, wait)
