"""Instagram takes JPEG only: the adapter reads an image's first bytes and refuses a PNG or
WebP before any container is made; what it cannot read is left to Meta, whose refusal
(subcode 2207005) says how to fix it. Over real HTTP against the sandbox."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
import requests

from dissem.compose.types import Media, Part
from dissem.errors import ContentRejected
from dissem.platforms.base import MemoryContext, Platform
from dissem.platforms.instagram import InstagramAccount
from dissem.sandbox import RunningSandbox


def part(text: str, src: str) -> Part:
    media = (Media(src, "a picture"),)
    return Part(index=1, total=1, text=text, length=len(text), limit=2200, media=media)


@pytest.fixture
def ig(make_adapter: Callable[..., Platform]) -> InstagramAccount:
    adapter = make_adapter("instagram")
    assert isinstance(adapter, InstagramAccount)
    return adapter


@pytest.fixture
def calls(ig: InstagramAccount) -> list[requests.PreparedRequest]:
    seen: list[requests.PreparedRequest] = []
    ig.session.hooks["response"].append(lambda r, *a, **k: seen.append(r.request))
    return seen


def containers_of(sandbox: RunningSandbox, text: str) -> list[dict[str, Any]]:
    with sandbox.state.lock:
        found = sandbox.state.bucket("instagram").get("containers", {}).values()
        return [dict(c) for c in found if c["text"] == text]


def test_a_png_it_can_read_is_refused_before_any_container(
    ig: InstagramAccount,
    sandbox: RunningSandbox,
    calls: list[requests.PreparedRequest],
    unique: Callable[[str], str],
) -> None:
    text = unique("PNG poster")
    png_url = f"{sandbox.url}/_sandbox/static/sample.png"  # PNG bytes on this machine
    with pytest.raises(ContentRejected, match="is PNG; Instagram takes JPEG images only"):
        ig.publish(part(text, png_url), MemoryContext("k"))
    assert containers_of(sandbox, text) == []
    # the image was read (it is PNG) by the guarded fetch, not the platform session: the
    # session sent nothing at all to Graph
    assert calls == []


@pytest.mark.parametrize("src", ["https://example.org/poster.png", "https://example.org/a.webp"])
def test_metas_refusal_of_another_format_says_jpeg(
    ig: InstagramAccount, sandbox: RunningSandbox, unique: Callable[[str], str], src: str
) -> None:
    """An image this machine cannot read (sandbox mode: off this machine) goes to Meta,
    which refuses it with code 36001 / subcode 2207005; nothing is published."""
    text = unique("Meta judges")
    context = MemoryContext("k")
    with pytest.raises(ContentRejected, match="JPEG") as caught:
        ig.publish(part(text, src), context)
    assert "2207005" in str(caught.value) and caught.value.status == 400
    assert containers_of(sandbox, text) == [] and context.state == {}


def test_an_image_it_cannot_read_is_left_to_meta(
    ig: InstagramAccount, sandbox: RunningSandbox, unique: Callable[[str], str]
) -> None:
    text = unique("unreadable here")
    src = f"{sandbox.url}/_sandbox/static/missing.jpg"  # 404 here; Meta may reach it
    post = ig.publish(part(text, src), MemoryContext("k"))
    [container] = containers_of(sandbox, text)
    assert container["image_url"] == src and container["media_id"] == post.remote_id


def test_a_jpeg_url_is_published(
    ig: InstagramAccount, sandbox: RunningSandbox, unique: Callable[[str], str]
) -> None:
    text = unique("JPEG poster")
    post = ig.publish(part(text, "https://example.org/poster.jpg"), MemoryContext("k"))
    assert [c["media_id"] for c in containers_of(sandbox, text)] == [post.remote_id]
