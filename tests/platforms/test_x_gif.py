"""A GIF on X over real HTTP against the sandbox: the chunked upload (the one-shot upload
refuses GIFs), waiting for X to process it within bounds, resuming an upload still being
processed on the next try, and dropping a GIF X cannot process (the text still goes out)."""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
import requests

from dissem.compose.types import Media, Part
from dissem.errors import TransientError
from dissem.platforms.base import MemoryContext, Platform
from dissem.platforms.x import XPlatform
from dissem.platforms.x_media import GIF_STATE_KEY, SEGMENT_BYTES, WAIT_LIMIT
from dissem.sandbox import RunningSandbox
from dissem.settings import Settings

MakeAdapter = Callable[..., Platform]
Published = Callable[[], list[dict[str, Any]]]
ALT = "A flag waving over the embassy"
MEDIA_LOG = "dissem.platforms.media"


def gif(size: int) -> bytes:
    """Bytes that are a GIF by their signature, ``size`` long."""
    return (b"GIF89a" + bytes(range(256)) * (size // 256 + 1))[:size]


@pytest.fixture
def config_dir(tmp_path: Path) -> Path:
    folder = tmp_path / "config"
    (folder / "images").mkdir(parents=True)
    (folder / "images" / "flag.gif").write_bytes(gif(20_000))
    (folder / "images" / "broken.gif").write_bytes(b"\x00not a gif at all" * 10)
    return folder


@pytest.fixture
def settings(sandbox: RunningSandbox, config_dir: Path) -> Settings:
    return Settings(sandbox_url=sandbox.url, http_timeout=5.0, config_dir=config_dir)


@pytest.fixture
def x_bucket(sandbox: RunningSandbox) -> Iterator[dict[str, Any]]:
    bucket: dict[str, Any] = sandbox.state.bucket("x")
    yield bucket
    bucket.pop("gif_processing_seconds", None)


@pytest.fixture
def x(make_adapter: MakeAdapter, clock: Any) -> XPlatform:
    """The X adapter on the sandbox's clock; its waits move that clock (and are recorded)."""
    adapter = make_adapter("x")
    assert isinstance(adapter, XPlatform)
    adapter.clock = clock
    waits: list[float] = []

    def sleep(seconds: float) -> None:
        waits.append(seconds)
        clock.advance(timedelta(seconds=seconds))

    adapter.pause = sleep  # type: ignore[method-assign]
    adapter.waits = waits  # type: ignore[attr-defined]
    return adapter


@pytest.fixture
def calls(x: XPlatform) -> list[str]:
    """``METHOD path`` of every media call the adapter makes."""
    seen: list[str] = []

    def hook(response: requests.Response, *args: Any, **kwargs: Any) -> None:
        url = (response.request.url or "").split("/x/2/", 1)[-1]
        if url.startswith("media/"):
            seen.append(f"{response.request.method} {url.split('?')[0]}")

    x.session.hooks["response"].append(hook)
    return seen


def part(text: str, src: str = "images/flag.gif") -> Part:
    return Part(index=1, total=1, text=text, length=len(text), limit=280, media=(Media(src, ALT),))


def posted(published: Published, text: str) -> dict[str, Any]:
    [post] = [p for p in published() if p["platform"] == "x" and p["text"] == text]
    return post


def test_a_gif_goes_up_in_chunks_with_its_alt_text(
    x: XPlatform, calls: list[str], unique: Callable[[str], str], published: Published
) -> None:
    text = unique("a gif")
    remote = x.publish(part(text), MemoryContext(text))
    post = posted(published, text)
    assert post["remote_id"] == remote.remote_id
    [image] = post["images"]
    assert (image["mime"], image["alt"], image["size"]) == ("image/gif", ALT, 20_000)
    media_id = image["ref"]
    assert calls == [
        "POST media/upload/initialize",
        f"POST media/upload/{media_id}/append",
        f"POST media/upload/{media_id}/finalize",
        "POST media/metadata",
    ]


def test_a_gif_above_the_image_cap_goes_in_several_segments(
    x: XPlatform,
    calls: list[str],
    unique: Callable[[str], str],
    published: Published,
    config_dir: Path,
) -> None:
    size = 2 * SEGMENT_BYTES + 1000  # over X's 5 MB for images, under its 15 MB for GIFs
    (config_dir / "images" / "big.gif").write_bytes(gif(size))
    text = unique("a big gif")
    x.publish(part(text, "images/big.gif"), MemoryContext(text))
    [image] = posted(published, text)["images"]
    assert image["size"] == size
    assert sum(c.endswith("/append") for c in calls) == 3


def test_processing_is_waited_for_as_x_asks_within_bounds(
    x: XPlatform,
    calls: list[str],
    unique: Callable[[str], str],
    published: Published,
    x_bucket: dict[str, Any],
) -> None:
    x_bucket["gif_processing_seconds"] = 3
    text = unique("a gif being processed")
    x.publish(part(text), MemoryContext(text))
    assert posted(published, text)["images"][0]["mime"] == "image/gif"
    assert x.waits == [1.0, 1.0, 1.0]  # type: ignore[attr-defined]
    assert calls.count("GET media/upload") == 3  # STATUS after each wait


def test_a_gif_still_processing_is_kept_for_the_next_try_not_uploaded_again(
    x: XPlatform,
    calls: list[str],
    unique: Callable[[str], str],
    published: Published,
    x_bucket: dict[str, Any],
    clock: Any,
) -> None:
    x_bucket["gif_processing_seconds"] = 60
    text = unique("a slow gif")
    ctx = MemoryContext(text)
    with pytest.raises(TransientError, match="still being processed"):
        x.publish(part(text), ctx)
    assert GIF_STATE_KEY in ctx.state and sum(x.waits) <= WAIT_LIMIT  # type: ignore[attr-defined]
    assert [p for p in published() if p["text"] == text] == []
    clock.advance(timedelta(seconds=60))  # the scheduler's backoff
    x.publish(part(text), ctx)
    assert posted(published, text)["images"][0]["mime"] == "image/gif"
    assert calls.count("POST media/upload/initialize") == 1


def test_a_gif_x_cannot_process_is_dropped_and_the_text_goes_out(
    x: XPlatform,
    unique: Callable[[str], str],
    published: Published,
    caplog: pytest.LogCaptureFixture,
) -> None:
    text = unique("a broken gif")
    with caplog.at_level(logging.WARNING, logger=MEDIA_LOG):
        x.publish(part(text, "images/broken.gif"), MemoryContext(text))
    assert posted(published, text)["images"] == []
    [warning] = [r.getMessage() for r in caplog.records if r.name == MEDIA_LOG]
    assert "X could not process the GIF (InvalidMedia: Unsupported image format)" in warning


def test_a_gif_x_never_finishes_is_dropped_after_the_processing_limit(
    x: XPlatform,
    unique: Callable[[str], str],
    published: Published,
    x_bucket: dict[str, Any],
    clock: Any,
    caplog: pytest.LogCaptureFixture,
) -> None:
    x_bucket["gif_processing_seconds"] = 3 * 3600
    text = unique("a gif that never finishes")
    ctx = MemoryContext(text)
    with pytest.raises(TransientError):
        x.publish(part(text), ctx)
    clock.advance(timedelta(minutes=16))
    with caplog.at_level(logging.WARNING, logger=MEDIA_LOG):
        x.publish(part(text), ctx)
    assert posted(published, text)["images"] == []
    assert "has not finished processing the GIF in 15 minutes" in caplog.text
