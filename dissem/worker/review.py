"""What a person does about a problem post: retry it, cancel it, or say it went out.

Each operation is one transaction that writes the new state and a ``manual`` attempt row,
and raises :class:`~dissem.errors.ReviewError` (with a sentence saying why) when the post
does not exist or the lifecycle table (:mod:`dissem.lifecycle`: events ``retry``,
``cancel``, ``mark_published``, ``reopen``) does not allow the operation from its state.
Thread parts that were blocked by a failed earlier part follow it: retrying or marking that
part reopens them; cancelling a part cancels the parts after it.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import ColumnElement, and_, insert, select, update
from sqlalchemy.orm import Session, sessionmaker

from dissem import lifecycle
from dissem.errors import ReviewError
from dissem.lifecycle import Event
from dissem.store.db import transaction
from dissem.store.models import Attempt, ChannelRow, Post, PostState
from dissem.store.queue import BLOCKED_PREFIX, METRICS_DELAY

__all__ = [
    "CANCELLABLE",
    "MARKABLE",
    "RETRYABLE",
    "ReviewResult",
    "cancel_post",
    "mark_published",
    "resume_channel",
    "retry_post",
]

#: states ``retry`` accepts
RETRYABLE = frozenset(lifecycle.sources(Event.RETRY))
#: states ``mark-published`` accepts
MARKABLE = frozenset(lifecycle.sources(Event.MARK_PUBLISHED))
#: states ``cancel`` accepts: open ones (not while a worker holds it) and failed
CANCELLABLE = frozenset(lifecycle.sources(Event.CANCEL))


@dataclass(frozen=True)
class ReviewResult:
    """The post's state before and after, and how many later thread parts followed it."""

    post_id: int
    before: str
    after: str
    followers: int = 0


def retry_post(
    session_factory: sessionmaker[Session], post_id: int, now: datetime, *, who: str = "cli"
) -> ReviewResult:
    """failed / needs_review / unconfirmed -> scheduled, due now, with a fresh count of
    attempts and the same idempotency key."""
    with transaction(session_factory) as session:
        post = _load(session, post_id, Event.RETRY, "retry")
        before = post.state
        lifecycle.apply(post, Event.RETRY)
        post.due_at = now
        post.attempts = 0
        post.lease_owner = post.lease_expires = None
        post.last_error = None
        post.updated_at = now
        followers = _reopen_followers(session, post, now)
        _audit(session, post_id, who, now, Event.RETRY, f"{before} -> scheduled by a person")
    return ReviewResult(post_id, before, post.state, followers)


def cancel_post(
    session_factory: sessionmaker[Session], post_id: int, now: datetime, *, who: str = "cli"
) -> ReviewResult:
    """Any open state (not ``publishing``) or failed -> cancelled; later parts of its
    thread that have not gone out are cancelled too."""
    with transaction(session_factory) as session:
        post = _load(session, post_id, Event.CANCEL, "cancel")
        before = post.state
        lifecycle.apply(post, Event.CANCEL)
        post.last_error = "cancelled by a person"
        post.updated_at = now
        followers = session.execute(
            update(Post)
            .where(
                _later_parts(post),
                Post.state.in_(lifecycle.sources(Event.CANCEL)),
            )
            .values(
                state=lifecycle.target(Event.CANCEL),
                last_error=f"cancelled with part {post.part_index}",
                updated_at=now,
            )
        ).rowcount  # type: ignore[attr-defined]
        _audit(session, post_id, who, now, Event.CANCEL, f"{before} -> cancelled by a person")
    return ReviewResult(post_id, before, post.state, int(followers))


def mark_published(
    session_factory: sessionmaker[Session],
    post_id: int,
    url: str,
    now: datetime,
    *,
    remote_id: str | None = None,
    who: str = "cli",
) -> ReviewResult:
    """needs_review / unconfirmed / failed -> published at ``url`` (a person saw it out).

    Without ``remote_id`` no metrics are collected for the post and later thread parts go
    out as plain posts rather than replies.
    """
    if not url.strip():
        raise ReviewError("the URL of the published post is empty")
    with transaction(session_factory) as session:
        post = _load(session, post_id, Event.MARK_PUBLISHED, "mark as published")
        before = post.state
        lifecycle.apply(post, Event.MARK_PUBLISHED)
        post.remote_url = url.strip()
        post.remote_id = remote_id or post.remote_id
        post.published_at = now
        post.next_metrics_at = now + METRICS_DELAY if post.remote_id else None
        post.lease_owner = post.lease_expires = None
        post.last_error = None
        post.updated_at = now
        followers = _reopen_followers(session, post, now)
        _audit(session, post_id, who, now, Event.MARK_PUBLISHED, f"{before} -> published: {url}")
    return ReviewResult(post_id, before, post.state, followers)


def resume_channel(session_factory: sessionmaker[Session], channel: str) -> str | None:
    """Lifts a channel's pause (after fixing its credentials); returns the old reason.
    Raises :class:`ReviewError` for an unknown channel."""
    with transaction(session_factory) as session:
        row = session.get(ChannelRow, channel)
        if row is None:
            raise ReviewError(f"no channel named {channel!r}")
        reason = row.pause_reason
        row.paused_until = None
        row.pause_reason = None
    return reason


def _load(session: Session, post_id: int, event: Event, verb: str) -> Post:
    """The post, locked, when the lifecycle table allows ``event`` from its state; else
    the refusal is logged and :class:`ReviewError` says why."""
    post = session.scalar(select(Post).where(Post.id == post_id).with_for_update())
    if post is None:
        raise ReviewError(f"no post with id {post_id}")
    if not lifecycle.allows(post.state, event):
        lifecycle.refuse(post_id, post.state, event)
        allowed = lifecycle.sources(event)
        hint = (
            "; it is being published right now, try again shortly"
            if (post.state == PostState.PUBLISHING)
            else ""
        )
        raise ReviewError(
            f"post {post_id} is {post.state}; can {verb} only a post that is "
            f"{', '.join(sorted(allowed))}{hint}"
        )
    return post


def _later_parts(post: Post) -> ColumnElement[bool]:
    return and_(
        Post.release_id == post.release_id,
        Post.channel == post.channel,
        Post.seq == post.seq,
        Post.part_index > post.part_index,
    )


def _reopen_followers(session: Session, post: Post, now: datetime) -> int:
    """Later parts failed only because this part failed go back to scheduled; they wait
    for this part to be published before they are claimed."""
    count = session.execute(
        update(Post)
        .where(
            _later_parts(post),
            Post.state.in_(lifecycle.sources(Event.REOPEN)),
            Post.last_error.startswith(BLOCKED_PREFIX),
        )
        .values(
            state=lifecycle.target(Event.REOPEN),
            due_at=now,
            attempts=0,
            last_error=None,
            updated_at=now,
        )
    ).rowcount  # type: ignore[attr-defined]
    return int(count)


def _audit(
    session: Session, post_id: int, who: str, now: datetime, event: Event, note: str
) -> None:
    session.execute(
        insert(Attempt).values(
            post_id=post_id,
            worker=who,
            kind="manual",
            started_at=now,
            finished_at=now,
            outcome=lifecycle.label(event),
            error=note,
        )
    )
