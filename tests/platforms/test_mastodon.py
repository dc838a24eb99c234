"""Mastodon adapter specifics: Idempotency-Key, HTML statuses, validation, metrics."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from dissem.compose.types import Part
from dissem.errors import ContentRejected, OutcomeUnknown
from dissem.platforms.base import MemoryContext, Platform
from dissem.platforms.mastodon import html_to_text
from dissem.platforms.text_match import comparable
from dissem.sandbox import Fault, RunningSandbox
from dissem.sandbox.mastodon import to_html

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


@settings(max_examples=60, deadline=None)
@given(st.lists(_TOKENS, max_size=12).map("".join))
def test_html_rendering_round_trips_to_the_same_text(text: str) -> None:
    assert comparable(html_to_text(to_html(text))) == comparable(text)
