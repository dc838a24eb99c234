"""X adapter specifics: duplicate content, text matching through t.co, auth modes."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from dissem.compose.types import Part
from dissem.errors import Duplicate
from dissem.platforms.base import MemoryContext, Platform
from dissem.platforms.x import REAL_HOST, XPlatform, _XTransport, comparable
from dissem.settings import Settings

MakeAdapter = Callable[..., Platform]


def part(specs: dict[str, Any], text: str) -> Part:
    part: Part = specs["x"].part(text)
    return part


def test_repeated_text_is_a_duplicate_without_remote_id(
    make_adapter: MakeAdapter, specs: dict[str, Any], unique: Callable[[str], str]
) -> None:
    x = make_adapter("x")
    text = unique("Same words twice")
    x.publish(part(specs, text), MemoryContext("a"))
    with pytest.raises(Duplicate) as caught:
        x.publish(part(specs, text), MemoryContext("b"))
    assert caught.value.remote_id is None
    assert caught.value.status == 403


def test_lookup_matches_text_although_x_returns_tco_links(
    make_adapter: MakeAdapter, specs: dict[str, Any], unique: Callable[[str], str]
) -> None:
    x = make_adapter("x")
    since = datetime.now(UTC) - timedelta(minutes=1)
    text = unique("Read it: https://portal.example.go.id/news/2026/11/office?utm_source=x")
    posted = x.publish(part(specs, text), MemoryContext("k"))
    x.publish(part(specs, unique("another post")), MemoryContext("k2"))
    found = x.lookup(part(specs, text), MemoryContext("k"), since=since)
    assert found == posted
    later = datetime.now(UTC) + timedelta(minutes=1)
    assert x.lookup(part(specs, text), MemoryContext("k"), since=later) is None


def test_oauth2_user_token_posts_with_bearer(
    make_adapter: MakeAdapter, specs: dict[str, Any], unique: Callable[[str], str]
) -> None:
    x = make_adapter(
        "x",
        credentials={"oauth2_user_token": "TEST_X_OAUTH2"},
        extra_env={"TEST_X_OAUTH2": "x-oauth2-user-token-71c9"},
    )
    assert isinstance(x, XPlatform)
    assert x.user_auth is False
    since = datetime.now(UTC) - timedelta(minutes=1)
    text = unique("posted with an OAuth 2.0 user token")
    posted = x.publish(part(specs, text), MemoryContext("k"))
    assert x.lookup(part(specs, text), MemoryContext("k"), since=since) == posted


def test_real_host_is_not_rewritten_and_every_call_gets_a_timeout() -> None:
    from dissem.config.models import Channel

    channel = Channel(name="x-real", platform="x", account="@a", timezone="UTC")
    adapter = XPlatform(channel, {"oauth2_user_token": "tok-real-host"}, Settings(http_timeout=7))
    transport = adapter.session.get_adapter(REAL_HOST + "/2/tweets")
    assert isinstance(transport, _XTransport)
    assert transport.target is None
    assert transport.default_timeout == 7
    assert adapter.client.session is adapter.session


def test_metrics_include_non_public_counts_for_own_posts(
    make_adapter: MakeAdapter, specs: dict[str, Any], unique: Callable[[str], str], clock: Any
) -> None:
    x = make_adapter("x")
    post = x.publish(part(specs, unique("count me")), MemoryContext("k"))
    clock.advance(timedelta(days=2))
    sample = x.fetch_metrics([post.remote_id])[post.remote_id]
    assert sample.values["views"] == sample.raw["non_public_metrics"]["impression_count"]
    assert sample.values["link_clicks"] == sample.raw["non_public_metrics"]["url_link_clicks"]
    assert sample.values["views"] > 0


def test_comparable_ignores_urls_spacing_and_normalisation() -> None:
    assert comparable("Caf\u0065\u0301  https://a.example/x\n") == comparable(
        "Caf\u00e9 https://t.co/abc"
    )
    assert comparable("one") != comparable("two")
