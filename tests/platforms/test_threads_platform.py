"""The Threads adapter over real HTTP against the sandbox: containers (published only once
FINISHED), reply chains, the link limit, token refresh (fixtures in conftest.py)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
import requests

from dissem.compose.types import Media, Part
from dissem.errors import ContentRejected, OutcomeUnknown, PlatformError, TransientError
from dissem.platforms.base import MemoryContext, Platform
from dissem.platforms.threads import ThreadsAccount
from dissem.redact import redact
from dissem.sandbox import Fault, RunningSandbox

ACCOUNT = "27000000000000001"
TOKEN = "threads-token-51ad9c3e"


def part(
    text: str, index: int = 1, total: int = 1, media: tuple[Media, ...] = (), **options: Any
) -> Part:
    return Part(
        index=index,
        total=total,
        text=text,
        length=len(text),
        limit=500,
        media=media,
        options=options,
    )


@pytest.fixture
def th(make_adapter: Callable[..., Platform]) -> ThreadsAccount:
    adapter = make_adapter("threads")
    assert isinstance(adapter, ThreadsAccount)
    return adapter


@pytest.fixture
def sent(th: ThreadsAccount) -> list[requests.PreparedRequest]:
    seen: list[requests.PreparedRequest] = []
    th.session.hooks["response"].append(lambda r, *a, **k: seen.append(r.request))
    return seen


@pytest.fixture
def container_of(sandbox: RunningSandbox) -> Callable[[str], dict[str, Any]]:
    def of(container_id: str) -> dict[str, Any]:
        with sandbox.state.lock:
            return dict(sandbox.state.bucket("threads")["containers"][container_id])

    return of


def test_text_post_with_link_attachment(
    th: ThreadsAccount,
    sent: list[requests.PreparedRequest],
    unique: Callable[[str], str],
    container_of: Callable[[str], dict[str, Any]],
) -> None:
    context = MemoryContext("k")
    link = "https://portal.example.org/news/1"
    post = th.publish(part(unique("Read the statement"), link_attachment=link), context)
    container = container_of(context.state["container_id"])
    assert container["media_type"] == "TEXT" and container["link_attachment"] == link
    assert container["media_id"] == post.remote_id
    create, status, publish = sent[0], sent[1], sent[2]
    assert create.url is not None and create.url.endswith(f"/threads/v1.0/{ACCOUNT}/threads")
    container = context.state["container_id"]
    assert status.method == "GET" and status.path_url.startswith(f"/threads/v1.0/{container}?")
    assert publish.url is not None and publish.url.endswith(f"/{ACCOUNT}/threads_publish")
    assert f"creation_id={context.state['container_id']}" in str(publish.body)


def test_an_image_post_carries_no_link_attachment(
    th: ThreadsAccount,
    unique: Callable[[str], str],
    container_of: Callable[[str], dict[str, Any]],
) -> None:
    context = MemoryContext("k")
    image = (Media("https://example.org/x.jpg", "a map"),)
    th.publish(part(unique("Map"), media=image, link_attachment="https://e.org"), context)
    container = container_of(context.state["container_id"])
    assert container["media_type"] == "IMAGE" and container["image_url"] == image[0].src
    assert container["alt_text"] == "a map" and "link_attachment" not in container


def test_a_reply_is_found_among_replies(
    th: ThreadsAccount, sandbox: RunningSandbox, unique: Callable[[str], str]
) -> None:
    since = datetime.now(UTC) - timedelta(seconds=5)
    root = th.publish(part(unique("1/2 root"), 1, 2), MemoryContext("a"))
    second, context = part(unique("2/2 reply"), 2, 2), MemoryContext("b")
    sandbox.faults.force("threads", Fault.DROP)
    with pytest.raises(OutcomeUnknown):
        th.publish(second, context, reply_to=root, root=root)
    found = th.lookup(second, context, since=since, reply_to=root)
    assert found is not None
    record = sandbox.state.get_post("threads", found.remote_id)
    assert record is not None and record.reply_to == root.remote_id


def test_more_than_five_links_is_rejected_for_good(
    th: ThreadsAccount, unique: Callable[[str], str], published: Callable[[], list[Any]]
) -> None:
    links = " ".join(f"https://e{i}.example.org" for i in range(6))
    text = unique(f"links {links}")
    with pytest.raises(ContentRejected, match="LINK_LIMIT_EXCEEDED"):
        th.publish(part(text), MemoryContext("k"))
    assert not [p for p in published() if p["text"] == text]
    five = " ".join(f"https://e{i}.example.org" for i in range(5))
    th.publish(part(unique(f"links {five} https://e0.example.org")), MemoryContext("k"))


def test_refresh_sends_the_token_as_a_query_parameter_and_uses_the_new_one(
    th: ThreadsAccount,
    sent: list[requests.PreparedRequest],
    unique: Callable[[str], str],
    sandbox: RunningSandbox,
) -> None:
    th.refresh_credentials()
    refresh = sent[-1]
    assert refresh.url is not None
    assert refresh.url.split("?")[0].endswith("/threads/refresh_access_token")
    query = parse_qs(urlsplit(refresh.url).query)
    # as documented: GET /refresh_access_token?grant_type=th_refresh_token&access_token=...
    assert query == {"grant_type": ["th_refresh_token"], "access_token": [TOKEN]}
    assert "Authorization" not in refresh.headers
    new = th.credentials["access_token"]
    assert new != TOKEN and redact(f"x {new} y") == "x *** y"
    context = MemoryContext("k")
    th.publish(part(unique("after refresh")), context)
    assert sent[-1].headers["Authorization"] == f"Bearer {new}"
    assert new not in repr(context.state)
    sandbox.faults.force("threads", Fault.ERROR)
    with pytest.raises(PlatformError) as caught:
        th.publish(part(unique("fails")), MemoryContext("k"))
    assert new not in f"{caught.value} {caught.value!r}"


def test_metrics_read_views_likes_replies_reposts_quotes_shares(
    th: ThreadsAccount, clock: Any, unique: Callable[[str], str]
) -> None:
    post = th.publish(part(unique("metrics")), MemoryContext("k"))
    clock.advance(timedelta(days=1))
    sample = th.fetch_metrics([post.remote_id])[post.remote_id]
    assert set(sample.values) == {"views", "likes", "replies", "reposts", "quotes", "shares"}
    assert sample.values["views"] > 0


# --- containers are published once FINISHED (issue 9) ----------------------------------


@pytest.fixture
def waits(th: ThreadsAccount, clock: Any, monkeypatch: pytest.MonkeyPatch) -> list[float]:
    """The adapter's pauses between status checks, made on the sandbox's clock (no sleep)."""
    made: list[float] = []

    def pause(seconds: float) -> None:
        made.append(seconds)
        clock.advance(timedelta(seconds=seconds))

    monkeypatch.setattr(th, "pause", pause, raising=False)
    return made


@pytest.fixture
def bucket(sandbox: RunningSandbox) -> Iterator[dict[str, Any]]:
    """The Threads stand-in's settings; what a test sets is removed afterwards."""
    settings: dict[str, Any] = sandbox.state.bucket("threads")
    before = dict(settings)
    yield settings
    for key in ("processing_seconds", "publish_lag_seconds", "failing_images"):
        if key in before:
            settings[key] = before[key]
        else:
            settings.pop(key, None)


def containers_with(sandbox: RunningSandbox, text: str) -> list[dict[str, Any]]:
    with sandbox.state.lock:
        found = sandbox.state.bucket("threads")["containers"].values()
        return [dict(c) for c in found if c["text"] == text]


def test_a_text_container_is_published_once_it_is_finished(
    th: ThreadsAccount,
    sandbox: RunningSandbox,
    bucket: dict[str, Any],
    waits: list[float],
    unique: Callable[[str], str],
    published: Callable[[], list[Any]],
) -> None:
    bucket["processing_seconds"] = 2.5  # publishing sooner answers 24/4279009
    text = unique("processed first")
    context = MemoryContext("k")
    post = th.publish(part(text), context)
    assert waits == [1.0, 2.0]  # IN_PROGRESS twice, then FINISHED
    [container] = containers_with(sandbox, text)
    assert container["media_id"] == post.remote_id
    assert [p["remote_id"] for p in published() if p["text"] == text] == [post.remote_id]


def test_still_processing_after_the_last_check_is_retried_with_the_same_container(
    th: ThreadsAccount,
    sandbox: RunningSandbox,
    bucket: dict[str, Any],
    waits: list[float],
    clock: Any,
    unique: Callable[[str], str],
    published: Callable[[], list[Any]],
) -> None:
    bucket["processing_seconds"] = 60
    text, context = unique("slow container"), MemoryContext("k")
    with pytest.raises(TransientError, match="still processing"):
        th.publish(part(text), context)
    assert waits == [1.0, 2.0, 4.0]  # bounded: never a wall-clock wait beyond these
    remembered = context.state["container_id"]
    assert [c["media_id"] for c in containers_with(sandbox, text)] == [None]
    clock.advance(timedelta(seconds=60))
    post = th.publish(part(text), context)  # the scheduler's retry
    [container] = containers_with(sandbox, text)
    assert context.state["container_id"] == remembered and container["media_id"] == post.remote_id
    assert [p["remote_id"] for p in published() if p["text"] == text] == [post.remote_id]


def test_media_not_found_right_after_finished_means_retry_later(
    th: ThreadsAccount,
    sandbox: RunningSandbox,
    bucket: dict[str, Any],
    waits: list[float],
    clock: Any,
    unique: Callable[[str], str],
) -> None:
    bucket["publish_lag_seconds"] = 20  # status FINISHED, threads_publish 24/4279009
    text, context = unique("not found yet"), MemoryContext("k")
    with pytest.raises(TransientError, match="not ready") as caught:
        th.publish(part(text), context)
    assert "4279009" in str(caught.value) and caught.value.status == 400
    assert not isinstance(caught.value, ContentRejected) and waits == []
    clock.advance(timedelta(seconds=21))
    post = th.publish(part(text), context)
    [container] = containers_with(sandbox, text)
    assert container["media_id"] == post.remote_id


def test_a_container_in_error_is_rejected_with_threads_reason(
    th: ThreadsAccount,
    sandbox: RunningSandbox,
    bucket: dict[str, Any],
    waits: list[float],
    unique: Callable[[str], str],
    published: Callable[[], list[Any]],
) -> None:
    image = Media("https://example.org/unreachable.jpg", "a map")
    bucket["failing_images"] = {image.src: "UNKNOWN"}
    text, context = unique("broken image"), MemoryContext("k")
    with pytest.raises(ContentRejected, match=r"could not process .*: UNKNOWN"):
        th.publish(part(text, media=(image,)), context)
    with pytest.raises(ContentRejected, match="UNKNOWN"):  # the retry: no second container
        th.publish(part(text, media=(image,)), context)
    assert len(containers_with(sandbox, text)) == 1 and waits == []
    assert not [p for p in published() if p["text"] == text]
