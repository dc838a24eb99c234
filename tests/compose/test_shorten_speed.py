"""The shortcuts split() and best_cut() take give the same cuts as computing everything:
a window's points read from the whole text's, and the galloping search from a hint."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from dissem.compose import shorten
from dissem.compose.counting import graphemes

PIECES = [
    "Kerja sama",
    "vokasi.",
    "Menteri!",
    "東京で会議。",
    "研修、協定、職業",
    "مرحبا بالعالم",
    "👨‍👩‍👧‍👦",
    "🇮🇩🇩🇪",
    "e\u0301",
    "\u0301x",
    "\u0600\u0661",
    "https://portal.go.id/a_(b)?x=1&y=2",
    "example.com/path",
    "#tagar",
    "@kemlu@mastodon.social",
    "(kurung)",
    "\n\n",
    "\u3000",
    "\x1c",
    "\u00a0",
    "- ",
    "—",
    "…",
]
_chars = st.characters(blacklist_categories=("Cs",))
_word = st.one_of(st.sampled_from(PIECES), st.text(_chars, min_size=1, max_size=8))
texts = st.lists(_word, max_size=80).map(" ".join)


@settings(max_examples=300, deadline=None)
@given(texts, st.data())
def test_a_window_has_the_points_of_the_whole_text_inside_it(
    text: str, data: st.DataObject
) -> None:
    text = text.strip()
    shared = shorten._Shared(text)
    starts = [0] + [i for i in range(1, len(text)) if text[i - 1].isspace()]
    start = data.draw(st.sampled_from(starts))
    ends = [i for i in range(start + 1, len(text)) if text[i].isspace()] + [len(text)]
    end = data.draw(st.sampled_from(ends))
    points = shared.window(start, end - start)
    if points is None:
        return
    own = shorten._Cuts(text[start:end])
    assert (points.word, points.sentence) == (own.word, own.sentence)
    assert own.spaced


@settings(max_examples=300, deadline=None)
@given(
    st.lists(st.integers(1, 400), min_size=1, max_size=60, unique=True).map(sorted),
    st.integers(0, 400),
    st.integers(0, 10),
    st.integers(0, 420),
)
def test_galloping_from_a_hint_finds_what_the_binary_search_finds(
    points: list[int], limit: int, empty: int, hint: int
) -> None:
    # a monotone fit (as every platform's length is), with a few empty candidates first
    def make(p: int) -> str:
        return "" if p <= empty else "x" * p

    def fits(t: str) -> bool:
        return len(t) <= limit

    asked: list[str] = []

    def counted(t: str) -> bool:
        asked.append(t)
        return fits(t)

    expected = shorten._last_fitting(points, make, fits)
    assert shorten._last_fitting(points, make, counted, hint) == expected
    assert len(asked) <= 2 * len(points).bit_length() + 2


def test_split_with_the_shared_points_cuts_a_long_body_the_same() -> None:
    body = " ".join(
        f"Kalimat nomor {i} tentang kerja sama, pelatihan dan https://portal.go.id/{i} #tag{i}."
        for i in range(200)
    )

    def fits(t: str) -> bool:
        return graphemes(t) <= 280

    chunks = shorten.split(body, fits, most=50)
    assert len(chunks) == 50
    # each chunk as split() cut it window by window before (no shared points)
    rest = body
    for chunk in chunks[:-1]:
        window = shorten._window(rest, fits, "")
        cut = shorten._cut_within(rest, window, fits, "")
        assert cut is not None and cut[0] == chunk
        rest = rest[cut[1] :]
