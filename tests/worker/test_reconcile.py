"""reconcile_once: found -> published, not found -> scheduled again, unsupported -> review;
a thread interrupted by a crash resumes where it stopped."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from dissem.errors import OutcomeUnknown, RateLimited, TransientError
from dissem.lifecycle import Event
from dissem.store.models import Attempt, PostState
from dissem.store.queue import Outcome, claim_due_posts, expire_leases, settle_reconciled
from dissem.worker.reconcile import LOOKUP_MARGIN
from tests.worker.queue_seed import (
    T0,
    DispatchRig,
    add_channel,
    add_post,
    add_thread,
    get_channel,
    get_post,
)

Factory = sessionmaker[Session]


Rig = DispatchRig


@pytest.fixture
def rig(qfactory: Factory) -> Rig:
    add_channel(qfactory, "m")
    add_channel(qfactory, "tg", "telegram")
    return Rig(qfactory)


def test_applied_but_unknown_post_is_found_and_published(rig: Rig) -> None:
    pid = add_post(rig.factory, "m")
    rig.world.plan(rig.text(pid), ["applied"])  # went out, the answer was lost
    rig.dispatch()
    assert get_post(rig.factory, pid).state == PostState.UNCONFIRMED
    rig.clock.advance(60)
    stats = rig.reconcile()
    post = get_post(rig.factory, pid)
    assert stats["found"] == 1 and post.state == PostState.PUBLISHED
    assert post.remote_id == rig.world.posts[post.idempotency_key].remote_id
    assert post.published_at == T0  # when the try that got it out started
    assert len(rig.world.calls) == 1  # looked up, never re-sent
    key, since = rig.world.lookups[0]
    assert key == post.idempotency_key and since == T0 - LOOKUP_MARGIN


def test_not_found_is_scheduled_again_with_the_same_key(rig: Rig) -> None:
    pid = add_post(rig.factory, "m")
    key = get_post(rig.factory, pid).idempotency_key
    rig.world.plan(rig.text(pid), [OutcomeUnknown("timeout before the server saw it")])
    rig.dispatch()
    rig.clock.advance(60)
    assert rig.reconcile()["not_found"] == 1
    post = get_post(rig.factory, pid)
    assert (post.state, post.due_at, post.idempotency_key) == ("scheduled", rig.clock.t, key)
    rig.dispatch()
    post = get_post(rig.factory, pid)
    assert post.state == PostState.PUBLISHED and post.attempts == 2
    assert len(rig.world.posts) == 1


def test_not_found_after_the_last_attempt_fails(rig: Rig) -> None:
    pid = add_post(rig.factory, "m", state=PostState.UNCONFIRMED, attempts=3)
    assert rig.reconcile()["failed"] == 1
    post = get_post(rig.factory, pid)
    assert post.state == PostState.FAILED and "gave up after 3" in (post.last_error or "")
    assert rig.alerts.kinds() == ["failed"]


def test_platform_that_cannot_be_asked_needs_review(rig: Rig) -> None:
    rig.world.unsupported.add("telegram")
    pid = add_post(rig.factory, "tg", platform="telegram", state=PostState.UNCONFIRMED)
    assert rig.reconcile()["needs_review"] == 1
    post = get_post(rig.factory, pid)
    assert post.state == PostState.NEEDS_REVIEW and "mark-published" in (post.last_error or "")
    assert rig.alerts.kinds() == ["needs_review"]
    with rig.factory() as s:
        attempt = s.scalars(select(Attempt).where(Attempt.post_id == pid)).one()
    assert (attempt.kind, attempt.outcome, attempt.worker) == ("reconcile", "needs_review", "r1")


def test_lookup_errors_leave_the_post_for_the_next_round(rig: Rig) -> None:
    pid = add_post(rig.factory, "m", state=PostState.UNCONFIRMED)
    rig.world.lookup_error = TransientError("502")
    assert rig.reconcile()["error"] == 1
    assert get_post(rig.factory, pid).state == PostState.UNCONFIRMED
    until = T0 + timedelta(minutes=5)
    rig.world.lookup_error = RateLimited("429", retry_at=until)
    rig.reconcile()
    assert get_post(rig.factory, pid).state == PostState.UNCONFIRMED
    assert get_channel(rig.factory, "m").paused_until == until
    rig.world.lookup_error = None
    assert rig.reconcile()["not_found"] == 1


def test_a_stale_decision_is_not_written(rig: Rig) -> None:
    pid = add_post(rig.factory, "m", state=PostState.UNCONFIRMED)
    seen = get_post(rig.factory, pid).updated_at
    rig.reconcile()  # another reconciler decided first (not found -> scheduled)
    late = Outcome(pid, Event.UNDECIDABLE, T0, T0, kind="reconcile")
    assert settle_reconciled(rig.factory, "r2", [(late, seen)]) == [False]
    assert get_post(rig.factory, pid).state == PostState.SCHEDULED


def test_thread_resumes_after_a_crash_where_it_stopped(rig: Rig) -> None:
    p1, p2, p3 = add_thread(rig.factory, "m", 3)
    # part 1 goes out; part 2 is claimed, sent, and the worker dies before recording it
    rig.world.plan(rig.text(p2), ["applied"])
    rig.dispatch()
    assert get_post(rig.factory, p1).state == PostState.PUBLISHED
    assert get_post(rig.factory, p2).state == PostState.UNCONFIRMED
    rig.world.plans.clear()
    p2_key = get_post(rig.factory, p2).idempotency_key
    rig.clock.advance(30)
    rig.reconcile()  # found: published with its remote id
    assert get_post(rig.factory, p2).state == PostState.PUBLISHED
    # part 3 is claimed by a worker that dies before sending it: its lease runs out
    claimed = claim_due_posts(rig.factory, "dead", rig.clock.now(), limit=5, lease_seconds=60)
    assert [c.post_id for c in claimed] == [p3]
    assert claimed[0].reply_to is not None
    assert claimed[0].reply_to.remote_id == rig.world.posts[p2_key].remote_id
    rig.clock.advance(61)
    assert expire_leases(rig.factory, rig.clock.now()) == [p3]
    assert rig.reconcile()["not_found"] == 1  # the dead worker never sent it
    rig.dispatch()
    assert get_post(rig.factory, p3).state == PostState.PUBLISHED
    last = rig.world.calls[-1]
    assert last.text == rig.text(p3)
    assert (
        last.reply_to is not None and last.reply_to.remote_id == get_post(rig.factory, p2).remote_id
    )
    assert last.root is not None and last.root.remote_id == get_post(rig.factory, p1).remote_id
    assert len(rig.world.posts) == 3  # each part exactly once
