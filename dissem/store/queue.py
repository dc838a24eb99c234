"""The posts table as a queue: claiming due posts under a lease, and settling outcomes.

Rules the functions here keep:

- A post is claimed only when it is ``scheduled`` and due, its channel is enabled, not
  removed and not paused, and no other post of that channel is ``publishing`` under a live
  lease: **one post per channel at a time**, the earliest due first. Part N of a thread is
  claimable only once part N-1 is ``published``.
- Claiming sets ``publishing``, the lease and ``attempts + 1`` in the claiming transaction.
  On PostgreSQL the channel rows are locked with ``FOR UPDATE SKIP LOCKED`` so two workers
  never take the same channel at once; SQLite has one writer (``BEGIN IMMEDIATE``).
- An outcome is written (state, remote id, the :class:`~dissem.store.models.Attempt` row,
  a channel pause) in one transaction, and only while the worker still holds the post.
- A lease that runs out moves the post to ``unconfirmed``, never back to ``scheduled``.
- Every state written here is one the lifecycle table (:mod:`dissem.lifecycle`) allows
  for the event: UPDATEs take their ``WHERE state ...`` and the state they set from it,
  and an outcome the table refuses is logged and not written.

Every function takes ``now``; none reads the clock. Transactions are short and never span a
network call: callers publish between :func:`claim_due_posts` and :func:`settle_outcomes`.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Connection, Row, or_, update
from sqlalchemy.orm import Session, sessionmaker

from dissem import lifecycle
from dissem.lifecycle import Event, OutcomeLabel
from dissem.platforms.types import RemotePost
from dissem.store import queue_sql as sql
from dissem.store.db import transaction
from dissem.store.models import ChannelRow, Post, PostState
from dissem.store.queue_sql import PAUSED_FOREVER

__all__ = [
    "BLOCKED_PREFIX",
    "BUSY_RETRY",
    "METRICS_DELAY",
    "PAUSED_FOREVER",
    "ClaimedPost",
    "Outcome",
    "block_followers",
    "claim_due_posts",
    "expire_leases",
    "next_due_at",
    "pause_channel",
    "settle_and_claim",
    "settle_outcomes",
    "settle_reconciled",
]

log = logging.getLogger(__name__)

#: how long after publishing the first metrics snapshot is due
METRICS_DELAY = timedelta(hours=1)
#: how soon to look again when due posts wait for a channel another worker is publishing on
BUSY_RETRY = timedelta(milliseconds=200)
#: due posts a claim reads from the head of the due index to find its channels (at least
#: as many as it claims): enough that busy and just-claimed channels rarely fill it
CLAIM_WINDOW = 128
#: ``last_error`` of thread parts that cannot go out because an earlier part failed
BLOCKED_PREFIX = "blocked: "


@dataclass(frozen=True)
class ClaimedPost:
    """A post this worker holds until ``lease_expires``, with all a publish needs.

    ``reply_to`` (the previous part) and ``root`` (part 1) are set for thread parts after
    the first; ``channel_config`` is the stored channel (a dumped
    :class:`~dissem.config.models.Channel`), keyed for caching by ``channel_config_hash``.
    """

    post_id: int
    release_id: str
    channel: str
    platform: str
    seq: int
    part_index: int
    part_total: int
    idempotency_key: str
    text: str
    payload: dict[str, Any]
    publish_state: dict[str, str]
    attempts: int
    due_at: datetime
    lease_owner: str
    lease_expires: datetime
    channel_config: dict[str, Any]
    channel_config_hash: str
    reply_to: RemotePost | None = None
    root: RemotePost | None = None


@dataclass(frozen=True)
class Outcome:
    """What became of one publish try (or reconcile decision), as a lifecycle event.

    ``event`` decides the state (:attr:`state`: ``published`` with ``remote`` set,
    ``scheduled`` with ``due_at`` set, ``failed`` or ``unconfirmed``; see
    :mod:`dissem.lifecycle`) and the label that goes to ``Attempt.outcome``
    (:attr:`label`). ``pause_until``/``pause_reason`` pause the channel;
    ``refund_attempt`` keeps the try from counting toward ``max_attempts`` (throttling,
    missing credentials). A ``failed`` part fails the later parts of its thread.
    ``published_at`` defaults to ``finished_at`` (reconcile knows only roughly when a post
    went out).
    """

    post_id: int
    event: Event
    started_at: datetime
    finished_at: datetime
    error: str | None = None
    http_status: int | None = None
    remote: RemotePost | None = None
    due_at: datetime | None = None
    pause_until: datetime | None = None
    pause_reason: str | None = None
    refund_attempt: bool = False
    kind: str = "publish"
    channel: str = ""
    published_at: datetime | None = None

    def __post_init__(self) -> None:
        if not isinstance(self.event, Event) or lifecycle.label(self.event) is None:
            raise TypeError(f"an outcome is a lifecycle event with a label, not {self.event!r}")

    @property
    def state(self) -> lifecycle.PostState:
        """The state the event leads to."""
        return lifecycle.target(self.event)

    @property
    def label(self) -> OutcomeLabel:
        """What ``Attempt.outcome`` records."""
        found = lifecycle.label(self.event)
        assert found is not None  # checked in __post_init__
        return found


# --- claiming --------------------------------------------------------------------------


def claim_due_posts(
    session_factory: sessionmaker[Session],
    worker_id: str,
    now: datetime,
    *,
    limit: int,
    lease_seconds: float,
) -> list[ClaimedPost]:
    """Claims up to ``limit`` due posts, at most one per channel, in one short transaction.

    Channels whose earliest due post is oldest come first. Returns the claimed posts (empty
    when nothing is claimable).
    """
    with transaction(session_factory) as session:
        return _claim(session.connection(), worker_id, now, limit, lease_seconds)


def settle_and_claim(
    bind: sessionmaker[Session] | Connection,
    worker_id: str,
    outcomes: Sequence[Outcome],
    now: datetime,
    *,
    limit: int,
    lease_seconds: float,
) -> tuple[list[bool], list[ClaimedPost]]:
    """:func:`settle_outcomes` and :func:`claim_due_posts` in one transaction (one commit
    per dispatch round instead of two). ``limit`` 0 only settles.

    ``bind`` is a session factory, or a connection the caller keeps between rounds (no
    transaction open: this one begins and commits its own), which saves a pool checkout
    and its liveness ping per round."""
    with _transaction(bind) as conn:
        settled = _settle(conn, worker_id, outcomes)
        # Outcomes in hand mean work is flowing: skip the idle probe.
        claimed = _claim(conn, worker_id, now, limit, lease_seconds, probe=not outcomes)
    return settled, claimed


@contextmanager
def _transaction(bind: sessionmaker[Session] | Connection) -> Iterator[Connection]:
    if isinstance(bind, Connection):
        with bind.begin():
            yield bind
    else:
        with transaction(bind) as session:
            yield session.connection()


def _claim(
    conn: Connection,
    worker_id: str,
    now: datetime,
    limit: int,
    lease_seconds: float,
    *,
    probe: bool = True,
) -> list[ClaimedPost]:
    if limit <= 0:
        return []
    if probe:
        # Cheap guard (one probe of ix_posts_state_due): an idle queue costs one lookup.
        earliest = conn.scalar(sql.EARLIEST_DUE)
        if earliest is None or earliest > now:
            return []
    found = {row.name: row for row in _claimable(conn, now, limit)}
    if not found:
        return []
    params = {
        "ids": [row.post_id for row in found.values()],
        "worker": worker_id,
        "lease_expires": now + timedelta(seconds=lease_seconds),
        "now": now,
    }
    # The claim skips a channel another worker took meanwhile (see ByIds).
    rows = sorted(conn.execute(sql.by_ids(conn).claim, params), key=lambda r: (r.due_at, r.id))
    return [_claimed(conn, row, found[row.channel]) for row in rows]


def _claimable(conn: Connection, now: datetime, limit: int) -> list[Any]:
    """Up to ``limit`` channels that may post now (locked on PostgreSQL), each with its
    first claimable post: those whose first due post is oldest first.

    Read from the head of the due index (``sql.DUE_HEAD``): the channels of the first
    :data:`CLAIM_WINDOW` due posts, so a round costs the same with 10 or 1,000 channels due.
    When that head was full and still gave fewer than ``limit`` claimable channels (one
    channel's backlog, or channels other workers hold, filled it), every channel is looked
    at (``sql.CLAIMABLE``), as before."""
    postgres = conn.dialect.name == "postgresql"
    window = max(CLAIM_WINDOW, limit)
    head = sorted(
        conn.execute(sql.DUE_HEAD, {"now": now, "window": window}),
        key=lambda r: (r.first_due, r.channel),
    )
    if not head:
        return []
    names = [r.channel for r in head]
    params = {"now": now, "names": names, "limit": limit}
    if postgres:
        rows = list(conn.execute(sql.CLAIM_CHANNELS_LOCKED, params))
    else:
        order = {name: i for i, name in enumerate(names)}
        found = [r for r in conn.execute(sql.CLAIM_CHANNELS, params) if r.post_id is not None]
        rows = sorted(found, key=lambda r: order[r.name])[:limit]
    if len(rows) < limit and sum(r.posts for r in head) >= window:
        query = sql.CLAIMABLE_LOCKED if postgres else sql.CLAIMABLE
        rows = [r for r in conn.execute(query, params) if r.post_id is not None]
    return rows


def _claimed(conn: Connection, row: Any, channel: Any) -> ClaimedPost:
    reply_to = root = None
    if row.part_index > 1:
        anchors = {
            a.part_index: RemotePost(a.remote_id, a.remote_url, dict(a.remote_data or {}))
            for a in conn.execute(
                sql.THREAD_ANCHORS,
                {
                    "release": row.release_id,
                    "channel": row.channel,
                    "seq": row.seq,
                    "prev": row.part_index - 1,
                },
            )
            if a.remote_id
        }
        reply_to, root = anchors.get(row.part_index - 1), anchors.get(1)
    return ClaimedPost(
        post_id=row.id,
        release_id=row.release_id,
        channel=row.channel,
        platform=row.platform,
        seq=row.seq,
        part_index=row.part_index,
        part_total=row.part_total,
        idempotency_key=row.idempotency_key,
        text=row.text,
        payload=dict(row.payload),
        publish_state={str(k): str(v) for k, v in (row.publish_state or {}).items()},
        attempts=row.attempts,
        due_at=row.due_at,
        lease_owner=row.lease_owner,
        lease_expires=row.lease_expires,
        channel_config=dict(channel.config),
        channel_config_hash=channel.config_hash,
        reply_to=reply_to,
        root=root,
    )


def next_due_at(session_factory: sessionmaker[Session], now: datetime) -> datetime | None:
    """When a dispatch round may next find work: :data:`BUSY_RETRY` from now when due posts
    are waiting for a busy channel (or for their thread's previous part, being published),
    else the earliest future due time of a scheduled post on a channel that can post, or the
    end of a pause of a channel that has scheduled posts. None when nothing is waiting.

    A thread part stuck behind an unconfirmed, failed or otherwise unpublished part does not
    count as waiting: only reconcile or a person moves it on, so looking again every
    :data:`BUSY_RETRY` would only spin."""
    with session_factory() as session:
        conn = session.connection()
        # Due now but not claimed: its channel is busy with another worker's post (or its
        # thread's previous part is being published); look again shortly.
        waiting = conn.scalar(sql.DUE_WAITING, {"now": now})
        future = conn.scalar(sql.NEXT_FUTURE, {"now": now})
        pause_end = conn.scalar(sql.NEXT_PAUSE_END, {"now": now})
    soon = now + BUSY_RETRY if waiting is not None else None
    times = [t for t in (soon, future, pause_end) if t is not None]
    return min(times) if times else None


# --- leases ----------------------------------------------------------------------------


def expire_leases(session_factory: sessionmaker[Session], now: datetime) -> list[int]:
    """Moves ``publishing`` posts whose lease ran out before ``now`` to ``unconfirmed``
    (their worker died or hung mid-publish: the post may be out) and records an attempt
    ``lease_expired`` that started when the post was claimed. Returns the ids moved."""
    with transaction(session_factory) as session:
        conn = session.connection()
        # ``updated_at`` of a publishing post is its claim time (remember() leaves it).
        claimed_at = {
            r.id: (r.lease_owner, r.updated_at) for r in conn.execute(sql.EXPIRED, {"now": now})
        }
        if not claimed_at:
            return []
        moved = list(conn.scalars(sql.by_ids(conn).expire, {"ids": list(claimed_at), "now": now}))
        if moved:
            conn.execute(
                sql.INSERT_ATTEMPT,
                [
                    {
                        "post_id": post_id,
                        "worker": claimed_at[post_id][0] or "?",
                        "kind": "publish",
                        "started_at": claimed_at[post_id][1],
                        "finished_at": now,
                        "outcome": lifecycle.label(Event.LEASE_EXPIRED),
                        "error": "lease expired before an outcome was recorded",
                        "http_status": None,
                    }
                    for post_id in moved
                ],
            )
    return moved


# --- settling --------------------------------------------------------------------------


def settle_outcomes(
    session_factory: sessionmaker[Session], worker_id: str, outcomes: Sequence[Outcome]
) -> list[bool]:
    """Writes ``outcomes`` in one transaction; each only if ``worker_id`` still holds its
    post. Returns, per outcome, whether it was written."""
    if not outcomes:
        return []
    with transaction(session_factory) as session:
        return _settle(session.connection(), worker_id, outcomes)


def settle_reconciled(
    session_factory: sessionmaker[Session],
    worker_id: str,
    decisions: Sequence[tuple[Outcome, datetime]],
) -> list[bool]:
    """Writes reconcile decisions, each as ``(outcome, updated_at seen)``: only for a post
    still ``unconfirmed`` and unchanged since it was read (another reconciler may have
    decided first). Returns, per decision, whether it was written."""
    if not decisions:
        return []
    with transaction(session_factory) as session:
        conn = session.connection()
        query = sql.by_ids(conn).undecided
        held = {}
        for o, seen in decisions:
            row = conn.execute(query, {"id": o.post_id, "seen": seen}).first()
            if row is not None:
                held[o.post_id] = row
        return _write(conn, worker_id, [o for o, _ in decisions], held)


def _settle(conn: Connection, worker_id: str, outcomes: Sequence[Outcome]) -> list[bool]:
    if not outcomes:
        return []
    if conn.dialect.name == "postgresql":
        return _settle_in_bulk(conn, worker_id, outcomes)
    # A post known to be out is worth recording even if the lease ran out meanwhile, as
    # long as reconcile has not decided about it yet: the table allows ``published`` from
    # ``unconfirmed`` (_write checks each outcome's event against its post's state).
    params = {"ids": [o.post_id for o in outcomes], "worker": worker_id}
    held = {row.id: row for row in conn.execute(sql.by_ids(conn).held, params)}
    return _write(conn, worker_id, outcomes, held)


def _settle_in_bulk(conn: Connection, worker_id: str, outcomes: Sequence[Outcome]) -> list[bool]:
    """PostgreSQL: what :func:`_settle` does in two statements (see ``SETTLE_HELD``)."""
    rows = [_outcome_params(o, worker_id) for o in outcomes]
    for row in rows:  # the statement casts the text to JSON
        if row["b_remote_data"] is not None:
            row["b_remote_data"] = json.dumps(row["b_remote_data"])
    params = _as_arrays(rows, "b", sql.OUTCOME_COLUMNS, row_prefix="b_")
    held = {row.id: row for row in conn.execute(sql.SETTLE_HELD, {**params, "worker": worker_id})}
    if len(held) < len(outcomes):
        _log_refused(conn, worker_id, [o for o in outcomes if o.post_id not in held])
    chosen = [o for o in outcomes if o.post_id in held]
    if chosen:
        attempts = [_attempt_params(o, worker_id) for o in chosen]
        conn.execute(sql.INSERT_ATTEMPTS, _as_arrays(attempts, "a", sql.ATTEMPT_COLUMNS))
    _follow_up(conn, chosen, held)
    return [o.post_id in held for o in outcomes]


def _as_arrays(
    rows: list[dict[str, Any]],
    prefix: str,
    columns: tuple[tuple[str, Any], ...],
    *,
    row_prefix: str = "",
) -> dict[str, list[Any]]:
    """Rows of parameters as one list per column: ``<prefix>_<column>`` is the list of
    each row's ``<row_prefix><column>``."""
    return {f"{prefix}_{name}": [row[row_prefix + name] for row in rows] for name, _ in columns}


def _log_refused(conn: Connection, worker_id: str, unwritten: Sequence[Outcome]) -> None:
    """Logs the outcomes PostgreSQL's bulk settle did not write because the lifecycle
    table refused them (the post still this worker's, in a state the event may not leave);
    the others lost their lease, which dispatch reports."""
    params = {"ids": [o.post_id for o in unwritten], "worker": worker_id}
    states = {row.id: row.state for row in conn.execute(sql.by_ids(conn).owned, params)}
    for o in unwritten:
        if o.post_id in states:
            lifecycle.refuse(o.post_id, states[o.post_id], o.event)


def _allowed(outcomes: Sequence[Outcome], held: dict[int, Row[Any]]) -> list[Outcome]:
    """The outcomes whose post is held and whose event the lifecycle table allows from the
    post's state; each refused one is logged."""
    chosen = []
    for o in outcomes:
        row = held.get(o.post_id)
        if row is None:
            continue
        if lifecycle.allows(row.state, o.event):
            chosen.append(o)
        else:
            lifecycle.refuse(o.post_id, row.state, o.event)
    return chosen


def _write(
    conn: Connection, worker_id: str, outcomes: Sequence[Outcome], held: dict[int, Row[Any]]
) -> list[bool]:
    """Writes the outcomes whose post is in ``held`` (checked and, on PostgreSQL, locked by
    the caller) and whose event the lifecycle table allows from its state: state and
    remote fields, attempt rows, channel pauses, blocked parts."""
    chosen = _allowed(outcomes, held)
    if chosen:
        conn.execute(sql.WRITE_OUTCOME, [_outcome_params(o, worker_id) for o in chosen])
        conn.execute(sql.INSERT_ATTEMPT, [_attempt_params(o, worker_id) for o in chosen])
    _follow_up(conn, chosen, held)
    written = {o.post_id for o in chosen}
    return [o.post_id in written for o in outcomes]


def _follow_up(conn: Connection, written: Sequence[Outcome], held: dict[int, Row[Any]]) -> None:
    """What the written outcomes imply beyond their post: channel pauses, blocked parts."""
    for o in written:
        row = held[o.post_id]
        if o.pause_until is not None:
            pause_channel(conn, row.channel, o.pause_until, o.pause_reason or o.label)
        if o.state == PostState.FAILED:
            block_followers(conn, row.release_id, row.channel, row.seq, row.part_index, o)


def _outcome_params(o: Outcome, worker_id: str) -> dict[str, Any]:
    published = o.state == PostState.PUBLISHED
    remote = o.remote if published else None
    if published:
        assert remote is not None
    at = (o.published_at or o.finished_at) if published else None
    return {
        "b_id": o.post_id,
        "b_state": o.state.value,
        "b_event": o.event.value,
        "b_owner": worker_id if published and o.kind == "publish" else None,
        "b_at": o.finished_at,
        "b_error": None if published else o.error,
        "b_refund": 1 if o.refund_attempt else 0,
        "b_due": o.due_at if o.state == PostState.SCHEDULED else None,
        "b_remote_id": remote.remote_id if remote else None,
        "b_remote_url": remote.url if remote else None,
        "b_remote_data": dict(remote.data) if remote else None,
        "b_published_at": at,
        "b_metrics_at": at + METRICS_DELAY if at else None,
    }


def _attempt_params(o: Outcome, worker_id: str) -> dict[str, Any]:
    return {
        "post_id": o.post_id,
        "worker": worker_id,
        "kind": o.kind,
        "started_at": o.started_at,
        "finished_at": o.finished_at,
        "outcome": o.label.value,
        "error": o.error,
        "http_status": o.http_status,
    }


def pause_channel(conn: Session | Connection, channel: str, until: datetime, reason: str) -> None:
    """Pauses ``channel`` until ``until``; a longer pause already in place is kept."""
    conn.execute(
        update(ChannelRow)
        .where(
            ChannelRow.name == channel,
            or_(ChannelRow.paused_until.is_(None), ChannelRow.paused_until < until),
        )
        .values(paused_until=until, pause_reason=reason)
    )


def block_followers(
    conn: Session | Connection,
    release_id: str,
    channel: str,
    seq: int,
    part_index: int,
    o: Outcome,
) -> None:
    """Fails the later, still open parts of a thread whose part ``part_index`` failed: they
    can only go out as replies to it (lifecycle event ``blocked``). ``retry`` of that part
    reopens them."""
    conn.execute(
        update(Post)
        .where(
            Post.release_id == release_id,
            Post.channel == channel,
            Post.seq == seq,
            Post.part_index > part_index,
            Post.state.in_(lifecycle.sources(Event.BLOCKED)),
        )
        .values(
            state=lifecycle.target(Event.BLOCKED),
            last_error=f"{BLOCKED_PREFIX}part {part_index} failed: {o.error or o.label}",
            updated_at=o.finished_at,
        )
    )
