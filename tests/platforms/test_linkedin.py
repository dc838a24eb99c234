"""The LinkedIn adapter over real HTTP against the sandbox (fixtures in conftest.py)."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import requests

from dissem.compose.types import Part
from dissem.errors import AuthError, Duplicate, OutcomeUnknown, RateLimited
from dissem.platforms.base import MemoryContext, Platform
from dissem.platforms.linkedin import LinkedInOrganization, post_url, retry_at_after_429
from dissem.sandbox import Fault, RunningSandbox

ORG = "urn:li:organization:10000001"


def part(text: str, **options: Any) -> Part:
    return Part(index=1, total=1, text=text, length=len(text), limit=3000, options=options)


@pytest.fixture
def li(make_adapter: Callable[..., Platform]) -> LinkedInOrganization:
    adapter = make_adapter("linkedin")
    assert isinstance(adapter, LinkedInOrganization)
    return adapter


@pytest.fixture
def sent(li: LinkedInOrganization) -> list[requests.PreparedRequest]:
    seen: list[requests.PreparedRequest] = []
    li.session.hooks["response"].append(lambda r, *a, **k: seen.append(r.request))
    return seen


def test_publish_sends_the_posts_api_body_and_reads_x_restli_id(
    li: LinkedInOrganization,
    sent: list[requests.PreparedRequest],
    unique: Callable[[str], str],
    published: Callable[[], list[dict[str, Any]]],
) -> None:
    text = unique(r"Annual report \(2026\) is out")
    article = {"source": "https://portal.example.org/r", "title": "Report", "description": "d"}
    post = li.publish(part(text, article=article), MemoryContext("k"))
    [record] = [p for p in published() if p["text"] == text]
    assert post.remote_id == record["remote_id"] and post.remote_id.startswith("urn:li:share:")
    assert post.url == f"https://www.linkedin.com/feed/update/{post.remote_id}/"
    request = sent[-1]
    assert request.headers["LinkedIn-Version"] == "202611"
    assert request.headers["X-Restli-Protocol-Version"] == "2.0.0"
    assert request.headers["Authorization"] == "Bearer linkedin-token-e4f2a9b7"
    assert json.loads(request.body or b"{}") == {
        "author": ORG,
        "commentary": text,
        "visibility": "PUBLIC",
        "distribution": {
            "feedDistribution": "MAIN_FEED",
            "targetEntities": [],
            "thirdPartyDistributionChannels": [],
        },
        "lifecycleState": "PUBLISHED",
        "isReshareDisabledByAuthor": False,
        "content": {"article": article},
    }


def test_duplicate_names_the_existing_post(
    li: LinkedInOrganization, unique: Callable[[str], str]
) -> None:
    text = unique("Same commentary")
    first = li.publish(part(text), MemoryContext("a"))
    with pytest.raises(Duplicate) as caught:
        li.publish(part(text), MemoryContext("b"))
    assert caught.value.remote_id == first.remote_id
    assert caught.value.url == post_url(first.remote_id)


def test_429_waits_an_hour(
    li: LinkedInOrganization, sandbox: RunningSandbox, unique: Callable[[str], str]
) -> None:
    sandbox.faults.force("linkedin", Fault.THROTTLE)
    before = datetime.now(UTC)
    with pytest.raises(RateLimited) as caught:
        li.publish(part(unique("busy")), MemoryContext("k"))
    assert before + timedelta(hours=1) <= caught.value.retry_at
    assert caught.value.retry_at <= datetime.now(UTC) + timedelta(hours=1)


def test_retry_at_after_429_is_utc() -> None:
    jakarta = datetime(2026, 11, 30, 23, 30, tzinfo=UTC).astimezone()
    assert retry_at_after_429(jakarta) == datetime(2026, 12, 1, 0, 30, tzinfo=UTC)
    assert retry_at_after_429(jakarta).tzinfo is UTC


def test_a_retired_version_pauses_the_channel_with_a_hint(
    make_adapter: Callable[..., Platform], settings: Any, unique: Callable[[str], str]
) -> None:
    adapter = make_adapter("linkedin")
    adapter.settings = settings.model_copy(update={"linkedin_version": "202301"})
    with pytest.raises(AuthError, match="DISSEM_LINKEDIN_VERSION"):
        adapter.publish(part(unique("old version")), MemoryContext("k"))


def test_dropped_answer_then_lookup(
    li: LinkedInOrganization, sandbox: RunningSandbox, unique: Callable[[str], str]
) -> None:
    text = unique("Lost in transit")
    since = datetime.now(UTC) - timedelta(seconds=5)
    sandbox.faults.force("linkedin", Fault.DROP)
    with pytest.raises(OutcomeUnknown):
        li.publish(part(text), MemoryContext("k"))
    found = li.lookup(part(text), MemoryContext("k"), since=since)
    assert found is not None and found.url == post_url(found.remote_id)
    assert li.lookup(part(text), MemoryContext("k"), since=datetime.now(UTC) + timedelta(1)) is None


def test_metrics_from_share_statistics(
    li: LinkedInOrganization,
    sent: list[requests.PreparedRequest],
    clock: Any,
    unique: Callable[[str], str],
) -> None:
    ids = [li.publish(part(unique(f"stats {i}")), MemoryContext("k")).remote_id for i in (1, 2)]
    clock.advance(timedelta(days=2))
    samples = li.fetch_metrics([*ids, "urn:li:ugcPost:1"])
    assert set(samples) == set(ids)
    query = (sent[-1].url or "").split("?", 1)[1]
    assert (
        "shares=List(urn%3Ali%3Ashare%3A" in query
        and "ugcPosts=List(urn%3Ali%3AugcPost%3A1)" in query
    )
    for remote_id in ids:
        values, stats = samples[remote_id].values, samples[remote_id].raw["totalShareStatistics"]
        assert values["views"] == stats["impressionCount"] > 0
        assert values["link_clicks"] == stats["clickCount"]
        assert values["likes"] == stats["likeCount"]
        assert values["replies"] == stats["commentCount"]
        assert values["shares"] == stats["shareCount"]
        assert values["reach"] == stats["uniqueImpressionsCount"]
