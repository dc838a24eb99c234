"""``/healthz`` and Prometheus ``/metrics`` for a worker, when ``DISSEM_HEALTH_PORT`` is set.

Gauges of posts by state and paused channels are read from the database at scrape time (so
every worker reports the shared queue); publish latency and lateness are this worker's own.

What ``/healthz`` judges
------------------------
:class:`Rounds` keeps, for each of the worker's loops, when its last round started and
when one last finished. A loop is unhealthy (``stale``, HTTP 503) when a round has been
running longer than its limit (a sync stuck in a template, a publish that never returns)
or when no round has finished within its limit (the loop stopped, or every round fails),
counted from the last finished round or, before the first, from the worker's start; the
answer names the loop, what is wrong and since when. :class:`DatabaseWatch` holds the
database's state: while it cannot be used the worker skips its rounds, tries again after
a backoff (1 s doubling to 60 s) and ``/healthz`` says ``database unreachable`` (or
``unusable``, ``full``) with the reason and since when, also 503.
"""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Callable, Mapping, MutableMapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from dissem.bounded_http import BoundedHandler, BoundedServer, Limits
from dissem.store.db import DatabaseProblem
from dissem.store.models import ChannelRow, Post, PostState

log = logging.getLogger(__name__)

LATENCY_BUCKETS = (0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10, 30)
LATENESS_WINDOW = timedelta(hours=1)
#: ``/healthz`` statuses answered 200; any other is 503
HEALTHY = frozenset({"ok", "stopping"})
#: scrapes and probes need no body and few connections
LIMITS = Limits(max_body=64 * 1024, max_connections=16, header_timeout=5.0)


@dataclass(frozen=True)
class RoundLimit:
    """How long a loop's round may run, and how long the loop may go without finishing one."""

    running: timedelta
    idle: timedelta


@dataclass
class Rounds:
    """When each loop's rounds started and finished (see the module doc). ``finished`` may
    be shared with the worker's ``last_run``; ``since`` is when judging begins (start)."""

    since: datetime
    finished: MutableMapping[str, datetime] = field(default_factory=dict)
    started: dict[str, datetime] = field(default_factory=dict)
    running: set[str] = field(default_factory=set)
    failed: dict[str, tuple[datetime, str]] = field(default_factory=dict)

    def start(self, loop: str, now: datetime) -> None:
        self.started[loop] = now
        self.running.add(loop)

    def finish(self, loop: str, now: datetime) -> None:
        self.running.discard(loop)
        self.finished[loop] = now
        self.failed.pop(loop, None)

    def fail(self, loop: str, now: datetime, why: str) -> None:
        self.running.discard(loop)
        self.failed[loop] = (now, why)

    def problems(self, now: datetime, limits: dict[str, RoundLimit]) -> list[dict[str, str]]:
        """What is wrong with the loops in ``limits``: loop, since when, and what."""
        out = []
        for loop, limit in limits.items():
            started = self.started.get(loop)
            if loop in self.running and started is not None and now - started > limit.running:
                seconds = int((now - started).total_seconds())
                what = (
                    f"a round has been running for {seconds} s "
                    f"(limit {int(limit.running.total_seconds())} s)"
                )
                out.append({"loop": loop, "since": started.isoformat(), "problem": what})
                continue
            last = self.finished.get(loop)
            base = last or self.since
            if loop not in self.running and now - base > limit.idle:
                seconds = int((now - base).total_seconds())
                what = (
                    f"no round finished for {seconds} s (limit {int(limit.idle.total_seconds())} s)"
                    if last
                    else f"no round finished since the worker started {seconds} s ago"
                )
                if loop in self.failed:
                    what += f"; the last one failed: {self.failed[loop][1]}"
                out.append({"loop": loop, "since": base.isoformat(), "problem": what})
        return out

    def report(self) -> dict[str, dict[str, Any]]:
        loops = set(self.started) | set(self.finished)
        return {
            loop: {
                "running": loop in self.running,
                "started": _iso(self.started.get(loop)),
                "finished": _iso(self.finished.get(loop)),
                **({"failed": self.failed[loop][1]} if loop in self.failed else {}),
            }
            for loop in sorted(loops)
        }


#: backoff between tries while the database cannot be used: 1 s doubling to 60 s
DB_RETRY_FIRST, DB_RETRY_MAX = timedelta(seconds=1), timedelta(seconds=60)


@dataclass
class DatabaseWatch:
    """The database's state as the worker's rounds find it, and when to try it again."""

    problem: DatabaseProblem | None = None
    since: datetime | None = None
    retry_at: datetime | None = None
    failures: int = 0

    def may_try(self, now: datetime) -> bool:
        """False while backing off after a failure."""
        return self.retry_at is None or now >= self.retry_at

    def failed(self, problem: DatabaseProblem, now: datetime) -> timedelta:
        """Notes a failure; returns the wait before the next try."""
        if self.problem is None:
            self.since = now
        self.problem = problem
        wait: timedelta = min(DB_RETRY_FIRST * (2 ** min(self.failures, 16)), DB_RETRY_MAX)
        self.failures += 1
        self.retry_at = now + wait
        return wait

    def ok(self) -> datetime | None:
        """Notes a round that used the database; returns since when it was down, if it was."""
        was = self.since if self.problem is not None else None
        self.problem, self.since, self.retry_at, self.failures = None, None, None, 0
        return was

    def report(self, now: datetime) -> dict[str, Any]:
        if self.problem is None:
            return {"status": "ok"}
        return {
            "status": self.problem.kind,
            "since": _iso(self.since),
            "error": self.problem.line,
            "next_try_in_s": max(0, int(((self.retry_at or now) - now).total_seconds())),
        }


def _iso(moment: datetime | None) -> str | None:
    return moment.isoformat() if moment is not None else None


class WorkerMetrics:
    """This worker's Prometheus registry."""

    def __init__(self, session_factory: sessionmaker[Session]) -> None:
        self.registry = CollectorRegistry()
        self.publish_latency = Histogram(
            "dissem_publish_latency_seconds",
            "time of one publish call to the platform",
            ["platform"],
            buckets=LATENCY_BUCKETS,
            registry=self.registry,
        )
        self.attempts = Counter(
            "dissem_attempts",
            "publish attempts by outcome",
            ["outcome"],
            registry=self.registry,
        )
        self.registry.register(_QueueCollector(session_factory))


class _QueueCollector(Collector):
    def __init__(self, session_factory: sessionmaker[Session]) -> None:
        self.session_factory = session_factory

    def collect(self) -> Any:
        posts = GaugeMetricFamily("dissem_posts", "posts by state", labels=["state"])
        paused = GaugeMetricFamily("dissem_channels_paused", "channels paused now")
        lateness = GaugeMetricFamily(
            "dissem_lateness_seconds",
            "publish time minus due time of posts published in the last hour (all workers)",
            labels=["quantile"],
        )
        now = datetime.now(UTC)
        with self.session_factory() as s:
            counts = dict(
                (row[0], int(row[1]))
                for row in s.execute(select(Post.state, func.count()).group_by(Post.state))
            )
            n_paused = s.scalar(
                select(func.count()).select_from(ChannelRow).where(ChannelRow.paused_until > now)
            )
            late = sorted(
                max((pub - due).total_seconds(), 0.0)
                for pub, due in s.execute(
                    select(Post.published_at, Post.due_at).where(
                        Post.published_at >= now - LATENESS_WINDOW, Post.due_at.is_not(None)
                    )
                )
                if pub is not None and due is not None
            )
        for q in (0.5, 0.99, 1.0):
            lateness.add_metric(
                [str(q)], late[min(int(q * len(late)), len(late) - 1)] if late else 0.0
            )
        for state in PostState:
            posts.add_metric([state], float(counts.get(state, 0)))
        paused.add_metric([], float(n_paused or 0))
        yield posts
        yield paused
        yield lateness


#: ``(method, target, lower-case headers, body) -> (status, headers, body)`` or None: more
#: routes on the same port (:class:`dissem.worker.feed_push.FeedPush`)
Routes = Callable[[str, str, Mapping[str, str], bytes], tuple[int, dict[str, str], bytes] | None]


class HealthServer:
    """A small HTTP server on its own thread; ``status()`` feeds ``/healthz``, which answers
    503 unless its ``status`` is ``ok`` or ``stopping``. Bounded by :data:`LIMITS` (no body
    is needed: one over 64 KiB is refused 413)."""

    def __init__(
        self,
        host: str,
        port: int,
        metrics: WorkerMetrics,
        status: Callable[[], dict[str, Any]],
        routes: Routes | None = None,
        page: Routes | None = None,
    ) -> None:
        outer = self

        class Handler(BoundedHandler):
            def _routed(self) -> bool:
                """Answers a request ``routes`` takes (the feeds' push: ping and WebSub)."""
                if outer.routes is None or not self.path.startswith("/feeds/"):
                    return False
                body = self.read_body()
                headers = {k.lower(): v for k, v in self.headers.items()}
                answer = outer.routes(self.command, self.path, headers, body)
                if answer is None:
                    return False
                code, extra, payload = answer
                self.send_response(code)
                for name, value in {"Content-Type": "text/plain", **extra}.items():
                    self.send_header(name, value)
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)
                return True

            def _paged(self) -> bool:
                """Answers a request the status page takes (:mod:`dissem.worker.status_page`:
                ``/``, ``/status``, its reports), with its own headers."""
                if outer.page is None:
                    return False
                headers = {k.lower(): v for k, v in self.headers.items()}
                answer = outer.page(self.command, self.path, headers, b"")
                if answer is None:
                    return False
                code, extra, payload = answer
                self.send_response(code)
                for name, value in extra.items():
                    self.send_header(name, value)
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                if self.command != "HEAD":
                    self.wfile.write(payload)
                return True

            def do_POST(self) -> None:
                if not self._routed():
                    self.read_body()
                    self.send_error(404)

            def do_GET(self) -> None:
                if self._routed():
                    return
                self.read_body()  # none is expected; one within the limit is skipped
                if self._paged():
                    return
                code = 200
                if self.path == "/healthz":
                    status = outer.status()
                    body = json.dumps(status, default=str).encode()
                    ctype = "application/json"
                    code = 200 if status.get("status") in HEALTHY else 503
                elif self.path == "/metrics":
                    try:
                        body = generate_latest(outer.metrics.registry)
                    except Exception as exc:  # the queue gauges read the database
                        log.warning("/metrics: cannot read the queue (%s)", type(exc).__name__)
                        self.send_error(503, "the database cannot be read")
                        return
                    ctype = "text/plain; version=0.0.4"
                else:
                    self.send_error(404)
                    return
                self.send_response(code)
                self.send_header("Content-Type", ctype)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

        self.metrics = metrics
        self.status = status
        self.routes = routes
        self.page = page
        self.server = BoundedServer((host, port), Handler, LIMITS, name="health")
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    @property
    def port(self) -> int:
        return int(self.server.server_address[1])

    def start(self) -> None:
        self.thread.start()

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()
