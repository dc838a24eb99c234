"""The worker's feeds job and push: a ping on the worker's HTTP port only queues the feed;
the feeds job (the worker's job thread) reads it at once and the item goes out. Real HTTP
on 127.0.0.1: the sandbox portal is the feed, the sandbox Mastodon the channel."""

from __future__ import annotations

import hashlib
import hmac
import json
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests
import yaml

from dissem.sandbox import RunningSandbox, start_sandbox
from dissem.store.models import FeedState
from dissem.worker.daemon import Worker
from tests.worker.planner_seed import NOW, Folder, settings_for

SECRET = "feeds-ping-secret-for-tests"


class Clock:
    def __init__(self) -> None:
        self.now = NOW

    def __call__(self) -> Any:
        return self.now


@pytest.fixture
def setup(
    db_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[tuple[Worker, RunningSandbox, Clock]]:
    monkeypatch.setenv("PLAN_MASTODON_TOKEN", "test-mastodon-token")
    folder = Folder(tmp_path / "config")
    clock = Clock()
    with start_sandbox(clock=clock) as sb:
        feed = {
            "name": "news-en",
            "url": f"{sb.url}/portal/en/rss.xml",
            "targets": ["cm"],
            "status": "approved",
            "approved_by": "the desk",
            "priority": "breaking",
            "poll_interval": "1h",
        }
        (folder.root / "feeds.yaml").write_text(yaml.safe_dump({"feeds": [feed]}))
        settings = settings_for(
            folder,
            database_url=db_url,
            sandbox_url=sb.url,
            report_dir=tmp_path / "reports",
            worker_id="w-feeds",
            health_port=0,
            feed_ping_secret=SECRET,
            feed_host_interval=0,
        )
        worker = Worker(settings, clock=clock)
        try:
            yield worker, sb, clock
        finally:
            worker.close()


def _state(worker: Worker) -> FeedState | None:
    with worker.session_factory() as s:
        return s.get(FeedState, "news-en")


def test_a_ping_is_read_on_the_job_thread_and_the_item_goes_out(
    setup: tuple[Worker, RunningSandbox, Clock],
) -> None:
    worker, sb, _clock = setup
    worker.sync_job()
    assert worker.feeds_job() == 1  # the first read: the portal's items are recorded as seen
    first = _state(worker)
    assert first is not None and first.items_seen == 3
    health = worker._start_health()
    assert health is not None
    try:
        item = sb.portal.upsert({"title": "Breaking: the bridge is closed", "lang": "en"})
        body = json.dumps({"guid": item["guid"]}).encode()
        signature = "sha256=" + hmac.new(SECRET.encode(), body, hashlib.sha256).hexdigest()
        url = f"http://127.0.0.1:{health.port}/feeds/news-en/ping"
        bad = requests.post(url, data=body, headers={"X-Dissem-Signature": "sha256=00"}, timeout=5)
        assert bad.status_code == 401 and len(worker.poll_now) == 0
        answer = requests.post(url, data=body, headers={"X-Dissem-Signature": signature}, timeout=5)
        assert answer.status_code == 202
        # the HTTP thread only queued it and woke the job: nothing was read yet
        assert worker._feeds_woken.is_set() and len(worker.poll_now) == 1
        state = _state(worker)
        assert state is not None and state.last_poll_at == first.last_poll_at
        unknown = requests.post(
            url.replace("news-en", "other"),
            data=body,
            headers={"X-Dissem-Signature": signature},
            timeout=5,
        )
        assert unknown.status_code == 404
    finally:
        health.stop()
    # the feed's hour has not passed: only the push makes the job read it
    job = threading.Thread(target=worker.feeds_job, name="feeds-job")
    job.start()
    job.join(30)
    assert len(worker.poll_now) == 0
    worker.dispatch_job(horizon=0)
    texts = [p.text for p in sb.state.posts("mastodon")]
    assert any("the bridge is closed" in t for t in texts), texts
    after = _state(worker)
    assert after is not None and after.items_new == 1
    # read again (a second ping, say): nothing is posted twice
    worker.poll_now.request("news-en")
    worker.feeds_job()
    worker.dispatch_job(horizon=0)
    assert len(sb.state.posts("mastodon")) == len(texts)
