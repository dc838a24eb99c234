"""Telegram photos over real HTTP against the sandbox: an image URL goes as the URL, an
image from the config folder is uploaded as multipart/form-data (Telegram refuses a path
string as a file_id), and a photo that cannot be sent leaves the text to go alone."""

from __future__ import annotations

import logging
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import requests

from dissem.compose.types import Media, Part
from dissem.errors import ContentRejected
from dissem.platforms.base import MemoryContext, Platform
from dissem.platforms.telegram import TelegramPlatform
from dissem.sandbox import RunningSandbox
from dissem.sandbox.uploads import png
from dissem.settings import Settings

COVER = png(48, 27)
Published = Callable[[], list[dict[str, Any]]]


@pytest.fixture
def config_dir(tmp_path: Path) -> Path:
    folder = tmp_path / "config"
    (folder / "images").mkdir(parents=True)
    (folder / "images" / "cover.png").write_bytes(COVER)
    (folder / "images" / "broken.png").write_bytes(b"this is no picture at all")
    return folder


@pytest.fixture
def settings(sandbox: RunningSandbox, config_dir: Path) -> Settings:
    """The conftest settings with a config folder holding images (make_adapter uses it)."""
    return Settings(sandbox_url=sandbox.url, http_timeout=5.0, config_dir=config_dir)


@pytest.fixture
def tg(make_adapter: Callable[..., Platform]) -> TelegramPlatform:
    adapter = make_adapter("telegram")
    assert isinstance(adapter, TelegramPlatform)
    return adapter


@pytest.fixture
def sent(tg: TelegramPlatform) -> list[requests.PreparedRequest]:
    seen: list[requests.PreparedRequest] = []
    tg.session.hooks["response"].append(lambda r, *a, **k: seen.append(r.request))
    return seen


def part(text: str, src: str | None, index: int = 1, total: int = 1) -> Part:
    media = (Media(src, "a cover"),) if src else ()
    return Part(index=index, total=total, text=text, length=len(text), limit=1024, media=media)


def record(published: Published, chat_and_id: str) -> dict[str, Any]:
    return next(p for p in published() if p["remote_id"] == chat_and_id)


def test_a_config_folder_image_is_uploaded_as_multipart(
    tg: TelegramPlatform,
    sent: list[requests.PreparedRequest],
    published: Published,
    unique: Callable[[str], str],
) -> None:
    text = unique("Cover <b>story</b>")
    post = tg.publish(part(text, "images/cover.png"), MemoryContext("k"))
    row = record(published, f"@dissem_news/{post.remote_id}")
    [image] = row["images"]
    assert (image["mime"], image["size"]) == ("image/png", len(COVER))
    assert row["media"] == [image["ref"]] and row["text"] == text.replace("<b>", "").replace(
        "</b>", ""
    )
    [request] = sent
    assert request.path_url.endswith("/sendPhoto")
    assert str(request.headers["Content-Type"]).startswith("multipart/form-data; boundary=")
    body = request.body if isinstance(request.body, bytes) else b""
    assert b'name="photo"; filename="cover.png"' in body and COVER in body
    assert b'name="parse_mode"\r\n\r\nHTML' in body


def test_a_thread_part_with_a_local_image_replies_in_multipart(
    tg: TelegramPlatform, published: Published, unique: Callable[[str], str]
) -> None:
    """reply_parameters is an object: JSON-encoded inside the multipart body."""
    first = tg.publish(part(unique("part one"), None, 1, 2), MemoryContext("a"))
    second = tg.publish(
        part(unique("part two"), "images/cover.png", 2, 2), MemoryContext("b"), reply_to=first
    )
    row = record(published, f"@dissem_news/{second.remote_id}")
    assert row["reply_to"] == f"@dissem_news/{first.remote_id}" and row["images"]


def test_an_image_url_stays_a_url(
    tg: TelegramPlatform,
    sent: list[requests.PreparedRequest],
    published: Published,
    unique: Callable[[str], str],
) -> None:
    url = "https://portal.example/media/cover.jpg"
    post = tg.publish(part(unique("by URL"), url), MemoryContext("k"))
    assert record(published, f"@dissem_news/{post.remote_id}")["media"] == [url]
    assert sent[-1].headers["Content-Type"] == "application/json"


@pytest.mark.parametrize(
    ("src", "why"),
    [("images/broken.png", "IMAGE_PROCESS_FAILED"), ("images/missing.png", "no such file")],
)
def test_a_photo_that_cannot_be_sent_leaves_the_text_alone(
    tg: TelegramPlatform,
    sent: list[requests.PreparedRequest],
    published: Published,
    unique: Callable[[str], str],
    caplog: pytest.LogCaptureFixture,
    src: str,
    why: str,
) -> None:
    text = unique("text survives")
    with caplog.at_level(logging.WARNING, logger="dissem.platforms.media"):
        post = tg.publish(part(text, src), MemoryContext("k"))
    row = record(published, f"@dissem_news/{post.remote_id}")
    assert row["text"] == text and row["media"] == [] and row["images"] == []
    assert sent[-1].path_url.endswith("/sendMessage")
    assert why in caplog.text and src in caplog.text


def test_a_caption_refusal_is_not_blamed_on_the_photo(tg: TelegramPlatform) -> None:
    with pytest.raises(ContentRejected, match="can't parse entities"):
        tg.publish(part("<blink>bad</blink>", "images/cover.png"), MemoryContext("k"))
