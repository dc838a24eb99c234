"""Terminal text for the demo's table: cells (wide CJK and emoji take two), padding that
keeps columns aligned, titles shortened at a word boundary with an ellipsis, and Telegram's
HTML read as text."""

from __future__ import annotations

import unicodedata

from hypothesis import given, settings
from hypothesis import strategies as st

from dissem.worker.terminal import ELLIPSIS, cells, html_to_text, pad, shorten

WORDS = st.lists(
    st.text(
        alphabet=st.sampled_from(list("abcdefghij,.:") + list("海外在住インドネシア") + ["😀"]),
        min_size=1,
        max_size=12,
    ),
    min_size=1,
    max_size=12,
).map(" ".join)


def test_cells_count_wide_characters_twice_and_marks_not_at_all() -> None:
    assert cells("abc") == 3
    assert cells("海外在住") == 8
    assert cells("😀") == 2
    assert cells("e\u0301") == 1  # e + combining acute
    assert cells("❤\ufe0f") == 1 + 0


def test_pad_aligns_columns_with_cjk_and_emoji() -> None:
    rows = ["hq-x", "海外在住インドネシア", "news 😀 today"]
    width = max(cells(r) for r in rows)
    assert len({cells(pad(r, width)) for r in rows}) == 1
    assert pad("abcdef", 3) == "abcdef"


def test_shorten_cuts_at_a_word_boundary_never_mid_word() -> None:
    title = "Pernyataan Pers: Kemlu buka hotline 24 jam untuk perlindungan WNI"
    out = shorten(title, 40)
    assert out == "Pernyataan Pers: Kemlu buka hotline 24…"
    assert shorten("short title", 40) == "short title"
    # Japanese has no spaces: every character's edge is a boundary; never over the width
    jp = shorten("海外在住インドネシア国民のための在外公館への在留届ガイド", 20)
    assert jp.endswith(ELLIPSIS) and cells(jp) <= 20
    # trailing punctuation does not sit before the ellipsis
    assert shorten("Guide: registering with an Indonesian mission", 12) == "Guide…"


@settings(max_examples=300, deadline=None)
@given(text=WORDS, width=st.integers(min_value=1, max_value=60))
def test_shorten_properties(text: str, width: int) -> None:
    out = shorten(text, width)
    normal = " ".join(text.split())
    assert cells(out) <= width
    if cells(normal) <= width:
        assert out == normal
        return
    assert out.endswith(ELLIPSIS)
    kept = out[: -len(ELLIPSIS)]
    if not kept:
        return
    assert normal.startswith(kept)
    rest = normal[len(kept) :]
    first_word = normal.split(" ")[0]
    at_space = rest.startswith(" ") or rest == ""
    wide_edge = unicodedata.east_asian_width(kept[-1]) in "WF" or (
        rest and unicodedata.east_asian_width(rest[0]) in "WF"
    )
    punct_dropped = rest[:1] and unicodedata.category(rest[0]).startswith("P")
    # a cut inside a word only when that word alone is wider than the whole width
    inside_only_word = " " not in kept and cells(first_word) > width - 1
    assert at_space or wide_edge or punct_dropped or inside_only_word, (kept, rest)


def test_html_to_text_reads_telegram_markup() -> None:
    assert html_to_text("<b>Darurat &amp; evakuasi</b><br>baris") == "Darurat & evakuasi\nbaris"
    assert html_to_text("<a href='https://x.example'>tautan</a> &lt;b&gt;") == "tautan <b>"
