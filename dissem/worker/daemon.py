"""``dissem run``: the long-running worker.

The database is the queue; APScheduler (3.x) is the clock. Jobs, each on its own thread so
none starves another:

- ``sync``      every ``DISSEM_SYNC_INTERVAL`` s: config folder -> releases -> posts (singleton)
- ``dispatch``  every ``DISSEM_DISPATCH_INTERVAL`` s: claim due posts and publish them; it
                waits for posts due within the interval so they go out on time
- ``reconcile`` every ``DISSEM_RECONCILE_INTERVAL`` s: expired leases, unknown outcomes
- ``metrics``   every ``DISSEM_METRICS_INTERVAL`` s: engagement snapshots (singleton)
- ``compact``   hourly: thins the metrics history by ``DISSEM_METRICS_RETENTION`` and empties
                raw payloads older than ``DISSEM_METRICS_RAW_DAYS`` days, in short
                transactions (:mod:`dissem.metrics.compact`; singleton; off by default)
- ``report``    every 5 minutes: the weekly report once it is due (singleton, once a week)
- ``tokens``    every 5 minutes: renews tokens that are due (Threads, X OAuth 2.0) and alerts
                before one that was not renewed expires (:mod:`dissem.worker.tokens`);
                renewed tokens are kept encrypted in the database when ``DISSEM_TOKEN_KEY``
                is set, else in memory (said once at start)
- ``feeds``     every ``DISSEM_FEED_CHECK_INTERVAL`` s: reads the feeds that are due
                (:mod:`dissem.feeds`), and at once any feed pushed by a ping or WebSub on
                the health port (:mod:`dissem.worker.feed_push`; singleton)

Singleton jobs run on one worker at a time (PostgreSQL advisory lock). Signal handlers only
set flags: the first SIGTERM/SIGINT finishes what is in hand, gives back unstarted claims
and exits; a second exits at once; SIGHUP re-reads ``.env`` (credentials and settings,
:mod:`dissem.worker.env_reload`; what changed is logged by name) and the config now.

The database, at start and while running
----------------------------------------
:func:`open_worker` waits for a database it cannot reach (``DISSEM_DATABASE_WAIT`` s, with
backoff, one log line per try) and raises :class:`~dissem.errors.DatabaseUnavailable`
for one it cannot use (missing, login refused, read-only, full: found by a first write),
which ``dissem run`` turns into one line and exit code 3, 4 or 5. While running, a job that
fails on the database marks it down (one warning, no traceback): rounds are skipped until
the next try (1 s doubling to 60 s), ``/healthz`` answers 503 with the reason and since
when, and the first round that works again says so. ``/healthz`` also judges each loop's
rounds (:class:`~dissem.worker.health.Rounds`, :meth:`Worker.round_limits`).
"""

from __future__ import annotations

import logging
import os
import signal
import socket
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from types import FrameType
from typing import Any

from apscheduler.executors.pool import ThreadPoolExecutor as JobExecutor
from apscheduler.schedulers.background import BackgroundScheduler
from sqlalchemy import select

from dissem.clock import Clock, utcnow
from dissem.config.loader import load_config
from dissem.config.models import Channel, LoadedConfig
from dissem.errors import DatabaseUnavailable, FeedNotFound
from dissem.platforms.base import Platform
from dissem.platforms.mastodon import with_server_limits
from dissem.redact import register_secret
from dissem.settings import Settings
from dissem.store.db import database_problem, make_engine, make_session_factory, probe_writable
from dissem.store.locks import singleton
from dissem.store.models import Attempt, ChannelRow, Post
from dissem.store.open import open_store
from dissem.store.queue import expire_leases
from dissem.store.tokens import open_token_store
from dissem.worker.alerts import Alerter, build_alerter
from dissem.worker.dispatch import AdapterFactory, AdapterPool, dispatch_once
from dissem.worker.env_reload import EnvFile, apply_settings, env_file_of
from dissem.worker.feed_push import FeedPush, PollNow, WebSub
from dissem.worker.health import (
    DatabaseWatch,
    HealthServer,
    RoundLimit,
    Rounds,
    WorkerMetrics,
)
from dissem.worker.reconcile import reconcile_once
from dissem.worker.status_page import StatusPage
from dissem.worker.sync import sync
from dissem.worker.sync_line import describe_sync
from dissem.worker.tokens import TOKEN_INTERVAL, maintain_tokens

COMPACT_INTERVAL = 3600.0  # seconds between metrics compactions (dissem.metrics.compact)

log = logging.getLogger(__name__)


@dataclass
class OnceResult:
    """What ``dissem run --once`` did."""

    synced: bool = False
    published: int = 0
    outcomes: dict[str, int] = field(default_factory=dict)
    reconciled: int = 0
    snapshots: int = 0
    report: str | None = None


class Worker:
    """One dissem worker process: three methods, as in huey/rq: initialise, run (or
    :meth:`run_once`), shut down. ``clock`` is a parameter for tests and the demo."""

    def __init__(
        self,
        settings: Settings,
        *,
        clock: Clock = utcnow,
        adapter_factory: AdapterFactory | None = None,
        alerter: Alerter | None = None,
    ) -> None:
        self.settings = settings
        self.clock = clock
        self.worker_id = settings.worker_id or f"{socket.gethostname()}:{os.getpid()}"
        self.engine, self.session_factory = open_store(settings)
        try:
            probe_writable(self.engine)  # a read-only file or server shows now, not later
        except BaseException:
            self.engine.dispose()
            raise
        self.alerter = alerter or build_alerter(settings)
        self.tokens = open_token_store(settings, self.session_factory)
        # /metrics reads the queue on every scrape: never with SQLite's write lock
        self.read_engine = make_engine(settings.database_url, read_only=True)
        self.metrics = WorkerMetrics(make_session_factory(self.read_engine))
        self.adapters = AdapterPool(settings, self._timed(adapter_factory), tokens=self.tokens)
        self.stopping = threading.Event()
        self.reload = threading.Event()
        self._wake = threading.Event()
        self._signals = 0
        self._pool = ThreadPoolExecutor(settings.concurrency, thread_name_prefix="publish")
        self.last_run: dict[str, datetime] = {}
        #: each loop's rounds (finished ones are ``last_run``) and the database's state
        self.rounds = Rounds(since=clock(), finished=self.last_run)
        self.database = DatabaseWatch()
        self.next_due: datetime | None = None  # when dispatch may next find work
        self._sync_lock = threading.Lock()  # held while a sync runs
        self.published_total = 0  # posts this worker published (outcome labels are not states)
        self.config: LoadedConfig | None = None  # what the last sync loaded (the feeds job's)
        self._feed_names: frozenset[str] = frozenset()  # enabled feeds, read by the HTTP port
        self._feeds_woken = threading.Event()
        self._politeness: Any = None  # dissem.feeds.Politeness, made by the first feeds round
        self.poll_now = PollNow(wake=self._wake_feeds)
        self.feed_push = FeedPush(
            self.poll_now,
            lambda: self._feed_names,
            lambda: secret.get_secret_value() if (secret := settings.feed_ping_secret) else None,
            self.clock,
            websub=self._websub(),
        )
        if settings.feed_ping_secret is not None:
            register_secret(settings.feed_ping_secret.get_secret_value())
        # credentials written in .env: into the environment, where adapters read them
        self.env_file = EnvFile(env_file_of(settings))
        loaded = self.env_file.load()
        if loaded.added:
            log.info("%s: %s", self.env_file.path, loaded.describe())
        self._reported_empty: set[str] = set()  # weeks said to have nothing to report

    # --- jobs -------------------------------------------------------------------------

    def sync_job(self) -> bool:
        """Loads the config and plans posts; False when another worker holds the lock."""
        with self._sync_lock, singleton(self.engine, "dissem:sync") as mine:
            if not mine:
                return False
            result = sync(
                self.session_factory,
                self.settings,
                self.clock(),
                server_limits=lambda channel: with_server_limits(channel, self.settings),
            )
        for problem in result.problems:
            log.error("config: %s", problem)
        if result.changed:
            log.info("sync: %s", describe_sync(result.changes, result.plan))
        self.config = result.config
        self.last_run["sync"] = self.clock()
        return True

    def feeds_job(self) -> int:
        """Reads the feeds pushed (ping, WebSub) at once, then those due, and keeps the
        WebSub subscriptions; returns how many feeds were read. Runs on one worker at a
        time; pushed names wait for the worker that holds the lock's next round."""
        from dissem.worker.feed_poll import poll_due, poll_feed

        config = self.config
        if config is None:
            config = self.config = load_config(
                self.settings.config_dir, timezone=self.settings.timezone
            )
        feeds = {f.name: f for f in config.feeds if f.enabled}
        self._feed_names = frozenset(feeds)
        if self._politeness is None:
            from dissem.worker.feed_poll import Politeness

            self._politeness = Politeness()
        read = 0
        with singleton(self.engine, "dissem:feeds") as mine:
            if not mine:
                for name in self.poll_now.take():
                    self.poll_now.request(name)  # kept for the next round
                return 0
            while pushed := self.poll_now.take():
                for name in pushed:
                    try:
                        result = poll_feed(
                            self.session_factory, self.settings, config, name,
                            now=self.clock(), force=True, alerter=self.alerter,
                        )  # fmt: skip
                    except FeedNotFound:
                        continue
                    read += int(result.polled)
                    self._feed_polled(result, pushed=True)
            for result in poll_due(
                self.session_factory,
                self.settings,
                config,
                now=self.clock(),
                alerter=self.alerter,
                politeness=self._politeness,
            ):
                read += int(result.polled)
                self._feed_polled(result, pushed=False)
        websub = self.feed_push.websub
        if websub is not None:
            for line in websub.maintain({n: f.url for n, f in feeds.items()}, self.clock()):
                log.info("feeds: %s", line)
        self.last_run["feeds"] = self.clock()
        return read

    @staticmethod
    def _feed_polled(result: Any, *, pushed: bool) -> None:
        if not result.polled:
            return
        how = "pushed" if pushed else "due"
        if result.error:
            log.warning("feeds: %s (%s): %s", result.feed, how, result.error)
        elif result.new or result.updated or result.seen or result.held:
            log.info(
                "feeds: %s (%s): %d new, %d updated, %d seen, %d held",
                result.feed, how, len(result.new), len(result.updated), result.seen, result.held,
            )  # fmt: skip

    def _wake_feeds(self) -> None:
        """Called by the HTTP port's thread when a feed is pushed: run the feeds job now."""
        self._feeds_woken.set()
        self._wake.set()

    def _websub(self) -> WebSub | None:
        if not self.settings.public_url:
            return None
        from dissem.feeds import fetch
        from dissem.worker.feed_poll import limits_of

        def get(url: str) -> tuple[int, dict[str, str], bytes]:
            answer = fetch(url, limits_of(self.settings))
            return answer.status, answer.headers, answer.body

        return WebSub(self.settings.public_url, get)

    def dispatch_job(self, *, horizon: float | None = None) -> dict[str, int]:
        """Publishes what is due; waits (up to ``horizon`` s) for posts due meanwhile."""
        horizon = self.settings.dispatch_interval if horizon is None else horizon
        deadline = time.monotonic() + horizon
        totals: dict[str, int] = {}
        while not self.stopping.is_set():
            stats = dispatch_once(
                self.session_factory,
                self.settings,
                self.clock,
                adapters=self.adapters,
                worker_id=self.worker_id,
                stop_event=self.stopping,
                alerter=self.alerter,
                executor=self._pool,
            )
            for label, n in stats.outcomes.items():
                totals[label] = totals.get(label, 0) + n
                self.metrics.attempts.labels(label).inc(n)
            self.published_total += stats.published
            self.last_run["dispatch"] = self.clock()
            self.next_due = stats.next_due
            if stats.next_due is None:
                break
            wait = (stats.next_due - self.clock()).total_seconds()
            if time.monotonic() + max(wait, 0) > deadline:
                break
            if wait > 0 and self.stopping.wait(wait):
                break
        return totals

    def reconcile_job(self) -> int:
        now = self.clock()
        expired = expire_leases(self.session_factory, now)
        if expired:
            log.warning("leases expired for posts %s: now unconfirmed", expired)
        with singleton(self.engine, "dissem:reconcile") as mine:
            if not mine:
                return 0
            stats = reconcile_once(
                self.session_factory,
                self.settings,
                now,
                adapters=self.adapters,
                alerter=self.alerter,
                worker_id=self.worker_id,
            )
        self.last_run["reconcile"] = self.clock()
        return stats.checked

    def metrics_job(self) -> int:
        from dissem.metrics.collect import collect_due_metrics

        with singleton(self.engine, "dissem:metrics") as mine:
            if not mine:
                return 0
            stats = collect_due_metrics(
                self.session_factory, self.settings, self.clock(), adapters=self._adapter_by_name
            )
        self.last_run["metrics"] = self.clock()
        return int(getattr(stats, "snapshots", 0))

    def compact_job(self) -> int:
        """Compacts the metrics history (nothing when both settings are off)."""
        from dissem.metrics.compact import compact_once

        s = self.settings
        if not s.metrics_retention and s.metrics_raw_days is None:
            return 0
        with singleton(self.engine, "dissem:compact") as mine:
            if not mine:
                return 0
            stats = compact_once(self.session_factory, s, self.clock())
        self.last_run["compact"] = self.clock()
        return stats.deleted + stats.raw_cleared

    def tokens_job(self) -> int:
        """Renews the tokens that are due; alerts before an unrenewed one expires."""
        result = maintain_tokens(
            self.session_factory,
            self.settings,
            self.clock(),
            adapters=self.adapters,
            store=self.tokens,
            alerter=self.alerter,
        )
        self.last_run["tokens"] = self.clock()
        return len(result.alerted)

    def report_job(self) -> str | None:
        from dissem.reports.weekly import last_complete_week, report_due_at, run_weekly_report

        now = self.clock()
        if now >= report_due_at(now, self.settings):
            week = last_complete_week(now, self.settings.timezone)
            if not self._week_has_activity(*week.bounds(self.settings.timezone)):
                if str(week) not in self._reported_empty:  # said once per week and worker
                    self._reported_empty.add(str(week))
                    log.info("weekly report %s not written: nothing went out that week", week)
                self.last_run["report"] = self.clock()
                return None
        with singleton(self.engine, "dissem:report") as mine:
            if not mine:
                return None
            result = run_weekly_report(self.session_factory, self.settings, self.clock())
        self.last_run["report"] = self.clock()
        return None if result is None else str(getattr(result, "week", result))

    def _week_has_activity(self, start: datetime, end: datetime) -> bool:
        """Whether a post was published, or a publish tried, in ``[start, end)``: the first
        start of a fresh worker has no week worth a report."""
        published = select(Post.id).where(Post.published_at >= start, Post.published_at < end)
        tried = select(Attempt.id).where(Attempt.started_at >= start, Attempt.started_at < end)
        with self.session_factory() as s:
            return s.scalar(published.limit(1)) is not None or s.scalar(tried.limit(1)) is not None

    def _timed(self, factory: AdapterFactory | None) -> AdapterFactory:
        """Wraps adapters so each publish call's latency lands in ``/metrics``."""

        def build(channel: Channel) -> Platform:
            if factory is not None:
                adapter = factory(channel)
            else:
                from dissem.platforms.registry import build_adapter

                adapter = build_adapter(channel, self.settings)
            adapter.clock = self.clock  # token lifetimes on the worker's clock (the demo's)
            publish = adapter.publish
            histogram = self.metrics.publish_latency.labels(adapter.name)

            def timed_publish(*args: Any, **kwargs: Any) -> Any:
                started = time.perf_counter()
                try:
                    return publish(*args, **kwargs)
                finally:
                    histogram.observe(time.perf_counter() - started)

            adapter.publish = timed_publish  # type: ignore[method-assign]
            return adapter

        return build

    def _adapter_by_name(self, name: str) -> Platform:
        with self.session_factory() as s:
            row = s.scalar(select(ChannelRow).where(ChannelRow.name == name))
        if row is None:
            raise KeyError(name)
        return self.adapters.get(row.name, row.config, row.config_hash)

    # --- modes ------------------------------------------------------------------------

    def run_once(self) -> OnceResult:
        """Everything due now, then return (cron and tests)."""
        out = OnceResult()
        published_before = self.published_total
        out.synced = self.sync_job()
        self.feeds_job()
        self.tokens_job()
        outcomes = self.dispatch_job(horizon=0)
        out.reconciled = self.reconcile_job()
        for label, n in self.dispatch_job(horizon=0).items():
            outcomes[label] = outcomes.get(label, 0) + n
        out.outcomes = outcomes
        out.published = self.published_total - published_before
        out.snapshots = self.metrics_job()
        out.report = self.report_job()
        return out

    def run(self) -> int:
        """Runs until SIGTERM/SIGINT; returns the exit code."""
        self.rounds.since = self.clock()
        self._install_signals()
        health = self._start_health()
        scheduler = self._scheduler()
        log.info("worker %s starting (database %s)", self.worker_id, self.engine.url.drivername)
        scheduler.start()
        try:
            while not self.stopping.is_set():
                self._wake.wait(1.0)
                self._wake.clear()
                if self._feeds_woken.is_set():  # a push: the feeds job runs now
                    self._feeds_woken.clear()
                    scheduler.modify_job("feeds", next_run_time=utcnow())
                # A SIGHUP during a running sync waits for it to end: the scheduler would
                # drop a second, overlapping run, and the reload would be lost.
                if self.reload.is_set() and not self._sync_lock.locked():
                    self.reload.clear()
                    log.info("SIGHUP: %s; reloading the config now", self.reload_environment())
                    scheduler.modify_job("sync", next_run_time=utcnow())
        finally:
            log.info("worker %s stopping: finishing what is in hand", self.worker_id)
            scheduler.shutdown(wait=True)
            if health is not None:
                health.stop()
            self.close()
        log.info("worker %s stopped", self.worker_id)
        return 0

    def reload_environment(self) -> str:
        """Re-reads ``.env`` and the settings (SIGHUP): credentials changed there are used
        from the next dispatch round on (adapters are rebuilt; a channel paused for missing
        credentials resumes), settings that a running worker can take up are applied.
        Returns what changed, by name only (never a value)."""
        changes = self.env_file.load()
        if changes:
            self.adapters.forget()
        applied, restart = apply_settings(self.settings, Settings())
        parts = [f"{self.env_file.path}: {changes.describe()}"]
        if applied:
            parts.append(f"settings applied: {', '.join(applied)}")
        if restart:
            parts.append(f"settings that need a restart: {', '.join(restart)}")
        return "; ".join(parts)

    def close(self) -> None:
        self._pool.shutdown(wait=True)
        self.adapters.close()
        self.engine.dispose()
        self.read_engine.dispose()

    # --- plumbing ---------------------------------------------------------------------

    def _scheduler(self) -> BackgroundScheduler:
        s = self.settings
        scheduler = BackgroundScheduler(
            timezone=UTC,
            executors={"default": JobExecutor(6)},
            job_defaults={"coalesce": True, "max_instances": 1, "misfire_grace_time": None},
        )
        now = utcnow()
        jobs: list[tuple[str, Callable[[], Any], float]] = [
            ("sync", self.sync_job, s.sync_interval),
            ("dispatch", self.dispatch_job, s.dispatch_interval),
            ("reconcile", self.reconcile_job, s.reconcile_interval),
            ("metrics", self.metrics_job, s.metrics_interval),
            ("report", self.report_job, 300.0),
            ("tokens", self.tokens_job, TOKEN_INTERVAL),
            ("feeds", self.feeds_job, s.feed_check_interval),
            ("compact", self.compact_job, COMPACT_INTERVAL),
        ]
        for i, (name, fn, every) in enumerate(jobs):
            scheduler.add_job(
                self._guard(name, fn),
                "interval",
                seconds=every,
                id=name,
                next_run_time=now + timedelta(milliseconds=50 * i),
            )
        return scheduler

    def _guard(self, name: str, fn: Callable[[], Any]) -> Callable[[], None]:
        """``fn`` as a scheduled job: its round recorded, never raising; skipped while the
        database is down and its next try has not come (see the module doc)."""

        def job() -> None:
            if self.stopping.is_set() or not self.database.may_try(self.clock()):
                return
            self.rounds.start(name, self.clock())
            try:
                fn()
            except Exception as exc:  # a job failing must never take the worker down
                self._failed(name, exc)
            else:
                self.rounds.finish(name, self.clock())
                down_since = self.database.ok()
                if down_since is not None:
                    log.warning("database usable again (down since %s)", down_since.isoformat())

        return job

    def _failed(self, name: str, exc: Exception) -> None:
        problem = database_problem(exc, self.settings.database_url)
        if problem is None:
            self.rounds.fail(name, self.clock(), type(exc).__name__)
            log.exception("job %s failed; it runs again at its next time", name)
            return
        self.rounds.fail(name, self.clock(), problem.line)
        if problem.kind == "busy":  # contention, not an outage: the next round tries again
            log.warning("job %s: %s", name, problem.line)
            return
        wait = self.database.failed(problem, self.clock())
        log.warning(
            "job %s: %s; rounds wait, next try in %.0f s", name, problem.line, wait.total_seconds()
        )

    def _start_health(self) -> HealthServer | None:
        if self.settings.health_port is None:
            return None
        server = HealthServer(
            self.settings.health_host,
            self.settings.health_port,
            self.metrics,
            self.status,
            routes=self.feed_push.handle,
            page=StatusPage(
                make_session_factory(self.read_engine),
                self.settings,
                clock=self.clock,
                config=lambda: self.config,
            ).handle,
        )
        server.start()
        log.info("health endpoint on %s:%s", self.settings.health_host, server.port)
        return server

    def round_limits(self) -> dict[str, RoundLimit]:
        """How long a sync or dispatch round may run, and how long each loop may go without
        finishing one, before ``/healthz`` says ``stale``: sync 10 intervals (at least 5
        minutes) for both; dispatch 30 intervals (at least a minute) without a finished
        round, and a round as long as a lease (a publish may take that)."""
        s = self.settings
        sync = timedelta(seconds=max(10 * s.sync_interval, 300))
        idle = timedelta(seconds=max(30 * s.dispatch_interval, 60))
        running = max(idle, timedelta(seconds=s.lease_seconds))
        return {"sync": RoundLimit(sync, sync), "dispatch": RoundLimit(running, idle)}

    def status(self) -> dict[str, Any]:
        """``/healthz``: ``database unreachable`` (``unusable``, ``full``) while the database
        cannot be used; ``stale`` when a sync or dispatch round runs too long or none
        finished in time; each with ``problems`` saying which loop, what and since when, so a
        supervisor can restart the worker (HTTP 503)."""
        now = self.clock()
        problems = self.rounds.problems(now, self.round_limits())
        status = "stale" if problems else "ok"
        if self.database.problem is not None:
            status = f"database {self.database.problem.kind}"
        return {
            "status": "stopping" if self.stopping.is_set() else status,
            "worker": self.worker_id,
            "problems": problems,
            "database": self.database.report(now),
            "rounds": self.rounds.report(),
            "last_run": {k: v.isoformat() for k, v in self.last_run.items()},
        }

    def _install_signals(self) -> None:
        signal.signal(signal.SIGTERM, self._on_stop)
        signal.signal(signal.SIGINT, self._on_stop)
        signal.signal(signal.SIGHUP, self._on_hup)

    def _on_stop(self, signum: int, frame: FrameType | None) -> None:
        self._signals += 1
        if self._signals > 1:
            os._exit(128 + signum)  # second signal: exit now; leases expire -> unconfirmed
        self.stopping.set()
        self._wake.set()

    def _on_hup(self, signum: int, frame: FrameType | None) -> None:
        self.reload.set()
        self._wake.set()


def open_worker(
    settings: Settings,
    *,
    sleep: Callable[[float], Any] = time.sleep,
    monotonic: Callable[[], float] = time.monotonic,
    **kwargs: Any,
) -> Worker:
    """A :class:`Worker` for ``settings`` (``kwargs`` go to it), once the database answers.

    A database that cannot be reached is tried again, 1 s doubling to 30 s apart, for
    ``settings.database_wait`` seconds (one warning per try); then, or at once for one that
    answers but cannot be used, raises :class:`~dissem.errors.DatabaseUnavailable`.
    Other failures propagate as they are.
    """
    give_up = monotonic() + settings.database_wait
    wait = 1.0
    while True:
        try:
            return Worker(settings, **kwargs)
        except Exception as exc:
            problem = database_problem(exc, settings.database_url)
            if problem is None:
                raise
            left = give_up - monotonic()
            if not problem.temporary or left <= 0:
                raise DatabaseUnavailable(problem) from None
            pause = min(wait, left)
            log.warning("%s; trying again in %.0f s", problem.line, pause)
            sleep(pause)
            wait = min(wait * 2, 30.0)
