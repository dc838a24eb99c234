"""``dissem demo --dir``: the example config through a simulated week against the in-process
sandbox (with its faults), on all eight platforms, in bounded time, with the report."""

from __future__ import annotations

import json
import logging
import os
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from unittest import mock

import pytest
from click.testing import CliRunner
from sqlalchemy import select

from dissem.cli import cli
from dissem.config.models import PLATFORMS
from dissem.store.db import make_engine, make_session_factory
from dissem.store.models import ChannelRow, FeedItem, Post, PostState


@pytest.fixture
def clean_process() -> Iterator[None]:
    """The demo sets dummy credentials in os.environ and ``dissem`` sets up logging on a
    stream CliRunner closes: both are put back afterwards."""
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    with mock.patch.dict(os.environ):
        for key in [k for k in os.environ if k.startswith("DISSEM_")]:
            del os.environ[key]
        yield
    root.handlers[:] = handlers
    root.setLevel(level)


@pytest.mark.slow
def test_demo_publishes_on_every_platform_and_writes_the_report(
    tmp_path: Path, clean_process: None
) -> None:
    folder = tmp_path / "demo"
    started = time.monotonic()
    result = CliRunner().invoke(cli, ["demo", "--dir", str(folder)])
    elapsed = time.monotonic() - started
    assert result.exit_code == 0, result.output
    assert elapsed < 120, f"the demo took {elapsed:.0f} s"

    engine = make_engine(f"sqlite:///{folder / 'dissem.db'}")
    with make_session_factory(engine)() as s:
        rows = list(s.scalars(select(Post)))
        channels = set(s.scalars(select(ChannelRow.name)))
        decisions = Counter(s.scalars(select(FeedItem.decision)))
        from_feed = set(s.scalars(select(FeedItem.release_id).where(FeedItem.decision == "new")))
    engine.dispose()
    published = [p for p in rows if p.state == PostState.PUBLISHED]
    by_platform = Counter(p.platform for p in published)
    assert set(by_platform) == set(PLATFORMS), by_platform
    assert all(p.remote_id and p.published_at for p in published)
    # the link is looked up after publishing on some platforms, and the sandbox may fail
    # that call: the post is out all the same, only its link is missing
    assert sum(bool(p.remote_url) for p in published) >= len(published) - 3
    assert len({(p.channel, p.remote_id) for p in published}) == len(published)
    # every post ends where a person can see it: none is left mid-publish
    states = Counter(p.state for p in rows)
    assert states[PostState.PUBLISHING] == 0
    skipped = [p for p in rows if p.state == PostState.SKIPPED]
    assert skipped and {p.platform for p in skipped} == {"instagram"}
    assert all(p.skip_reason for p in skipped)
    # the week went by on the simulated clock: posts went out on several days
    assert len({p.published_at.date() for p in published if p.published_at}) >= 3

    assert f"published {len(published)} posts:" in result.stdout

    # the portal's feed: its first read posts nothing (3 items seen); the breaking article
    # published on Tuesday and pushed went out on every channel, with the feed's image
    assert decisions == {"seen": 3, "new": 1}
    assert len(from_feed) == 1
    feed_posts = [p for p in rows if p.release_id in from_feed]
    assert {p.channel for p in feed_posts if p.state == PostState.PUBLISHED} == channels
    assert f"went out on {len(channels)} channels" in result.stdout
    insta = next(p for p in feed_posts if p.platform == "instagram")
    assert "Petugas KBRI mendampingi warga" in json.dumps(insta.payload)
    week = "2026-W49"
    reports = folder / "reports" / week
    for suffix in ("html", "csv", "xlsx"):
        path = reports / f"dissem-report-{week}-en.{suffix}"
        assert path.is_file() and path.stat().st_size > 0
        assert f"report: {path}" in result.stdout
    html = (reports / f"dissem-report-{week}-en.html").read_text(encoding="utf-8")
    assert week in html
    # the sandbox's audiences are on; the report and `dissem insights` read them
    assert "When your audience engages" in html and 'data-timing="' in html
    database = f"sqlite:///{folder / 'dissem.db'}"
    assert f"DISSEM_DATABASE_URL={database} dissem insights" in result.stdout
    assert (folder / "config" / "channels.yaml").is_file()  # the example, copied
