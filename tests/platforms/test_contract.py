"""The contract every adapter keeps, run against every available platform over real HTTP
against the in-process sandbox (specs in conftest.py)."""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from dissem.errors import (
    AuthError,
    ContentRejected,
    Duplicate,
    OutcomeUnknown,
    PlatformError,
    RateLimited,
    TransientError,
)
from dissem.platforms.base import METRIC_NAMES, LookupUnsupported, MemoryContext, Platform
from dissem.platforms.registry import available_platforms, get_platform
from dissem.sandbox import Fault, RunningSandbox
from dissem.settings import Settings

MakeAdapter = Callable[..., Platform]


@pytest.fixture(params=available_platforms())
def platform(request: pytest.FixtureRequest) -> str:
    name: str = request.param
    return name


@pytest.fixture
def spec(platform: str, specs: dict[str, Any]) -> Any:
    if platform not in specs:
        pytest.fail(f"{platform} has an adapter but no PlatformSpec in tests/platforms/conftest.py")
    return specs[platform]


@pytest.fixture
def adapter(platform: str, spec: Any, make_adapter: MakeAdapter) -> Platform:
    return make_adapter(platform)


def ctx(key: str = "") -> MemoryContext:
    return MemoryContext(idempotency_key=key or f"key-{datetime.now(UTC).timestamp()}")


def test_publish_creates_one_post(
    adapter: Platform, spec: Any, unique: Callable[[str], str], published: Any
) -> None:
    text = unique("Release: ministry opens new office")
    post = adapter.publish(spec.part(text), ctx())
    assert post.remote_id
    assert post.url is None or post.url.startswith(("https://", "http://127.0.0.1"))
    mine = [p for p in published() if p["platform"] == spec.platform and p["text"] == text]
    assert [p["remote_id"] for p in mine] == [spec.sandbox_id(post)]


def test_thread_is_a_reply_chain(
    adapter: Platform, spec: Any, unique: Callable[[str], str], published: Any
) -> None:
    if not adapter.capabilities.threads:
        pytest.skip(f"{spec.platform} has no threads")
    texts = [unique(f"part {i}/3") for i in (1, 2, 3)]
    root = adapter.publish(spec.part(texts[0], 1, 3), ctx())
    second = adapter.publish(spec.part(texts[1], 2, 3), ctx(), reply_to=root, root=root)
    third = adapter.publish(spec.part(texts[2], 3, 3), ctx(), reply_to=second, root=root)
    by_text = {p["text"]: p for p in published() if p["platform"] == spec.platform}
    assert by_text[texts[0]]["reply_to"] is None
    assert by_text[texts[1]]["reply_to"] == spec.sandbox_id(root)
    assert by_text[texts[2]]["reply_to"] == spec.sandbox_id(second)
    assert len({root.remote_id, second.remote_id, third.remote_id}) == 3


def test_publishing_twice_with_one_context(
    adapter: Platform, spec: Any, unique: Callable[[str], str], published: Any
) -> None:
    part, context = spec.part(unique("Statement on the summit")), ctx()
    first = adapter.publish(part, context)
    if spec.duplicate == "raises":
        with pytest.raises(Duplicate):
            adapter.publish(part, context)
    else:
        again = adapter.publish(part, context)
        assert (again.remote_id == first.remote_id) == (spec.duplicate == "same_id")
    count = sum(p["text"] == part.text for p in published())
    assert count == (2 if spec.duplicate == "allowed" else 1)


def test_server_error_on_create_is_outcome_unknown(
    adapter: Platform, spec: Any, sandbox: RunningSandbox, unique: Callable[[str], str]
) -> None:
    sandbox.faults.force(spec.platform, Fault.ERROR)
    with pytest.raises(OutcomeUnknown) as caught:
        adapter.publish(spec.part(unique("five hundred")), ctx())
    assert caught.value.status is not None and caught.value.status >= 500


def test_server_error_on_a_read_is_transient(
    adapter: Platform, spec: Any, sandbox: RunningSandbox, unique: Callable[[str], str]
) -> None:
    post = adapter.publish(spec.part(unique("read me later")), ctx())
    if adapter.capabilities.metrics:
        read: Callable[[], object] = lambda: adapter.fetch_metrics([post.remote_id])  # noqa: E731
    elif adapter.capabilities.can_lookup:
        read = lambda: adapter.lookup(spec.part("x"), ctx(), since=datetime.now(UTC))  # noqa: E731
    else:
        pytest.skip(f"{spec.platform} has no read calls")
    sandbox.faults.force(spec.platform, Fault.ERROR, writes_only=False)
    with pytest.raises(TransientError):
        read()


def test_throttle_is_rate_limited_with_the_platform_reset(
    adapter: Platform, spec: Any, sandbox: RunningSandbox, unique: Callable[[str], str]
) -> None:
    sandbox.faults.force(spec.platform, Fault.THROTTLE)
    before = datetime.now(UTC)
    with pytest.raises(RateLimited) as caught:
        adapter.publish(spec.part(unique("slow down")), ctx())
    retry_at = caught.value.retry_at
    assert retry_at.tzinfo is not None
    assert abs(retry_at - (before + spec.retry_after)) < timedelta(seconds=3)


def test_empty_credentials_are_an_auth_error(
    platform: str, spec: Any, settings: Settings, unique: Callable[[str], str]
) -> None:
    cls = get_platform(platform)
    empty = {name: "" for name in spec.credentials}
    adapter = cls(spec.channel(), empty, settings)
    with pytest.raises(AuthError):
        adapter.publish(spec.part(unique("no key")), ctx())


def test_over_long_text_is_rejected(adapter: Platform, spec: Any) -> None:
    with pytest.raises(ContentRejected):
        adapter.publish(spec.part(spec.too_long), ctx())


def test_dropped_connection_after_apply_is_unknown_then_found(
    adapter: Platform,
    spec: Any,
    sandbox: RunningSandbox,
    unique: Callable[[str], str],
    published: Any,
) -> None:
    part, context = spec.part(unique("Embassy statement")), ctx()
    since = datetime.now(UTC) - timedelta(minutes=1)
    sandbox.faults.force(spec.platform, Fault.DROP)
    with pytest.raises(OutcomeUnknown):
        adapter.publish(part, context)
    applied = [p for p in published() if p["text"] == part.text]
    assert len(applied) == 1, "a drop applies the post before closing the connection"
    if not adapter.capabilities.can_lookup:
        with pytest.raises(LookupUnsupported):
            adapter.lookup(part, context, since=since)
        return
    found = adapter.lookup(part, context, since=since)
    assert found is not None
    assert spec.sandbox_id(found) == applied[0]["remote_id"]


def test_lookup_of_a_post_never_sent_is_none(
    adapter: Platform, spec: Any, unique: Callable[[str], str]
) -> None:
    since = datetime.now(UTC) - timedelta(minutes=1)
    if not adapter.capabilities.can_lookup:
        with pytest.raises(LookupUnsupported):
            adapter.lookup(spec.part("anything"), ctx(), since=since)
        return
    assert adapter.lookup(spec.part(unique("never sent")), ctx(), since=since) is None


def test_metrics_grow_with_age(
    adapter: Platform, spec: Any, clock: Any, unique: Callable[[str], str]
) -> None:
    post = adapter.publish(spec.part(unique("metrics please")), ctx())
    if not adapter.capabilities.metrics:
        assert adapter.fetch_metrics([post.remote_id]) == {}
        return
    clock.advance(timedelta(hours=1))
    early = adapter.fetch_metrics([post.remote_id])[post.remote_id].values
    clock.advance(timedelta(hours=24))
    late = adapter.fetch_metrics([post.remote_id, "missing-id-0"])
    assert set(late) == {post.remote_id}, "unknown ids are left out"
    values = late[post.remote_id].values
    assert set(values) <= set(adapter.capabilities.metrics) <= set(METRIC_NAMES)
    assert all(values[k] >= early[k] for k in early)
    assert any(values[k] > early[k] for k in early)


def test_no_secret_in_errors_or_logs(
    adapter: Platform,
    spec: Any,
    sandbox: RunningSandbox,
    unique: Callable[[str], str],
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)
    errors: list[PlatformError] = []
    for fault in (Fault.ERROR, Fault.DROP, Fault.THROTTLE):
        sandbox.faults.force(spec.platform, fault)
        try:
            adapter.publish(spec.part(unique("secret test")), ctx())
        except PlatformError as exc:
            errors.append(exc)
            logging.getLogger("dissem.test").exception("publish failed: %s", exc)
    assert len(errors) == 3
    texts = [caplog.text, *(f"{e} {e!r} {e.__cause__!r} {e.__context__!r}" for e in errors)]
    for secret in spec.credentials.values():
        for text in texts:
            assert secret not in text
