"""The post lifecycle as data: the states, the events that move a post, and the one table
of allowed transitions that every state write goes through.

Each row of :data:`TABLE` names an event, the states it may move a post from, the state it
moves it to, who makes it and why. An event always leads to the same state; the states it
may start from differ. Writers never set a state of their own choosing:

- one post in hand (the ORM): :func:`apply` moves it when the table allows, and otherwise
  leaves it as it is and logs a warning (post id, state, event);
- a bulk UPDATE: :func:`sources` gives the states an event may start from (``WHERE state
  IN (...)``) and :func:`target` the state it sets;
- a new post: :func:`initial` (the events whose source is "new").

The table is rendered for the README and ``docs/lifecycle.md`` by
:func:`render_markdown`; a test keeps the README's copy equal to it.

This module imports only the standard library and :mod:`dissem.errors`: every layer may
use it.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from dataclasses import dataclass
from enum import StrEnum, nonmember
from typing import Protocol

from dissem.errors import TransitionRefused

__all__ = [
    "NEW",
    "TABLE",
    "TERMINAL",
    "Event",
    "OutcomeLabel",
    "PostState",
    "Transition",
    "allowed_moves",
    "allows",
    "apply",
    "initial",
    "label",
    "refuse",
    "render_markdown",
    "sources",
    "target",
    "transition",
]

log = logging.getLogger(__name__)


class PostState(StrEnum):
    """The states of a post. The values are what the ``posts.state`` column holds."""

    PENDING = "pending"
    SCHEDULED = "scheduled"
    PUBLISHING = "publishing"
    PUBLISHED = "published"
    FAILED = "failed"
    UNCONFIRMED = "unconfirmed"
    NEEDS_REVIEW = "needs_review"
    CANCELLED = "cancelled"
    EXPIRED = "expired"
    SKIPPED = "skipped"

    #: not gone out and not given up: the queue still owes something
    OPEN = nonmember(
        frozenset({"pending", "scheduled", "publishing", "unconfirmed", "needs_review"})
    )
    #: what ``dissem queue --problems`` and the status page show
    PROBLEMS = nonmember(frozenset({"failed", "unconfirmed", "needs_review"}))
    #: no worker moves these on by itself (only a person, an edit or a withdrawal may)
    FINAL = nonmember(frozenset({"published", "failed", "cancelled", "expired", "skipped"}))
    #: every state, in lifecycle order
    ALL = nonmember(
        (
            "pending",
            "scheduled",
            "publishing",
            "published",
            "failed",
            "unconfirmed",
            "needs_review",
            "cancelled",
            "expired",
            "skipped",
        )
    )


class OutcomeLabel(StrEnum):
    """What ``attempts.outcome`` records for a publish try, a reconcile decision or a
    person's command (the weekly report and ``dissem queue`` show them)."""

    OK = "ok"
    TRANSIENT = "transient"
    RATE_LIMITED = "rate_limited"
    ACCOUNT_BLOCKED = "account_blocked"
    CREDENTIALS = "credentials"
    NOT_SENT = "not_sent"
    AUTH = "auth"
    REJECTED = "rejected"
    DUPLICATE = "duplicate"
    UNKNOWN = "unknown"
    ERROR = "error"
    LEASE_EXPIRED = "lease_expired"
    FOUND = "found"
    NOT_FOUND = "not_found"
    NEEDS_REVIEW = "needs_review"
    RETRY = "retry"
    CANCELLED = "cancelled"
    MARKED_PUBLISHED = "marked_published"


class Event(StrEnum):
    """What happens to a post. Each event leads to one state (see :data:`TABLE`)."""

    # planning (dissem.worker.planner)
    PLAN = "plan"
    SKIP = "skip"
    NO_TIME = "no_time"
    HOLD = "hold"
    WITHDRAW = "withdraw"
    EDIT = "edit"
    EXPIRE = "expire"
    # dispatch (dissem.store.queue, dissem.worker.dispatch)
    CLAIM = "claim"
    PUBLISHED = "published"
    TRANSIENT = "transient"
    GAVE_UP = "gave_up"
    RATE_LIMITED = "rate_limited"
    ACCOUNT_BLOCKED = "account_blocked"
    CREDENTIALS_MISSING = "credentials_missing"
    NOT_SENT = "not_sent"
    AUTH_FAILED = "auth_failed"
    REJECTED = "rejected"
    DUPLICATE = "duplicate"
    OUTCOME_UNKNOWN = "outcome_unknown"
    ERROR = "error"
    BLOCKED = "blocked"
    LEASE_EXPIRED = "lease_expired"
    # reconcile (dissem.worker.reconcile)
    FOUND = "found"
    NOT_FOUND = "not_found"
    NOT_FOUND_GAVE_UP = "not_found_gave_up"
    UNDECIDABLE = "undecidable"
    # a person (dissem.worker.review: dissem retry / cancel / mark-published)
    RETRY = "retry"
    REOPEN = "reopen"
    MARK_PUBLISHED = "mark_published"
    CANCEL = "cancel"


#: the "state" of a post not made yet, as a source in :data:`TABLE`
NEW = None

_S = PostState


@dataclass(frozen=True)
class Transition:
    """One row of the table: ``event`` moves a post in one of ``sources`` (``None``: a post
    being made) to ``target``. ``label`` is the ``attempts.outcome`` it records (None:
    no attempt row); ``by`` is who makes it, ``when`` what it means."""

    event: Event
    sources: tuple[PostState | None, ...]
    target: PostState
    by: str
    when: str
    label: OutcomeLabel | None = None


_OPEN_UNSENT = (_S.PENDING, _S.SCHEDULED)
_ASK_A_PERSON = (_S.FAILED, _S.NEEDS_REVIEW, _S.UNCONFIRMED)

#: Every transition a post may make. Nothing else writes ``posts.state``.
TABLE: tuple[Transition, ...] = (
    Transition(Event.PLAN, (NEW,), _S.SCHEDULED, "planner", "an approved release is planned"),
    Transition(
        Event.SKIP,
        (NEW,),
        _S.SKIPPED,
        "planner",
        "the release cannot go to that platform (e.g. Instagram without an image)",
    ),
    Transition(
        Event.NO_TIME,
        (NEW, _S.SCHEDULED),
        _S.EXPIRED,
        "planner",
        "no posting time is left before the release expires (planning or re-planning)",
    ),
    Transition(Event.HOLD, (_S.SCHEDULED,), _S.PENDING, "planner", "the release is a draft again"),
    Transition(
        Event.WITHDRAW,
        _OPEN_UNSENT,
        _S.CANCELLED,
        "planner",
        "the release is withdrawn or deleted, or the channel is no longer a target",
    ),
    Transition(
        Event.EDIT,
        (_S.PENDING, _S.SCHEDULED, _S.FAILED, _S.SKIPPED, _S.EXPIRED),
        _S.CANCELLED,
        "planner",
        "the release was edited: new posts replace these (kept as history)",
    ),
    Transition(
        Event.EXPIRE, _OPEN_UNSENT, _S.EXPIRED, "planner", "the release's `expires` has passed"
    ),
    Transition(
        Event.CLAIM,
        (_S.SCHEDULED,),
        _S.PUBLISHING,
        "dispatch",
        "due, its channel free and not paused, its thread's previous part out",
    ),
    Transition(
        Event.PUBLISHED,
        (_S.PUBLISHING, _S.UNCONFIRMED),
        _S.PUBLISHED,
        "dispatch",
        "the platform has it (also when the lease ran out meanwhile)",
        OutcomeLabel.OK,
    ),
    Transition(
        Event.TRANSIENT,
        (_S.PUBLISHING,),
        _S.SCHEDULED,
        "dispatch",
        "a transient error: again after backoff",
        OutcomeLabel.TRANSIENT,
    ),
    Transition(
        Event.GAVE_UP,
        (_S.PUBLISHING,),
        _S.FAILED,
        "dispatch",
        "a transient error after `max_attempts` tries",
        OutcomeLabel.TRANSIENT,
    ),
    Transition(
        Event.RATE_LIMITED,
        (_S.PUBLISHING,),
        _S.SCHEDULED,
        "dispatch",
        "throttled: again when the platform says; the channel pauses until then",
        OutcomeLabel.RATE_LIMITED,
    ),
    Transition(
        Event.ACCOUNT_BLOCKED,
        (_S.PUBLISHING,),
        _S.SCHEDULED,
        "dispatch",
        "the account may not post for a while: the channel pauses; alert",
        OutcomeLabel.ACCOUNT_BLOCKED,
    ),
    Transition(
        Event.CREDENTIALS_MISSING,
        (_S.PUBLISHING,),
        _S.SCHEDULED,
        "dispatch",
        "the channel's credentials are not set: the channel pauses; alert",
        OutcomeLabel.CREDENTIALS,
    ),
    Transition(
        Event.NOT_SENT,
        (_S.PUBLISHING,),
        _S.SCHEDULED,
        "dispatch",
        "the lease was too short to start: put back, nothing sent",
        OutcomeLabel.NOT_SENT,
    ),
    Transition(
        Event.AUTH_FAILED,
        (_S.PUBLISHING,),
        _S.FAILED,
        "dispatch",
        "credentials refused: the channel pauses until a person acts; alert",
        OutcomeLabel.AUTH,
    ),
    Transition(
        Event.REJECTED,
        (_S.PUBLISHING,),
        _S.FAILED,
        "dispatch",
        "the platform refuses this content for good (reason kept)",
        OutcomeLabel.REJECTED,
    ),
    Transition(
        Event.DUPLICATE,
        (_S.PUBLISHING,),
        _S.UNCONFIRMED,
        "dispatch",
        "the platform says it has it already: reconcile proves which post",
        OutcomeLabel.DUPLICATE,
    ),
    Transition(
        Event.OUTCOME_UNKNOWN,
        (_S.PUBLISHING,),
        _S.UNCONFIRMED,
        "dispatch",
        "timeout, dropped connection, 5xx: it may be out",
        OutcomeLabel.UNKNOWN,
    ),
    Transition(
        Event.ERROR,
        (_S.PUBLISHING,),
        _S.UNCONFIRMED,
        "dispatch",
        "an unexpected error: it may be out, never resent blindly",
        OutcomeLabel.ERROR,
    ),
    Transition(
        Event.BLOCKED,
        _OPEN_UNSENT,
        _S.FAILED,
        "dispatch",
        "an earlier part of its thread failed",
    ),
    Transition(
        Event.LEASE_EXPIRED,
        (_S.PUBLISHING,),
        _S.UNCONFIRMED,
        "dispatch",
        "the worker died or hung mid-publish",
        OutcomeLabel.LEASE_EXPIRED,
    ),
    Transition(
        Event.FOUND,
        (_S.UNCONFIRMED,),
        _S.PUBLISHED,
        "reconcile",
        "the platform holds a post proven to be this one",
        OutcomeLabel.FOUND,
    ),
    Transition(
        Event.NOT_FOUND,
        (_S.UNCONFIRMED,),
        _S.SCHEDULED,
        "reconcile",
        "not on the platform: sent again now, same idempotency key",
        OutcomeLabel.NOT_FOUND,
    ),
    Transition(
        Event.NOT_FOUND_GAVE_UP,
        (_S.UNCONFIRMED,),
        _S.FAILED,
        "reconcile",
        "not on the platform, and `max_attempts` tries are spent",
        OutcomeLabel.NOT_FOUND,
    ),
    Transition(
        Event.UNDECIDABLE,
        (_S.UNCONFIRMED,),
        _S.NEEDS_REVIEW,
        "reconcile",
        "the platform cannot be asked, or cannot prove it either way: a person decides",
        OutcomeLabel.NEEDS_REVIEW,
    ),
    Transition(
        Event.RETRY,
        _ASK_A_PERSON,
        _S.SCHEDULED,
        "a person",
        "`dissem retry POST`: due now, attempts counted afresh",
        OutcomeLabel.RETRY,
    ),
    Transition(
        Event.REOPEN,
        (_S.FAILED,),
        _S.SCHEDULED,
        "a person",
        "a later part blocked by the part retried or marked published",
    ),
    Transition(
        Event.MARK_PUBLISHED,
        _ASK_A_PERSON,
        _S.PUBLISHED,
        "a person",
        "`dissem mark-published POST URL`",
        OutcomeLabel.MARKED_PUBLISHED,
    ),
    Transition(
        Event.CANCEL,
        (_S.PENDING, _S.SCHEDULED, _S.UNCONFIRMED, _S.NEEDS_REVIEW, _S.FAILED),
        _S.CANCELLED,
        "a person",
        "`dissem cancel POST` (and the later parts of its thread)",
        OutcomeLabel.CANCELLED,
    ),
)

_BY_EVENT: dict[Event, Transition] = {row.event: row for row in TABLE}
#: (from, event) -> to: the table as a mapping
_MOVES: dict[tuple[PostState | None, Event], PostState] = {
    (source, row.event): row.target for row in TABLE for source in row.sources
}

#: states no event leaves
TERMINAL: frozenset[PostState] = frozenset(
    s for s in PostState if not any(s in row.sources for row in TABLE)
)


def target(event: Event) -> PostState:
    """The state ``event`` leads to."""
    return _BY_EVENT[event].target


def sources(event: Event) -> tuple[PostState, ...]:
    """The existing states ``event`` may move a post from, in lifecycle order (for
    ``WHERE state IN (...)``)."""
    allowed = _BY_EVENT[event].sources
    return tuple(s for s in PostState if s in allowed)


def label(event: Event) -> OutcomeLabel | None:
    """The ``attempts.outcome`` an event records (None when it records no attempt)."""
    return _BY_EVENT[event].label


def allows(current: str | None, event: Event) -> bool:
    """Whether ``event`` may move a post in ``current`` (None: a post being made)."""
    key = (None if current is None else PostState(current), event)
    return key in _MOVES


def transition(current: str | None, event: Event) -> PostState:
    """The state ``event`` moves a post in ``current`` to; raises
    :class:`~dissem.errors.TransitionRefused` when the table does not allow it."""
    state = None if current is None else PostState(current)
    found = _MOVES.get((state, event))
    if found is None:
        raise TransitionRefused(f"{event} is not allowed from {state or 'new'}")
    return found


def initial(event: Event) -> PostState:
    """The state of a post made by ``event`` (plan, skip, no_time)."""
    return transition(NEW, event)


def allowed_moves() -> frozenset[tuple[PostState, PostState]]:
    """Every (from, to) pair some event makes."""
    return frozenset((s, t) for (s, _), t in _MOVES.items() if s is not None)


class HasState(Protocol):
    """Anything with a post's state (a ``Post`` row)."""

    state: PostState


def refuse(post_id: object, current: str | None, event: Event) -> None:
    """Logs a transition the table refused (never silent)."""
    log.warning(
        "post %s: lifecycle refused %s from %s; state left as it is",
        post_id,
        event.value,
        current or "new",
    )


def apply(post: HasState, event: Event, *, post_id: object = None) -> bool:
    """Moves ``post`` (anything with a ``state``) by ``event`` when the table allows it;
    otherwise leaves it, logs a warning and returns False."""
    if not allows(post.state, event):
        refuse(post_id if post_id is not None else getattr(post, "id", "?"), post.state, event)
        return False
    post.state = target(event)
    return True


#: what each state means (README, ``dissem queue``)
MEANINGS: dict[PostState, str] = {
    _S.PENDING: "its release is not (or no longer) approved: held",
    _S.SCHEDULED: "waiting for its due time (`dissem queue` shows it in local time and UTC)",
    _S.PUBLISHING: "claimed by a worker under a lease",
    _S.PUBLISHED: "the platform has it; remote id and URL stored",
    _S.FAILED: "the platform refused it for good (reason kept), or retries ran out",
    _S.UNCONFIRMED: "the outcome is unknown (timeout, dropped connection, 5xx, a worker "
    "that died): reconcile asks the platform",
    _S.NEEDS_REVIEW: "a person decides: the platform cannot be asked (Telegram), or a lookup "
    "could not prove that a post it found is this one",
    _S.CANCELLED: "withdrawn, deleted, replaced by an edit, no longer targeted, or "
    "cancelled by a person",
    _S.EXPIRED: "its release's `expires` passed before it could go out",
    _S.SKIPPED: "not possible on that platform (e.g. Instagram without an image)",
}


def _cell(states: Iterable[PostState | None]) -> str:
    return ", ".join("(new)" if s is None else f"`{s}`" for s in states)


def render_markdown() -> str:
    """The states and the transition table as Markdown (the README's lifecycle table)."""
    lines = ["| state | meaning |", "|---|---|"]
    lines += [f"| `{s}` | {MEANINGS[s]} |" for s in PostState]
    lines += [
        "",
        "| event | from | to | by | when |",
        "|---|---|---|---|---|",
    ]
    for row in TABLE:
        ordered = ([NEW] if NEW in row.sources else []) + list(sources(row.event))
        lines.append(
            f"| `{row.event}` | {_cell(ordered)} | `{row.target}` | {row.by} | {row.when} |"
        )
    return "\n".join(lines) + "\n"
