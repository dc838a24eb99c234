"""The status page with many channels (issue 15: a ministry's 1,000): the channels going
out soonest show their next posts; every other channel shows one line (when its next post
is due), so the page and its reads stay bounded."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy.orm import Session, sessionmaker

from dissem.settings import Settings
from dissem.store.db import transaction
from dissem.store.models import PostState
from dissem.worker import status_page
from dissem.worker.status_page import StatusPage
from tests.worker.status_seed import NOW, _channel, _post, _release

Factory = sessionmaker[Session]


def test_only_the_soonest_channels_list_their_posts(
    session_factory: Factory, tmp_path: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(status_page, "DETAIL_CHANNELS", 2)
    with transaction(session_factory) as s:
        _release(s, "daily", "Daily briefing")
        for c in range(5):
            _channel(s, f"rep-{c}", "mastodon", "UTC")
        s.flush()
        for c in range(5):
            for i in range(3):  # rep-0 goes out first, rep-4 last
                due = NOW + timedelta(hours=1 + c, minutes=10 * i)
                _post(s, "daily", f"rep-{c}", "mastodon", PostState.SCHEDULED, due, seq=i)
    settings = Settings(_env_file=None, report_dir=tmp_path)  # type: ignore[call-arg]
    page = StatusPage(session_factory, settings, clock=lambda: NOW)
    timeline = page.read(NOW)["timeline"]
    assert [c["channel"] for c in timeline] == [f"rep-{c}" for c in range(5)]
    detailed = [c for c in timeline if c["days"]]
    assert [c["channel"] for c in detailed] == ["rep-0", "rep-1"]
    assert all(sum(len(d["posts"]) for d in c["days"]) == 3 for c in detailed)
    brief = timeline[2]
    assert brief["days"] == [] and brief["next"] == NOW + timedelta(hours=3)
    assert brief["brief"] == "next post Tue 01 Dec 06:00 UTC"
    html = page.render(NOW)
    assert "next post Tue 01 Dec 06:00 UTC" in html and "nothing in the next 7 days" not in html


def test_a_release_to_many_channels_names_some_and_counts_all(
    session_factory: Factory, tmp_path: Any
) -> None:
    with transaction(session_factory) as s:
        _release(s, "wide", "To every embassy")
        for c in range(status_page.MAX_CHIPS + 10):
            _channel(s, f"rep-{c:02d}", "mastodon", "UTC")
        s.flush()
        for c in range(status_page.MAX_CHIPS + 10):
            state = PostState.FAILED if c == 35 else PostState.SCHEDULED
            _post(s, "wide", f"rep-{c:02d}", "mastodon", state, NOW + timedelta(hours=1))
    settings = Settings(_env_file=None, report_dir=tmp_path)  # type: ignore[call-arg]
    page = StatusPage(session_factory, settings, clock=lambda: NOW)
    (release,) = page.read(NOW)["releases"]
    assert len(release["channels"]) == status_page.MAX_CHIPS and release["more"] == 10
    assert release["channels"][0] == {"channel": "rep-35", "state": "failed"}
    assert release["summary"] == f"1 failed, {status_page.MAX_CHIPS + 9} scheduled"
    assert "and 10 more channels" in page.render(NOW)
