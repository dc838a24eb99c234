"""dispatch_once against a fake platform: each outcome leads to the right state, attempt,
pause and alert; threads chain; channels run in parallel, one post each at a time."""

from __future__ import annotations

import random
from datetime import timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sqlalchemy import select, update
from sqlalchemy.orm import Session, sessionmaker

from dissem.errors import (
    AuthError,
    ContentRejected,
    CredentialsMissing,
    Duplicate,
    OutcomeUnknown,
    RateLimited,
    TransientError,
)
from dissem.platforms.base import PublishContext
from dissem.store.db import transaction
from dissem.store.models import Attempt, Post, PostState
from dissem.store.queue import PAUSED_FOREVER, claim_due_posts, settle_outcomes
from dissem.worker.backoff import backoff_delay
from dissem.worker.dispatch import AdapterPool, publish_claimed
from tests.worker.queue_seed import (
    T0,
    DispatchRig,
    add_channel,
    add_post,
    add_thread,
    get_channel,
    get_post,
    queue_settings,
)

Factory = sessionmaker[Session]


class Rig(DispatchRig):
    """The dispatch rig, and the attempts it recorded."""

    def attempts(self, post_id: int) -> list[Attempt]:
        with self.factory() as s:
            q = select(Attempt).where(Attempt.post_id == post_id).order_by(Attempt.id)
            return list(s.scalars(q))


@pytest.fixture
def rig(qfactory: Factory) -> Rig:
    add_channel(qfactory, "m")
    return Rig(qfactory)


def test_ok_publishes_with_remote_fields(rig: Rig) -> None:
    pid = add_post(rig.factory, "m")
    stats = rig.dispatch()
    post = get_post(rig.factory, pid)
    assert (post.state, post.remote_id, post.remote_data) == ("published", "id1", {"cid": "cid1"})
    assert post.published_at == T0 and post.next_metrics_at == T0 + timedelta(hours=1)
    assert post.lease_owner == "w1" and post.lease_expires is None and post.attempts == 1
    assert [a.outcome for a in rig.attempts(pid)] == ["ok"]
    assert stats.published == 1 and stats.claimed == 1


def test_transient_error_backs_off_then_fails_after_max_attempts(rig: Rig) -> None:
    pid = add_post(rig.factory, "m")
    rig.world.plan(rig.text(pid), [TransientError("503", status=503)] * 3)
    rig.dispatch()
    post = get_post(rig.factory, pid)
    assert post.state == PostState.SCHEDULED and post.attempts == 1
    assert post.due_at is not None
    assert T0 + timedelta(seconds=5) <= post.due_at <= T0 + timedelta(seconds=10)
    assert "503" in (post.last_error or "")
    rig.clock.t = post.due_at
    rig.dispatch()
    second = get_post(rig.factory, pid)
    assert second.state == PostState.SCHEDULED and second.attempts == 2
    assert second.due_at is not None
    assert (
        rig.clock.t + timedelta(seconds=10) <= second.due_at <= rig.clock.t + timedelta(seconds=20)
    )
    rig.clock.t = second.due_at
    rig.dispatch()
    final = get_post(rig.factory, pid)
    assert final.state == PostState.FAILED and "gave up after 3 attempts" in (
        final.last_error or ""
    )
    assert [a.outcome for a in rig.attempts(pid)] == ["transient"] * 3
    assert [a.http_status for a in rig.attempts(pid)] == [503] * 3
    assert rig.alerts.kinds() == ["failed"]


def test_rate_limit_reschedules_and_pauses_the_channel(rig: Rig) -> None:
    pid = add_post(rig.factory, "m")
    other = add_post(rig.factory, "m", due_at=T0 + timedelta(seconds=1))
    retry_at = T0 + timedelta(minutes=15)
    rig.world.plan(rig.text(pid), [RateLimited("429", retry_at=retry_at, status=429)])
    stats = rig.dispatch()
    post = get_post(rig.factory, pid)
    assert (post.state, post.due_at, post.attempts) == (PostState.SCHEDULED, retry_at, 0)
    channel = get_channel(rig.factory, "m")
    assert channel.paused_until == retry_at and "rate limited" in (channel.pause_reason or "")
    assert stats.next_due == retry_at
    rig.clock.t = T0 + timedelta(minutes=1)
    assert rig.dispatch().claimed == 0  # the whole channel waits, not just the post
    assert get_post(rig.factory, other).state == PostState.SCHEDULED
    rig.clock.t = retry_at
    rig.dispatch()
    assert get_post(rig.factory, pid).state == PostState.PUBLISHED
    assert get_post(rig.factory, other).state == PostState.PUBLISHED


def test_auth_error_fails_pauses_the_channel_and_alerts(rig: Rig) -> None:
    pid = add_post(rig.factory, "m")
    later = add_post(rig.factory, "m", due_at=T0 + timedelta(seconds=1))
    rig.world.plan(rig.text(pid), [AuthError("token expired", status=401)])
    rig.dispatch()
    post = get_post(rig.factory, pid)
    assert post.state == PostState.FAILED and "token expired" in (post.last_error or "")
    channel = get_channel(rig.factory, "m")
    assert channel.paused_until == PAUSED_FOREVER
    assert (channel.pause_reason or "").startswith("auth: ")
    assert rig.alerts.kinds() == ["auth"] and rig.alerts.sent[0][2]["channel"] == "m"
    rig.clock.advance(3600)
    rig.dispatch()
    assert get_post(rig.factory, later).state == PostState.SCHEDULED


def test_content_rejected_fails_with_the_reason(rig: Rig) -> None:
    pid = add_post(rig.factory, "m")
    rig.world.plan(rig.text(pid), [ContentRejected("text too long: 501 > 500")])
    rig.dispatch()
    post = get_post(rig.factory, pid)
    assert post.state == PostState.FAILED and "501 > 500" in (post.last_error or "")
    assert get_channel(rig.factory, "m").paused_until is None
    assert [a.outcome for a in rig.attempts(pid)] == ["rejected"]


def test_a_duplicate_is_unconfirmed_even_when_it_names_a_post(rig: Rig) -> None:
    # the named post may be another release's (same text): reconcile proves it first
    add_channel(rig.factory, "n")
    named = add_post(rig.factory, "m")
    anonymous = add_post(rig.factory, "n")
    rig.world.plan(rig.text(named), [Duplicate("dup", remote_id="urn:1", url="https://l/1")])
    rig.world.plan(rig.text(anonymous), [Duplicate("duplicate content")])
    rig.dispatch()
    post = get_post(rig.factory, named)
    assert (post.state, post.remote_id) == (PostState.UNCONFIRMED, None)
    assert "urn:1" in (post.last_error or "")
    assert get_post(rig.factory, anonymous).state == PostState.UNCONFIRMED


@pytest.mark.parametrize(
    "error", [OutcomeUnknown("timeout after send"), ValueError("bad JSON"), KeyError("id")]
)
def test_unknown_or_unexpected_outcome_is_unconfirmed_and_the_worker_goes_on(
    rig: Rig, error: BaseException
) -> None:
    add_channel(rig.factory, "n")
    pid = add_post(rig.factory, "m")
    fine = add_post(rig.factory, "n")
    rig.world.plan(rig.text(pid), [error])
    stats = rig.dispatch()
    post = get_post(rig.factory, pid)
    assert post.state == PostState.UNCONFIRMED and type(error).__name__ in (post.last_error or "")
    assert get_post(rig.factory, fine).state == PostState.PUBLISHED
    assert stats.states == {PostState.UNCONFIRMED: 1, PostState.PUBLISHED: 1}


def test_missing_credentials_skip_the_channel_and_keep_the_post(qfactory: Factory) -> None:
    add_channel(qfactory, "m")
    rig = Rig(qfactory)

    def no_creds(channel: object) -> object:
        raise CredentialsMissing("m", "MASTODON_TOKEN")

    rig.adapters = AdapterPool(rig.settings, no_creds)  # type: ignore[arg-type]
    pid = add_post(qfactory, "m")
    stats = rig.dispatch()
    post = get_post(qfactory, pid)
    assert (post.state, post.due_at, post.attempts) == (PostState.SCHEDULED, T0, 0)
    channel = get_channel(qfactory, "m")
    assert channel.paused_until is not None and channel.paused_until > T0
    assert "MASTODON_TOKEN" in (channel.pause_reason or "")
    assert rig.alerts.kinds() == ["credentials"] and stats.claimed == 1
    assert rig.dispatch().claimed == 0  # paused: not tried again at once


def test_thread_goes_out_in_order_as_a_reply_chain(rig: Rig) -> None:
    ids = add_thread(rig.factory, "m", 3)
    stats = rig.dispatch()
    assert stats.published == 3
    calls = rig.world.calls
    assert [c.text for c in calls] == [rig.text(i) for i in ids]
    assert calls[0].reply_to is None and calls[0].root is None
    assert calls[1].reply_to is not None and calls[1].reply_to.remote_id == "id1"
    assert calls[1].reply_to.data == {"cid": "cid1"}  # what Bluesky replies need
    assert calls[2].reply_to is not None and calls[2].reply_to.remote_id == "id2"
    assert calls[2].root is not None and calls[2].root.remote_id == "id1"


def test_a_failed_thread_part_blocks_the_rest_until_retried(rig: Rig) -> None:
    p1, p2, p3 = add_thread(rig.factory, "m", 3)
    rig.world.plan(rig.text(p2), [ContentRejected("bad part")])
    rig.dispatch()
    assert get_post(rig.factory, p1).state == PostState.PUBLISHED
    assert get_post(rig.factory, p2).state == PostState.FAILED
    blocked = get_post(rig.factory, p3)
    assert blocked.state == PostState.FAILED
    assert (blocked.last_error or "").startswith("blocked: part 2 failed")


def test_channels_publish_in_parallel_each_in_due_order(qfactory: Factory) -> None:
    rig = Rig(qfactory, queue_settings(concurrency=4, claim_batch=5))
    expected: dict[str, list[str]] = {}
    for c in range(8):
        add_channel(qfactory, f"c{c}")
        for k in range(4):
            pid = add_post(qfactory, f"c{c}", due_at=T0 - timedelta(seconds=10 - k))
            expected.setdefault(f"c{c}", []).append(rig.text(pid))
    stats = rig.dispatch()
    assert stats.published == 32 and stats.rounds >= 7  # at most 5 a batch
    for name, texts in expected.items():
        assert rig.world.texts(name) == texts
    assert len(rig.world.posts) == 32


def test_remembered_state_is_stored_before_the_next_step(rig: Rig) -> None:
    pid = add_post(rig.factory, "m")
    seen: list[dict[str, str]] = []

    def remember_then_check(ctx: PublishContext) -> None:
        ctx.remember("rkey", "3kabc")
        seen.append(dict(get_post(rig.factory, pid).publish_state))

    rig.world.on_publish = remember_then_check
    rig.dispatch()
    assert seen == [{"rkey": "3kabc"}]
    assert get_post(rig.factory, pid).publish_state == {"rkey": "3kabc"}


def test_lease_lost_mid_publish_stops_before_the_next_step(rig: Rig) -> None:
    pid = add_post(rig.factory, "m")

    def lose_lease(ctx: PublishContext) -> None:
        with transaction(rig.factory) as s:  # another process expired our lease
            s.execute(update(Post).where(Post.id == pid).values(state=PostState.UNCONFIRMED))
        ctx.remember("container", "c1")

    rig.world.on_publish = lose_lease
    stats = rig.dispatch()
    assert stats.lost == 1 and stats.published == 0
    assert get_post(rig.factory, pid).state == PostState.UNCONFIRMED
    assert rig.world.posts == {}  # the publish step after remember never ran


def test_stop_event_claims_nothing(rig: Rig) -> None:
    add_post(rig.factory, "m")
    rig.stop.set()
    assert rig.dispatch().claimed == 0


def test_next_due_tells_when_to_wake(rig: Rig) -> None:
    add_post(rig.factory, "m", due_at=T0 + timedelta(seconds=42))
    stats = rig.dispatch()
    assert stats.claimed == 0 and stats.next_due == T0 + timedelta(seconds=42)


@settings(max_examples=60, deadline=None)
@given(
    attempt=st.integers(min_value=-3, max_value=200),
    base=st.floats(min_value=0, max_value=1e4, allow_nan=False),
    cap=st.floats(min_value=0, max_value=1e5, allow_nan=False),
    seed=st.integers(min_value=0, max_value=2**32),
)
def test_backoff_stays_within_bounds(attempt: int, base: float, cap: float, seed: int) -> None:
    delay = backoff_delay(attempt, base=base, cap=cap, rng=random.Random(seed))
    planned = min(cap, base * 2.0 ** min(max(attempt, 1) - 1, 64))
    assert planned / 2 <= delay <= planned <= cap


def test_backoff_grows_until_the_cap() -> None:
    delays = [backoff_delay(n, base=30, cap=3600, rng=random.Random(1)) for n in range(1, 12)]
    assert 15 <= delays[0] <= 30 and 30 <= delays[1] <= 60
    assert all(1800 <= d <= 3600 for d in delays[8:])


def test_post_whose_lease_is_nearly_gone_is_put_back_unsent(rig: Rig) -> None:
    pid = add_post(rig.factory, "m")
    (claimed,) = claim_due_posts(rig.factory, "w1", T0, limit=1, lease_seconds=60)
    rig.clock.t = T0 + timedelta(seconds=50)  # less than http_timeout (15 s) left
    outcome = publish_claimed(
        claimed,
        adapters=rig.adapters,
        session_factory=rig.factory,
        settings=rig.settings,
        now_fn=rig.clock.now,
        worker_id="w1",
    )
    assert outcome is not None and (outcome.state, outcome.label) == ("scheduled", "not_sent")
    assert rig.world.calls == []
    assert settle_outcomes(rig.factory, "w1", [outcome]) == [True]
    post = get_post(rig.factory, pid)
    assert (post.state, post.attempts, post.due_at) == (PostState.SCHEDULED, 0, rig.clock.t)


def test_unreadable_stored_post_fails_without_sending(rig: Rig) -> None:
    pid = add_post(rig.factory, "m")
    with transaction(rig.factory) as s:
        s.execute(update(Post).where(Post.id == pid).values(payload={"text": "no index"}))
    rig.dispatch()
    post = get_post(rig.factory, pid)
    assert post.state == PostState.FAILED and "cannot be read" in (post.last_error or "")
    assert rig.world.calls == []
