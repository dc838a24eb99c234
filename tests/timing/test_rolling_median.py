"""outcomes' sliding rolling median gives exactly the numbers of its definition.

The definition: each post's rate relative to the median of the rates of the posts published
within ``Params.rolling`` of it (the whole history's median when fewer than five are), on a
log scale. The fit keeps that median as a sorted window sliding with the posts; posts at the
same instant, equal rates and windows that empty and refill must not change a single bit.
"""

from __future__ import annotations

import math
from bisect import bisect_left, bisect_right
from datetime import UTC, datetime, timedelta
from statistics import median

from hypothesis import given, settings
from hypothesis import strategies as st

from dissem.config.models import Window
from dissem.timing.model import ChannelHistory, Observation, Params, outcomes

START = datetime(2026, 8, 1, tzinfo=UTC)


def _definition(history: ChannelHistory, params: Params) -> list[float]:
    obs = sorted(history.observations, key=Observation.order)
    exposed = [o for o in obs if o.exposure]
    per_impression = bool(exposed) and 2 * len(exposed) >= len(obs)
    use = exposed if per_impression else obs
    rates = [
        (o.engagement + 0.5) / o.exposure if per_impression and o.exposure else o.engagement + 0.5
        for o in use
    ]
    times = [o.published_at for o in use]
    out = []
    for t, rate in zip(times, rates, strict=True):
        lo, hi = bisect_left(times, t - params.rolling), bisect_right(times, t + params.rolling)
        near = rates[lo:hi] if hi - lo >= 5 else rates
        out.append(math.log(rate / median(near)))
    return out


@settings(max_examples=200, deadline=None)
@given(
    posts=st.lists(
        st.tuples(
            st.integers(min_value=0, max_value=120 * 24),  # hours after START
            st.integers(min_value=0, max_value=6),  # few values: many equal rates
            st.sampled_from([0, 10, 100]),  # 0: not exposed
        ),
        max_size=80,
    ),
    no_exposure=st.booleans(),
    rolling_hours=st.sampled_from([1, 24, 14 * 24]),
)
def test_sliding_median_is_the_definition(
    posts: list[tuple[int, int, int]], rolling_hours: int, no_exposure: bool
) -> None:
    history = ChannelHistory(
        name="c",
        platform="x",
        timezone="Asia/Jakarta",
        windows=(Window.parse("daily 00:00-24:00"),),
        observations=tuple(
            Observation(START + timedelta(hours=h), e, None if no_exposure else x)
            for h, e, x in posts
        ),
    )
    params = Params(rolling=timedelta(hours=rolling_hours))
    _, got = outcomes(history, params)
    assert [z for _, z in got] == _definition(history, params)  # exact, not approximate
