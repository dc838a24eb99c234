"""Reading one feed: the poll state machine, and the decision about each of its items.

Per feed (``feed_states``), each poll:

1. is due at ``next_poll_at`` (a feed never read is due at once; ``force`` reads it now);
2. fetches with conditional GET (:mod:`dissem.feeds.fetch`); a 304 changes nothing but the
   times; a 429 or 503 waits its ``Retry-After`` (at least the backoff, at most 24 h);
3. any failure (no answer, an HTTP error, an unreadable or hostile document) counts one
   more failure in a row: the next poll waits ``poll_interval * 2**failures``, at most 24 h,
   so a broken feed is retried at least daily and never given up; at
   ``DISSEM_FEED_ALERT_FAILURES`` failures in a row an alert goes out (again each day it
   stays broken); the error is kept (``dissem feeds`` shows it);
4. a feed read for the first time posts nothing: its current items are recorded as seen
   (and counted); ``backfill`` posts the newest N on purpose (also items recorded before);
5. every other item is looked up by all its keys (:mod:`dissem.feeds.identity`), in every
   feed. Known: its new keys are added (the same story under a new address is logged as a
   duplicate of it); when its text changed (in its own feed) its release is updated, so
   posts not yet out are recomposed and nothing is posted again. Unknown: held when older
   than ``max_age`` (``too_old``) or beyond ``cap_per_hour`` (``over_cap``), else it
   becomes a release (``new``); before that the article page is read (bounded) for its
   ``og:image`` and ``rel=canonical``, and the canonical link is one more key;
6. new and updated releases are planned at once, like a file's (:mod:`dissem.worker.feed_plan`).

Every decision is a ``feed_events`` row and a log line with the item's guid.
"""

from __future__ import annotations

import functools
import hashlib
import ipaddress
import json
import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from urllib.parse import urlsplit

from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from dissem.config.models import EARLIEST, Feed, LoadedConfig, LoadedRelease, Release
from dissem.errors import FeedFetchError, FeedNotFound, FeedParseError
from dissem.feeds.decisions import Decision
from dissem.feeds.fetch import Fetched, FetchLimits, fetch, retry_after
from dissem.feeds.html import page_meta
from dissem.feeds.items import FeedItem, feed_item, release_id, to_release
from dissem.feeds.parse import ParsedFeed, parse_feed
from dissem.platforms.safe_fetch import Destinations
from dissem.settings import Settings
from dissem.store.db import transaction
from dissem.store.models import FeedEvent, FeedKey, FeedState, ReleaseRow
from dissem.store.models import FeedItem as FeedItemRow
from dissem.worker.alerts import Alerter, NullAlerter
from dissem.worker.feed_plan import SOURCE_PREFIX, plan_feed_releases
from dissem.worker.planner import PlanChanges
from dissem.worker.records import _new_release_row, _update_release_row, revision_of

log = logging.getLogger(__name__)

__all__ = [
    "Decision",
    "Fetcher",
    "Politeness",
    "PollResult",
    "poll_due",
    "poll_feed",
]

#: the longest any feed waits between two polls, whatever failed or what a server asks
MAX_BACKOFF = timedelta(hours=24)
#: article pages are read with these bounds (their head is all that is needed)
ARTICLE_LIMITS = FetchLimits(max_bytes=2 * 1024 * 1024, timeout=5.0, deadline=10.0)
#: a ``dissem feeds`` failure alert is repeated at most this often
REALERT = timedelta(hours=24)

#: ``(url, limits, etag=, last_modified=, accept=) -> Fetched``; tests and the demo may pass
#: their own
Fetcher = Callable[..., Fetched]


@dataclass
class PollResult:
    """What one poll of one feed did."""

    feed: str
    polled: bool = False  # False: not due, or left for politeness
    status: int | None = None  # HTTP status (None: no answer)
    not_modified: bool = False
    new: list[str] = field(default_factory=list)  # release ids made
    updated: list[str] = field(default_factory=list)  # release ids updated
    seen: int = 0  # recorded on the first run
    held: int = 0  # too old or over the cap
    duplicates: int = 0
    invalid: int = 0
    error: str | None = None
    next_poll_at: datetime | None = None
    plan: PlanChanges | None = None

    @property
    def ok(self) -> bool:
        return self.error is None


@dataclass
class Politeness:
    """When each host was last fetched, so one host is asked at most once per
    ``DISSEM_FEED_HOST_INTERVAL`` seconds (per process; the feeds job runs on one worker
    at a time)."""

    last: dict[str, datetime] = field(default_factory=dict)

    def wait(self, host: str, now: datetime, interval: float) -> bool:
        """True when ``host`` was fetched less than ``interval`` seconds before ``now``."""
        before = self.last.get(host)
        return before is not None and (now - before).total_seconds() < interval

    def fetched(self, host: str, now: datetime) -> None:
        self.last[host] = now


_POLITENESS = Politeness()


def _host(url: str) -> str:
    try:
        return (urlsplit(url).hostname or "").lower()
    except ValueError:
        return ""


def destinations_of(settings: Settings) -> Destinations:
    """Where feed and article fetches may connect: in sandbox mode this machine only, else
    public addresses and the networks of ``DISSEM_FEED_TRUSTED_NETWORKS`` (an intranet
    portal); see :mod:`dissem.platforms.safe_fetch`."""
    trusted = tuple(
        ipaddress.ip_network(n.strip(), strict=False)
        for n in settings.feed_trusted_networks.split(",")
        if n.strip()
    )
    return Destinations(local_only=bool(settings.sandbox_url), trusted=trusted)


def limits_of(settings: Settings) -> FetchLimits:
    return FetchLimits(
        max_bytes=settings.feed_max_bytes,
        timeout=settings.feed_timeout,
        deadline=settings.feed_deadline,
        max_redirects=settings.feed_max_redirects,
    )


def _feed(config: LoadedConfig, name: str) -> Feed:
    for feed in config.feeds:
        if feed.name == name:
            if not feed.enabled:
                raise FeedNotFound(f"feed {name!r} is disabled in feeds.yaml")
            return feed
    raise FeedNotFound(f"no feed named {name!r} in feeds.yaml")


def _state(session: Session, feed: Feed, now: datetime) -> FeedState:
    state = session.get(FeedState, feed.name)
    if state is None:
        state = FeedState(
            name=feed.name,
            url=feed.url,
            initialized=False,
            failures=0,
            items_seen=0,
            items_new=0,
            items_updated=0,
            items_held=0,
            errors=0,
            updated_at=now,
        )
        session.add(state)
    elif state.url != feed.url:  # a new address: its validators do not apply
        state.url, state.etag, state.last_modified = feed.url, None, None
    return state


def poll_due(
    session_factory: sessionmaker[Session],
    settings: Settings,
    config: LoadedConfig,
    *,
    now: datetime,
    fetcher: Fetcher | None = None,
    alerter: Alerter | None = None,
    politeness: Politeness | None = None,
) -> list[PollResult]:
    """Polls every enabled feed that is due (the daemon's ``feeds`` job). When none is, the
    cost is one query. A host fetched less than ``DISSEM_FEED_HOST_INTERVAL`` s ago waits
    for the next round (its feed stays due)."""
    feeds = [f for f in config.feeds if f.enabled]
    if not feeds:
        return []
    with session_factory() as session:
        rows = session.execute(select(FeedState.name, FeedState.next_poll_at))
        next_at = {name: at for name, at in rows}  # dict(result) would take it for a mapping
    due = [f for f in feeds if next_at.get(f.name) is None or next_at[f.name] <= now]  # type: ignore[operator]
    polite = politeness or _POLITENESS
    results: list[PollResult] = []
    for feed in due:
        host = _host(feed.url)
        if polite.wait(host, now, settings.feed_host_interval):
            results.append(PollResult(feed=feed.name, next_poll_at=next_at.get(feed.name)))
            continue
        polite.fetched(host, now)
        try:
            results.append(
                poll_feed(
                    session_factory,
                    settings,
                    config,
                    feed.name,
                    now=now,
                    force=True,
                    fetcher=fetcher,
                    alerter=alerter,
                )
            )
        except Exception as exc:  # one feed never stops the others
            log.exception("feed %s: poll failed", feed.name)
            results.append(PollResult(feed=feed.name, error=f"{type(exc).__name__}: {exc}"))
    return results


def poll_feed(
    session_factory: sessionmaker[Session],
    settings: Settings,
    config: LoadedConfig,
    name: str,
    *,
    now: datetime,
    force: bool = False,
    backfill: int = 0,
    fetcher: Fetcher | None = None,
    alerter: Alerter | None = None,
) -> PollResult:
    """Polls feed ``name`` of ``config`` (see the module doc) and plans what it made.

    Not due (and not ``force``, no ``backfill``): returns at once with ``polled`` False.
    ``backfill`` posts the newest N items that were never posted (on purpose: past the
    first run, the age limit and the cap). Raises :class:`FeedNotFound`; every failure of
    the feed itself is in ``result.error`` and the feed's state.
    """
    feed = _feed(config, name)
    alerter = alerter or NullAlerter()
    result = PollResult(feed=name)
    with transaction(session_factory) as session:
        state = _state(session, feed, now)
        if not force and not backfill and state.next_poll_at and state.next_poll_at > now:
            result.next_poll_at = state.next_poll_at
            return result
        etag, modified = state.etag, state.last_modified
        first_run = not state.initialized
    result.polled = True
    get = fetcher or functools.partial(fetch, destinations=destinations_of(settings))
    try:
        answer = get(feed.url, limits_of(settings), etag=etag, last_modified=modified)
    except FeedFetchError as exc:
        return _failed(session_factory, settings, feed, now, result, str(exc), None, alerter)
    result.status = answer.status
    if answer.status == 304:
        result.not_modified = True
        if not backfill:
            return _succeeded(session_factory, feed, now, result, answer, None)
        answer = get(feed.url, limits_of(settings))  # backfill needs the items
        result.status = answer.status
    if answer.status in (429, 503) or answer.status >= 400 or answer.status < 200:
        wait = retry_after(answer.headers.get("retry-after"), now)
        message = f"{_host(answer.url)}: HTTP {answer.status}"
        return _failed(session_factory, settings, feed, now, result, message, wait, alerter)
    try:
        parsed = parse_feed(answer.body, answer.headers.get("content-type"), answer.url)
    except FeedParseError as exc:
        message = f"{_host(answer.url)}: {exc}"
        return _failed(session_factory, settings, feed, now, result, message, None, alerter)
    items = _items(parsed, result)
    chosen = _backfill(items, backfill)
    touched = _decide(session_factory, feed, now, items, chosen, first_run, result, fetcher=get)
    _succeeded(session_factory, feed, now, result, answer, parsed)
    if touched:
        try:
            result.plan = plan_feed_releases(session_factory, settings, config, now, touched)
        except Exception as exc:  # the releases are stored: the next sync plans them
            log.exception("feed %s: planning failed", name)
            result.error = f"planning failed: {type(exc).__name__}: {exc}"
    return result


def _items(parsed: ParsedFeed, result: PollResult) -> list[FeedItem]:
    items: list[FeedItem] = []
    for entry in parsed.entries:
        item = feed_item(entry)
        if not item.keys or not _valid_link(item.link):
            result.invalid += 1
            log.info("feed item %r: invalid (no http(s) link)", item.guid[:200])
            continue
        items.append(item)
    return items


def _valid_link(url: str) -> bool:
    try:
        Release.model_validate({"id": "x", "title": "x", "url": url, "targets": ["x"]})
    except ValueError:
        return False
    return True


def _backfill(items: list[FeedItem], n: int) -> set[int]:
    """Indexes of the newest ``n`` items (by publication time, else feed order)."""
    if n <= 0:
        return set()
    order = sorted(range(len(items)), key=lambda i: (items[i].published or EARLIEST, -i))
    return set(order[::-1][:n])


def _known(session: Session, keys: list[str]) -> FeedItemRow | None:
    """The stored item any of ``keys`` names: one with a release first, else the oldest."""
    ids = set(session.scalars(select(FeedKey.item_id).where(FeedKey.key.in_(keys))))
    if not ids:
        return None
    rows = list(session.scalars(select(FeedItemRow).where(FeedItemRow.id.in_(sorted(ids)))))
    rows.sort(key=lambda r: (r.release_id is None, r.id))
    return rows[0]


def _posted_last_hour(session: Session, feed: str, now: datetime) -> int:
    return int(
        session.scalar(
            select(func.count())
            .select_from(FeedEvent)
            .where(
                FeedEvent.feed == feed,
                FeedEvent.decision.in_([Decision.NEW]),
                FeedEvent.at > now - timedelta(hours=1),
            )
        )
        or 0
    )


def _event(
    session: Session,
    feed: str,
    item: FeedItem,
    decision: str,
    now: datetime,
    release: str | None = None,
    detail: str | None = None,
) -> None:
    session.add(
        FeedEvent(
            feed=feed,
            guid=item.guid[:2000],
            decision=decision,
            release_id=release,
            detail=detail,
            at=now,
        )
    )
    log.info(
        "feed %s: item %s %s%s",
        feed,
        item.guid[:200],
        decision,
        f" ({detail})" if detail else "",
        extra={"feed": feed, "guid": item.guid[:200], "decision": decision, "release": release},
    )


def _too_old(feed: Feed, item: FeedItem, now: datetime) -> bool:
    return item.published is not None and item.published < now - feed.max_age


def _read_articles(feed: Feed, items: list[FeedItem], fetcher: Fetcher | None) -> None:
    """Reads each item's article page (bounded) for its og:image and canonical link; a page
    that fails is logged and the item goes on without."""
    get = fetcher or fetch
    for item in items:
        try:
            page = get(item.link, ARTICLE_LIMITS, accept="text/html, application/xhtml+xml")
        except FeedFetchError as exc:
            log.info("feed %s: article of %s not read: %s", feed.name, item.guid[:200], exc)
            continue
        if page.status != 200:
            log.info("feed %s: article of %s: HTTP %s", feed.name, item.guid[:200], page.status)
            continue
        item.with_page(page_meta(page.body.decode("utf-8", "replace"), page.url))


def _decide(
    session_factory: sessionmaker[Session],
    feed: Feed,
    now: datetime,
    items: list[FeedItem],
    chosen: set[int],
    first_run: bool,
    result: PollResult,
    *,
    fetcher: Fetcher | None,
) -> list[str]:
    """Decides each item (see the module doc); returns the release ids made or updated."""
    # Which items may become releases: read before, so the article pages are fetched with
    # no transaction open (only for those; never on a first run).
    with session_factory() as session:
        unknown = [i for i, item in enumerate(items) if _known(session, item.keys) is None]
        room = (
            None
            if feed.cap_per_hour is None
            else max(feed.cap_per_hour - _posted_last_hour(session, feed.name, now), 0)
        )
    if feed.fetch_article:
        candidates = [i for i in unknown if not first_run and not _too_old(feed, items[i], now)]
        if room is not None:
            candidates = candidates[:room]
        todo = sorted(set(candidates) | chosen)
        _read_articles(feed, [items[i] for i in todo], fetcher)
    touched: list[str] = []
    with transaction(session_factory) as session:
        state = _state(session, feed, now)
        room = (
            None
            if feed.cap_per_hour is None
            else max(feed.cap_per_hour - _posted_last_hour(session, feed.name, now), 0)
        )
        for index, item in enumerate(items):
            on_purpose = index in chosen
            known = _known(session, item.keys)
            if known is not None:
                rid = _update_known(session, feed, item, known, now, on_purpose, result)
                if rid is not None:
                    touched.append(rid)
                continue
            if first_run and not on_purpose:
                decision = Decision.SEEN
            elif on_purpose:
                decision = Decision.BACKFILL
            elif _too_old(feed, item, now):
                decision = Decision.TOO_OLD
            elif room is not None and room <= 0:
                decision = Decision.OVER_CAP
            else:
                decision = Decision.NEW
            row = _add_item(session, feed, item, decision, now)
            if decision in (Decision.NEW, Decision.BACKFILL):
                rid = _make_release(session, feed, item, row, now, age_limit=not on_purpose)
                touched.append(rid)
                result.new.append(rid)
                state.items_new += 1
                if room is not None and decision == Decision.NEW:
                    room -= 1
                _event(session, feed.name, item, decision, now, rid)
            elif decision == Decision.SEEN:
                result.seen += 1
                state.items_seen += 1
                _event(session, feed.name, item, decision, now, detail="first run")
            else:
                result.held += 1
                state.items_held += 1
                detail = (
                    f"published {item.published.isoformat()}, over {feed.max_age}"
                    if decision == Decision.TOO_OLD and item.published
                    else f"cap {feed.cap_per_hour} per hour"
                )
                _event(session, feed.name, item, decision, now, detail=detail)
        if result.seen:
            log.info(
                "feed %s: first run: %d items recorded as seen, none posted", feed.name, result.seen
            )
    return touched


def _add_item(
    session: Session, feed: Feed, item: FeedItem, decision: str, now: datetime
) -> FeedItemRow:
    row = FeedItemRow(
        feed=feed.name,
        guid=item.guid[:2000],
        url=item.link,
        title=item.title,
        content_hash=item.content_hash(),
        decision=decision,
        published_at=item.published,
        first_seen_at=now,
        last_seen_at=now,
    )
    session.add(row)
    session.flush()
    for key in item.keys:
        session.add(FeedKey(key=key, item_id=row.id))
    session.flush()
    return row


def _add_keys(session: Session, item: FeedItem, row: FeedItemRow) -> list[str]:
    """Stores the keys of ``item`` not yet known; returns them."""
    present = set(session.scalars(select(FeedKey.key).where(FeedKey.key.in_(item.keys))))
    added = [k for k in item.keys if k not in present]
    for key in added:
        session.add(FeedKey(key=key, item_id=row.id))
    if added:
        session.flush()
    return added


def _update_known(
    session: Session,
    feed: Feed,
    item: FeedItem,
    row: FeedItemRow,
    now: datetime,
    on_purpose: bool,
    result: PollResult,
) -> str | None:
    """A story already known: new keys, an update of its text, or a backfill of one never
    posted. Returns the release id made or updated."""
    row.last_seen_at = now
    added = _add_keys(session, item, row)
    state = _state(session, feed, now)
    if added and row.feed != feed.name:
        result.duplicates += 1
        _event(
            session,
            feed.name,
            item,
            Decision.DUPLICATE,
            now,
            row.release_id,
            f"duplicate of {row.release_id or row.guid[:200]} (feed {row.feed})",
        )
    if on_purpose and row.release_id is None:
        rid = _make_release(session, feed, item, row, now, age_limit=False)
        row.decision = Decision.BACKFILL
        result.new.append(rid)
        state.items_new += 1
        _event(session, feed.name, item, Decision.BACKFILL, now, rid)
        return rid
    digest = item.content_hash()
    if row.feed != feed.name or digest == row.content_hash:
        return None
    row.content_hash, row.title, row.url = digest, item.title, item.link
    if row.release_id is None:
        return None
    release = session.get(ReleaseRow, row.release_id)
    if release is None:
        return None
    previous = Release.model_validate(release.data)
    approved = previous.approved_by if previous.status == "approved" else None
    rel = to_release(feed, item, release.id, approved_by=approved)
    _update_release_row(release, _loaded(feed, rel), now)
    session.flush()
    session.add(revision_of(release, now))
    result.updated.append(release.id)
    state.items_updated += 1
    _event(
        session, feed.name, item, Decision.UPDATED, now, release.id, f"revision {release.revision}"
    )
    return release.id


def _loaded(feed: Feed, rel: Release) -> LoadedRelease:
    data = rel.model_dump(mode="json")
    blob = json.dumps(data, sort_keys=True, ensure_ascii=False)
    return LoadedRelease(
        release=rel,
        path=Path(f"{SOURCE_PREFIX}{feed.name}"),
        content_hash=hashlib.sha256(blob.encode("utf-8", "surrogatepass")).hexdigest(),
    )


def _make_release(
    session: Session,
    feed: Feed,
    item: FeedItem,
    row: FeedItemRow,
    now: datetime,
    *,
    age_limit: bool,
) -> str:
    rid = release_id(feed.name, item)
    rel = to_release(feed, item, rid, age_limit=age_limit)
    existing = session.get(ReleaseRow, rid)
    if existing is None:
        release = _new_release_row(_loaded(feed, rel), now)
        session.add(release)
    else:  # the same id already taken (a backfill of a held item): update it
        release = existing
        _update_release_row(release, _loaded(feed, rel), now)
    session.flush()
    session.add(revision_of(release, now))
    row.release_id = rid
    return rid


def _succeeded(
    session_factory: sessionmaker[Session],
    feed: Feed,
    now: datetime,
    result: PollResult,
    answer: Fetched,
    parsed: ParsedFeed | None,
) -> PollResult:
    with transaction(session_factory) as session:
        state = _state(session, feed, now)
        state.last_poll_at = now
        state.last_status = answer.status
        if answer.status != 304:
            state.etag = answer.etag
            state.last_modified = answer.last_modified
        if parsed is not None:
            state.initialized = True
            state.hub = parsed.hub
        if state.failures and state.alerted_at is not None:
            log.warning("feed %s: read again after %d failures", feed.name, state.failures)
        state.failures = 0
        state.alerted_at = None
        state.last_error = result.error
        state.next_poll_at = now + feed.poll_interval
        state.updated_at = now
        result.next_poll_at = state.next_poll_at
    return result


def _failed(
    session_factory: sessionmaker[Session],
    settings: Settings,
    feed: Feed,
    now: datetime,
    result: PollResult,
    message: str,
    wait: timedelta | None,
    alerter: Alerter,
) -> PollResult:
    """Records a failed poll: backoff (or the server's Retry-After), the error, an alert
    after repeated failures."""
    result.error = message
    alert = False
    with transaction(session_factory) as session:
        state = _state(session, feed, now)
        state.failures += 1
        state.errors += 1
        state.last_poll_at = now
        state.last_status = result.status
        state.last_error = message
        backoff = feed.poll_interval * (2 ** min(state.failures, 20))
        delay = min(max(backoff, wait or timedelta(0)), MAX_BACKOFF)
        state.next_poll_at = now + delay
        state.updated_at = now
        result.next_poll_at = state.next_poll_at
        failures = state.failures
        if failures >= settings.feed_alert_failures and (
            state.alerted_at is None or now - state.alerted_at >= REALERT
        ):
            state.alerted_at = now
            alert = True
    log.warning(
        "feed %s: poll failed (%d in a row), next try %s: %s",
        feed.name,
        failures,
        result.next_poll_at.isoformat() if result.next_poll_at else "-",
        message,
    )
    if alert:
        try:
            alerter.send(
                "feed_failing",
                f"feed {feed.name} failed {failures} times in a row: {message}",
                feed=feed.name,
            )
        except Exception:  # alerts are best effort
            log.exception("feed %s: alert not delivered", feed.name)
    return result
