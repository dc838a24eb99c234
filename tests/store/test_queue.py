"""Claiming, leases and settling on the posts table (SQLite and PostgreSQL)."""

from __future__ import annotations

import threading
from dataclasses import replace
from datetime import timedelta

import pytest
from sqlalchemy import Engine, event, select, text
from sqlalchemy.orm import Session, sessionmaker

from dissem.lifecycle import Event
from dissem.platforms.base import RemotePost
from dissem.store import queue_sql as sql
from dissem.store.db import make_engine, make_session_factory, transaction
from dissem.store.models import Attempt, Post, PostState
from dissem.store.queue import (
    BUSY_RETRY,
    Outcome,
    claim_due_posts,
    expire_leases,
    next_due_at,
    settle_outcomes,
)
from tests.worker.queue_seed import (
    T0,
    add_channel,
    add_post,
    add_thread,
    get_post,
    qengine,
    qfactory,
    queue_db,
    qurl,
)

__all__ = ["qengine", "qfactory", "queue_db", "qurl"]  # fixtures used by name

Factory = sessionmaker[Session]


def claim(factory: Factory, now=T0, worker: str = "w1", limit: int = 10, lease: float = 60):  # type: ignore[no-untyped-def]
    return claim_due_posts(factory, worker, now, limit=limit, lease_seconds=lease)


def published(post_id: int, n: int = 1, at=T0) -> Outcome:  # type: ignore[no-untyped-def]
    return Outcome(
        post_id=post_id,
        event=Event.PUBLISHED,
        started_at=at,
        finished_at=at,
        remote=RemotePost(f"id{n}", f"https://x/{n}", {"cid": f"c{n}"}),
    )


@pytest.fixture
def factory(qfactory: Factory) -> Factory:
    return qfactory


def test_claims_earliest_due_post_of_each_channel_once(factory: Factory) -> None:
    for name in ("a", "b", "c"):
        add_channel(factory, name)
    a_late = add_post(factory, "a", due_at=T0 - timedelta(seconds=5))
    a_early = add_post(factory, "a", due_at=T0 - timedelta(seconds=10))
    b = add_post(factory, "b", due_at=T0 - timedelta(seconds=1))
    add_post(factory, "c", due_at=T0 + timedelta(seconds=10))  # not due yet

    first = claim(factory)
    assert [c.post_id for c in first] == [a_early, b]  # earliest due first
    assert claim(factory) == []  # a and b are busy, c not due
    post = get_post(factory, a_early)
    assert (post.state, post.lease_owner, post.attempts) == (PostState.PUBLISHING, "w1", 1)
    assert post.lease_expires == T0 + timedelta(seconds=60)

    assert settle_outcomes(factory, "w1", [published(a_early)]) == [True]
    assert [c.post_id for c in claim(factory)] == [a_late]


def test_paused_disabled_and_removed_channels_are_skipped(factory: Factory) -> None:
    add_channel(factory, "paused", paused_until=T0 + timedelta(minutes=1))
    add_channel(factory, "was-paused", paused_until=T0)
    add_channel(factory, "off", enabled=False)
    add_channel(factory, "gone", removed=True)
    ids = {name: add_post(factory, name) for name in ("paused", "was-paused", "off", "gone")}
    assert [c.post_id for c in claim(factory)] == [ids["was-paused"]]
    later = T0 + timedelta(minutes=1)
    assert [c.post_id for c in claim(factory, now=later)] == [ids["paused"]]


def test_limit_caps_a_batch(factory: Factory) -> None:
    for i in range(5):
        add_channel(factory, f"c{i}")
        add_post(factory, f"c{i}", due_at=T0 - timedelta(seconds=i))
    got = claim(factory, limit=3)
    assert [c.channel for c in got] == ["c4", "c3", "c2"]


def test_thread_parts_go_in_order_as_replies(factory: Factory) -> None:
    add_channel(factory, "bsky", "bluesky")
    p1, p2, p3 = add_thread(factory, "bsky", 3)
    got = claim(factory)
    assert [c.post_id for c in got] == [p1] and got[0].reply_to is None
    settle_outcomes(factory, "w1", [published(p1, 1)])
    (second,) = claim(factory)
    assert second.post_id == p2
    assert second.reply_to == RemotePost("id1", "https://x/1", {"cid": "c1"})
    assert second.root == second.reply_to
    settle_outcomes(factory, "w1", [published(p2, 2)])
    (third,) = claim(factory)
    assert third.post_id == p3
    assert third.reply_to is not None and third.reply_to.remote_id == "id2"
    assert third.root is not None and third.root.remote_id == "id1"


def test_blocked_thread_part_does_not_block_other_posts(factory: Factory) -> None:
    add_channel(factory, "m")
    p1, p2 = add_thread(factory, "m", 2, due_at=T0 - timedelta(minutes=5))
    single = add_post(factory, "m", release="r1", seq=1, due_at=T0)
    settle_outcomes(factory, "w1", [])
    with transaction(factory) as s:
        s.get(Post, p1).state = PostState.UNCONFIRMED  # type: ignore[union-attr]
    assert [c.post_id for c in claim(factory)] == [single]
    assert get_post(factory, p2).state == PostState.SCHEDULED


def test_expired_lease_moves_post_to_unconfirmed(factory: Factory) -> None:
    add_channel(factory, "m")
    pid = add_post(factory, "m")
    claim(factory, lease=60)
    assert expire_leases(factory, T0 + timedelta(seconds=59)) == []
    assert expire_leases(factory, T0 + timedelta(seconds=61)) == [pid]
    post = get_post(factory, pid)
    assert post.state == PostState.UNCONFIRMED and post.lease_expires is None
    with factory() as s:
        (attempt,) = s.scalars(select(Attempt).where(Attempt.post_id == pid)).all()
    assert (attempt.outcome, attempt.worker, attempt.started_at) == ("lease_expired", "w1", T0)
    # never back to scheduled: nothing to claim
    assert claim(factory, now=T0 + timedelta(seconds=62)) == []


def test_outcome_is_written_only_while_the_lease_is_held(factory: Factory) -> None:
    add_channel(factory, "m")
    add_channel(factory, "n")
    pid = add_post(factory, "m")
    other = add_post(factory, "n")
    claim(factory, lease=60)
    retry = Outcome(pid, Event.TRANSIENT, T0, T0, due_at=T0)
    assert settle_outcomes(factory, "intruder", [retry]) == [False]
    expire_leases(factory, T0 + timedelta(seconds=61))
    assert settle_outcomes(factory, "w1", [retry]) == [False]  # late: reconcile decides
    assert get_post(factory, pid).state == PostState.UNCONFIRMED
    # a late success is still recorded: the post is known to be out
    assert settle_outcomes(factory, "w1", [published(pid), published(other, 2)]) == [True, True]
    assert get_post(factory, pid).remote_id == "id1"


def test_a_batch_writes_only_held_outcomes_each_with_one_attempt(factory: Factory) -> None:
    for name in ("m", "n", "o"):
        add_channel(factory, name)
    lost, retried, out = (add_post(factory, name) for name in ("m", "n", "o"))
    claim(factory, lease=60)
    with transaction(factory) as s:  # another worker took "m" over meanwhile
        s.get(Post, lost).lease_owner = "w2"  # type: ignore[union-attr]
    later = T0 + timedelta(minutes=5)
    retry = Outcome(retried, Event.RATE_LIMITED, T0, T0, due_at=later)
    retry = replace(retry, refund_attempt=True, error="slow down")
    outcomes = [published(lost), retry, published(out, 3)]
    assert settle_outcomes(factory, "w1", outcomes) == [False, True, True]
    with factory() as s:
        tried = sorted(s.scalars(select(Attempt.post_id)).all())
    assert tried == sorted([retried, out])
    assert get_post(factory, lost).state == PostState.PUBLISHING
    post = get_post(factory, retried)
    assert (post.state, post.due_at, post.attempts, post.last_error) == (
        PostState.SCHEDULED,
        later,
        0,
        "slow down",
    )
    assert post.remote_data == {} and post.lease_owner is None
    assert get_post(factory, out).remote_data == {"cid": "c3"}


def test_published_outcome_sets_remote_fields_and_metrics_time(factory: Factory) -> None:
    add_channel(factory, "m")
    pid = add_post(factory, "m")
    claim(factory)
    at = T0 + timedelta(seconds=3)
    settle_outcomes(factory, "w1", [published(pid, 7, at=at)])
    post = get_post(factory, pid)
    assert (post.state, post.remote_id, post.remote_url) == ("published", "id7", "https://x/7")
    assert post.remote_data == {"cid": "c7"}
    assert post.published_at == at and post.next_metrics_at == at + timedelta(hours=1)
    assert post.lease_expires is None


def test_next_due_at_is_the_earliest_future_due_time_or_pause_end(factory: Factory) -> None:
    add_channel(factory, "m")
    assert next_due_at(factory, T0) is None
    add_post(factory, "m", due_at=T0 + timedelta(minutes=5))
    add_post(factory, "m", due_at=T0 + timedelta(minutes=2))
    assert next_due_at(factory, T0) == T0 + timedelta(minutes=2)
    add_channel(factory, "p", paused_until=T0 + timedelta(seconds=30))
    add_post(factory, "p", due_at=T0 - timedelta(minutes=1))
    assert next_due_at(factory, T0) == T0 + timedelta(seconds=30)


def test_next_due_is_soon_when_a_due_post_waits_for_a_busy_channel(factory: Factory) -> None:
    add_channel(factory, "m")
    add_post(factory, "m")
    add_post(factory, "m")
    assert len(claim(factory)) == 1  # the other one waits for the channel
    assert next_due_at(factory, T0) == T0 + BUSY_RETRY


@pytest.mark.parametrize("blocker", [PostState.UNCONFIRMED, PostState.FAILED])
def test_thread_part_behind_a_stuck_part_is_not_waiting_for_a_channel(
    factory: Factory, blocker: str
) -> None:
    add_channel(factory, "m")
    first, second = add_thread(factory, "m", 2)
    with transaction(factory) as s:
        s.get(Post, first).state = blocker  # type: ignore[union-attr]
    assert claim(factory) == []
    # Only reconcile (or a person) moves part 1 on: no re-polling every BUSY_RETRY.
    assert next_due_at(factory, T0) is None
    add_post(factory, "m", due_at=T0 + timedelta(minutes=3))
    assert next_due_at(factory, T0) == T0 + timedelta(minutes=3)
    assert get_post(factory, second).state == PostState.SCHEDULED


def test_thread_part_whose_previous_part_is_publishing_is_waiting(factory: Factory) -> None:
    add_channel(factory, "m")
    add_thread(factory, "m", 2)
    assert len(claim(factory, worker="other")) == 1  # part 1, on another worker
    assert next_due_at(factory, T0) == T0 + BUSY_RETRY


def test_claims_from_two_engines_never_overlap(qurl: str, factory: Factory) -> None:
    channels = [f"c{i}" for i in range(6)]
    posts: dict[int, str] = {}
    for name in channels:
        add_channel(factory, name)
        for k in range(5):
            posts[add_post(factory, name, due_at=T0 - timedelta(seconds=k))] = name
    in_flight: set[str] = set()
    taken: list[int] = []
    lock = threading.Lock()
    errors: list[str] = []

    def work(worker: str) -> None:
        engine = make_engine(qurl)
        own = make_session_factory(engine)
        try:
            for _ in range(200):
                got = claim(own, worker=worker, limit=3)
                if not got:
                    with own() as s:
                        left = s.scalar(
                            select(Post.id).where(
                                Post.state.in_((PostState.SCHEDULED, PostState.PUBLISHING))
                            )
                        )
                    if left is None:
                        return
                    continue
                with lock:
                    for c in got:
                        if c.channel in in_flight:
                            errors.append(f"{c.channel} claimed twice at once")
                        in_flight.add(c.channel)
                        taken.append(c.post_id)
                    for c in got:  # released before the commit that frees the channel
                        in_flight.discard(c.channel)
                settle_outcomes(own, worker, [published(c.post_id) for c in got])
        finally:
            engine.dispose()

    threads = [threading.Thread(target=work, args=(f"w{i}",)) for i in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert sorted(taken) == sorted(posts)  # each post exactly once


def test_idle_claim_probes_indexes_only(qengine: Engine, factory: Factory) -> None:
    engine = qengine
    if engine.dialect.name != "sqlite":
        pytest.skip("query plans are checked on SQLite")
    add_channel(factory, "m")
    add_channel(factory, "n")
    for i in range(1, 200):
        add_post(factory, "m" if i % 2 else "n", due_at=T0 + timedelta(minutes=i))
    add_post(factory, "m", due_at=T0)  # one due post: the whole claim path runs
    statements: list[tuple[str, object]] = []

    @event.listens_for(engine, "before_cursor_execute")
    def capture(conn, cursor, statement, params, context, many):  # type: ignore[no-untyped-def]
        if statement.lstrip().upper().startswith("SELECT"):
            statements.append((statement, params))

    assert len(claim(factory)) == 1
    event.remove(engine, "before_cursor_execute", capture)
    assert statements
    with engine.connect() as conn:
        for sql, params in statements:
            plan = conn.exec_driver_sql(f"EXPLAIN QUERY PLAN {sql}", params).all()  # type: ignore[arg-type]
            details = [str(row[-1]) for row in plan]
            scans = [d for d in details if d.startswith("SCAN posts") or d == "SCAN p"]
            assert not scans, (sql, details)
            conn.execute(text("SELECT 1"))


def test_statements_that_pick_posts_by_id_look_them_up_by_id(
    qengine: Engine, factory: Factory
) -> None:
    """Not through ix_posts_state_due: that walks every post in the state (the whole queue)."""
    engine = qengine
    if engine.dialect.name != "sqlite":
        pytest.skip("query plans are checked on SQLite")
    add_channel(factory, "m")
    for i in range(200):
        add_post(factory, "m", due_at=T0 + timedelta(minutes=i))
    first, second = add_thread(factory, "m", 2, due_at=T0 - timedelta(minutes=1))
    statements: list[tuple[str, object]] = []

    @event.listens_for(engine, "before_cursor_execute")
    def capture(conn, cursor, statement, params, context, many):  # type: ignore[no-untyped-def]
        if "posts.id IN" in statement or "posts.id = " in statement:
            statements.append((statement, params[0] if many else params))

    assert [c.post_id for c in claim(factory)] == [first]
    assert settle_outcomes(factory, "w1", [published(first)]) == [True]
    assert [c.post_id for c in claim(factory)] == [second]
    assert expire_leases(factory, T0 + timedelta(hours=1)) == [second]
    event.remove(engine, "before_cursor_execute", capture)
    kinds = {sql.split()[0] for sql, _ in statements}
    assert kinds == {"SELECT", "UPDATE"}, kinds
    with engine.connect() as conn:
        for sql, params in statements:
            plan = conn.exec_driver_sql(f"EXPLAIN QUERY PLAN {sql}", params).all()  # type: ignore[arg-type]
            top = [str(row[-1]) for row in plan if "posts" in str(row[-1])]
            assert top and "INTEGER PRIMARY KEY" in top[0], (sql, top)


def test_claim_statement_skips_a_post_whose_channel_is_publishing(
    qengine: Engine, factory: Factory
) -> None:
    """The last guard on PostgreSQL: a claim that read the channel as free before another
    worker's claim committed must not take a second post of it."""
    add_channel(factory, "m")
    first = add_post(factory, "m")
    second = add_post(factory, "m", due_at=T0 + timedelta(seconds=1))
    assert [c.post_id for c in claim(factory, worker="other")] == [first]
    params = {"ids": [second], "worker": "w1", "lease_expires": T0 + timedelta(minutes=1)}
    with qengine.begin() as conn:
        taken = conn.execute(sql.by_ids(conn).claim, {**params, "now": T0}).all()
    assert taken == []
    assert get_post(factory, second).state == PostState.SCHEDULED
    later = T0 + timedelta(minutes=2)  # the other worker's lease has run out
    with qengine.begin() as conn:
        taken = conn.execute(sql.by_ids(conn).claim, {**params, "now": later}).all()
    assert [row.id for row in taken] == [second]
