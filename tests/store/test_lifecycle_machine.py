"""Random sequences of lifecycle events against the real queue, review and planner
functions (SQLite, and PostgreSQL when ``DISSEM_TEST_DATABASE_URL`` is set).

After every step each post's change of state must be one the lifecycle table allows for
an event that step may cause (the event itself, or what follows from it: an earlier part
failing blocks the later ones, a retry reopens them); a terminal state is never left; and
each function writes exactly when the table says it may (a review command refuses, a
settle is not written, when the table refuses).
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    invariant,
    precondition,
    rule,
    run_state_machine_as_test,
)
from sqlalchemy import Engine, select, update
from sqlalchemy.orm import Session, sessionmaker

from dissem import lifecycle
from dissem.errors import ReviewError
from dissem.lifecycle import Event, PostState
from dissem.platforms.base import RemotePost
from dissem.store.db import make_engine, make_session_factory, transaction
from dissem.store.models import Post, ReleaseRow
from dissem.store.queue import (
    Outcome,
    claim_due_posts,
    expire_leases,
    settle_outcomes,
    settle_reconciled,
)
from dissem.worker import planner
from dissem.worker.review import cancel_post, mark_published, retry_post
from tests.pgdb import BACKENDS, empty_tables, migrated_database
from tests.worker.queue_seed import T0, add_channel, add_release, add_thread

#: the events a publishing worker's outcome may be, and reconcile's decisions
SETTLE_EVENTS = [
    r.event
    for r in lifecycle.TABLE
    if r.by == "dispatch" and r.label and r.event != Event.LEASE_EXPIRED
]
RECONCILE_EVENTS = [r.event for r in lifecycle.TABLE if r.by == "reconcile"]
PERSON_EVENTS = [Event.RETRY, Event.CANCEL, Event.MARK_PUBLISHED]
PLANNER_EVENTS = [Event.HOLD, Event.WITHDRAW, Event.EDIT, Event.EXPIRE]
LEASE = 60.0


@dataclass(frozen=True)
class Row:
    state: PostState
    owner: str | None
    updated_at: datetime


def _explained(old: PostState, new: PostState, events: set[Event]) -> Event | None:
    """The event of ``events`` that moves ``old`` to ``new`` per the table, if any."""
    for event in sorted(events):
        if lifecycle.allows(old, event) and lifecycle.target(event) == new:
            return event
    return None


class Lifecycle(RuleBasedStateMachine):
    """At first three posts: a two-part thread on channel ``m`` and a single post on
    ``n``; the planner makes more."""

    factory: sessionmaker[Session]
    seen: Counter[Event]

    def __init__(self) -> None:
        super().__init__()
        with transaction(self.factory) as s:
            empty_tables(s)
        add_release(self.factory)
        add_channel(self.factory, "m")
        add_channel(self.factory, "n")
        self.ids = [*add_thread(self.factory, "m", 2), *add_thread(self.factory, "n", 1)]
        self.now = T0
        self.rows = self._rows()

    # --- observing ------------------------------------------------------------------------

    def _rows(self) -> dict[int, Row]:
        with self.factory() as s:
            return {
                p.id: Row(p.state, p.lease_owner, p.updated_at)
                for p in s.scalars(select(Post).where(Post.id.in_(self.ids)))
            }

    def _step(self, events: set[Event]) -> None:
        """Checks every change since the last step against the table, for ``events``."""
        self.now += timedelta(seconds=1)
        after = self._rows()
        for post_id, row in after.items():
            old = self.rows[post_id].state
            assert isinstance(row.state, PostState)
            if row.state == old:
                continue
            assert old not in lifecycle.TERMINAL, f"post {post_id} left terminal {old}"
            event = _explained(old, row.state, events)
            assert event is not None, (
                f"post {post_id}: {old} -> {row.state} is not allowed for {sorted(events)}"
            )
            type(self).seen[event] += 1
        self.rows = after

    def _post(self, index: int) -> tuple[int, Row]:
        post_id = self.ids[index % len(self.ids)]
        return post_id, self.rows[post_id]

    def _in(self, *, owner: str | None = None, state: PostState | None = None) -> list[int]:
        return [
            i
            for i, pid in enumerate(self.ids)
            if (owner is None or self.rows[pid].owner == owner)
            and (state is None or self.rows[pid].state == state)
        ]

    # --- dispatch -------------------------------------------------------------------------

    @rule()
    def claim(self) -> None:
        claimed = claim_due_posts(self.factory, "w1", self.now, limit=5, lease_seconds=LEASE)
        for c in claimed:
            assert self.rows[c.post_id].state in lifecycle.sources(Event.CLAIM)
        self._step({Event.CLAIM})

    @precondition(lambda self: bool(self._in(owner="w1")))
    @rule(data=st.data(), event=st.sampled_from(SETTLE_EVENTS))
    def settle_held(self, data: st.DataObject, event: Event) -> None:
        """An outcome for a post the worker holds (or held, when its lease ran out)."""
        self.settle(data.draw(st.sampled_from(self._in(owner="w1"))), event)

    @rule(index=st.integers(0, 10), event=st.sampled_from(SETTLE_EVENTS))
    def settle(self, index: int, event: Event) -> None:
        """An outcome for any post: refused unless the worker holds it and the table
        allows the event from its state."""
        post_id, row = self._post(index)
        target = lifecycle.target(event)
        outcome = Outcome(
            post_id,
            event,
            self.now,
            self.now,
            remote=RemotePost(f"r{post_id}", f"https://x/{post_id}")
            if target == PostState.PUBLISHED
            else None,
            due_at=self.now if target == PostState.SCHEDULED else None,
        )
        written = settle_outcomes(self.factory, "w1", [outcome])
        assert written == [row.owner == "w1" and lifecycle.allows(row.state, event)]
        self._step({event, Event.BLOCKED})

    @rule(seconds=st.sampled_from([1, 30, LEASE + 1]))
    def lease_runs_out(self, seconds: float) -> None:
        self.now += timedelta(seconds=seconds)
        moved = expire_leases(self.factory, self.now)
        for post_id in moved:
            assert self.rows[post_id].state in lifecycle.sources(Event.LEASE_EXPIRED)
        self._step({Event.LEASE_EXPIRED})

    # --- reconcile ------------------------------------------------------------------------

    @precondition(lambda self: bool(self._in(state=PostState.UNCONFIRMED)))
    @rule(data=st.data(), event=st.sampled_from(RECONCILE_EVENTS))
    def reconcile_unconfirmed(self, data: st.DataObject, event: Event) -> None:
        self.reconcile(data.draw(st.sampled_from(self._in(state=PostState.UNCONFIRMED))), event)

    @rule(index=st.integers(0, 10), event=st.sampled_from(RECONCILE_EVENTS))
    def reconcile(self, index: int, event: Event) -> None:
        post_id, row = self._post(index)
        target = lifecycle.target(event)
        decision = Outcome(
            post_id,
            event,
            self.now,
            self.now,
            kind="reconcile",
            remote=RemotePost(f"f{post_id}", None) if target == PostState.PUBLISHED else None,
            due_at=self.now if target == PostState.SCHEDULED else None,
        )
        written = settle_reconciled(self.factory, "r1", [(decision, row.updated_at)])
        assert written == [lifecycle.allows(row.state, event)]
        self._step({event, Event.BLOCKED})

    # --- a person -------------------------------------------------------------------------

    @rule(index=st.integers(0, 10), event=st.sampled_from(PERSON_EVENTS))
    def person(self, index: int, event: Event) -> None:
        """``dissem retry`` / ``cancel`` / ``mark-published``: refused (ReviewError)
        exactly when the table refuses."""
        post_id, row = self._post(index)
        try:
            if event == Event.RETRY:
                retry_post(self.factory, post_id, self.now)
            elif event == Event.CANCEL:
                cancel_post(self.factory, post_id, self.now)
            else:
                mark_published(self.factory, post_id, "https://x/by-hand", self.now)
        except ReviewError:
            assert not lifecycle.allows(row.state, event)
        else:
            assert lifecycle.allows(row.state, event)
        self._step({event, Event.REOPEN, Event.CANCEL})

    # --- the planner ----------------------------------------------------------------------

    @rule(event=st.sampled_from(PLANNER_EVENTS), channel=st.sampled_from(["m", "n"]))
    def planner_pass(self, event: Event, channel: str) -> None:
        """What a planning pass does when a release goes back to draft, is withdrawn or
        deleted, leaves a channel's targets, is edited, or expires."""
        with transaction(self.factory) as s:
            posts = list(s.scalars(select(Post).where(Post.channel == channel)))
            if event == Event.HOLD:
                planner._hold(s, "r1")
            elif event == Event.WITHDRAW:
                planner._close_posts(posts, Event.WITHDRAW, planner.NOT_A_TARGET, self.now)
            elif event == Event.EDIT:
                if all(planner._unsent(p) for p in posts):  # as recompose decides
                    planner.retire(posts, "replaced by revision 2", self.now)
            else:
                s.execute(update(ReleaseRow).where(ReleaseRow.id == "r1").values(expires=self.now))
                planner.expire_posts(s, self.now)
                s.execute(update(ReleaseRow).where(ReleaseRow.id == "r1").values(expires=None))
        self._step({event})

    @precondition(lambda self: len(self.ids) < 12)
    @rule(channel=st.sampled_from(["m", "n"]), parts=st.integers(1, 2))
    def planned(self, channel: str, parts: int) -> None:
        """The planner makes new posts (a new share, a re-composition)."""
        state = lifecycle.initial(Event.PLAN)
        new = add_thread(self.factory, channel, parts, due_at=self.now, state=state)
        self.ids += new
        self.rows.update({pid: row for pid, row in self._rows().items() if pid in new})
        self._step(set())

    @invariant()
    def published_posts_keep_their_remote(self) -> None:
        with self.factory() as s:
            for post in s.scalars(select(Post).where(Post.state == PostState.PUBLISHED)):
                assert post.remote_url or post.remote_id, post.id


@pytest.fixture(params=BACKENDS)
def machine_engine(request: pytest.FixtureRequest, tmp_path: Path) -> Any:
    with migrated_database(request.param, tmp_path) as url:
        engine = make_engine(url)
        yield engine
        engine.dispose()


def test_random_event_sequences_follow_the_table(machine_engine: Engine) -> None:
    Lifecycle.factory = make_session_factory(machine_engine)
    Lifecycle.seen = Counter()
    postgres = machine_engine.dialect.name == "postgresql"
    run_state_machine_as_test(
        Lifecycle,
        settings=settings(
            # the same 50 (PostgreSQL: 25) sequences each run: the coverage check below
            # cannot fail by chance, and the time stays bounded
            derandomize=True,
            database=None,
            max_examples=25 if postgres else 50,
            stateful_step_count=25,
            deadline=None,
            suppress_health_check=[HealthCheck.too_slow],
        ),
    )
    # The runs went through the lifecycle, not around it: many of its events were seen,
    # claims and ways out among them.
    taken = set(Lifecycle.seen)
    assert Event.CLAIM in taken, taken
    assert {e for e in taken if lifecycle.target(e) == PostState.PUBLISHED}, taken
    assert len(taken) >= 12, sorted(taken)
