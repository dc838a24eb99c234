"""Reconcile: decide about posts whose publish outcome is unknown, by asking the platform.

For each ``unconfirmed`` post, :meth:`~dissem.platforms.base.Platform.lookup` is asked with
what proves a remote post is this one: the post's idempotency key and remembered
``publish_state`` (rkey, container id), its text, the time of its first attempt (less a
margin for clock skew), the parent it must reply to (the previous part of its thread as
recorded, as dispatch sends it) and the remote ids already recorded for the channel's other
posts (``taken``: never taken again, also within one round). Each decision is a lifecycle
event (:mod:`dissem.lifecycle`): ``found``, ``not_found``, ``not_found_gave_up`` or
``undecidable``:

=====================  =====================================================================
found                  published with the remote id it names (and the address the platform
                       gives, asked for when the lookup did not bring one)
not found              scheduled again, due now, same idempotency key (failed once
                       ``max_attempts`` tries have been spent); but needs_review when the
                       last try was answered "duplicate" without an id: sending again would
                       only be refused again
LookupAmbiguous        needs_review: something there may be it, but cannot be proven to be
                       it (two posts fit, the parent is not shown): a person decides; alert
LookupUnsupported      needs_review (Telegram): a person decides; alert
lookup error           stays unconfirmed for the next round (a throttle pauses the channel)
=====================  =====================================================================

A thread part whose previous part is not recorded as published cannot be placed: it goes to
needs_review too. Decisions are written only for posts still unconfirmed and unchanged since
they were read, so reconcilers on several workers never undo each other.

Each round also fills in the address of published posts stored without one when the
platform must be asked for it (Instagram's and Threads' ``permalink``, which a publish reads
best-effort): at ages of about 1, 2, 4, 8... minutes, for :data:`PERMALINK_WINDOW`.
"""

from __future__ import annotations

import logging
import math
from collections import Counter, defaultdict
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import func, or_, select, update
from sqlalchemy.orm import Session, sessionmaker

from dissem.compose.types import Part
from dissem.errors import (
    AuthError,
    CredentialsMissing,
    LookupAmbiguous,
    LookupUnsupported,
    RateLimited,
)
from dissem.lifecycle import Event
from dissem.platforms.base import MemoryContext, RemotePost
from dissem.redact import redact
from dissem.settings import Settings
from dissem.store.db import transaction
from dissem.store.models import Attempt, ChannelRow, Post, PostState
from dissem.store.queue import PAUSED_FOREVER, Outcome, pause_channel, settle_reconciled
from dissem.worker.context import Alerter, NullAlerter
from dissem.worker.dispatch import AdapterPool

__all__ = ["LOOKUP_MARGIN", "PERMALINK_WINDOW", "ReconcileStats", "reconcile_once"]

log = logging.getLogger(__name__)

#: how far before the first attempt a lookup searches (clock skew between us and them)
LOOKUP_MARGIN = timedelta(minutes=10)
#: how long after publishing a missing address is still asked for
PERMALINK_WINDOW = timedelta(days=3)
#: most published posts whose address is asked for in one round
PERMALINK_BATCH = 50


@dataclass
class ReconcileStats:
    """Counts by decision: ``found``, ``not_found``, ``needs_review``, ``failed`` (not found
    and out of attempts), ``error`` (asked again next round), ``skipped`` (no adapter);
    ``permalinks``: addresses filled in for published posts."""

    decisions: Counter[str] = field(default_factory=Counter)
    checked: int = 0
    permalinks: int = 0

    def __getitem__(self, key: str) -> int:
        return self.decisions[key]


@dataclass(frozen=True)
class _Unconfirmed:
    post_id: int
    channel: str
    payload: dict[str, Any]
    key: str
    publish_state: dict[str, str]
    attempts: int
    updated_at: datetime
    first_try: datetime | None
    last_try: datetime | None
    config: dict[str, Any]
    config_hash: str
    part_index: int = 1
    #: the previous part as recorded (what the post must reply to); None for a first part
    reply_to: RemotePost | None = None
    #: the outcome label of the last publish try ("duplicate", "unknown", ...)
    last_outcome: str | None = None

    @property
    def since(self) -> datetime:
        return (self.first_try or self.updated_at) - LOOKUP_MARGIN


def reconcile_once(
    session_factory: sessionmaker[Session],
    settings: Settings,
    now: datetime,
    *,
    adapters: AdapterPool,
    alerter: Alerter | None = None,
    worker_id: str = "reconcile",
    limit: int = 200,
) -> ReconcileStats:
    """Looks up to ``limit`` unconfirmed posts up on their platforms and records what was
    decided. Lookups run with no transaction open; adapter failures never propagate."""
    alerter = alerter or NullAlerter()
    stats = ReconcileStats()
    decisions: list[tuple[Outcome, datetime]] = []
    labels: list[str] = []
    pauses: list[tuple[str, datetime, str]] = []
    unconfirmed = _load_unconfirmed(session_factory, limit)
    taken = _taken(session_factory, unconfirmed)
    for post in unconfirmed:
        stats.checked += 1
        others = frozenset(rid for rid, pid in taken[post.channel].items() if pid != post.post_id)
        label, outcome, pause = _decide(post, settings, now, adapters, others)
        if pause is not None:
            pauses.append(pause)
        if outcome is None:
            stats.decisions[label] += 1
            continue
        if outcome.remote is not None:  # not to be found again for another post this round
            taken[post.channel][outcome.remote.remote_id] = post.post_id
        decisions.append((outcome, post.updated_at))
        labels.append(label)
    written = settle_reconciled(session_factory, worker_id, decisions)
    if pauses:
        with transaction(session_factory) as session:
            for channel, until, reason in pauses:
                pause_channel(session, channel, until, reason)
    for (outcome, _), label, ok in zip(decisions, labels, written, strict=True):
        if not ok:
            continue  # another reconciler decided first
        stats.decisions[label] += 1
        if outcome.state in (PostState.NEEDS_REVIEW, PostState.FAILED):
            _send(alerter, outcome)
    for channel, _, reason in pauses:
        if reason.startswith("auth:"):
            _send_raw(alerter, "auth", reason, channel=channel)
    stats.permalinks = _fill_permalinks(session_factory, settings, now, adapters)
    return stats


def _load_unconfirmed(session_factory: sessionmaker[Session], limit: int) -> list[_Unconfirmed]:
    first = (
        select(func.min(Attempt.started_at))
        .where(Attempt.post_id == Post.id, Attempt.kind == "publish")
        .scalar_subquery()
    )
    last = (
        select(func.max(Attempt.started_at))
        .where(Attempt.post_id == Post.id, Attempt.kind == "publish")
        .scalar_subquery()
    )
    last_outcome = (
        select(Attempt.outcome)
        .where(Attempt.post_id == Post.id, Attempt.kind == "publish")
        .order_by(Attempt.started_at.desc(), Attempt.id.desc())
        .limit(1)
        .scalar_subquery()
    )
    query = (
        select(Post, first, last, last_outcome, ChannelRow.config, ChannelRow.config_hash)
        .join(ChannelRow, ChannelRow.name == Post.channel)
        .where(Post.state == PostState.UNCONFIRMED)
        .order_by(Post.updated_at, Post.id)
        .limit(limit)
    )
    with session_factory() as session:
        return [
            _Unconfirmed(
                post_id=p.id,
                channel=p.channel,
                payload=dict(p.payload),
                key=p.idempotency_key,
                publish_state={str(k): str(v) for k, v in (p.publish_state or {}).items()},
                attempts=p.attempts,
                updated_at=p.updated_at,
                first_try=first_try,
                last_try=last_try,
                config=dict(config),
                config_hash=config_hash,
                part_index=p.part_index,
                reply_to=_previous_part(session, p),
                last_outcome=outcome,
            )
            for p, first_try, last_try, outcome, config, config_hash in session.execute(query)
        ]


def _previous_part(session: Session, post: Post) -> RemotePost | None:
    """The recorded remote post of the part before ``post`` in its thread, as dispatch
    hands it to ``publish`` (see ``THREAD_ANCHORS``); None for a first part, or when that
    part is not recorded as published."""
    if post.part_index <= 1:
        return None
    row = session.execute(
        select(Post.remote_id, Post.remote_url, Post.remote_data).where(
            Post.release_id == post.release_id,
            Post.channel == post.channel,
            Post.seq == post.seq,
            Post.part_index == post.part_index - 1,
            Post.state == PostState.PUBLISHED,
        )
    ).first()
    if row is None or not row.remote_id:
        return None
    return RemotePost(row.remote_id, row.remote_url, dict(row.remote_data or {}))


def _taken(
    session_factory: sessionmaker[Session], posts: list[_Unconfirmed]
) -> defaultdict[str, dict[str, int]]:
    """Per channel of ``posts``: remote id -> the post it is recorded for, for posts
    published since the earliest lookup window (older remote posts are outside every
    lookup's window anyway), or with no publishing time."""
    taken: defaultdict[str, dict[str, int]] = defaultdict(dict)
    if not posts:
        return taken
    since = min(p.since for p in posts) - LOOKUP_MARGIN
    query = select(Post.channel, Post.remote_id, Post.id).where(
        Post.channel.in_(sorted({p.channel for p in posts})),
        Post.remote_id.is_not(None),
        or_(Post.published_at.is_(None), Post.published_at >= since),
    )
    with session_factory() as session:
        for channel, remote_id, post_id in session.execute(query):
            taken[channel][str(remote_id)] = post_id
    return taken


def _decide(
    post: _Unconfirmed,
    settings: Settings,
    now: datetime,
    adapters: AdapterPool,
    taken: frozenset[str],
) -> tuple[str, Outcome | None, tuple[str, datetime, str] | None]:
    """(label, decision or None to ask again later, channel pause or None)."""

    def decided(event: Event, error: str | None) -> Outcome:
        return Outcome(
            post_id=post.post_id,
            channel=post.channel,
            event=event,
            started_at=now,
            finished_at=now,
            kind="reconcile",
            error=error,
        )

    def review(reason: str) -> tuple[str, Outcome, None]:
        return "needs_review", decided(Event.UNDECIDABLE, reason), None

    if post.part_index > 1 and post.reply_to is None:
        return review(
            f"part {post.part_index - 1} of its thread is not recorded as published, so "
            "where this part would be cannot be checked; check the account, then `dissem "
            "mark-published` or `dissem retry`"
        )
    try:
        adapter = adapters.get(post.channel, post.config, post.config_hash)
        ctx = MemoryContext(post.key, dict(post.publish_state))
        found: RemotePost | None = adapter.lookup(
            Part.from_json(post.payload),
            ctx,
            since=post.since,
            reply_to=post.reply_to,
            taken=taken,
        )
        if found is not None and not found.url:
            found = replace(found, url=_permalink(adapter, found.remote_id))
    except LookupUnsupported as exc:
        return review(
            f"the platform cannot be asked whether it went out ({exc}); check and then "
            "`dissem mark-published` or `dissem retry`"
        )
    except LookupAmbiguous as exc:
        return review(
            redact(
                f"the platform holds a post that may be this one, but it cannot be proven: "
                f"{exc}; check the account, then `dissem mark-published` or `dissem retry`"
            )
        )
    except CredentialsMissing as exc:
        log.warning("post %s: cannot reconcile: %s", post.post_id, exc)
        return "skipped", None, None
    except RateLimited as exc:
        return "error", None, (post.channel, exc.retry_at, redact(f"rate limited: {exc}"))
    except AuthError as exc:
        return "error", None, (post.channel, PAUSED_FOREVER, redact(f"auth: {exc}"))
    except Exception as exc:  # transient or unexpected: ask again next round
        log.warning("post %s: lookup failed: %s", post.post_id, redact(f"{exc!r}"))
        return "error", None, None
    if found is not None:
        out = decided(Event.FOUND, None)
        return "found", _replace(out, remote=found, published_at=post.last_try or now), None
    if post.last_outcome == "duplicate":
        return review(
            "the platform refused it as a duplicate, and no post there is provably this one "
            "(same text, same place, not recorded for another post; a post the platform "
            "named may be another release's); sending it again would be refused again: "
            "check the account, "
            "then `dissem mark-published` if it is this post, or change the text"
        )
    if post.attempts >= settings.max_attempts:
        reason = f"gave up after {post.attempts} attempts: not found after an unknown outcome"
        return "failed", decided(Event.NOT_FOUND_GAVE_UP, reason), None
    out = decided(Event.NOT_FOUND, "not found on the platform; resending")
    return "not_found", _replace(out, due_at=now), None


def _permalink(adapter: Any, remote_id: str) -> str | None:
    """The address the platform gives for a post; None when it gives none or cannot be read
    now (an address is never worth failing or delaying a decision for)."""
    try:
        url = adapter.permalink(remote_id)
    except Exception as exc:
        log.warning("post %s: address not read: %s", remote_id, redact(f"{exc!r}"))
        return None
    return str(url) if url else None


def _fill_permalinks(
    session_factory: sessionmaker[Session],
    settings: Settings,
    now: datetime,
    adapters: AdapterPool,
) -> int:
    """Asks for the address of published posts stored without one (a publish reads it
    best-effort, and Meta sometimes refuses to show a just-published post), published
    within :data:`PERMALINK_WINDOW`, each only when its age in minutes crosses a power of
    two during this round: a handful of requests per post, however often reconcile runs.
    Returns how many addresses were filled in."""
    interval = timedelta(seconds=settings.reconcile_interval)
    query = (
        select(Post.id, Post.channel, Post.remote_id, Post.published_at, ChannelRow.config)
        .add_columns(ChannelRow.config_hash)
        .join(ChannelRow, ChannelRow.name == Post.channel)
        .where(
            Post.state == PostState.PUBLISHED,
            Post.remote_id.is_not(None),
            Post.remote_url.is_(None),
            Post.published_at >= now - PERMALINK_WINDOW,
        )
        .order_by(Post.published_at.desc())
        .limit(PERMALINK_BATCH)
    )
    with session_factory() as session:
        rows = list(session.execute(query))
    found: dict[int, str] = {}
    for post_id, channel, remote_id, published_at, config, config_hash in rows:
        if not _due_for_permalink(now - published_at, interval):
            continue
        try:
            adapter = adapters.get(channel, config, config_hash)
        except Exception as exc:  # missing credentials, broken config: not now
            log.warning("post %s: address not asked for: %s", post_id, redact(f"{exc!r}"))
            continue
        url = _permalink(adapter, remote_id)
        if url:
            found[post_id] = url
    if found:
        with transaction(session_factory) as session:
            for post_id, url in found.items():
                session.execute(
                    update(Post)
                    .where(Post.id == post_id, Post.remote_url.is_(None))
                    .values(remote_url=url)
                )
    return len(found)


def _due_for_permalink(age: timedelta, interval: timedelta) -> bool:
    """Whether a post's age in minutes passed a power of two (1, 2, 4, ...) within the last
    ``interval``, or the post is younger than a minute."""
    minutes = age.total_seconds() / 60
    before = (age - interval).total_seconds() / 60
    if minutes < 1 or before < 1:
        return True
    return math.floor(math.log2(minutes)) != math.floor(math.log2(before))


def _replace(outcome: Outcome, **changes: Any) -> Outcome:
    return replace(outcome, **changes)


def _send(alerter: Alerter, outcome: Outcome) -> None:
    _send_raw(
        alerter,
        outcome.state,
        outcome.error or outcome.state,
        post_id=outcome.post_id,
        channel=outcome.channel,
    )


def _send_raw(alerter: Alerter, kind: str, message: str, **fields: Any) -> None:
    try:
        alerter.send(kind, message, **fields)
    except Exception:  # an alert that cannot be sent must not stop reconciling
        log.exception("alert %s could not be sent", kind)
