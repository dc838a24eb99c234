"""The LinkedIn adapter over real HTTP against the sandbox (fixtures in conftest.py)."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import quote

import pytest
import requests
from pydantic import ValidationError

from dissem.compose.types import Part
from dissem.errors import AuthError, Duplicate, OutcomeUnknown, RateLimited
from dissem.platforms.base import MemoryContext, Platform
from dissem.platforms.linkedin import LinkedInOrganization, post_url, retry_at_after_429
from dissem.sandbox import Fault, RunningSandbox
from dissem.settings import Settings

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
    assert request.headers["LinkedIn-Version"] == "202608"
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
    answers: list[requests.Response] = []
    li.session.hooks["response"].append(lambda r, *a, **k: answers.append(r))
    text = unique("Same commentary")
    first = li.publish(part(text), MemoryContext("a"))
    with pytest.raises(Duplicate) as caught:
        li.publish(part(text), MemoryContext("b"))
    assert caught.value.remote_id == first.remote_id
    assert caught.value.url == post_url(first.remote_id)
    # LinkedIn's own shape: the code only nested, the URN only in the message
    refusal = next(a.json() for a in answers if a.status_code == 422)
    assert "code" not in refusal
    assert refusal["errorDetails"]["inputErrors"][0]["code"] == "DUPLICATE_POST"
    # and the named post was read back before it was believed
    assert answers[-1].request.method == "GET"
    assert answers[-1].request.path_url.endswith(quote(first.remote_id, safe=""))


def test_a_duplicate_of_a_deleted_post_goes_to_lookup(
    li: LinkedInOrganization, sandbox: RunningSandbox, unique: Callable[[str], str]
) -> None:
    """LinkedIn still answers DUPLICATE_POST after the post was deleted, naming a URN that
    answers 404: the post is then unconfirmed (no remote id), not published."""
    text = unique("Deleted, then sent again")
    since = datetime.now(UTC) - timedelta(seconds=5)
    first = li.publish(part(text), MemoryContext("a"))
    deleted = requests.delete(
        f"{sandbox.url}/linkedin/rest/posts/{quote(first.remote_id, safe='')}",
        headers={"Authorization": "Bearer t", "LinkedIn-Version": "202608"},
        timeout=5,
    )
    assert deleted.status_code == 204
    with pytest.raises(Duplicate) as caught:
        li.publish(part(text), MemoryContext("b"))
    assert caught.value.remote_id is None and caught.value.url is None
    assert first.remote_id in str(caught.value) and "404" in str(caught.value)
    assert li.lookup(part(text), MemoryContext("b"), since=since) is None


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


@pytest.mark.parametrize("version", ["202512", "2026-08"])
def test_a_version_linkedin_never_released_pauses_the_channel_naming_the_setting(
    make_adapter: Callable[..., Platform],
    settings: Any,
    unique: Callable[[str], str],
    published: Callable[[], list[dict[str, Any]]],
    version: str,
) -> None:
    """LinkedIn skipped December 2025: 202512 never existed and answers 426."""
    adapter = make_adapter("linkedin")
    adapter.settings = settings.model_copy(update={"linkedin_version": version})
    text = unique("skipped month")
    with pytest.raises(AuthError, match="DISSEM_LINKEDIN_VERSION") as caught:
        adapter.publish(part(text), MemoryContext("k"))
    assert caught.value.status == 426 and version in str(caught.value)
    assert "is not active" in str(caught.value)
    assert not [p for p in published() if p["text"] == text]


def test_the_version_setting_is_a_released_version_in_linkedins_format() -> None:
    assert Settings.model_fields["linkedin_version"].default == "202608"
    assert Settings(linkedin_version="202508.02").linkedin_version == "202508.02"
    for wrong in ("2026-08", "202608 ", "latest"):
        with pytest.raises(ValidationError, match="linkedin_version"):
            Settings(linkedin_version=wrong)


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
