"""The Instagram adapter's two-step container publishing over real HTTP against the sandbox:
resuming after a crash, never a second container or post (fixtures in conftest.py)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from dissem.compose.types import Media, Part
from dissem.errors import ContentRejected, OutcomeUnknown, RateLimited, TransientError
from dissem.platforms.base import MemoryContext, Platform
from dissem.platforms.containers import CONTAINER_KEY
from dissem.platforms.instagram import InstagramAccount
from dissem.sandbox import Fault, RunningSandbox

ACCOUNT = "17841400000000001"
IMAGE = Media("https://example.org/harbour.jpg", "boats in a harbour at dusk")


class Crash(Exception):
    """The worker died right after writing the container id to the database."""


@dataclass
class CrashAfterRemember(MemoryContext):
    def remember(self, key: str, value: str) -> None:
        super().remember(key, value)
        raise Crash


def part(text: str, media: tuple[Media, ...] = (IMAGE,)) -> Part:
    return Part(index=1, total=1, text=text, length=len(text), limit=2200, media=media)


@pytest.fixture
def ig(make_adapter: Callable[..., Platform]) -> InstagramAccount:
    adapter = make_adapter("instagram")
    assert isinstance(adapter, InstagramAccount)
    return adapter


@pytest.fixture
def containers(sandbox: RunningSandbox) -> Callable[[str], list[dict[str, Any]]]:
    """The sandbox's containers whose caption is ``text``."""

    def of(text: str) -> list[dict[str, Any]]:
        with sandbox.state.lock:
            found = sandbox.state.bucket("instagram").get("containers", {}).values()
            return [dict(c) for c in found if c["text"] == text]

    return of


@pytest.fixture
def posts(
    published: Callable[[], list[dict[str, Any]]],
) -> Callable[[str], list[dict[str, Any]]]:
    return lambda text: [p for p in published() if p["text"] == text]


def test_publish_remembers_the_container_then_publishes_it(
    ig: InstagramAccount,
    unique: Callable[[str], str],
    containers: Callable[[str], list[dict[str, Any]]],
    posts: Callable[[str], list[dict[str, Any]]],
) -> None:
    text = unique("Harbour festival")
    context = MemoryContext("k")
    post = ig.publish(part(text), context)
    [container] = containers(text)
    assert container["image_url"] == IMAGE.src and container["alt_text"] == IMAGE.alt
    assert container["media_id"] == post.remote_id
    assert context.state[CONTAINER_KEY] != post.remote_id
    [record] = posts(text)
    assert record["remote_id"] == post.remote_id and record["url"] == post.url
    assert record["extra"]["container_id"] == context.state[CONTAINER_KEY]


@pytest.mark.parametrize(
    ("media", "reason"),
    [((), "needs an image"), ((Media("images/local.jpg"),), "public URL")],
)
def test_without_a_public_image_nothing_is_sent(
    ig: InstagramAccount, media: tuple[Media, ...], reason: str
) -> None:
    ig.session.close()
    ig.api_base = "http://127.0.0.1:9"  # any call would fail with a TransientError
    with pytest.raises(ContentRejected, match=reason):
        ig.publish(part("caption", media), MemoryContext("k"))


def test_crash_between_the_steps_resumes_with_the_same_container(
    ig: InstagramAccount,
    unique: Callable[[str], str],
    containers: Callable[[str], list[dict[str, Any]]],
    posts: Callable[[str], list[dict[str, Any]]],
) -> None:
    text = unique("Crash in between")
    crashing = CrashAfterRemember("k")
    with pytest.raises(Crash):
        ig.publish(part(text), crashing)
    assert posts(text) == [] and len(containers(text)) == 1
    resumed = MemoryContext("k", state=dict(crashing.state))  # what the database kept
    post = ig.publish(part(text), resumed)
    assert len(containers(text)) == 1, "the remembered container is reused"
    assert [p["remote_id"] for p in posts(text)] == [post.remote_id]


def test_a_published_container_is_never_published_again(
    ig: InstagramAccount,
    sandbox: RunningSandbox,
    unique: Callable[[str], str],
    containers: Callable[[str], list[dict[str, Any]]],
    posts: Callable[[str], list[dict[str, Any]]],
) -> None:
    text = unique("Dropped answer")
    context = MemoryContext("k")
    since = datetime.now(UTC) - timedelta(seconds=5)
    sandbox.faults.force("instagram", Fault.DROP)
    with pytest.raises(OutcomeUnknown):
        ig.publish(part(text), context)
    [record] = posts(text)
    found = ig.lookup(part(text), context, since=since)
    assert found is not None and found.remote_id == record["remote_id"]
    again = ig.publish(part(text), context)
    assert again.remote_id == record["remote_id"]
    assert len(posts(text)) == 1 and len(containers(text)) == 1


def test_a_container_still_processing_is_retried_later(
    ig: InstagramAccount,
    sandbox: RunningSandbox,
    clock: Any,
    monkeypatch: pytest.MonkeyPatch,
    unique: Callable[[str], str],
    containers: Callable[[str], list[dict[str, Any]]],
    posts: Callable[[str], list[dict[str, Any]]],
) -> None:
    text = unique("Big picture")
    context = MemoryContext("k")
    waits: list[float] = []
    monkeypatch.setattr(ig, "pause", waits.append, raising=False)  # the clock stands
    bucket = sandbox.state.bucket("instagram")
    bucket["processing_seconds"] = 60
    try:
        with pytest.raises(TransientError, match="still processing"):
            ig.publish(part(text), context)  # IN_PROGRESS at every check: never published
        assert waits == [1.0, 2.0, 4.0]
        assert ig.lookup(part(text), context, since=datetime.now(UTC)) is None
        clock.advance(timedelta(seconds=61))
        post = ig.publish(part(text), context)
    finally:
        bucket.pop("processing_seconds")
    assert len(containers(text)) == 1
    assert [p["remote_id"] for p in posts(text)] == [post.remote_id]


def test_a_container_in_error_fails_with_its_subcode(
    ig: InstagramAccount,
    sandbox: RunningSandbox,
    unique: Callable[[str], str],
    containers: Callable[[str], list[dict[str, Any]]],
    posts: Callable[[str], list[dict[str, Any]]],
) -> None:
    broken = Media("https://example.org/broken.jpg", "nothing to see")
    bucket = sandbox.state.bucket("instagram")
    bucket["failing_images"] = {broken.src: "2207003"}  # status: the error subcode
    text = unique("Broken picture")
    try:
        with pytest.raises(ContentRejected, match=r"could not process .*: 2207003"):
            ig.publish(part(text, (broken,)), MemoryContext("k"))
    finally:
        bucket.pop("failing_images")
    assert len(containers(text)) == 1 and posts(text) == []


def test_an_expired_container_is_replaced(
    ig: InstagramAccount,
    clock: Any,
    unique: Callable[[str], str],
    containers: Callable[[str], list[dict[str, Any]]],
    posts: Callable[[str], list[dict[str, Any]]],
) -> None:
    text = unique("Next day")
    crashing = CrashAfterRemember("k")
    with pytest.raises(Crash):
        ig.publish(part(text), crashing)
    first = crashing.state[CONTAINER_KEY]
    clock.advance(timedelta(hours=25))
    resumed = MemoryContext("k", state=dict(crashing.state))
    assert ig.lookup(part(text), resumed, since=datetime.now(UTC)) is None
    ig.publish(part(text), resumed)
    assert resumed.state[CONTAINER_KEY] != first
    assert len(containers(text)) == 2 and len(posts(text)) == 1


def test_lookup_without_a_container_is_none(ig: InstagramAccount) -> None:
    assert ig.lookup(part("never"), MemoryContext("k"), since=datetime.now(UTC)) is None


def test_throttle_is_code_80002_with_the_usage_estimate(
    ig: InstagramAccount, sandbox: RunningSandbox, unique: Callable[[str], str]
) -> None:
    sandbox.faults.force("instagram", Fault.THROTTLE)
    before = datetime.now(UTC)
    with pytest.raises(RateLimited, match="80002") as caught:
        ig.publish(part(unique("busy")), MemoryContext("k"))
    assert before + timedelta(minutes=10) <= caught.value.retry_at


def test_metrics_read_insights_one_media_at_a_time(
    ig: InstagramAccount, clock: Any, unique: Callable[[str], str]
) -> None:
    ids = [ig.publish(part(unique(f"m{i}")), MemoryContext("k")).remote_id for i in (1, 2)]
    clock.advance(timedelta(days=2))
    samples = ig.fetch_metrics([*ids, "17841499999999999"])
    assert set(samples) == set(ids)
    for remote_id in ids:
        values = samples[remote_id].values
        assert set(values) == {"views", "reach", "likes", "replies", "bookmarks", "shares"}
        assert values["views"] > values["likes"] > 0
        names = [item["name"] for item in samples[remote_id].raw["data"]]
        assert "total_interactions" in names and "impressions" not in names
