"""Telegram adapter specifics: photos with captions, HTML parsing, URLs, 404 tokens."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
import requests

from dissem.compose.types import Media, Part
from dissem.errors import AuthError, ContentRejected
from dissem.platforms.base import MemoryContext, Platform
from dissem.platforms.telegram import TelegramPlatform, _classify
from dissem.settings import Settings

MakeAdapter = Callable[..., Platform]


def part(text: str, media: tuple[Media, ...] = (), link: str | None = None) -> Part:
    return Part(index=1, total=1, text=text, length=len(text), limit=4096, media=media, link=link)


def test_a_part_with_an_image_is_a_photo_with_caption(
    make_adapter: MakeAdapter, unique: Callable[[str], str], published: Any
) -> None:
    t = make_adapter("telegram")
    text = unique("Caption <b>bold</b> &amp; more")
    post = t.publish(
        part(text, (Media("https://portal.example/p.jpg", "alt"),)), MemoryContext("k")
    )
    row = next(p for p in published() if p["remote_id"] == f"@dissem_news/{post.remote_id}")
    assert row["media"] == ["https://portal.example/p.jpg"]
    assert row["text"] == text.replace("<b>", "").replace("</b>", "").replace("&amp;", "&")


def test_bad_markup_and_long_captions_are_rejected(
    make_adapter: MakeAdapter, unique: Callable[[str], str]
) -> None:
    t = make_adapter("telegram")
    with pytest.raises(ContentRejected, match="can't parse entities"):
        t.publish(part(unique("<blink>no</blink>")), MemoryContext("a"))
    with pytest.raises(ContentRejected, match="caption is too long"):
        t.publish(part("c" * 1025, (Media("https://x.example/i.jpg"),)), MemoryContext("b"))


def test_markup_does_not_count_towards_the_limit(
    make_adapter: MakeAdapter, unique: Callable[[str], str]
) -> None:
    t = make_adapter("telegram")
    text = "<b>" + "a" * 4000 + "</b> " + unique("")
    assert t.publish(part(text, link="https://portal.example/a"), MemoryContext("c")).remote_id


def test_message_urls() -> None:
    from dissem.config.models import Channel

    def url(account: str) -> str | None:
        channel = Channel(name="tg", platform="telegram", account=account, timezone="UTC")
        return TelegramPlatform(channel, {"bot_token": "1:tok"}, Settings()).message_url("42")

    assert url("@news") == "https://t.me/news/42"
    assert url("-1001234567") == "https://t.me/c/1234567/42"
    assert url("12345") is None


def test_not_found_means_a_bad_token() -> None:
    response = requests.Response()
    response.status_code = 404
    response._content = b'{"ok":false,"error_code":404,"description":"Not Found"}'
    error = _classify(response)
    assert isinstance(error, AuthError)
    assert "Not Found" in str(error)
