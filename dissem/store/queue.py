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

Every function takes ``now``; none reads the clock. Transactions are short and never span a
network call: callers publish between :func:`claim_due_posts` and :func:`settle_outcomes`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import ColumnElement, Select, and_, exists, func, insert, or_, select, update
from sqlalchemy.orm import Session, aliased, sessionmaker

from dissem.platforms.base import RemotePost
from dissem.store.db import transaction
from dissem.store.models import Attempt, ChannelRow, Post, PostState

__all__ = [
    "BLOCKED_PREFIX",
    "METRICS_DELAY",
    "PAUSED_FOREVER",
    "ClaimedPost",
    "Outcome",
    "claim_due_posts",
    "expire_leases",
    "next_due_at",
    "pause_channel",
    "settle_and_claim",
    "settle_outcomes",
    "settle_reconciled",
]

#: a pause with no known end (expired credentials): lifted by a person or a config change
PAUSED_FOREVER = datetime(9999, 1, 1, tzinfo=UTC)
#: how long after publishing the first metrics snapshot is due
METRICS_DELAY = timedelta(hours=1)
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
    """What became of one publish try, as the state it leads to.

    ``state`` is ``published`` (``remote`` set), ``scheduled`` (``due_at`` set: a retry or a
    skipped channel), ``failed`` or ``unconfirmed``. ``label`` goes to ``Attempt.outcome``.
    ``pause_until``/``pause_reason`` pause the channel; ``refund_attempt`` keeps the try
    from counting toward ``max_attempts`` (throttling, missing credentials);
    A ``failed`` part fails the later parts of its thread. ``published_at`` defaults to
    ``finished_at`` (reconcile knows only roughly when a post went out).
    """

    post_id: int
    state: str
    label: str
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
        return _claim(session, worker_id, now, limit, lease_seconds)


def settle_and_claim(
    session_factory: sessionmaker[Session],
    worker_id: str,
    outcomes: Sequence[Outcome],
    now: datetime,
    *,
    limit: int,
    lease_seconds: float,
) -> tuple[list[bool], list[ClaimedPost]]:
    """:func:`settle_outcomes` and :func:`claim_due_posts` in one transaction (one commit
    per dispatch round instead of two). ``limit`` 0 only settles."""
    with transaction(session_factory) as session:
        settled = [_settle(session, worker_id, o) for o in outcomes]
        claimed = _claim(session, worker_id, now, limit, lease_seconds) if limit > 0 else []
    return settled, claimed


def _claim(
    session: Session, worker_id: str, now: datetime, limit: int, lease_seconds: float
) -> list[ClaimedPost]:
    if limit <= 0:
        return []
    postgres = session.get_bind().dialect.name == "postgresql"
    # Cheap guard first (one probe of ix_posts_state_due): an idle queue costs one lookup.
    earliest = session.scalar(
        select(func.min(Post.due_at)).where(Post.state == PostState.SCHEDULED)
    )
    if earliest is None or earliest > now:
        return []
    channels = _claimable_channels(session, now, limit, lock=postgres)
    if postgres and channels:
        # The lock was taken after the statement's snapshot: a post another worker claimed
        # and committed just before is visible only to a new statement. Look again.
        channels = [c for c in channels if c not in _busy_channels(session, now, channels)]
    ids: list[int] = []
    for name in channels:
        post_id = session.scalar(_first_claimable(name, now))
        if post_id is not None:
            ids.append(int(post_id))
    if not ids:
        return []
    lease_expires = now + timedelta(seconds=lease_seconds)
    claimed_ids = session.scalars(
        update(Post)
        .where(Post.id.in_(ids), Post.state == PostState.SCHEDULED)
        .values(
            state=PostState.PUBLISHING,
            lease_owner=worker_id,
            lease_expires=lease_expires,
            attempts=Post.attempts + 1,
            updated_at=now,
        )
        .returning(Post.id)
    ).all()
    return _load_claimed(session, list(claimed_ids))


def _busy_channels(session: Session, now: datetime, among: Sequence[str]) -> set[str]:
    """Channels with a post ``publishing`` under a live lease."""
    query = select(Post.channel).where(
        Post.state == PostState.PUBLISHING,
        Post.lease_expires > now,
        Post.channel.in_(among),
    )
    return set(session.scalars(query.distinct()))


def _claimable_channels(session: Session, now: datetime, limit: int, *, lock: bool) -> list[str]:
    busy = select(Post.channel).where(Post.state == PostState.PUBLISHING, Post.lease_expires > now)
    has_due = exists().where(
        Post.channel == ChannelRow.name,
        Post.state == PostState.SCHEDULED,
        Post.due_at <= now,
    )
    first_due = (
        select(func.min(Post.due_at))
        .where(Post.channel == ChannelRow.name, Post.state == PostState.SCHEDULED)
        .scalar_subquery()
    )
    query = (
        select(ChannelRow.name)
        .where(
            ChannelRow.enabled.is_(True),
            ChannelRow.removed.is_(False),
            or_(ChannelRow.paused_until.is_(None), ChannelRow.paused_until <= now),
            has_due,
            ChannelRow.name.not_in(busy),
        )
        .order_by(first_due, ChannelRow.name)
        .limit(limit)
    )
    if lock:
        query = query.with_for_update(skip_locked=True, of=ChannelRow)
    return list(session.scalars(query))


def _first_claimable(channel: str, now: datetime) -> Select[Any]:
    """The id of the channel's earliest due post whose thread predecessor is published."""
    prev = aliased(Post)
    predecessor_published = exists().where(
        prev.release_id == Post.release_id,
        prev.channel == Post.channel,
        prev.seq == Post.seq,
        prev.part_index == Post.part_index - 1,
        prev.state == PostState.PUBLISHED,
    )
    return (
        select(Post.id)
        .where(
            Post.channel == channel,
            Post.state == PostState.SCHEDULED,
            Post.due_at <= now,
            or_(Post.part_index <= 1, predecessor_published),
        )
        .order_by(Post.due_at, Post.id)
        .limit(1)
    )


def _load_claimed(session: Session, ids: list[int]) -> list[ClaimedPost]:
    if not ids:
        return []
    posts = list(session.scalars(select(Post).where(Post.id.in_(ids)).order_by(Post.due_at)))
    names = {p.channel for p in posts}
    configs = {
        row.name: (row.config, row.config_hash)
        for row in session.execute(
            select(ChannelRow.name, ChannelRow.config, ChannelRow.config_hash).where(
                ChannelRow.name.in_(names)
            )
        )
    }
    out: list[ClaimedPost] = []
    for p in posts:
        reply_to = root = None
        if p.part_index > 1:
            reply_to, root = _thread_anchors(session, p)
        config, config_hash = configs[p.channel]
        assert p.due_at is not None and p.lease_owner and p.lease_expires
        out.append(
            ClaimedPost(
                post_id=p.id,
                release_id=p.release_id,
                channel=p.channel,
                platform=p.platform,
                seq=p.seq,
                part_index=p.part_index,
                part_total=p.part_total,
                idempotency_key=p.idempotency_key,
                text=p.text,
                payload=dict(p.payload),
                publish_state={str(k): str(v) for k, v in (p.publish_state or {}).items()},
                attempts=p.attempts,
                due_at=p.due_at,
                lease_owner=p.lease_owner,
                lease_expires=p.lease_expires,
                channel_config=dict(config),
                channel_config_hash=config_hash,
                reply_to=reply_to,
                root=root,
            )
        )
    return out


def _thread_anchors(session: Session, post: Post) -> tuple[RemotePost | None, RemotePost | None]:
    """The published previous part and part 1 of ``post``'s thread, as remote posts."""
    rows = session.execute(
        select(Post.part_index, Post.remote_id, Post.remote_url, Post.remote_data).where(
            Post.release_id == post.release_id,
            Post.channel == post.channel,
            Post.seq == post.seq,
            Post.part_index.in_((1, post.part_index - 1)),
            Post.state == PostState.PUBLISHED,
        )
    ).all()
    found = {
        r.part_index: RemotePost(r.remote_id, r.remote_url, dict(r.remote_data or {}))
        for r in rows
        if r.remote_id
    }
    return found.get(post.part_index - 1), found.get(1)


def next_due_at(session_factory: sessionmaker[Session], now: datetime) -> datetime | None:
    """When a dispatch round may next find work: the earliest future due time of a
    scheduled post on a channel that can post, or the end of a pause of a channel that has
    scheduled posts. None when nothing is waiting."""
    open_channel = and_(
        ChannelRow.enabled.is_(True),
        ChannelRow.removed.is_(False),
        or_(ChannelRow.paused_until.is_(None), ChannelRow.paused_until <= now),
    )
    with session_factory() as session:
        # ORDER BY ... LIMIT 1 walks ix_posts_state_due in order and stops at the first
        # post of an open channel (MIN() over a join would read them all).
        future = session.scalar(
            select(Post.due_at)
            .join(ChannelRow, ChannelRow.name == Post.channel)
            .where(Post.state == PostState.SCHEDULED, Post.due_at > now, open_channel)
            .order_by(Post.due_at)
            .limit(1)
        )
        has_scheduled = exists().where(
            Post.channel == ChannelRow.name, Post.state == PostState.SCHEDULED
        )
        pause_end = session.scalar(
            select(func.min(ChannelRow.paused_until)).where(
                ChannelRow.enabled.is_(True),
                ChannelRow.removed.is_(False),
                ChannelRow.paused_until > now,
                ChannelRow.paused_until < PAUSED_FOREVER,
                has_scheduled,
            )
        )
    times = [t for t in (future, pause_end) if t is not None]
    return min(times) if times else None


# --- leases ----------------------------------------------------------------------------


def expire_leases(session_factory: sessionmaker[Session], now: datetime) -> list[int]:
    """Moves ``publishing`` posts whose lease ran out before ``now`` to ``unconfirmed``
    (their worker died or hung mid-publish: the post may be out) and records an attempt
    ``lease_expired`` that started when the post was claimed. Returns the ids moved."""
    expired = and_(Post.state == PostState.PUBLISHING, Post.lease_expires < now)
    with transaction(session_factory) as session:
        # ``updated_at`` of a publishing post is its claim time (remember() leaves it).
        claimed_at = {
            row.id: (row.lease_owner, row.updated_at)
            for row in session.execute(
                select(Post.id, Post.lease_owner, Post.updated_at).where(expired)
            )
        }
        if not claimed_at:
            return []
        moved = session.scalars(
            update(Post)
            .where(Post.id.in_(claimed_at), expired)
            .values(
                state=PostState.UNCONFIRMED,
                lease_expires=None,
                last_error="lease expired mid-publish (worker died or hung); look it up",
                updated_at=now,
            )
            .returning(Post.id)
        ).all()
        for post_id in moved:
            owner, started = claimed_at[post_id]
            session.execute(
                insert(Attempt).values(
                    post_id=post_id,
                    worker=owner or "?",
                    kind="publish",
                    started_at=started,
                    finished_at=now,
                    outcome="lease_expired",
                    error="lease expired before an outcome was recorded",
                )
            )
    return list(moved)


# --- settling --------------------------------------------------------------------------


def settle_outcomes(
    session_factory: sessionmaker[Session], worker_id: str, outcomes: Sequence[Outcome]
) -> list[bool]:
    """Writes ``outcomes`` in one transaction; each only if ``worker_id`` still holds its
    post. Returns, per outcome, whether it was written."""
    if not outcomes:
        return []
    with transaction(session_factory) as session:
        return [_settle(session, worker_id, o) for o in outcomes]


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
        return [
            _apply(
                session,
                and_(Post.state == PostState.UNCONFIRMED, Post.updated_at == seen),
                worker_id,
                o,
            )
            for o, seen in decisions
        ]


def _settle(session: Session, worker_id: str, o: Outcome) -> bool:
    held = and_(Post.lease_owner == worker_id, Post.state == PostState.PUBLISHING)
    if o.state == PostState.PUBLISHED:
        # A post is known to be out: worth recording even if the lease ran out meanwhile,
        # as long as reconcile has not decided about it yet.
        held = or_(held, and_(Post.lease_owner == worker_id, Post.state == PostState.UNCONFIRMED))
    return _apply(session, held, worker_id, o)


def _apply(session: Session, guard: ColumnElement[bool], worker_id: str, o: Outcome) -> bool:
    """Moves post ``o.post_id`` to ``o.state`` if ``guard`` holds, with its attempt row,
    channel pause and blocked thread parts, in the session's transaction."""
    values: dict[str, Any] = {
        "state": o.state,
        "lease_expires": None,
        "updated_at": o.finished_at,
        "last_error": o.error,
    }
    if o.state != PostState.PUBLISHED:
        values["lease_owner"] = None
    if o.refund_attempt:
        values["attempts"] = Post.attempts - 1
    if o.state == PostState.PUBLISHED:
        assert o.remote is not None
        values.update(
            remote_id=o.remote.remote_id,
            remote_url=o.remote.url,
            remote_data=dict(o.remote.data),
            published_at=o.published_at or o.finished_at,
            next_metrics_at=(o.published_at or o.finished_at) + METRICS_DELAY,
            last_error=None,
        )
    elif o.state == PostState.SCHEDULED and o.due_at is not None:
        values["due_at"] = o.due_at
    row = session.execute(
        update(Post)
        .where(Post.id == o.post_id, guard)
        .values(**values)
        .returning(Post.channel, Post.release_id, Post.seq, Post.part_index)
    ).first()
    if row is None:
        return False
    session.execute(
        insert(Attempt).values(
            post_id=o.post_id,
            worker=worker_id,
            kind=o.kind,
            started_at=o.started_at,
            finished_at=o.finished_at,
            outcome=o.label,
            error=o.error,
            http_status=o.http_status,
        )
    )
    if o.pause_until is not None:
        pause_channel(session, row.channel, o.pause_until, o.pause_reason or o.label)
    if o.state == PostState.FAILED:
        block_followers(session, row.release_id, row.channel, row.seq, row.part_index, o)
    return True


def pause_channel(session: Session, channel: str, until: datetime, reason: str) -> None:
    """Pauses ``channel`` until ``until``; a longer pause already in place is kept."""
    session.execute(
        update(ChannelRow)
        .where(
            ChannelRow.name == channel,
            or_(ChannelRow.paused_until.is_(None), ChannelRow.paused_until < until),
        )
        .values(paused_until=until, pause_reason=reason)
    )


def block_followers(
    session: Session, release_id: str, channel: str, seq: int, part_index: int, o: Outcome
) -> None:
    """Fails the later, still open parts of a thread whose part ``part_index`` failed: they
    can only go out as replies to it. ``retry`` of that part reopens them."""
    session.execute(
        update(Post)
        .where(
            Post.release_id == release_id,
            Post.channel == channel,
            Post.seq == seq,
            Post.part_index > part_index,
            Post.state.in_((PostState.PENDING, PostState.SCHEDULED)),
        )
        .values(
            state=PostState.FAILED,
            last_error=f"{BLOCKED_PREFIX}part {part_index} failed: {o.error or o.label}",
            updated_at=o.finished_at,
        )
    )
