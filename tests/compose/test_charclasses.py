"""The stdlib classes the measuring scans use: exactly the ``regex`` properties they stand
for in the BMP, and a superset of them above it."""

from __future__ import annotations

import re

import regex
from hypothesis import given, settings
from hypothesis import strategies as st

from dissem.compose import charclasses, counting, twitter_text

EVERY = "".join(map(chr, range(0x110000)))


def _set_of(pattern: regex.Pattern[str] | re.Pattern[str]) -> set[int]:
    """Every code point inside a match of ``pattern`` (a class, or a run of one)."""
    return {c for m in pattern.finditer(EVERY) for c in range(*m.span())}


def _bmp(points: set[int]) -> set[int]:
    return {c for c in points if c < 0x10000}


def test_joiners_class_matches_the_grapheme_break_properties() -> None:
    expected = _set_of(regex.compile(charclasses.SOURCES["JOINERS"], regex.V1))
    assert _set_of(re.compile(f"[{charclasses.JOINERS}]")) == _bmp(expected)
    scanned = _set_of(counting._JOINERS)
    # CR is a joiner for counting (CR LF is one cluster); every astral character is scanned
    assert _bmp(scanned) == _bmp(expected) | {ord("\r")}
    assert scanned >= expected
    assert scanned - _bmp(scanned) == set(range(0x10000, 0x110000))


def test_emoji_class_matches_the_emoji_property() -> None:
    expected = _set_of(regex.compile(charclasses.SOURCES["EMOJI"], regex.V1))
    assert _set_of(re.compile(f"[{charclasses.EMOJI}]")) == _bmp(expected)
    scanned = _set_of(twitter_text._MAYBE_EMOJI)
    assert _bmp(scanned) == _bmp(expected)
    assert scanned >= expected


def test_generator_spells_out_the_literals() -> None:
    for name, source in charclasses.SOURCES.items():
        literal = charclasses.spelt_out(source).encode().decode("unicode_escape")
        assert literal == getattr(charclasses, name), name


def test_emoji_run_class_matches_the_emoji_properties() -> None:
    expected = _set_of(regex.compile(charclasses.SOURCES["EMOJI_RUN"], regex.V1))
    assert _set_of(re.compile(f"[{charclasses.EMOJI_RUN}]")) == _bmp(expected)
    scanned = _set_of(twitter_text._EMOJI_RUN)
    assert _bmp(scanned) == _bmp(expected)
    assert scanned - _bmp(scanned) == set(range(0x10000, 0x110000))


@settings(max_examples=300, deadline=None)
@given(
    text=st.lists(
        st.sampled_from(
            [
                "a",
                "1",
                "#",
                " ",
                "\u20e3",
                "\ufe0f",
                "\ufe0e",
                "\u200d",
                "\u2764",
                "\u00a9",
                "\U0001f468",
                "\U0001f3fd",
                "\U0001f1ee",
                "\U0001f1e9",
                "\U0001d400",
                "\U00020000",
                "\U0001f3f4",
                "\U000e0067",
                "\U000e007f",
                "日",
            ]
        ),
        max_size=20,
    ).map("".join)
)
def test_emoji_sequences_are_those_of_the_exact_runs(text: str) -> None:
    exact = regex.compile(r"[\p{Emoji}\p{Emoji_Component}\uFE0E]+")
    expected = [
        m.span()
        for run in exact.finditer(text)
        if not run.group().isascii()
        for m in twitter_text._EMOJI.finditer(text, *run.span())
    ]
    assert twitter_text.find_emoji(text) == expected
