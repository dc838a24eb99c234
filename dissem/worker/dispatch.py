"""Dispatch: claim due posts, publish them through their adapters, record what happened.

One round (:func:`dispatch_once`) keeps a window of claimed posts flowing through a thread
pool (channels in parallel, one post per channel, no transaction open while publishing);
whenever the threads are about to run dry, the finished outcomes are recorded and new posts
claimed in one transaction; until nothing is claimable. An adapter's error decides the
post's next state (:func:`classify`, as a lifecycle event: :mod:`dissem.lifecycle`):

=====================  ===================  ================================================
adapter's answer       lifecycle event      what follows
=====================  ===================  ================================================
ok                     published            published (remote id/url/data; metrics in 1 h)
TransientError         transient, gave_up   scheduled after exponential backoff; failed
                                            after ``max_attempts``
RateLimited            rate_limited         scheduled at ``retry_at``; the channel paused
                                            until then
AuthError              auth_failed          failed; the channel paused until a person acts;
                                            alert
AccountBlocked         account_blocked      scheduled; the channel paused
                                            blocked_pause_hours; alert
ContentRejected        rejected             failed with the platform's reason
Duplicate              duplicate            unconfirmed: reconcile proves it is this post,
                                            else review
OutcomeUnknown         outcome_unknown      unconfirmed (reconcile looks it up)
CredentialsMissing     credentials_missing  scheduled; the channel paused until they are
                                            there; alert
any other exception    error                unconfirmed (it may have been sent), logged;
                                            the worker goes on
(lease too short)      not_sent             scheduled, due now: nothing was sent
=====================  ===================  ================================================
"""

from __future__ import annotations

import logging
import random
import threading
from collections import Counter
from collections.abc import Callable, Mapping
from concurrent.futures import Executor, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from queue import SimpleQueue
from typing import Any

from sqlalchemy import Engine, select, update
from sqlalchemy.orm import Session, sessionmaker

from dissem.compose.types import Part
from dissem.config.models import Channel
from dissem.errors import (
    AccountBlocked,
    AuthError,
    ContentRejected,
    CredentialsMissing,
    Duplicate,
    LeaseLost,
    OutcomeUnknown,
    PlatformError,
    RateLimited,
    TransientError,
)
from dissem.lifecycle import Event
from dissem.platforms.base import Platform, RemotePost
from dissem.platforms.tokens import TokenStore
from dissem.redact import redact
from dissem.settings import Settings
from dissem.store.channels import stored_channel
from dissem.store.db import transaction
from dissem.store.models import ChannelRow, PostState
from dissem.store.queue import (
    PAUSED_FOREVER,
    ClaimedPost,
    Outcome,
    next_due_at,
    settle_and_claim,
)
from dissem.worker.backoff import next_retry_at
from dissem.worker.context import Alerter, DbPublishContext, NullAlerter

__all__ = [
    "CREDENTIALS_RETRY",
    "AdapterPool",
    "DispatchStats",
    "classify",
    "dispatch_once",
    "publish_claimed",
    "stored_channel",
]

log = logging.getLogger(__name__)

#: posts claimed ahead per publishing thread, beyond the one it publishes: enough that a
#: thread never waits for a claim, few enough that channels stay for other workers
AHEAD_PER_THREAD = 1
#: ... but at least this many in hand: each refill is a transaction (five statements and
#: a commit); with one thread and one post ahead every post paid for one, and eight such
#: workers starved a 2-core database server
MIN_WINDOW = 4
#: how long a channel whose credentials are missing is skipped before trying again (each
#: dispatch round ends the pause at once when they are there: resume_credential_pauses)
CREDENTIALS_RETRY = timedelta(minutes=5)
#: how the pause reason of a channel paused for missing credentials begins
CREDENTIALS_REASON = "credentials: "

AdapterFactory = Callable[[Channel], Platform]


class AdapterPool:
    """One adapter per channel, built on first use and reused (its ``requests.Session``
    with it); rebuilt when the channel's stored config changes.

    ``factory`` builds an adapter for a channel; the default reads credentials from the
    environment through :func:`dissem.platforms.registry.build_adapter` and raises
    :class:`CredentialsMissing` when they are not there. With ``tokens``, every adapter
    keeps the tokens it renews there and takes up those kept (a restart, another worker).
    Safe to share between threads.
    """

    def __init__(
        self,
        settings: Settings,
        factory: AdapterFactory | None = None,
        *,
        tokens: TokenStore | None = None,
    ) -> None:
        self._settings = settings
        self._factory = factory or self._from_registry
        self._tokens = tokens
        self._adapters: dict[str, tuple[str, Platform]] = {}
        self._lock = threading.Lock()

    def _from_registry(self, channel: Channel) -> Platform:
        from dissem.platforms.registry import build_adapter

        return build_adapter(channel, self._settings)

    def get(self, name: str, config: Mapping[str, Any], config_hash: str) -> Platform:
        """The adapter of channel ``name`` (``config`` is the stored channel)."""
        with self._lock:
            cached = self._adapters.get(name)
            if cached is not None and cached[0] == config_hash:
                return cached[1]
        adapter = self._factory(stored_channel(config))
        if self._tokens is not None:
            adapter.use_token_store(self._tokens)
        with self._lock:
            old = self._adapters.get(name)
            self._adapters[name] = (config_hash, adapter)
        if old is not None and old[1] is not adapter:
            old[1].close()
        return adapter

    def forget(self) -> None:
        """Drops every adapter (credentials changed): each is built anew on its next use.
        Adapters in use by a publishing thread finish with what they have."""
        with self._lock:
            self._adapters = {}

    def close(self) -> None:
        """Closes every adapter's HTTP session."""
        with self._lock:
            adapters, self._adapters = list(self._adapters.values()), {}
        for _, adapter in adapters:
            adapter.close()


@dataclass
class DispatchStats:
    """What one :func:`dispatch_once` did. ``outcomes`` counts ``Attempt.outcome`` labels
    of the recorded tries; ``lost`` counts outcomes dropped because the lease had gone;
    ``next_due`` is when work may next be due (None: nothing scheduled)."""

    claimed: int = 0
    outcomes: Counter[str] = field(default_factory=Counter)
    states: Counter[str] = field(default_factory=Counter)
    lost: int = 0
    rounds: int = 0
    next_due: datetime | None = None

    @property
    def published(self) -> int:
        return self.states[PostState.PUBLISHED]


def classify(
    claimed: ClaimedPost,
    exc: BaseException | None,
    remote: RemotePost | None,
    settings: Settings,
    started: datetime,
    finished: datetime,
    rng: random.Random | None = None,
) -> Outcome:
    """The outcome of one publish try that returned ``remote`` or raised ``exc``."""

    base = Outcome(
        post_id=claimed.post_id,
        channel=claimed.channel,
        event=Event.ERROR,
        started_at=started,
        finished_at=finished,
        error=redact(f"{type(exc).__name__}: {exc}") if exc is not None else None,
        http_status=exc.status if isinstance(exc, PlatformError) else None,
    )

    def out(event: Event, **changes: Any) -> Outcome:
        return replace(base, event=event, **changes)

    if exc is None:
        assert remote is not None
        return out(Event.PUBLISHED, remote=remote)
    if isinstance(exc, RateLimited):
        until = max(exc.retry_at, finished)
        reason = f"rate limited until {until.isoformat()}"
        return out(
            Event.RATE_LIMITED,
            due_at=until,
            pause_until=until,
            pause_reason=reason,
            refund_attempt=True,
        )
    if isinstance(exc, TransientError):
        if claimed.attempts >= settings.max_attempts:
            return out(Event.GAVE_UP, error=_gave_up(claimed, exc))
        due = next_retry_at(
            finished,
            claimed.attempts,
            base=settings.backoff_base,
            cap=settings.backoff_max,
            rng=rng,
        )
        return out(Event.TRANSIENT, due_at=due)
    if isinstance(exc, AuthError):
        return out(
            Event.AUTH_FAILED,
            pause_until=PAUSED_FOREVER,
            pause_reason=redact(f"auth: {exc}"),
        )
    if isinstance(exc, AccountBlocked):
        # Nothing was sent and the content is not at fault: the post keeps its place. The
        # platform does not say until when; DISSEM_BLOCKED_PAUSE_HOURS (24 by default) is
        # long enough not to knock again and again during the block (that can prolong it)
        # and short enough that posts go out by themselves once it is lifted; the alerted
        # person can resume the channel sooner or cancel its posts.
        until = finished + timedelta(hours=settings.blocked_pause_hours)
        return out(
            Event.ACCOUNT_BLOCKED,
            due_at=until,
            pause_until=until,
            pause_reason=redact(f"account blocked: {exc}"),
            refund_attempt=True,
        )
    if isinstance(exc, ContentRejected):
        return out(Event.REJECTED)
    if isinstance(exc, Duplicate):
        # Even a duplicate that names its post (LinkedIn's "duplicate of urn:li:share:N") is
        # no proof that the post is this one: two releases sharing a text within a day name
        # the first one's post. Reconcile proves it by lookup (text, place, not recorded for
        # another post) or sends it to review.
        if exc.remote_id:
            named = f"Duplicate: {exc} (names {exc.remote_id}; reconcile checks it is this post)"
            return out(Event.DUPLICATE, error=redact(named))
        return out(Event.DUPLICATE)
    if isinstance(exc, OutcomeUnknown):
        return out(Event.OUTCOME_UNKNOWN)
    if isinstance(exc, CredentialsMissing):
        return out(
            Event.CREDENTIALS_MISSING,
            due_at=claimed.due_at,
            pause_until=finished + CREDENTIALS_RETRY,
            pause_reason=redact(f"{CREDENTIALS_REASON}{exc}"),
            refund_attempt=True,
        )
    # A bug or an unexpected answer: the request may have gone out, so never resend blindly.
    return out(Event.ERROR)


def _gave_up(claimed: ClaimedPost, exc: BaseException) -> str:
    return redact(f"gave up after {claimed.attempts} attempts: {type(exc).__name__}: {exc}")


def publish_claimed(
    claimed: ClaimedPost,
    *,
    adapters: AdapterPool,
    session_factory: sessionmaker[Session],
    settings: Settings,
    now_fn: Callable[[], datetime],
    worker_id: str,
) -> Outcome | None:
    """Publishes one claimed post and returns its outcome (not yet recorded); None when
    the lease was lost mid-publish. Never raises for an adapter's failure."""
    started = now_fn()
    remote: RemotePost | None = None
    error: BaseException | None = None
    if started + timedelta(seconds=settings.http_timeout) >= claimed.lease_expires:
        # Waited too long in the pool: the lease could run out mid-request, and a post sent
        # after its lease is gone may be sent again by another worker. Nothing was sent yet.
        return Outcome(
            post_id=claimed.post_id,
            channel=claimed.channel,
            event=Event.NOT_SENT,
            started_at=started,
            finished_at=started,
            error="lease too short to start publishing; put back",
            due_at=started,
            refund_attempt=True,
        )
    try:
        adapter = adapters.get(claimed.channel, claimed.channel_config, claimed.channel_config_hash)
    except CredentialsMissing as exc:
        return classify(claimed, exc, None, settings, started, now_fn())
    except Exception as exc:  # a broken stored config or adapter module: nothing was sent
        log.exception("post %s: cannot build the %s adapter", claimed.post_id, claimed.channel)
        wrapped = TransientError(f"adapter unavailable: {type(exc).__name__}: {exc}")
        return classify(claimed, wrapped, None, settings, started, now_fn())
    ctx = DbPublishContext(
        session_factory,
        post_id=claimed.post_id,
        worker_id=worker_id,
        idempotency_key=claimed.idempotency_key,
        state=claimed.publish_state,
    )
    try:
        part = Part.from_json(claimed.payload)
    except (KeyError, TypeError, ValueError) as exc:  # nothing was sent; it never will be
        unreadable = ContentRejected(f"stored post cannot be read: {type(exc).__name__}: {exc}")
        return classify(claimed, unreadable, None, settings, started, now_fn())
    try:
        remote = adapter.publish(part, ctx, reply_to=claimed.reply_to, root=claimed.root)
    except LeaseLost:
        log.warning("post %s: lease lost mid-publish; left to reconcile", claimed.post_id)
        return None
    except (PlatformError, CredentialsMissing) as exc:
        error = exc
    except Exception as exc:
        log.exception(
            "post %s: unexpected error from the %s adapter", claimed.post_id, claimed.platform
        )
        error = exc
    return classify(claimed, error, remote, settings, started, now_fn())


def dispatch_once(
    session_factory: sessionmaker[Session],
    settings: Settings,
    now_fn: Callable[[], datetime],
    *,
    adapters: AdapterPool,
    worker_id: str,
    stop_event: threading.Event,
    alerter: Alerter | None = None,
    executor: Executor | None = None,
) -> DispatchStats:
    """Publishes everything claimable now with ``settings.concurrency`` threads, until
    nothing is left or ``stop_event`` is set (then the posts in hand are finished and
    recorded, and no more are claimed).

    A worker holds at most :data:`AHEAD_PER_THREAD` + 1 posts per thread (at least
    :data:`MIN_WINDOW`; each post in hand
    holds its channel, which no other worker may then take): whenever no more than
    ``concurrency`` are in hand, the finished ones are recorded and the window filled in
    one transaction (at most ``settings.claim_batch``), so a thread that finishes finds its
    next post waiting instead of waiting for a claim. Claiming further ahead (16 posts for
    4 threads) kept channels from idle workers: eight workers on 64 channels left four of
    them idle; claiming only for free threads left each thread idle during every claim
    (one worker at concurrency 1: 16.8 -> 9.9 posts/s with 50 ms platform latency).
    ``executor`` lets a daemon keep one thread pool across rounds; without it a pool lives
    for this call. Alerts go out after the outcome is committed.
    """
    stats = DispatchStats()
    alerter = alerter or NullAlerter()
    resume_credential_pauses(session_factory, adapters, now_fn())
    threads = max(1, settings.concurrency)
    window = max((AHEAD_PER_THREAD + 1) * threads, MIN_WINDOW)
    pool = executor or ThreadPoolExecutor(threads, thread_name_prefix="publish")

    def publish(claimed: ClaimedPost) -> Outcome | None:
        return publish_claimed(
            claimed,
            adapters=adapters,
            session_factory=session_factory,
            settings=settings,
            now_fn=now_fn,
            worker_id=worker_id,
        )

    # One connection for all rounds (each its own short transaction): no pool checkout
    # and liveness ping per round.
    bind = session_factory.kw.get("bind")
    conn = bind.connect() if isinstance(bind, Engine) else None
    in_hand: set[Future[Outcome | None]] = set()
    # Finished publishes arrive here (a done-callback puts them): cheaper than
    # concurrent.futures.wait(), which re-arms a waiter on every future in hand per call.
    finished: SimpleQueue[Future[Outcome | None]] = SimpleQueue()
    pending: list[Outcome] = []
    try:
        while True:
            # the posts waiting for a thread are about to run out: record the finished
            # ones and fill the window, in one transaction
            refill = len(in_hand) <= threads
            room = 0
            if refill and not stop_event.is_set():
                room = min(settings.claim_batch, window - len(in_hand))
            if refill and (pending or room):
                settled, claimed = settle_and_claim(
                    conn or session_factory,
                    worker_id,
                    pending,
                    now_fn(),
                    limit=room,
                    lease_seconds=settings.lease_seconds,
                )
                _account(stats, pending, settled, alerter)
                pending = []
                if claimed:
                    stats.rounds += 1
                    stats.claimed += len(claimed)
                    for c in claimed:
                        future = pool.submit(publish, c)
                        in_hand.add(future)
                        future.add_done_callback(finished.put)
            if not in_hand:
                break
            done = [finished.get()]
            while not finished.empty():
                done.append(finished.get())
            for future in done:
                in_hand.discard(future)
                result = future.result()
                if result is None:
                    stats.lost += 1
                else:
                    pending.append(result)
    finally:
        # Whatever happens (a database error), finish the posts in hand before leaving;
        # their outcomes stay unrecorded and the leases run out into reconcile.
        wait(in_hand)
        if executor is None:
            pool.shutdown(wait=True)
        if conn is not None:
            conn.close()
    stats.next_due = next_due_at(session_factory, now_fn())
    return stats


def resume_credential_pauses(
    session_factory: sessionmaker[Session], adapters: AdapterPool, now: datetime
) -> list[str]:
    """Ends the pause of each channel paused for missing credentials whose credentials are
    there now (set and the worker restarted, or read from ``.env`` on SIGHUP), so its posts
    go out in this round instead of after :data:`CREDENTIALS_RETRY`. One query of the
    channels table per round; an adapter is built only for a channel paused so. Returns the
    channels resumed."""
    reason = f"{CREDENTIALS_REASON}%"
    stmt = select(ChannelRow.name, ChannelRow.config, ChannelRow.config_hash).where(
        ChannelRow.paused_until > now, ChannelRow.pause_reason.like(reason)
    )
    with session_factory() as session:
        paused = list(session.execute(stmt))
    resumed: list[str] = []
    for name, config, config_hash in paused:
        try:
            adapters.get(name, config, config_hash)
        except CredentialsMissing:
            continue
        except Exception:  # a broken adapter is dispatch's to report, with its post
            continue
        resumed.append(name)
    if resumed:
        with transaction(session_factory) as session:
            session.execute(
                update(ChannelRow)
                .where(ChannelRow.name.in_(resumed), ChannelRow.pause_reason.like(reason))
                .values(paused_until=None, pause_reason=None)
            )
        for name in resumed:
            log.info("channel %s: credentials are there now; pause ended", name)
    return resumed


def _account(
    stats: DispatchStats, outcomes: list[Outcome], settled: list[bool], alerter: Alerter
) -> None:
    for outcome, written in zip(outcomes, settled, strict=True):
        if not written:
            stats.lost += 1
            log.warning(
                "post %s: lease gone; outcome %s not recorded", outcome.post_id, outcome.label
            )
            continue
        stats.outcomes[outcome.label] += 1
        stats.states[outcome.state] += 1
        if outcome.state == PostState.PUBLISHED and outcome.remote is not None:
            log.info(
                "published post %s on %s: %s",
                outcome.post_id,
                outcome.channel,
                outcome.remote.url or f"remote id {outcome.remote.remote_id} (no address yet)",
            )
        _alert(outcome, alerter)


def _alert(outcome: Outcome, alerter: Alerter) -> None:
    kind: str
    if outcome.label in ("auth", "account_blocked", "credentials"):
        kind = outcome.label.value
    elif outcome.state == PostState.FAILED:
        kind = "failed"
    else:
        return
    try:
        alerter.send(
            kind,
            outcome.pause_reason or outcome.error or kind,
            post_id=outcome.post_id,
            channel=outcome.channel,
        )
    except Exception:  # an alert that cannot be sent must not stop publishing
        log.exception("alert %s for post %s could not be sent", kind, outcome.post_id)
