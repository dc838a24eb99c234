"""A Mastodon server's own limits reach composing: the worker's sync reads
``/api/v2/instance`` (over HTTP, from the sandbox) for a channel that sets no ``max_length``
/ ``url_length``, composes for what the server states, and the server accepts what is sent.
The property test checks the same rule on the text shaping itself."""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from dissem.compose import compose
from dissem.compose.counting import fits, measure_mastodon
from dissem.config.models import Channel, Release
from dissem.platforms.mastodon import ServerLimits, apply_server_limits
from dissem.sandbox import start_sandbox
from dissem.store.models import PostState
from dissem.worker.daemon import Worker
from tests.worker.planner_seed import LONG_BODY, NOW, Folder, posts, settings_for

#: Monday 14:00 UTC: the Mastodon channel's Berlin window (mon-fri 09:00-17:00) is open
OPEN = NOW + timedelta(hours=12)
#: about 700 characters: more than Mastodon's default 500
LONG_SUMMARY = " ".join(
    f"Point {i}: the consular section extends its opening hours for passport renewals."
    for i in range(1, 9)
)


class Clock:
    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now


@pytest.mark.parametrize("max_characters", [1000, 300])
def test_the_worker_composes_for_the_limits_the_server_states(
    db_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, max_characters: int
) -> None:
    folder = Folder(tmp_path / "config")
    cm = folder.channels["cm"]
    assert "max_length" not in cm and "url_length" not in cm
    folder.channels = {"cm": cm}
    folder.groups = {"web": ["cm"]}
    folder.write_channels()
    folder.release(
        "long", targets=["cm"], summary=LONG_SUMMARY, url="https://portal.go.id/berita/long"
    )
    monkeypatch.setenv("PLAN_MASTODON_TOKEN", "test-mastodon-token-7c1d")
    clock = Clock(OPEN)
    with start_sandbox(clock=clock) as sandbox:
        stated = {"max_characters": max_characters, "characters_reserved_per_url": 30}
        sandbox.state.bucket("mastodon")["instance"] = stated  # stated and enforced
        settings_ = settings_for(
            folder,
            database_url=db_url,
            sandbox_url=sandbox.url,
            report_dir=tmp_path / "reports",
            worker_id="w-limits",
        )
        worker = Worker(settings_, clock=clock)
        try:
            worker.run_once()  # sync: composed and planned (a little after now: the stagger)
            clock.now += timedelta(hours=1)
            result = worker.run_once()
            [post] = posts(worker.session_factory)
        finally:
            worker.close()
    assert post.state == PostState.PUBLISHED and result.published == 1
    assert post.payload["limit"] == max_characters
    length = measure_mastodon(post.text, url_length=30)
    assert post.payload["length"] == length <= max_characters
    if max_characters > 500:  # the whole summary fits this server: nothing was cut for 500
        assert length > 500 and "Point 8:" in post.text
    else:  # shortened to what this server takes
        assert "Point 8:" not in post.text


RELEASE = Release.model_validate(
    {
        "id": "limits",
        "title": "Consular services resume in full",
        "summary": LONG_SUMMARY,
        "url": "https://portal.go.id/berita/2026/12/consular-services-resume?ref=home",
        "language": "en",
        "tags": ["consular", "passport"],
        "targets": ["all"],
        "body": LONG_BODY,
    }
)


@settings(max_examples=60, deadline=None)
@given(
    max_characters=st.integers(min_value=120, max_value=5000),
    url_length=st.integers(min_value=1, max_value=80),
    own_max=st.one_of(st.none(), st.integers(min_value=120, max_value=800)),
    thread=st.booleans(),
    warning=st.sampled_from(["", "Politics"]),
)
def test_composing_fits_the_server_limits_unless_the_channel_sets_its_own(
    max_characters: int, url_length: int, own_max: int | None, thread: bool, warning: str
) -> None:
    instance: dict[str, Any] = {
        "version": "4.3.0",
        "configuration": {
            "statuses": {
                "max_characters": max_characters,
                "characters_reserved_per_url": url_length,
            }
        },
    }
    configured = Channel.model_validate(
        {
            "name": "m",
            "platform": "mastodon",
            "account": "@m@social.example",
            "timezone": "Europe/Berlin",
            "thread": thread,
            **({"max_length": own_max} if own_max is not None else {}),
        }
    )
    channel = apply_server_limits(configured, ServerLimits.from_instance(instance))
    limit = own_max if own_max is not None else max_characters
    assert (channel.max_length, channel.url_length) == (limit, url_length)
    release = RELEASE.model_copy(update={"content_warning": warning or None})
    parts = compose(release, channel, NOW)
    assert parts, parts.skipped
    for part in parts:
        assert part.limit == limit
        assert fits("mastodon", part.text, max_length=limit, url_length=url_length,
                    spoiler_text=warning)  # fmt: skip
        assert part.length == measure_mastodon(
            part.text, url_length=url_length, spoiler_text=warning
        )
