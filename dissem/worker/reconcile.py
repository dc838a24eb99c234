"""Reconcile: decide about posts whose publish outcome is unknown, by asking the platform.

For each ``unconfirmed`` post, :meth:`~dissem.platforms.base.Platform.lookup` is asked with
the post's idempotency key, its remembered ``publish_state`` (rkey, container id) and its
text, for posts since its first attempt (less a margin for clock skew):

=====================  =====================================================================
found                  published with the remote id it names
not found              scheduled again, due now, same idempotency key (failed once
                       ``max_attempts`` tries have been spent)
LookupUnsupported      needs_review (Telegram): a person decides; alert
lookup error           stays unconfirmed for the next round (a throttle pauses the channel)
=====================  =====================================================================

Decisions are written only for posts still unconfirmed and unchanged since they were read,
so reconcilers on several workers never undo each other.
"""

from __future__ import annotations

import logging
from collections import Counter
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from dissem.compose.types import Part
from dissem.errors import AuthError, CredentialsMissing, RateLimited
from dissem.platforms.base import LookupUnsupported, MemoryContext, RemotePost
from dissem.redact import redact
from dissem.settings import Settings
from dissem.store.db import transaction
from dissem.store.models import Attempt, ChannelRow, Post, PostState
from dissem.store.queue import PAUSED_FOREVER, Outcome, pause_channel, settle_reconciled
from dissem.worker.context import Alerter, NullAlerter
from dissem.worker.dispatch import AdapterPool

__all__ = ["LOOKUP_MARGIN", "ReconcileStats", "reconcile_once"]

log = logging.getLogger(__name__)

#: how far before the first attempt a lookup searches (clock skew between us and them)
LOOKUP_MARGIN = timedelta(minutes=10)


@dataclass
class ReconcileStats:
    """Counts by decision: ``found``, ``not_found``, ``needs_review``, ``failed`` (not found
    and out of attempts), ``error`` (asked again next round), ``skipped`` (no adapter)."""

    decisions: Counter[str] = field(default_factory=Counter)
    checked: int = 0

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
    for post in _load_unconfirmed(session_factory, limit):
        stats.checked += 1
        label, outcome, pause = _decide(post, settings, now, adapters)
        if pause is not None:
            pauses.append(pause)
        if outcome is None:
            stats.decisions[label] += 1
            continue
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
    query = (
        select(Post, first, last, ChannelRow.config, ChannelRow.config_hash)
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
            )
            for p, first_try, last_try, config, config_hash in session.execute(query)
        ]


def _decide(
    post: _Unconfirmed, settings: Settings, now: datetime, adapters: AdapterPool
) -> tuple[str, Outcome | None, tuple[str, datetime, str] | None]:
    """(label, decision or None to ask again later, channel pause or None)."""
    base = Outcome(
        post_id=post.post_id,
        channel=post.channel,
        state=PostState.UNCONFIRMED,
        label="error",
        started_at=now,
        finished_at=now,
        kind="reconcile",
    )
    try:
        adapter = adapters.get(post.channel, post.config, post.config_hash)
        since = (post.first_try or post.updated_at) - LOOKUP_MARGIN
        ctx = MemoryContext(post.key, dict(post.publish_state))
        found: RemotePost | None = adapter.lookup(Part.from_json(post.payload), ctx, since=since)
    except LookupUnsupported as exc:
        reason = f"the platform cannot be asked whether it went out ({exc}); check and then "
        reason += "`dissem mark-published` or `dissem retry`"
        return "needs_review", _with(base, PostState.NEEDS_REVIEW, "needs_review", reason), None
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
        out = _with(base, PostState.PUBLISHED, "found", None)
        return "found", _replace(out, remote=found, published_at=post.last_try or now), None
    if post.attempts >= settings.max_attempts:
        reason = f"gave up after {post.attempts} attempts: not found after an unknown outcome"
        return "failed", _with(base, PostState.FAILED, "not_found", reason), None
    out = _with(base, PostState.SCHEDULED, "not_found", "not found on the platform; resending")
    return "not_found", _replace(out, due_at=now), None


def _with(base: Outcome, state: str, label: str, error: str | None) -> Outcome:
    return _replace(base, state=state, label=label, error=error)


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
