"""The Facebook Page adapter over real HTTP against the sandbox (fixtures in conftest.py)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import requests

from dissem.compose.types import Media, Part
from dissem.errors import (
    AccountBlocked,
    ContentRejected,
    Duplicate,
    OutcomeUnknown,
    RateLimited,
)
from dissem.platforms.base import MemoryContext, Platform
from dissem.platforms.facebook import FacebookPage
from dissem.sandbox import Fault, RunningSandbox

PAGE = "100000000000001"
TOKEN = "fb-page-token-3c9d1e7a"


def part(text: str, **options: Any) -> Part:
    return Part(index=1, total=1, text=text, length=len(text), limit=63206, options=options)


@pytest.fixture
def fb(make_adapter: Callable[..., Platform]) -> FacebookPage:
    adapter = make_adapter("facebook")
    assert isinstance(adapter, FacebookPage)
    return adapter


@pytest.fixture
def sent(fb: FacebookPage) -> list[requests.PreparedRequest]:
    """Every request the adapter sends, as prepared (URL and headers)."""
    seen: list[requests.PreparedRequest] = []
    fb.session.hooks["response"].append(lambda r, *a, **k: seen.append(r.request))
    return seen


def test_publish_posts_message_and_link_to_the_page_feed(
    fb: FacebookPage,
    sent: list[requests.PreparedRequest],
    unique: Callable[[str], str],
    published: Callable[[], list[dict[str, Any]]],
) -> None:
    text = unique("New consulate opens")
    post = fb.publish(part(text, link="https://portal.example.org/a"), MemoryContext("k"))
    assert post.remote_id.startswith(f"{PAGE}_")
    assert post.url == f"https://www.facebook.com/{post.remote_id}"
    [record] = [p for p in published() if p["text"] == text]
    assert record["remote_id"] == post.remote_id
    assert record["extra"]["link"] == "https://portal.example.org/a"
    request = sent[-1]
    assert request.method == "POST" and request.url is not None
    assert request.url.endswith(f"/facebook/v23.0/{PAGE}/feed")
    assert request.headers["Authorization"] == f"Bearer {TOKEN}"
    assert TOKEN not in request.url and TOKEN not in str(request.body)


def test_an_image_makes_a_photo_post(
    fb: FacebookPage, unique: Callable[[str], str], published: Callable[[], list[dict[str, Any]]]
) -> None:
    text = unique("Photo of the week")
    image = Part(
        index=1,
        total=1,
        text=text,
        length=len(text),
        limit=63206,
        media=(Media("https://example.org/p.jpg", "a harbour"),),
    )
    post = fb.publish(image, MemoryContext("k"))
    [record] = [p for p in published() if p["text"] == text]
    assert record["remote_id"] == post.remote_id
    assert record["media"] == ["https://example.org/p.jpg"]


def test_repeating_a_message_is_a_duplicate(fb: FacebookPage, unique: Callable[[str], str]) -> None:
    text = unique("Same words twice")
    fb.publish(part(text), MemoryContext("a"))
    with pytest.raises(Duplicate, match="506"):
        fb.publish(part(text), MemoryContext("b"))


def test_a_page_blocked_for_policy_violations_is_not_a_duplicate(
    fb: FacebookPage,
    sandbox: RunningSandbox,
    unique: Callable[[str], str],
    published: Callable[[], list[dict[str, Any]]],
) -> None:
    """Graph's 368 ("temporarily blocked for policy violations") says nothing was posted and
    the Page may not post for a while: AccountBlocked (pause and alert), never Duplicate."""
    text = unique("Posted while blocked")
    sandbox.state.bucket("facebook")["blocked_pages"] = [PAGE]
    try:
        with pytest.raises(AccountBlocked, match="code 368/1390008") as caught:
            fb.publish(part(text), MemoryContext("k"))
        photo = Part(
            index=1,
            total=1,
            text=text,
            length=len(text),
            limit=63206,
            media=(Media("https://example.org/p.jpg", "a harbour"),),
        )
        with pytest.raises(AccountBlocked):  # not taken for a bad photo: no text-only retry
            fb.publish(photo, MemoryContext("k"))
    finally:
        sandbox.state.bucket("facebook")["blocked_pages"] = []
    assert not isinstance(caught.value, Duplicate) and caught.value.status == 400
    assert "fbtrace_id" in str(caught.value) and TOKEN not in str(caught.value)
    assert [p for p in published() if p["text"] == text] == []
    assert fb.publish(part(text), MemoryContext("k")).remote_id.startswith(f"{PAGE}_")


def test_a_malformed_link_is_rejected(fb: FacebookPage, unique: Callable[[str], str]) -> None:
    with pytest.raises(ContentRejected, match="code 100"):
        fb.publish(part(unique("bad link"), link="portal/a"), MemoryContext("k"))


def test_throttle_reads_the_usage_header(
    fb: FacebookPage, sandbox: RunningSandbox, unique: Callable[[str], str]
) -> None:
    sandbox.faults.force("facebook", Fault.THROTTLE)
    before = datetime.now(UTC)
    with pytest.raises(RateLimited, match="code 32") as caught:
        fb.publish(part(unique("throttled")), MemoryContext("k"))
    assert caught.value.status == 400  # Graph throttles with 400, not 429
    assert before + timedelta(minutes=10) <= caught.value.retry_at
    assert caught.value.retry_at <= datetime.now(UTC) + timedelta(minutes=10)


def test_lookup_after_a_500_finds_the_post_only_if_it_exists(
    fb: FacebookPage, sandbox: RunningSandbox, unique: Callable[[str], str]
) -> None:
    since = datetime.now(UTC) - timedelta(seconds=5)
    sandbox.faults.force("facebook", Fault.ERROR)  # answered 500, nothing applied
    text = unique("Lost answer")
    with pytest.raises(OutcomeUnknown):
        fb.publish(part(text), MemoryContext("k"))
    assert fb.lookup(part(text), MemoryContext("k"), since=since) is None
    sandbox.faults.force("facebook", Fault.DROP)  # applied, then no answer
    with pytest.raises(OutcomeUnknown):
        fb.publish(part(text), MemoryContext("k"))
    found = fb.lookup(part(text + "  "), MemoryContext("k"), since=since)
    assert found is not None and found.remote_id.startswith(f"{PAGE}_")


def test_lookup_ignores_posts_before_since(
    fb: FacebookPage, clock: Any, unique: Callable[[str], str]
) -> None:
    text = unique("Old news")
    fb.publish(part(text), MemoryContext("k"))
    later = datetime.now(UTC) + timedelta(hours=1)
    clock.advance(timedelta(hours=2))
    assert fb.lookup(part(text), MemoryContext("k"), since=later) is None


def test_metrics_batch_reads_reactions_comments_shares(
    fb: FacebookPage,
    sent: list[requests.PreparedRequest],
    clock: Any,
    unique: Callable[[str], str],
) -> None:
    ids = [fb.publish(part(unique(f"metrics {i}")), MemoryContext("k")).remote_id for i in (1, 2)]
    clock.advance(timedelta(days=3))
    samples = fb.fetch_metrics([*ids, f"{PAGE}_999999"])
    assert set(samples) == set(ids)
    assert sum(1 for r in sent if r.method == "GET") == 1  # one call for the whole batch
    for remote_id in ids:
        values = samples[remote_id].values
        assert set(values) == {"likes", "replies", "shares"}
        raw = samples[remote_id].raw
        assert values["likes"] == raw["reactions"]["summary"]["total_count"] > 0
        assert values["replies"] == raw["comments"]["summary"]["total_count"]
        assert values["shares"] == raw.get("shares", {}).get("count", 0)
    assert fb.fetch_metrics([]) == {}
