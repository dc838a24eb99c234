"""Mastodon adapter specifics: Idempotency-Key, HTML statuses, validation, metrics (batched
where the server has it), the server's own limits."""

from __future__ import annotations

import logging
import socket
import uuid
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
import requests
from hypothesis import given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st

from dissem.compose.types import Media, Part
from dissem.errors import ContentRejected, OutcomeUnknown, TransientError
from dissem.platforms.base import MemoryContext, Platform
from dissem.platforms.mastodon import (
    LIMITS_RETRY,
    LIMITS_TTL,
    ServerLimits,
    ServerLimitsCache,
    apply_server_limits,
    html_to_text,
    server_limits,
    with_server_limits,
)
from dissem.platforms.text_match import comparable
from dissem.sandbox import Fault, RunningSandbox
from dissem.sandbox.mastodon import to_html
from dissem.sandbox.uploads import png
from dissem.settings import Settings

MakeAdapter = Callable[..., Platform]


def part(text: str, **options: Any) -> Part:
    return Part(index=1, total=1, text=text, length=len(text), limit=500, options=options)


def test_same_idempotency_key_within_an_hour_returns_the_original(
    make_adapter: MakeAdapter, unique: Callable[[str], str], clock: Any, published: Any
) -> None:
    m = make_adapter("mastodon")
    key = unique("key")
    first = m.publish(part(unique("first attempt")), MemoryContext(key))
    clock.advance(timedelta(minutes=50))
    again = m.publish(part(unique("retry, other text")), MemoryContext(key))
    assert again == first
    clock.advance(timedelta(minutes=20))  # the key is forgotten after an hour
    later = m.publish(part(unique("after the hour")), MemoryContext(key))
    assert later.remote_id != first.remote_id
    assert sum(p["idempotency_key"] == key for p in published()) == 2


def test_retry_after_a_drop_with_the_same_key_does_not_post_twice(
    make_adapter: MakeAdapter, unique: Callable[[str], str], sandbox: RunningSandbox, published: Any
) -> None:
    m = make_adapter("mastodon")
    p, ctx = part(unique("dropped once")), MemoryContext(unique("key"))
    sandbox.faults.force("mastodon", Fault.DROP)
    with pytest.raises(OutcomeUnknown):
        m.publish(p, ctx)
    retried = m.publish(p, ctx)
    assert [x["remote_id"] for x in published() if x["text"] == p.text] == [retried.remote_id]


def test_lookup_past_the_idempotency_hour_lists_the_account(
    make_adapter: MakeAdapter, unique: Callable[[str], str], clock: Any
) -> None:
    m = make_adapter("mastodon")
    since = datetime.now(UTC) - timedelta(minutes=1)
    text = unique("Paragraph one & <two>\n\nhttps://portal.example.org/a?b=1 more")
    posted = m.publish(part(text), MemoryContext(unique("k")))
    clock.advance(timedelta(hours=3))
    assert m.lookup(part(text), MemoryContext("other"), since=since) == posted


def test_validation_failures_are_content_rejected(
    make_adapter: MakeAdapter, unique: Callable[[str], str]
) -> None:
    m = make_adapter("mastodon")
    with pytest.raises(ContentRejected) as caught:
        m.publish(part(unique("hidden"), spoiler_text="w" * 495), MemoryContext("a"))
    assert caught.value.status == 422  # the content warning counts towards the limit
    with pytest.raises(ContentRejected):
        m.publish(part(unique("who sees it"), visibility="everyone"), MemoryContext("b"))


def test_metrics_leave_out_missing_statuses(
    make_adapter: MakeAdapter, unique: Callable[[str], str], clock: Any
) -> None:
    m = make_adapter("mastodon")
    post = m.publish(part(unique("counted")), MemoryContext(unique("k")))
    clock.advance(timedelta(hours=5))
    samples = m.fetch_metrics([post.remote_id, "1"])
    assert list(samples) == [post.remote_id]
    assert set(samples[post.remote_id].values) == {"likes", "reposts", "replies", "quotes"}
    assert samples[post.remote_id].values["likes"] > 0


_TOKENS = st.sampled_from(
    [
        "ab",
        " ",
        "é",
        "<b>",
        "&amp;",
        '"',
        "'",
        "\n",
        "日",
        "😀",
        " https://x.org/p?q=1&r=2 ",
        "\n\n",
    ]
)


@hypothesis_settings(max_examples=60, deadline=None)
@given(st.lists(_TOKENS, max_size=12).map("".join))
def test_html_rendering_round_trips_to_the_same_text(text: str) -> None:
    assert comparable(html_to_text(to_html(text))) == comparable(text)


# --- the server's own limits and batch metrics (issue 9) ----------------------------------


@pytest.fixture
def server(sandbox: RunningSandbox) -> Iterator[dict[str, Any]]:
    """The stand-in's bucket: what a test puts in ``instance`` / ``instance_v2`` (the
    server's stated and enforced limits) is removed afterwards."""
    bucket: dict[str, Any] = sandbox.state.bucket("mastodon")
    yield bucket
    bucket.pop("instance", None)
    bucket.pop("instance_v2", None)


@pytest.fixture
def name() -> str:
    """A channel name of its own: server limits are cached per channel."""
    return f"mastodon-{uuid.uuid4().hex[:10]}"


def requests_to(adapter: Platform) -> list[str]:
    """Method and path (query left out) of every request the adapter makes from now on."""
    seen: list[str] = []
    adapter.session.hooks["response"].append(
        lambda r, *a, **k: seen.append(f"{r.request.method} {urlsplit(r.request.url).path}")
    )
    return seen


def test_the_server_limits_are_read_once_per_channel_and_kept_a_day(
    server: dict[str, Any], settings: Settings, name: str, specs: dict[str, Any]
) -> None:
    server["instance"] = {"max_characters": 1000, "characters_reserved_per_url": 30}
    now = [datetime(2026, 12, 1, tzinfo=UTC)]
    cache = ServerLimitsCache(clock=lambda: now[0])
    channel = specs["mastodon"].channel(name=name)
    seen: list[str] = []
    with requests.Session() as session:
        session.hooks["response"].append(lambda r, *a, **k: seen.append(r.request.path_url))
        first = server_limits(channel, settings, session=session, cache=cache)
        server["instance"] = {"max_characters": 2000}
        now[0] += LIMITS_TTL - timedelta(seconds=1)
        assert server_limits(channel, settings, session=session, cache=cache) == first
        assert seen == ["/mastodon/api/v2/instance"]
        now[0] += timedelta(seconds=2)
        assert server_limits(channel, settings, session=session, cache=cache).max_characters == 2000
    assert (first.max_characters, first.url_length, first.version) == (1000, 30, "4.3.0")
    assert (first.image_size_limit, first.description_limit) == (16 * 1024 * 1024, 1500)
    composing = apply_server_limits(channel, first)
    assert (composing.max_length, composing.url_length) == (1000, 30)
    own = channel.model_copy(update={"max_length": 400})  # the channel's own setting wins
    assert apply_server_limits(own, first).max_length == 400


def test_an_unreadable_server_means_the_defaults_never_an_error(
    server: dict[str, Any],
    settings: Settings,
    name: str,
    specs: dict[str, Any],
    caplog: pytest.LogCaptureFixture,
) -> None:
    now = [datetime(2026, 12, 1, tzinfo=UTC)]
    cache = ServerLimitsCache(clock=lambda: now[0])
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        closed = f"http://127.0.0.1:{s.getsockname()[1]}"
    offline = specs["mastodon"].channel(name=name, api_base=closed)
    direct = settings.model_copy(update={"sandbox_url": None})
    with caplog.at_level(logging.WARNING, logger="dissem.platforms.mastodon"):
        assert with_server_limits(offline, direct, cache=cache) == offline
        assert with_server_limits(offline, direct, cache=cache) == offline  # not asked again
        assert len(caplog.records) == 1 and "using the defaults" in caplog.text
        now[0] += LIMITS_RETRY
        with_server_limits(offline, direct, cache=cache)
        assert len(caplog.records) == 2
    server["instance_v2"] = False  # a server before 4.0: 404
    before = specs["mastodon"].channel(name=name + "-old")
    assert with_server_limits(before, settings, cache=cache) == before
    server.pop("instance_v2")
    server["instance"] = {"max_characters": "lots", "characters_reserved_per_url": True}
    odd = specs["mastodon"].channel(name=name + "-odd")
    assert with_server_limits(odd, settings, cache=cache) == odd
    assert ServerLimits.from_instance(["not", "an", "object"]) == ServerLimits()


def test_uploads_follow_the_server_media_limits(
    make_adapter: MakeAdapter,
    server: dict[str, Any],
    name: str,
    tmp_path: Path,
    unique: Callable[[str], str],
    published: Any,
) -> None:
    server["instance"] = {"image_size_limit": 4_000, "description_limit": 100}
    (tmp_path / "small.png").write_bytes(png(8, 8))
    (tmp_path / "large.png").write_bytes(png(8, 8) + bytes(5_000))
    m = make_adapter("mastodon", name=name)
    m.settings = m.settings.model_copy(update={"config_dir": tmp_path})
    sent = requests_to(m)
    long_alt = "A harbour at dusk, " * 20  # 380 characters: the server takes 100
    text = unique("described")
    m.publish(Part(1, 1, text, 9, 500, media=(Media("small.png", long_alt),)), MemoryContext(text))
    [post] = [p for p in published() if p["text"] == text]
    assert len(post["images"]) == 1 and len(post["images"][0]["alt"]) <= 100
    sent.clear()
    large = unique("too large for this server")
    m.publish(Part(1, 1, large, 9, 500, media=(Media("large.png"),)), MemoryContext(large))
    assert "POST /mastodon/api/v2/media" not in sent  # skipped before uploading
    [post] = [p for p in published() if p["text"] == large]
    assert post["images"] == []


def test_metrics_read_up_to_twenty_statuses_in_one_call(
    make_adapter: MakeAdapter, name: str, clock: Any, unique: Callable[[str], str]
) -> None:
    m = make_adapter("mastodon", name=name)
    ids = [
        m.publish(part(unique(f"batch {i}")), MemoryContext(unique("k"))).remote_id
        for i in (1, 2, 3)
    ]
    clock.advance(timedelta(hours=5))
    sent = requests_to(m)
    samples = m.fetch_metrics([*ids, "1"])
    assert set(samples) == set(ids) and all(samples[i].values["likes"] > 0 for i in ids)
    assert [s for s in sent if "/statuses" in s] == ["GET /mastodon/api/v1/statuses"]


def test_metrics_fall_back_to_one_by_one_on_a_server_without_the_batch_read(
    make_adapter: MakeAdapter,
    server: dict[str, Any],
    name: str,
    unique: Callable[[str], str],
) -> None:
    m = make_adapter("mastodon", name=name)
    ids = [
        m.publish(part(unique(f"old {i}")), MemoryContext(unique("k"))).remote_id for i in (1, 2)
    ]
    server["instance"] = {"version": "3.5.3"}  # no batch route: Rails' 404 page
    server["instance_v2"] = False  # ... and no v2 instance to say so: tried once
    sent = requests_to(m)
    assert set(m.fetch_metrics(ids)) == set(ids)
    assert set(m.fetch_metrics(ids)) == set(ids)
    batch = "GET /mastodon/api/v1/statuses"
    assert sent.count(batch) == 1  # the 404 is remembered
    assert sum(s.startswith(f"{batch}/") for s in sent) == 4
    stated = make_adapter("mastodon", name=name + "-stated")
    server["instance_v2"] = True  # version 3.5.3 stated: never tried
    stated_sent = requests_to(stated)
    assert set(stated.fetch_metrics(ids)) == set(ids) and batch not in stated_sent
    assert stated_sent[0] == "GET /mastodon/api/v2/instance"


def test_metrics_fail_as_a_read_when_the_server_is_in_trouble(
    make_adapter: MakeAdapter, sandbox: RunningSandbox, name: str, unique: Callable[[str], str]
) -> None:
    """The instance is read before metrics; a 5xx there is the server in trouble (the
    metrics read fails, to be tried again), not a server without limits (nothing kept)."""
    m = make_adapter("mastodon", name=name)
    post = m.publish(part(unique("trouble")), MemoryContext(unique("k")))
    sandbox.faults.force("mastodon", Fault.ERROR, writes_only=False)
    with pytest.raises(TransientError):
        m.fetch_metrics([post.remote_id])
    assert m.server_limits().version == "4.3.0"  # read again, not the kept defaults
    assert set(m.fetch_metrics([post.remote_id])) == {post.remote_id}
