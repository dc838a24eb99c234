"""X adapter over real HTTP against the sandbox: non-public metrics asked for only while X
has them (30 days), and the 24-hour posting caps pausing until their own reset."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import requests
from hypothesis import given
from hypothesis import strategies as st

from dissem.compose.types import Part
from dissem.errors import RateLimited
from dissem.platforms.base import MemoryContext, Platform
from dissem.platforms.x import X_EPOCH_MS, XPlatform, posted_at, young_enough
from dissem.sandbox import RunningSandbox

MakeAdapter = Callable[..., Platform]


def part(text: str) -> Part:
    return Part(index=1, total=1, text=text, length=len(text), limit=280)


def fresh_x(make_adapter: MakeAdapter, clock: Any) -> XPlatform:
    """An X adapter for an account no other test posts from (the access token decides the
    account), on the sandbox's clock."""
    token = f"x-token-{uuid.uuid4().hex[:12]}"
    names = ("api_key", "api_secret", "access_token", "access_token_secret")
    env = {f"FRESH_X_{n.upper()}": f"{n}-{token}" for n in names}
    adapter = make_adapter(
        "x",
        credentials={n: f"FRESH_X_{n.upper()}" for n in names},
        extra_env=env,
    )
    assert isinstance(adapter, XPlatform)
    adapter.clock = clock
    return adapter


@pytest.fixture
def lookups() -> Iterator[Callable[[XPlatform], list[requests.PreparedRequest]]]:
    """Records the GET /2/tweets requests an adapter sends."""
    seen: list[requests.PreparedRequest] = []

    def watch(adapter: XPlatform) -> list[requests.PreparedRequest]:
        def hook(response: requests.Response, *args: Any, **kwargs: Any) -> None:
            url = response.request.url or ""
            if response.request.method == "GET" and "/2/tweets?" in url:
                seen.append(response.request)

        adapter.session.hooks["response"].append(hook)
        return seen

    yield watch


def asked(request: requests.PreparedRequest) -> tuple[set[str], set[str]]:
    """(ids, tweet.fields) of a lookup request."""
    query = requests.utils.urlparse(request.url or "").query
    params = dict(p.split("=", 1) for p in query.split("&"))
    unquote = requests.utils.unquote
    return set(unquote(params["ids"]).split(",")), set(unquote(params["tweet.fields"]).split(","))


# --- metrics ----------------------------------------------------------------------------------


def test_posts_past_30_days_keep_their_public_metrics_in_a_separate_request(
    make_adapter: MakeAdapter,
    unique: Callable[[str], str],
    clock: Any,
    lookups: Callable[[XPlatform], list[requests.PreparedRequest]],
) -> None:
    x = fresh_x(make_adapter, clock)
    old = [x.publish(part(unique(f"old {i}")), MemoryContext(f"o{i}")).remote_id for i in (1, 2)]
    clock.advance(timedelta(days=31))
    young = x.publish(part(unique("young")), MemoryContext("y")).remote_id
    clock.advance(timedelta(hours=5))
    sent = lookups(x)
    samples = x.fetch_metrics([*old, young])
    assert set(samples) == {*old, young}
    for remote_id in old:  # public numbers only; X has no non-public ones any more
        assert samples[remote_id].values["likes"] > 0
        assert (
            samples[remote_id].values["views"]
            == (samples[remote_id].raw["public_metrics"]["impression_count"])
        )
        assert "link_clicks" not in samples[remote_id].values
    young_raw = samples[young].raw["non_public_metrics"]
    assert samples[young].values["link_clicks"] == young_raw["url_link_clicks"]
    assert samples[young].values["views"] == young_raw["impression_count"]
    assert [asked(r) for r in sent] == [
        ({young}, {"public_metrics", "non_public_metrics"}),
        (set(old), {"public_metrics"}),
    ]


def test_a_post_x_still_refuses_non_public_fields_for_is_asked_again_without(
    make_adapter: MakeAdapter,
    unique: Callable[[str], str],
    clock: Any,
    lookups: Callable[[XPlatform], list[requests.PreparedRequest]],
) -> None:
    """The adapter's clock says young, X's says 31 days (or the post is another account's):
    X leaves the post out of ``data`` with Field Authorization Errors; its public numbers
    are fetched again rather than lost, and the other posts keep theirs."""
    x = fresh_x(make_adapter, clock)
    other = fresh_x(make_adapter, clock)
    mine = x.publish(part(unique("refused")), MemoryContext("a")).remote_id
    foreign = other.publish(part(unique("someone else's")), MemoryContext("b")).remote_id
    clock.advance(timedelta(days=31))
    fine = x.publish(part(unique("fine")), MemoryContext("c")).remote_id
    x.clock = lambda: posted_at(mine) or datetime.now(UTC)  # every id looks young to it
    sent = lookups(x)
    samples = x.fetch_metrics([mine, foreign, fine, "12345"])
    assert set(samples) == {mine, foreign, fine}  # an unknown id is left out
    assert "link_clicks" in samples[fine].values
    assert "link_clicks" not in samples[mine].values and samples[mine].values["likes"] > 0
    assert "link_clicks" not in samples[foreign].values
    # "12345" is no snowflake of the last 30 days: asked for public numbers only
    assert [asked(r)[0] for r in sent] == [{mine, foreign, fine}, {"12345", mine, foreign}]


def test_posted_at_reads_the_sandboxes_ids(
    make_adapter: MakeAdapter, unique: Callable[[str], str], clock: Any
) -> None:
    x = fresh_x(make_adapter, clock)
    before = clock()
    tweet_id = x.publish(part(unique("when")), MemoryContext("w")).remote_id
    made = posted_at(tweet_id)
    assert made is not None and abs(made - before) < timedelta(seconds=5)
    assert young_enough(tweet_id, before + timedelta(days=29))
    assert not young_enough(tweet_id, before + timedelta(days=30))
    assert posted_at("not-a-number") is None and posted_at("0") is None


@given(
    st.datetimes(min_value=datetime(2011, 1, 1), max_value=datetime(2060, 1, 1)),
    st.integers(min_value=0, max_value=(1 << 22) - 1),
)
def test_posted_at_inverts_the_snowflake_layout(moment: datetime, low_bits: int) -> None:
    moment = moment.replace(tzinfo=UTC, microsecond=moment.microsecond // 1000 * 1000)
    millis = (moment - datetime(1970, 1, 1, tzinfo=UTC)) // timedelta(milliseconds=1) - X_EPOCH_MS
    assert posted_at(str((millis << 22) | low_bits)) == moment


# --- the 24-hour caps ---------------------------------------------------------------------------


@pytest.fixture
def x_bucket(sandbox: RunningSandbox) -> Iterator[dict[str, Any]]:
    bucket: dict[str, Any] = sandbox.state.bucket("x")
    yield bucket
    bucket.pop("user_24h_limit", None)
    bucket.pop("app_24h_limit", None)


def test_the_24_hour_user_cap_pauses_until_its_reset_not_the_15_minute_window(
    make_adapter: MakeAdapter, unique: Callable[[str], str], clock: Any, x_bucket: dict[str, Any]
) -> None:
    x = fresh_x(make_adapter, clock)
    x_bucket["user_24h_limit"] = 2
    first_at = clock()
    x.publish(part(unique("one")), MemoryContext("1"))
    clock.advance(timedelta(hours=3))
    x.publish(part(unique("two")), MemoryContext("2"))
    clock.advance(timedelta(hours=1))
    with pytest.raises(RateLimited) as caught:
        x.publish(part(unique("three")), MemoryContext("3"))
    reset = first_at.replace(microsecond=0) + timedelta(hours=24)
    assert caught.value.retry_at == reset  # not clock() + 15 minutes
    assert caught.value.status == 429 and "24-hour user cap" in str(caught.value)
    other = fresh_x(make_adapter, clock)  # another account still posts
    other.publish(part(unique("elsewhere")), MemoryContext("4"))


def test_the_24_hour_app_cap_pauses_until_its_reset(
    make_adapter: MakeAdapter,
    unique: Callable[[str], str],
    clock: Any,
    sandbox: RunningSandbox,
    x_bucket: dict[str, Any],
) -> None:
    x = fresh_x(make_adapter, clock)
    x.publish(part(unique("app cap")), MemoryContext("1"))
    recent = [
        p.created_at for p in sandbox.state.posts("x") if clock() - p.created_at < timedelta(1)
    ]
    x_bucket["app_24h_limit"] = len(recent)
    with pytest.raises(RateLimited, match="24-hour app cap") as caught:
        fresh_x(make_adapter, clock).publish(part(unique("over")), MemoryContext("2"))
    assert caught.value.retry_at == min(recent).replace(microsecond=0) + timedelta(hours=24)


def test_a_15_minute_throttle_still_waits_for_its_window(
    make_adapter: MakeAdapter, unique: Callable[[str], str], clock: Any, sandbox: RunningSandbox
) -> None:
    from dissem.sandbox import Fault

    x = fresh_x(make_adapter, clock)
    sandbox.faults.force("x", Fault.THROTTLE)
    with pytest.raises(RateLimited) as caught:
        x.publish(part(unique("window")), MemoryContext("1"))
    expected = (clock() + timedelta(minutes=15)).replace(microsecond=0)
    assert abs(caught.value.retry_at - expected) <= timedelta(seconds=2)
    assert "24-hour" not in str(caught.value)
