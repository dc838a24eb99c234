"""Texts as platforms echo them back: the same up to whitespace and NFC, nothing more."""

from __future__ import annotations

import pytest

from dissem.platforms.text_match import comparable, same_text


@pytest.mark.parametrize(
    ("a", "b", "same"),
    [
        ("Hello  world\r\n", "Hello world", True),
        ("Caf\u00e9", "Cafe\u0301", True),  # NFC
        ("Hello world", "Hello world!", False),
    ],
)
def test_same_text(a: str, b: str, same: bool) -> None:
    assert same_text(a, b) is same
    assert (comparable(a) == comparable(b)) is same
