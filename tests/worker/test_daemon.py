"""The worker: ``run_once`` against the in-process sandbox on a simulated clock, and
``dissem run`` as a real process (health endpoint, SIGHUP reload, SIGTERM shutdown)."""

from __future__ import annotations

import http.client
import json
import os
import signal
import socket
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Callable, Iterator
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import requests
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from dissem.sandbox import RunningSandbox, start_sandbox
from dissem.store.db import make_engine, make_session_factory
from dissem.store.models import Post, PostState
from dissem.worker.daemon import Worker
from tests.worker.planner_seed import CHANNELS, LONG_BODY, NOW, TZ, Folder, posts, settings_for

Factory = sessionmaker[Session]


class Clock:
    """The simulated clock the worker and the sandbox both read."""

    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now


def credentials() -> dict[str, str]:
    """A dummy secret for every variable the test channels name."""
    return {
        var: f"test-{var.lower()}"
        for channel in CHANNELS.values()
        for var in channel["credentials"].values()
    }


@pytest.fixture
def creds(monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    values = credentials()
    for key, value in values.items():
        monkeypatch.setenv(key, value)
    return values


def sandbox_posts(sandbox: RunningSandbox | str) -> list[dict[str, Any]]:
    url = sandbox if isinstance(sandbox, str) else sandbox.url
    response = requests.get(f"{url}/_sandbox/posts", timeout=10)
    response.raise_for_status()
    data: list[dict[str, Any]] = response.json()
    return data


def test_run_once_publishes_due_posts_exactly_once(
    db_url: str, tmp_path: Path, creds: dict[str, str]
) -> None:
    folder = Folder(tmp_path / "config")
    folder.release("r1", targets=["cx", "cm", "cb"], body=LONG_BODY)
    clock = Clock(NOW)
    with start_sandbox(clock=clock) as sandbox:
        settings = settings_for(
            folder,
            database_url=db_url,
            sandbox_url=sandbox.url,
            report_dir=tmp_path / "reports",
            worker_id="w-test",
        )
        worker = Worker(settings, clock=clock)
        try:
            # 02:00 UTC: no window is open yet; planned, nothing goes out
            first = worker.run_once()
            assert first.synced and first.published == 0 and sandbox_posts(sandbox) == []
            assert first.report is None  # Monday 09:00: W48 had nothing: no empty report
            rows = posts(worker.session_factory)
            assert len(rows) >= 4 and {p.state for p in rows} == {PostState.SCHEDULED}
            # 14:00 UTC: every window has opened since
            clock.now = NOW + timedelta(hours=12)
            second = worker.run_once()
            published = posts(worker.session_factory)
            assert {p.state for p in published} == {PostState.PUBLISHED}
            assert second.published == len(published) and second.outcomes == {"ok": len(rows)}
            assert second.report is None
            remote = sandbox_posts(sandbox)
            assert len(remote) == len(rows)
            assert Counter(p["platform"] for p in remote) == Counter(p.platform for p in published)
            by_text = Counter(p["text"] for p in remote)
            assert all(by_text[p.text] == 1 for p in published)
            thread = [p for p in remote if p["platform"] == "bluesky"]
            assert len(thread) > 1 and thread[0]["reply_to"] is None
            assert all(p["reply_to"] for p in thread[1:])
            # nothing new is due: nothing more goes out
            clock.now += timedelta(minutes=5)
            third = worker.run_once()
            assert third.published == 0 and third.outcomes == {}
            assert len(sandbox_posts(sandbox)) == len(rows)
        finally:
            worker.close()


# --- dissem run as a process ------------------------------------------------------------


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _wait_for(what: str, check: Callable[[], Any], timeout: float, proc: Any) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise AssertionError(f"worker exited ({proc.returncode}) while waiting for {what}")
        try:
            value = check()
        except (OSError, requests.RequestException):
            value = None
        if value:
            return value
        time.sleep(0.05)
    raise AssertionError(f"timed out after {timeout} s waiting for {what}")


def _http_get(port: int, path: str) -> tuple[int, str]:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
    try:
        conn.request("GET", path)
        resp = conn.getresponse()
        return resp.status, resp.read().decode()
    finally:
        conn.close()


@pytest.fixture
def slow_sandbox() -> Iterator[RunningSandbox]:
    """A sandbox whose every call takes 150 ms, so a SIGTERM can land mid-publish."""
    with start_sandbox(faults="latency_ms=150") as sandbox:
        yield sandbox


@pytest.mark.slow
def test_dissem_run_serves_health_reloads_on_sighup_and_stops_on_sigterm(
    tmp_path: Path, slow_sandbox: RunningSandbox
) -> None:
    folder = Folder(tmp_path / "config")
    folder.release("r1", targets=["cx", "cm"], priority="breaking")
    db = tmp_path / "worker.db"
    port = _free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("DISSEM_")}
    env.update(credentials())
    env.update(
        DISSEM_DATABASE_URL=f"sqlite:///{db}",
        DISSEM_CONFIG_DIR=str(folder.root),
        DISSEM_TIMEZONE=TZ,
        DISSEM_SANDBOX_URL=slow_sandbox.url,
        DISSEM_HEALTH_PORT=str(port),
        DISSEM_SYNC_INTERVAL="3600",  # only SIGHUP can make it sync again in this test
        DISSEM_METRICS_INTERVAL="3600",
        DISSEM_CONCURRENCY="1",
        DISSEM_REPORT_DIR=str(tmp_path / "reports"),
        DISSEM_WORKER_ID="w-proc",
    )
    log = (tmp_path / "worker.log").open("wb")
    proc = subprocess.Popen(
        [sys.executable, "-c", "from dissem.cli import main; main()", "run"],
        cwd=tmp_path,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    engine = make_engine(f"sqlite:///{db}")
    factory = make_session_factory(engine)

    def states(release: str) -> list[str]:
        with factory() as s:
            return list(s.scalars(select(Post.state).where(Post.release_id == release)))

    try:
        status = _wait_for("/healthz", lambda: _http_get(port, "/healthz"), 40, proc)
        assert status[0] == 200 and json.loads(status[1])["worker"] == "w-proc"
        _wait_for("r1 published", lambda: len(sandbox_posts(slow_sandbox)) == 2, 30, proc)
        _wait_for("r1 recorded", lambda: states("r1") == ["published"] * 2, 10, proc)
        code, metrics = _http_get(port, "/metrics")
        assert code == 200 and 'dissem_posts{state="published"} 2.0' in metrics
        assert 'dissem_posts{state="scheduled"} 0.0' in metrics

        # a new release is picked up on SIGHUP, long before the next sync (an hour away)
        folder.release("r2", targets=["cx"], priority="breaking")
        started = time.monotonic()
        proc.send_signal(signal.SIGHUP)
        _wait_for("r2 published", lambda: len(sandbox_posts(slow_sandbox)) == 3, 15, proc)
        assert time.monotonic() - started < 15

        # SIGTERM while a thread is going out: the part in hand finishes, the rest waits
        folder.release("r3", targets=["cb"], priority="breaking", body=LONG_BODY * 2)
        proc.send_signal(signal.SIGHUP)
        _wait_for("r3 publishing", lambda: "publishing" in states("r3"), 15, proc)
        stopped = time.monotonic()
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=20) == 0
        assert time.monotonic() - stopped < 15
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(10)
        log.close()
    r3 = states("r3")
    assert "publishing" not in r3 and set(r3) <= {"published", "scheduled"}, r3
    assert "published" in r3 and "scheduled" in r3  # stopped mid-thread
    with factory() as s:
        done = s.scalars(select(Post.text).where(Post.state == PostState.PUBLISHED)).all()
    assert sorted(p["text"] for p in sandbox_posts(slow_sandbox)) == sorted(done)
    engine.dispose()
    output = (tmp_path / "worker.log").read_text()
    assert "SIGHUP" in output and "stopped" in output
    for secret in credentials().values():
        assert secret not in output
