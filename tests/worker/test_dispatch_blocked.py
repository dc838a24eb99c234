"""A Facebook Page that Graph blocks for policy violations (code 368), end to end: the real
adapter over HTTP against the sandbox, through ``dispatch_once``. The post keeps its place,
the channel pauses, a person is alerted; once the block is lifted the posts go out."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from datetime import timedelta

import pytest
import requests
from sqlalchemy.orm import Session, sessionmaker

from dissem.platforms.registry import build_adapter
from dissem.sandbox import RunningSandbox, start_sandbox
from dissem.store.models import PostState
from dissem.worker.dispatch import AdapterPool, DispatchStats, dispatch_once
from tests.worker.queue_seed import (
    T0,
    Clock,
    RecordingAlerter,
    add_channel,
    add_post,
    get_channel,
    get_post,
    queue_settings,
)

PAGE = "100000000000368"
TOKEN = "fb-blocked-page-token-5e1d"


@pytest.fixture
def sandbox() -> Iterator[RunningSandbox]:
    with start_sandbox() as running:
        yield running


def test_a_policy_block_keeps_the_post_pauses_the_channel_and_alerts(
    qfactory: sessionmaker[Session], sandbox: RunningSandbox
) -> None:
    settings = queue_settings(sandbox_url=sandbox.url, http_timeout=5.0, blocked_pause_hours=6)
    environ = {"TEST_FB_BLOCKED_TOKEN": TOKEN}
    adapters = AdapterPool(settings, lambda ch: build_adapter(ch, settings, environ=environ))
    add_channel(
        qfactory,
        "fb",
        "facebook",
        account=PAGE,
        credentials={"page_token": "TEST_FB_BLOCKED_TOKEN"},
    )
    first = add_post(qfactory, "fb", platform="facebook")
    second = add_post(qfactory, "fb", platform="facebook", due_at=T0 + timedelta(seconds=1))
    clock, alerts = Clock(), RecordingAlerter()

    def dispatch() -> DispatchStats:
        return dispatch_once(
            qfactory,
            settings,
            clock.now,
            adapters=adapters,
            worker_id="w1",
            stop_event=threading.Event(),
            alerter=alerts,
        )

    sandbox.state.bucket("facebook")["blocked_pages"] = [PAGE]
    try:
        dispatch()
        until = T0 + timedelta(hours=6)  # DISSEM_BLOCKED_PAUSE_HOURS
        post = get_post(qfactory, first)
        # kept, not failed, not unconfirmed (a 368 used to be taken for a duplicate)
        assert (post.state, post.due_at, post.attempts) == (PostState.SCHEDULED, until, 0)
        assert "code 368/1390008" in (post.last_error or "")
        channel = get_channel(qfactory, "fb")
        assert channel.paused_until == until
        assert (channel.pause_reason or "").startswith("account blocked: ")
        [(kind, message, fields)] = alerts.sent
        assert (kind, fields["channel"], fields["post_id"]) == ("account_blocked", "fb", first)
        assert "368" in message and TOKEN not in message
        clock.advance(3600)
        assert dispatch().claimed == 0  # the whole channel waits
        assert get_post(qfactory, second).state == PostState.SCHEDULED
    finally:
        sandbox.state.bucket("facebook")["blocked_pages"] = []
    clock.t = until
    dispatch()
    dispatch()
    assert get_post(qfactory, first).state == PostState.PUBLISHED
    assert get_post(qfactory, second).state == PostState.PUBLISHED
    posted = requests.get(f"{sandbox.url}/_sandbox/posts", timeout=5).json()
    assert sorted(p["text"] for p in posted) == sorted(
        get_post(qfactory, pid).text for pid in (first, second)
    )
    assert len(alerts.sent) == 1
