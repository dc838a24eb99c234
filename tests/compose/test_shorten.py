"""Cutting text at sentence, word and cluster boundaries, never inside protected spans."""

from __future__ import annotations

import sys

import pytest
import regex
from hypothesis import given, settings
from hypothesis import strategies as st

from dissem.compose import shorten as shorten_module
from dissem.compose.shorten import ELLIPSIS, best_cut, graphemes, shorten, split, truncate_graphemes


def under(n: int):  # type: ignore[no-untyped-def]
    """Fits when the text has at most ``n`` grapheme clusters."""
    return lambda text: len(graphemes(text)) <= n


def test_text_that_fits_is_untouched() -> None:
    assert shorten("Pendek saja.", under(12)) == "Pendek saja."


def test_sentence_cut_preferred_when_it_keeps_enough() -> None:
    text = "Pertama kalimat ini cukup. Kedua kalimat agak panjang sekali."
    assert shorten(text, under(40)) == "Pertama kalimat ini cukup."


def test_word_cut_with_ellipsis_when_the_sentence_is_too_short() -> None:
    text = "Ya. Kalimat kedua ini jauh lebih panjang daripada yang pertama."
    out = shorten(text, under(30))
    assert out.endswith(ELLIPSIS) and len(graphemes(out)) <= 30
    assert out == "Ya. Kalimat kedua ini jauh…"


def test_trailing_punctuation_goes_before_the_ellipsis() -> None:
    assert shorten("satu, dua, tiga, empat, lima", under(11)) == "satu, dua…"


@pytest.mark.parametrize(
    ("text", "limit", "expected"),
    [
        # a URL is kept whole or left out, never cut
        ("baca https://portal.go.id/berita/panjang-sekali ya", 30, "baca…"),
        # a hashtag and a mention likewise
        ("kata #KerjaSamaVokasiIndonesia lagi", 20, "kata…"),
        ("halo @kemlu_ri@mastodon.social apa kabar", 20, "halo…"),
        # no spaces (Japanese): cut at a cluster, after the sentence end if it keeps enough
        ("東京は晴れです。大阪は雨が降っています。", 12, "東京は晴れです。"),
        ("東京は晴れです大阪は雨が降っています", 6, "東京は晴れ…"),
    ],
)
def test_protected_spans_and_scripts(text: str, limit: int, expected: str) -> None:
    assert shorten(text, under(limit)) == expected


@pytest.mark.parametrize(
    "cluster",
    [
        "👨‍👩‍👧‍👦",  # ZWJ family
        "🇮🇩",  # flag (two regional indicators)
        "👍🏽",  # skin tone
        "e\u0301",  # combining acute (not NFC-composable here on purpose)
        "한",  # Hangul syllable as conjoining jamo
    ],
)
def test_never_splits_a_cluster(cluster: str) -> None:
    text = cluster * 20
    fits_in = under(7)
    out = shorten(text, fits_in)
    body = out.removesuffix(ELLIPSIS)
    assert set(graphemes(body)) == {cluster}
    assert fits_in(out)


def test_nothing_fits_gives_empty() -> None:
    assert shorten("https://portal.go.id/a/b/c", under(5)) == ""
    assert best_cut("kata", under(0)) is None


def test_best_cut_says_where_the_rest_starts() -> None:
    text = "Satu dua tiga. Empat lima enam tujuh delapan."
    kept, rest = best_cut(text, under(16)) or ("", 0)
    assert kept == "Satu dua tiga."
    assert text[rest:] == "Empat lima enam tujuh delapan."


def test_split_keeps_every_word_in_order() -> None:
    text = " ".join(f"kata{i}" for i in range(60))
    chunks = split(text, under(50))
    assert all(len(graphemes(c)) <= 50 for c in chunks)
    assert " ".join(chunks).split() == text.split()


def test_split_drops_a_unit_that_fits_nowhere() -> None:
    url = "https://portal.go.id/" + "a" * 80
    assert split(f"awal {url} akhir", under(20)) == ["awal", "akhir"]


def test_truncate_graphemes() -> None:
    assert truncate_graphemes("🇮🇩🇩🇪🇯🇵", 2) == "🇮🇩…"
    assert truncate_graphemes("abc", 3) == "abc"


def test_clause_comma_in_text_without_spaces() -> None:
    text = "バティック体験、ガムラン演奏、インドネシア料理。"
    assert shorten(text, under(12)) == "バティック体験…"
    # no clause end fits: cut between clusters
    assert shorten("バティック体験ガムラン演奏", under(5)) == "バティッ…"


def test_word_ends_use_the_whitespace_of_the_regex_module() -> None:
    space = regex.compile(r"\s")
    # every whitespace character of either engine is below U+3001; above, a sample
    for code in [*range(0x3001), *range(0x3001, sys.maxunicode + 1, 97)]:
        char = chr(code)
        expected = bool(space.match(char))
        assert bool(shorten_module._WORD_END.match("a" + char)) == expected, hex(code)
        assert bool(shorten_module._WORD_END.match(char + " ")) == (not expected), hex(code)


def test_the_same_text_cut_for_a_second_channel_reuses_its_cut_positions() -> None:
    text = "Kerja sama vokasi diperluas. " * 30
    shorten_module._cuts.cache_clear()
    first = best_cut(text, lambda t: len(t) <= 280)
    before = shorten_module._cuts.cache_info()
    second = best_cut(text, lambda t: len(t) <= 300)
    after = shorten_module._cuts.cache_info()
    assert after.hits == before.hits + 1 and after.misses == before.misses
    assert first is not None and second is not None
    assert first[0] == text[: first[1]].rstrip() and len(first[0]) <= 280
    assert second[0] == text[: second[1]].rstrip() and len(second[0]) <= 300


@settings(max_examples=200, deadline=None)
@given(
    text=st.lists(
        st.sampled_from(["a", " ", "e\u0301", "🇮🇩", "👨‍👩‍👧", "日", "\u0301"]), max_size=12
    ).map("".join),
    most=st.integers(min_value=0, max_value=14),
)
def test_truncate_graphemes_keeps_at_most_that_many_clusters(text: str, most: int) -> None:
    clusters = regex.findall(r"\X", text)
    expected = text if len(clusters) <= most else "".join(clusters[: max(0, most - 1)]) + ELLIPSIS
    assert truncate_graphemes(text, most) == expected
