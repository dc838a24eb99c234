"""From releases to posts: compose each release per target channel and plan its due time.

Rules (the post lifecycle: :mod:`dissem.lifecycle`, docs/lifecycle.md; every state this
module writes is an event of that table: plan, skip, no_time, hold, withdraw, edit, expire):

- an approved release (``status: approved`` plus ``approved_by``) gets one post per part per
  target channel, each with its idempotency key from the start;
- an edit re-composes the posts that have not gone out (pending, scheduled, failed, skipped,
  expired); a post that is publishing, published, unconfirmed or in review is never changed.
  The replaced posts stay, cancelled, as history (attempts may point at them) and the new
  ones take the next ``seq``;
- a draft holds what has not gone out (back to pending); withdrawal, deletion, or a channel
  leaving the targets (or removed from channels.yaml) cancels it; expiry expires it. When
  the cause goes away (approved again, file restored, target again) the posts the planner
  cancelled are made again: they never went out. A post a person cancelled stays cancelled;
- a channel whose entry in channels.yaml or channels/ is broken (or whose channel file
  cannot be read) keeps its posts as they are until fixed;
- a channel whose config changed gets its scheduled posts re-planned;
- an evergreen release is shared again once its interval after the last share has passed
  (re-planning or editing a re-share keeps that bound).

Compose failures are reported per release and never stop the others.

Composing runs outside any transaction
--------------------------------------
A composition renders a template, which may take long (a slow or hostile one). Holding the
write transaction meanwhile would hold SQLite's write lock (or PostgreSQL's row locks)
and stop dispatch, reconcile and every other writer. So :func:`plan_posts` never composes:
it takes the compositions from a :class:`Compositions` made beforehand and notes each one it
lacks. :func:`dissem.worker.sync.sync` runs the pass, and when compositions were lacking,
rolls it back, composes them with no transaction open and runs the pass again; nothing but
the database decides what is composed, so the second pass normally finds all it needs.
"""

from __future__ import annotations

import logging
import uuid
from collections import defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import func, insert, literal, select
from sqlalchemy.orm import Session

from dissem import lifecycle
from dissem.compose import Composition, compose
from dissem.config.models import Channel, LoadedConfig, Release
from dissem.lifecycle import Event
from dissem.planning import PlanRequest, next_evergreen
from dissem.settings import Settings
from dissem.store.models import ChannelRow, Post, PostState, ReleaseRow
from dissem.timing.history import TimingCache

log = logging.getLogger(__name__)

#: States whose text may still be rewritten and whose due time may still move.
EDITABLE = frozenset({PostState.PENDING, PostState.SCHEDULED, PostState.FAILED})
#: States of posts not gone out that a withdrawal (or expiry) closes.
HOLDABLE = frozenset(lifecycle.sources(Event.WITHDRAW))
#: States of posts that never went out and may be replaced by a new composition.
UNSENT = frozenset(lifecycle.sources(Event.EDIT))
#: ``last_error`` of posts the planner cancelled because of the config (not a person).
WITHDRAWN, DELETED, NOT_A_TARGET = "withdrawn", "release deleted", "no longer a target"
PLANNER_CANCELS = frozenset({WITHDRAWN, DELETED, NOT_A_TARGET})


@dataclass
class PlanChanges:
    created: int = 0
    recomposed: int = 0
    replanned: int = 0
    held: int = 0
    cancelled: int = 0
    expired: int = 0
    skipped: int = 0
    errors: list[str] = field(default_factory=list)

    @property
    def changed(self) -> bool:
        return any(
            (
                self.created,
                self.recomposed,
                self.replanned,
                self.held,
                self.cancelled,
                self.expired,
                self.skipped,
            )
        )


class Compositions:
    """The compositions of one sync, keyed by release and channel, made outside any
    transaction (:meth:`make`) and read by the planning pass (:meth:`get`).

    ``composing`` gives the channel a release is composed for: its server's limits filled in
    where the config leaves them unset (see :func:`dissem.worker.sync.sync`); by default the
    channel as configured. A composition that raised keeps its error: the pass reports it
    for that release as if it had composed then.
    """

    def __init__(
        self, now: datetime, composing: Callable[[Channel], Channel] | None = None
    ) -> None:
        self.now = now
        self.composing = composing or (lambda channel: channel)
        self._made: dict[tuple[str, str], Composition | Exception] = {}
        #: what the last pass asked for and did not find: (release, channel)
        self.missing: dict[tuple[str, str], tuple[Release, Channel]] = {}

    def get(self, rel: Release, channel: Channel) -> Composition | None:
        """The composition of ``rel`` for ``channel``; None (noted in :attr:`missing`) when
        it has not been made yet. Raises the error composing raised."""
        found = self._made.get((rel.id, channel.name))
        if found is None:
            self.missing[(rel.id, channel.name)] = (rel, channel)
            return None
        if isinstance(found, Exception):
            raise found
        return found

    def make(self) -> int:
        """Composes what the last pass missed; call it with no transaction open. Returns
        how many were made."""
        todo, self.missing = self.missing, {}
        for key, (rel, channel) in todo.items():
            try:
                self._made[key] = compose(rel, self.composing(channel), self.now)
            except Exception as exc:  # reported by the pass, for this release only
                self._made[key] = exc
        return len(todo)


def plan_posts(
    session: Session,
    config: LoadedConfig,
    settings: Settings,
    now: datetime,
    *,
    releases: set[str] | None = None,
    channels_changed: set[str] | None = None,
    compositions: Compositions,
) -> PlanChanges:
    """Brings posts in line with ``config`` for ``releases`` (all when None).

    Composes nothing (see the module doc): a post whose composition is not in
    ``compositions`` is not made, and ``compositions.missing`` names it; the caller rolls
    the pass back, calls :meth:`Compositions.make` outside the transaction and runs it
    again.
    """
    run = _Pass(session, config, settings, now, _TakenTimes(session), compositions)
    if releases is None:
        rows = {r.id: r for r in session.scalars(select(ReleaseRow))}
    else:  # only those planned: an object for each of 5,000 stored releases on every sync
        wanted, rows = sorted(releases), {}  # cost an idle worker more than all else
        for start in range(0, len(wanted), 500):
            chunk = select(ReleaseRow).where(ReleaseRow.id.in_(wanted[start : start + 500]))
            rows.update((r.id, r) for r in session.scalars(chunk))
    chan_rows = set(session.scalars(select(ChannelRow.name)))
    for loaded in config.releases:
        rel = loaded.release
        row = rows.get(rel.id)
        if row is None or (releases is not None and rel.id not in releases):
            continue
        try:
            with session.begin_nested():
                run.plan_release(rel, row, chan_rows)
        except Exception as exc:  # one bad release never stops the others
            log.exception("planning release %s failed", rel.id)
            run.out.errors.append(f"{rel.id}: {exc}")
    for rid, row in rows.items():
        if row.deleted and (releases is None or rid in releases):
            run.out.cancelled += _close_open(session, rid, Event.WITHDRAW, DELETED)
    if channels_changed:
        run.replan_channels(channels_changed)
    run.out.expired += expire_posts(session, now)
    return run.out


@dataclass
class _Pass:
    """One planning pass: what every step needs, and what the pass has changed so far.

    ``taken`` holds each channel's planned and published first parts; every post planned in
    this pass joins it, so the gap and the daily cap hold among the pass's own posts too.
    """

    session: Session
    config: LoadedConfig
    settings: Settings
    now: datetime
    taken: dict[str, list[datetime]]
    compositions: Compositions
    out: PlanChanges = field(default_factory=PlanChanges)
    timing: TimingCache | None = None
    #: rows of the posts :meth:`create` made for the release being planned, inserted at
    #: the end of :meth:`plan_release`
    new_posts: list[dict[str, Any]] = field(default_factory=list)

    def plan_release(self, rel: Release, row: ReleaseRow, channel_rows: set[str]) -> None:
        session, config, out = self.session, self.config, self.out
        if rel.status == "withdrawn":
            out.cancelled += _close_open(session, rel.id, Event.WITHDRAW, WITHDRAWN)
            return
        if rel.status != "approved" or not rel.approved_by:
            out.held += _hold(session, rel.id)
            return
        targets = [
            name
            for name in config.targets_of(rel)
            if config.channels[name].enabled and name in channel_rows
        ]
        existing: dict[str, list[Post]] = defaultdict(list)
        for post in session.scalars(select(Post).where(Post.release_id == rel.id)):
            existing[post.channel].append(post)
        for name, posts in existing.items():
            # a broken channel entry is a typo to fix, not a removal: its posts wait as they are
            if name not in targets and not _channel_unknown(config, name):
                out.cancelled += _close_posts(posts, Event.WITHDRAW, NOT_A_TARGET, self.now)
        if isinstance(self.taken, _TakenTimes):  # the channels about to get a first post
            self.taken.load([name for name in targets if name not in existing])
        self.new_posts = []
        for name in targets:
            channel = config.channels[name]
            posts = existing.get(name, [])
            seq = max((p.seq for p in posts), default=0)
            current = sorted((p for p in posts if p.seq == seq), key=lambda p: p.part_index)
            if not current:
                self.create(rel, row, channel, 0, rel.not_before)
            elif all(_planner_cancelled(p) for p in current):
                self.replace(rel, row, channel, current)
            elif all(p.release_revision == row.revision for p in current):
                if rel.priority == "evergreen":
                    self.maybe_reshare(rel, row, channel, current)
            else:
                self.recompose(rel, row, channel, current)
        if self.new_posts:  # one statement: an ORM object per post cost more than planning it
            session.execute(insert(Post), self.new_posts)
            self.new_posts = []

    def create(
        self, rel: Release, row: ReleaseRow, channel: Channel, seq: int, earliest: datetime | None
    ) -> None:
        now = self.now
        comp = self.compositions.get(rel, channel)
        if comp is None:  # made outside the transaction, then the pass runs again
            return
        due = None if comp.skipped else self.plan_one(rel, channel, seq, earliest)
        if comp.skipped:
            state, reason = lifecycle.initial(Event.SKIP), comp.skipped
        elif due is None:
            state = lifecycle.initial(Event.NO_TIME)
            reason = "no posting time before the release expires"
        else:
            state, reason = lifecycle.initial(Event.PLAN), None
        for part in comp or [None]:
            self.new_posts.append(
                dict(
                    release_id=rel.id,
                    channel=channel.name,
                    platform=channel.platform,
                    seq=seq,
                    part_index=part.index if part else 1,
                    part_total=part.total if part else 1,
                    release_revision=row.revision,
                    state=state,
                    text=part.text if part else "",
                    payload=part.to_json() if part else {},
                    skip_reason=reason,
                    last_error=reason if state == PostState.EXPIRED else None,
                    idempotency_key=uuid.uuid4().hex,
                    planned_at=due,
                    due_at=due,
                    created_at=now,
                    updated_at=now,
                )
            )
        if state == PostState.SKIPPED:
            self.out.skipped += 1
        elif state == PostState.EXPIRED:
            self.out.expired += 1
        else:
            self.out.created += len(comp)

    def plan_one(
        self, rel: Release, channel: Channel, seq: int, earliest: datetime | None
    ) -> datetime | None:
        request = PlanRequest(
            key=f"{rel.id}:{channel.name}:{seq}",
            earliest=earliest or self.now,
            priority=rel.priority,
            expires=rel.expires,
        )
        chan_taken = self.taken[channel.name]
        if self.timing is None:  # learned timing fits each group once, on first need
            self.timing = TimingCache(self.session, self.now)
        due = self.timing.plan(
            channel, request, chan_taken, stagger_seconds=self.settings.stagger_seconds
        )
        if due is not None:
            chan_taken.append(due)
        return due

    def recompose(
        self, rel: Release, row: ReleaseRow, channel: Channel, current: list[Post]
    ) -> None:
        if not all(_unsent(p) for p in current):
            for p in current:  # part of it went out: keep what is there, note the revision
                p.release_revision = row.revision
            return
        self.replace(rel, row, channel, current)
        self.out.recomposed += len(current)

    def replace(self, rel: Release, row: ReleaseRow, channel: Channel, current: list[Post]) -> None:
        """New posts for ``channel`` at the next ``seq``; ``current`` (all unsent) are kept as
        cancelled history: attempt rows may point at them, so they are never deleted."""
        _forget(self.taken, channel.name, current)
        retire(current, f"replaced by revision {row.revision}", self.now)
        self.session.flush()
        self.create(rel, row, channel, current[0].seq + 1, self.earliest(rel, channel))

    def earliest(self, rel: Release, channel: Channel) -> datetime | None:
        """The earliest a new post of ``rel`` on ``channel`` may go: the embargo, and for an
        evergreen release also its interval after the channel's last share of it."""
        if rel.priority != "evergreen":
            return rel.not_before
        last = self.session.scalar(
            select(func.max(Post.published_at)).where(
                Post.release_id == rel.id,
                Post.channel == channel.name,
                Post.state == PostState.PUBLISHED,
            )
        )
        if last is None:
            return rel.not_before
        default = timedelta(days=self.settings.evergreen_interval_days)
        again = next_evergreen(channel, last, default)
        return max(again, rel.not_before) if rel.not_before else again

    def maybe_reshare(
        self, rel: Release, row: ReleaseRow, channel: Channel, current: list[Post]
    ) -> None:
        if not all(p.state == PostState.PUBLISHED and p.published_at for p in current):
            return
        earliest = self.earliest(rel, channel)
        assert earliest is not None  # a share was published
        if rel.expires and earliest >= rel.expires:
            return
        self.create(rel, row, channel, current[0].seq + 1, earliest)

    def replan_channels(self, names: set[str]) -> None:
        session = self.session
        releases = {lr.release.id: lr.release for lr in self.config.releases}
        for name in sorted(names):
            channel = self.config.channels.get(name)
            if channel is None:
                continue
            # posts of a release whose file is broken keep their time (and place in taken)
            posts = [
                p
                for p in session.scalars(
                    select(Post)
                    .where(
                        Post.channel == name,
                        Post.state == PostState.SCHEDULED,
                        Post.part_index == 1,
                    )
                    .order_by(Post.due_at)
                )
                if p.release_id in releases
            ]
            _forget(self.taken, name, posts)
            for post in posts:
                rel = releases[post.release_id]
                due = self.plan_one(rel, channel, post.seq, self.earliest(rel, channel))
                siblings = session.scalars(
                    select(Post).where(
                        Post.release_id == post.release_id,
                        Post.channel == name,
                        Post.seq == post.seq,
                        Post.state == PostState.SCHEDULED,
                    )
                )
                for p in siblings:
                    if due is None:
                        if lifecycle.apply(p, Event.NO_TIME):
                            p.last_error = "no posting time before expiry"
                    else:
                        p.due_at = due
                    p.updated_at = self.now
                self.out.replanned += 1


def retire(posts: Sequence[Post], reason: str, now: datetime) -> int:
    """Cancels ``posts`` (never gone out) that an edit replaces, keeping them as history
    (event ``edit``); posts the planner cancelled before stay as they are. Returns how
    many it cancelled."""
    n = 0
    for p in posts:
        if p.state != PostState.CANCELLED and lifecycle.apply(p, Event.EDIT):
            p.last_error, p.updated_at = reason, now
            n += 1
    return n


def _channel_unknown(config: LoadedConfig, name: str) -> bool:
    """A channel whose entry is broken, or that may sit in a channel file that could not be
    read: a typo to fix, not a removal."""
    return name in config.broken_channel_names or (
        config.channels_incomplete and name not in config.channels
    )


def _planner_cancelled(post: Post) -> bool:
    return post.state == PostState.CANCELLED and post.last_error in PLANNER_CANCELS


def _unsent(post: Post) -> bool:
    """Never went out: may be replaced by a new composition."""
    return post.state in UNSENT or _planner_cancelled(post)


def _forget(taken: dict[str, list[datetime]], name: str, posts: Sequence[Post]) -> None:
    """Takes the scheduled ``posts`` out of ``taken`` before they are planned again."""
    for p in posts:
        if p.part_index == 1 and p.state == PostState.SCHEDULED and p.due_at in taken[name]:
            taken[name].remove(p.due_at)


def stale_release_ids(session: Session) -> set[str]:
    """Approved releases with no posts yet, or with posts of an older revision only:
    planning them failed or was interrupted before, so they are planned again.

    Per release, one probe of ``uq_post_slot`` (release_id first) for a post of its
    revision, which is nearly always the first one found: grouping every post by release
    read the whole table on every sync (0.9 s with a million posts on PostgreSQL)."""
    current = (
        select(literal(1))
        .where(Post.release_id == ReleaseRow.id, Post.release_revision >= ReleaseRow.revision)
        .limit(1)
        .scalar_subquery()
    )
    stmt = select(ReleaseRow.id).where(
        ReleaseRow.deleted.is_(False),
        ReleaseRow.status == "approved",
        current.is_(None),
    )
    return set(session.scalars(stmt))


def open_release_ids(session: Session, channels: set[str]) -> set[str]:
    """Releases with posts not yet gone out (pending or scheduled) on ``channels``."""
    stmt = (
        select(Post.release_id)
        .where(Post.channel.in_(sorted(channels)), Post.state.in_(sorted(HOLDABLE)))
        .distinct()
    )
    return set(session.scalars(stmt))


class _TakenTimes(dict[str, list[datetime]]):
    """Each channel's planned and published first parts (the gap and cap count posts),
    read from the database the first time the channel is asked for: a sync that plans
    nothing reads none (with a million posts, reading them all took seconds each sync)."""

    def __init__(self, session: Session) -> None:
        super().__init__()
        self._session = session

    def __missing__(self, channel: str) -> list[datetime]:
        self.load([channel])
        return self[channel]

    def load(self, channels: Sequence[str]) -> None:
        """Reads the channels not read yet, 500 to a query: a release to 1,000 channels
        asked 1,000 queries (1.3 s on SQLite)."""
        wanted = [c for c in dict.fromkeys(channels) if c not in self]
        for start in range(0, len(wanted), 500):
            chunk = wanted[start : start + 500]
            found: dict[str, list[datetime]] = {c: [] for c in chunk}
            stmt = select(Post.channel, Post.due_at, Post.published_at).where(
                Post.channel.in_(chunk),
                Post.part_index == 1,
                Post.state.in_(
                    [
                        PostState.SCHEDULED,
                        PostState.PUBLISHING,
                        PostState.PUBLISHED,
                        PostState.UNCONFIRMED,
                    ]
                ),
            )
            for channel, due, published in self._session.execute(stmt):
                if (moment := published or due) is not None:
                    found[channel].append(moment)
            self.update(found)


def _hold(session: Session, release_id: str) -> int:
    """Holds the release's scheduled posts (back to pending: it is a draft again)."""
    posts = session.scalars(
        select(Post).where(
            Post.release_id == release_id, Post.state.in_(lifecycle.sources(Event.HOLD))
        )
    ).all()
    return sum(lifecycle.apply(p, Event.HOLD) for p in posts)


def _close_open(session: Session, release_id: str, event: Event, reason: str) -> int:
    """Closes the release's posts that ``event`` may close (pending or scheduled)."""
    stmt = select(Post).where(
        Post.release_id == release_id, Post.state.in_(lifecycle.sources(event))
    )
    return _close_posts(list(session.scalars(stmt)), event, reason, None)


def _close_posts(posts: list[Post], event: Event, reason: str, now: datetime | None) -> int:
    """Moves the ``posts`` that ``event`` may move (the others, gone out or closed already,
    are not its business) with ``reason``; returns how many."""
    n = 0
    for p in posts:
        if lifecycle.allows(p.state, event) and lifecycle.apply(p, event):
            p.last_error = reason
            if now is not None:
                p.updated_at = now
            n += 1
    return n


def expire_posts(session: Session, now: datetime) -> int:
    """Open posts of releases whose ``expires`` has passed become expired."""
    stmt = (
        select(Post)
        .join(ReleaseRow, ReleaseRow.id == Post.release_id)
        .where(
            Post.state.in_(lifecycle.sources(Event.EXPIRE)),
            ReleaseRow.expires.is_not(None),
            ReleaseRow.expires <= now,
        )
    )
    return _close_posts(list(session.scalars(stmt)), Event.EXPIRE, "release expired", now)
