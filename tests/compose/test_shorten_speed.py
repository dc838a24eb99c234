"""The shortcuts composing takes decide as the full work would: the galloping search
from a hint finds the cut the binary search finds, and a meter's bound never says a
text fits that counting refuses."""

from __future__ import annotations

from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from dissem.compose import counting, shorten
from dissem.compose.composer import Meter
from dissem.config.models import PLATFORMS, Channel

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


_channel_specs = st.fixed_dictionaries(
    {
        "platform": st.sampled_from(PLATFORMS),
        "max_length": st.sampled_from([None, 5, 40, 200, 1000]),
        "url_length": st.sampled_from([None, 10, 23, 40]),
    }
)


@settings(max_examples=400, deadline=None)
@given(texts, _channel_specs, st.sampled_from(["", "CW 🔥", "x" * 30]), st.booleans())
def test_the_meter_shortcut_agrees_with_counting(
    text: str, spec: dict[str, Any], spoiler: str, caption: bool
) -> None:
    channel = Channel.model_validate(
        {"name": "c", "account": "a", "timezone": "UTC", **{k: v for k, v in spec.items() if v}}
    )
    meter = Meter(channel, spoiler_text=spoiler, caption=caption)
    expected = bool(text) and counting.fits(
        channel.platform,
        text,
        max_length=meter.limit,
        url_length=channel.url_length,
        spoiler_text=spoiler,
        kind="caption" if caption else "text",
    )
    assert meter.fits(text) == expected
    if text:
        assert meter._quick(text) in (None, expected)
