"""``/healthz`` and ``/metrics``: the queue by state read from the database at scrape time."""

from __future__ import annotations

import http.client
import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from prometheus_client.parser import text_string_to_metric_families
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from dissem.store.db import transaction
from dissem.store.models import ChannelRow, Post, PostState
from dissem.worker.health import HealthServer, WorkerMetrics
from tests.worker.planner_seed import Folder, posts, run_sync, store, store_url

Factory = sessionmaker[Session]
__all__ = ["store", "store_url"]  # fixtures used by name


@pytest.fixture
def server(store: Factory) -> Iterator[HealthServer]:
    metrics = WorkerMetrics(store)
    status: dict[str, Any] = {"status": "ok", "worker": "w-test", "last_run": {}}
    srv = HealthServer("127.0.0.1", 0, metrics, lambda: status)
    srv.start()
    yield srv
    srv.stop()


def _get(conn: http.client.HTTPConnection, path: str) -> tuple[int, str, str]:
    conn.request("GET", path)
    resp = conn.getresponse()
    return resp.status, resp.getheader("Content-Type") or "", resp.read().decode()


def _samples(text: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    out = {}
    for family in text_string_to_metric_families(text):
        for s in family.samples:
            out[(s.name, tuple(sorted(s.labels.items())))] = s.value
    return out


def test_healthz_and_metrics_report_the_queue(
    server: HealthServer, store: Factory, tmp_path: Path
) -> None:
    folder = Folder(tmp_path / "config")
    folder.release("r1", targets=["all"])  # Instagram without an image: one skipped
    run_sync(store, folder)
    with transaction(store) as s:
        row = s.get(ChannelRow, "cm")
        assert row is not None
        row.paused_until = datetime.now(UTC) + timedelta(hours=1)
    scheduled = sum(p.state == PostState.SCHEDULED for p in posts(store))
    conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=10)
    status, ctype, body = _get(conn, "/healthz")
    assert status == 200 and ctype == "application/json"
    assert json.loads(body) == {"status": "ok", "worker": "w-test", "last_run": {}}
    # same connection (keep-alive), the next request
    status, ctype, body = _get(conn, "/metrics")
    assert status == 200 and ctype.startswith("text/plain")
    samples = _samples(body)
    assert samples[("dissem_posts", (("state", "scheduled"),))] == scheduled == 3
    assert samples[("dissem_posts", (("state", "skipped"),))] == 1
    assert samples[("dissem_posts", (("state", "published"),))] == 0
    assert {k[1][0][1] for k in samples if k[0] == "dissem_posts"} == set(PostState.ALL)
    assert samples[("dissem_channels_paused", ())] == 1
    conn.close()


def test_worker_counters_lateness_and_unknown_paths(
    server: HealthServer, store: Factory, tmp_path: Path
) -> None:
    folder = Folder(tmp_path / "config")
    folder.release("r1")
    run_sync(store, folder)
    published = datetime.now(UTC) - timedelta(minutes=5)
    with transaction(store) as s:
        for post, late in zip(s.scalars(select(Post).order_by(Post.id)), (4, 10), strict=True):
            post.state, post.published_at = PostState.PUBLISHED, published
            post.due_at = published - timedelta(seconds=late)
    server.metrics.attempts.labels("ok").inc(3)
    server.metrics.publish_latency.labels("x").observe(0.2)
    conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=10)
    samples = _samples(_get(conn, "/metrics")[2])
    assert samples[("dissem_attempts_total", (("outcome", "ok"),))] == 3
    assert samples[("dissem_publish_latency_seconds_count", (("platform", "x"),))] == 1
    assert samples[("dissem_lateness_seconds", (("quantile", "1.0"),))] == 10
    assert samples[("dissem_posts", (("state", "published"),))] == 2
    assert _get(conn, "/nope")[0] == 404
    conn.close()


def test_healthz_is_503_when_dispatch_went_stale() -> None:
    import json as _json
    import urllib.error
    import urllib.request

    from dissem.store.db import make_engine, make_session_factory
    from dissem.worker.health import HealthServer, WorkerMetrics

    engine = make_engine("sqlite://")
    state = {"status": "stale", "worker": "w"}
    server = HealthServer(
        "127.0.0.1", 0, WorkerMetrics(make_session_factory(engine)), lambda: state
    )
    server.start()
    try:
        url = f"http://127.0.0.1:{server.port}/healthz"
        try:
            urllib.request.urlopen(url, timeout=5)
            raise AssertionError("a stale worker must not answer 200")
        except urllib.error.HTTPError as exc:
            assert exc.code == 503
            assert _json.loads(exc.read())["status"] == "stale"
        state["status"] = "ok"
        with urllib.request.urlopen(url, timeout=5) as ok:
            assert ok.status == 200
    finally:
        server.stop()
        engine.dispose()


def test_worker_status_goes_stale_when_dispatch_stops(tmp_path: Path) -> None:
    from datetime import UTC, datetime, timedelta

    from dissem.settings import Settings
    from dissem.worker.daemon import Worker

    now = [datetime(2026, 12, 1, 3, 0, tzinfo=UTC)]
    settings = Settings(database_url=f"sqlite:///{tmp_path / 'w.db'}", config_dir=tmp_path)
    worker = Worker(settings, clock=lambda: now[0])
    try:
        assert worker.status()["status"] == "ok"  # not started yet: nothing to judge
        worker.last_run["dispatch"] = now[0]
        now[0] += timedelta(seconds=59)
        assert worker.status()["status"] == "ok"
        now[0] += timedelta(seconds=2)
        assert worker.status()["status"] == "stale"
    finally:
        worker.close()
