"""``/healthz`` judges rounds, not only finished dispatch rounds: a sync or dispatch round
running too long, or no round finished in time, is 503 naming the loop and since when; a
database that cannot be used is retried with backoff and reported, never a crash or a
traceback per round. The worker's clock is a parameter: no test waits for time to pass.
"""

from __future__ import annotations

import http.client
import json
import logging
import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from dissem.settings import Settings
from dissem.store.db import make_engine
from dissem.worker.daemon import Worker
from dissem.worker.health import HealthServer

T0 = datetime(2026, 12, 1, 3, 0, tzinfo=UTC)


class Clock:
    def __init__(self) -> None:
        self.now = T0

    def __call__(self) -> datetime:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += timedelta(seconds=seconds)


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def worker(tmp_path: Path, clock: Clock) -> Iterator[Worker]:
    settings = Settings(
        _env_file=None,  # type: ignore[call-arg]
        database_url=f"sqlite:///{tmp_path / 'w.db'}",
        config_dir=tmp_path,
    )
    w = Worker(settings, clock=clock)
    yield w
    w.close()


@pytest.fixture
def healthz(worker: Worker) -> Iterator[Any]:
    """GET /healthz of a health server fed by ``worker.status``: (code, body)."""
    server = HealthServer("127.0.0.1", 0, worker.metrics, worker.status)
    server.start()

    def get() -> tuple[int, dict[str, Any]]:
        conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=10)
        try:
            conn.request("GET", "/healthz")
            resp = conn.getresponse()
            return resp.status, json.loads(resp.read())
        finally:
            conn.close()

    yield get
    server.stop()


def test_a_hanging_sync_round_makes_healthz_503_naming_the_loop(
    worker: Worker, clock: Clock, healthz: Any
) -> None:
    entered, release = threading.Event(), threading.Event()

    def hanging_sync() -> None:  # a sync stuck in a template, say
        entered.set()
        assert release.wait(30)

    job = threading.Thread(target=worker._guard("sync", hanging_sync))
    job.start()
    try:
        assert entered.wait(10)
        worker.last_run["dispatch"] = clock()  # dispatch goes on meanwhile
        clock.advance(299)
        worker.last_run["dispatch"] = clock()
        code, body = healthz()
        assert code == 200 and body["status"] == "ok", body
        clock.advance(2)  # 301 s into the round: over the sync limit (5 min)
        worker.last_run["dispatch"] = clock()
        code, body = healthz()
        assert code == 503 and body["status"] == "stale"
        assert body["problems"] == [
            {
                "loop": "sync",
                "since": T0.isoformat(),
                "problem": "a round has been running for 301 s (limit 300 s)",
            }
        ]
        assert body["rounds"]["sync"]["running"] is True
    finally:
        release.set()
        job.join(10)
    code, body = healthz()  # the round ended: healthy again
    assert code == 200 and body["problems"] == [] and body["rounds"]["sync"]["running"] is False


def test_no_round_finished_in_time_is_503_even_before_the_first(
    worker: Worker, clock: Clock, healthz: Any
) -> None:
    """Before, /healthz judged only a dispatch that had finished once and then stopped: a
    worker whose first rounds never finished stayed "ok"."""
    clock.advance(61)
    code, body = healthz()
    assert code == 503 and body["status"] == "stale"
    assert body["problems"] == [
        {
            "loop": "dispatch",
            "since": T0.isoformat(),
            "problem": "no round finished since the worker started 61 s ago",
        }
    ]
    worker._guard("dispatch", lambda: None)()
    worker._guard("sync", lambda: None)()
    assert healthz()[0] == 200
    clock.advance(301)  # both loops silent since: each is named
    code, body = healthz()
    assert code == 503 and {p["loop"] for p in body["problems"]} == {"sync", "dispatch"}


def _unreachable() -> None:
    """What a round does when PostgreSQL is down: a real connection error."""
    engine = make_engine("postgresql://postgres@127.0.0.1:1/test")
    try:
        with engine.connect():
            pass
    finally:
        engine.dispose()


def test_an_unreachable_database_is_retried_with_backoff_and_reported(
    worker: Worker, clock: Clock, healthz: Any, caplog: pytest.LogCaptureFixture
) -> None:
    calls: list[str] = []
    down = [True]

    def dispatch() -> None:
        calls.append("dispatch")
        if down[0]:
            _unreachable()

    job = worker._guard("dispatch", dispatch)
    with caplog.at_level(logging.WARNING, logger="dissem.worker.daemon"):
        job()  # fails: the database is marked down, next try in 1 s
        code, body = healthz()
        assert code == 503 and body["status"] == "database unreachable"
        assert body["database"]["since"] == T0.isoformat()
        assert "cannot reach" in body["database"]["error"]
        assert "(Connection refused)" in body["database"]["error"]
        job()  # within the backoff: not even tried
        assert calls == ["dispatch"]
        clock.advance(1)
        job()  # tried again: still down, next wait 2 s
        clock.advance(1)
        job()
        assert calls == ["dispatch"] * 2
        clock.advance(1)
        down[0] = False
        job()  # the database is back
    assert calls == ["dispatch"] * 3
    code, body = healthz()
    assert code == 200 and body["status"] == "ok" and body["database"] == {"status": "ok"}
    records = [r for r in caplog.records if r.name == "dissem.worker.daemon"]
    assert [r.levelno for r in records] == [logging.WARNING] * 3
    assert all(r.exc_info is None and r.exc_text is None for r in records)  # no traceback
    assert "next try in 1 s" in records[0].getMessage()
    assert "next try in 2 s" in records[1].getMessage()
    assert "database usable again" in records[2].getMessage()
