"""Escaping for Telegram HTML and LinkedIn's little format."""

from __future__ import annotations

import pytest

from dissem.compose.escape import (
    escape_for,
    escape_linkedin,
    escape_telegram_html,
    telegram_html,
)


@pytest.mark.parametrize(
    ("text", "escaped"),
    [
        ("a & b", "a &amp; b"),
        ("<b>x</b>", "&lt;b&gt;x&lt;/b&gt;"),
        ("&lt;", "&amp;lt;"),  # literal text is escaped once: it shows as "&lt;"
        ("AT&T > 3 < 4", "AT&amp;T &gt; 3 &lt; 4"),
        ('"quotes" stay', '"quotes" stay'),
    ],
)
def test_telegram_escape(text: str, escaped: str) -> None:
    assert escape_telegram_html(text) == escaped


def test_telegram_bold_title_is_escaped_inside() -> None:
    out = telegram_html("R&D <baru>\n\nisi & lain", bold="R&D <baru>")
    assert out == "<b>R&amp;D &lt;baru&gt;</b>\n\nisi &amp; lain"


def test_telegram_escapes_urls_too() -> None:
    out = escape_for("telegram", "https://p.id/a?x=1&y=2")
    assert out == "https://p.id/a?x=1&amp;y=2"


@pytest.mark.parametrize(
    ("text", "escaped"),
    [
        ("a\\b", "a\\\\b"),
        ("(x) [y] {z} <w>", "\\(x\\) \\[y\\] \\{z\\} \\<w\\>"),
        ("a|b*c_d~e@f", "a\\|b\\*c\\_d\\~e\\@f"),
        ("\\(", "\\\\\\("),  # backslash first: neither character is escaped twice
        ("no specials: äöü 東京 🇮🇩", "no specials: äöü 東京 🇮🇩"),
    ],
)
def test_linkedin_escape(text: str, escaped: str) -> None:
    assert escape_linkedin(text) == escaped


def test_linkedin_keeps_urls_and_hashtags() -> None:
    text = "Baca (lengkap): https://id.wikipedia.org/wiki/A_(b)?utm_source=x #KerjaSama @kemlu"
    out = escape_for("linkedin", text)
    assert out == (
        "Baca \\(lengkap\\): https://id.wikipedia.org/wiki/A_(b)?utm_source=x #KerjaSama \\@kemlu"
    )


def test_linkedin_kept_spans_may_overlap() -> None:
    assert escape_linkedin("x_(y)_z", [(1, 5), (3, 6)]) == "x_(y)_z"


def test_other_platforms_are_plain() -> None:
    for platform in ("x", "mastodon", "bluesky", "threads", "facebook", "instagram"):
        assert escape_for(platform, "a & <b> (c) #d") == "a & <b> (c) #d"


def test_linkedin_keeps_the_given_link_even_on_an_unknown_tld() -> None:
    link = "https://www.kemlu.example/a_b?utm_source=linkedin&utm_content=hq_li"
    out = escape_for("linkedin", f"Baca_ini {link}", links=(link,))
    assert out == f"Baca\\_ini {link}"
