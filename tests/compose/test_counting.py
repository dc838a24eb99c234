"""Per-platform counting: tables of cases per platform, limits, and properties."""

from __future__ import annotations

import unicodedata

import pytest
import regex
from hypothesis import given, settings
from hypothesis import strategies as st

import dissem
from dissem.compose.counting import (
    PLATFORMS,
    bluesky_bytes,
    distinct_links,
    fits,
    graphemes,
    limit,
    measure,
    measure_mastodon,
    telegram_caption_limit,
    telegram_visible_text,
)

FAMILY = "\U0001f468\u200d\U0001f469\u200d\U0001f467\u200d\U0001f466"  # 7 code points, 25 bytes
FLAG_ID = "\U0001f1ee\U0001f1e9"
THUMB_TONE = "\U0001f44d\U0001f3fd"
KEYCAP_1 = "1\ufe0f\u20e3"
HEART = "\u2764\ufe0f"
SCOTLAND = "\U0001f3f4\U000e0067\U000e0062\U000e0073\U000e0063\U000e0074\U000e007f"
GRIN = "\U0001f600"
WIKI = "https://en.wikipedia.org/wiki/Foo_(bar)"


def test_public_names_are_reexported() -> None:
    assert dissem.measure is measure
    assert dissem.limit is limit


@pytest.mark.parametrize(
    ("platform", "expected"),
    [
        ("x", 280),
        ("mastodon", 500),
        ("bluesky", 300),
        ("facebook", 63206),
        ("instagram", 2200),
        ("threads", 500),
        ("linkedin", 3000),
        ("telegram", 4096),
    ],
)
def test_limits(platform: str, expected: int) -> None:
    assert limit(platform) == expected
    assert limit(platform, "caption") == (1024 if platform == "telegram" else expected)


def test_telegram_caption_limit() -> None:
    assert telegram_caption_limit() == 1024


@pytest.mark.parametrize("call", [measure, fits])
def test_unknown_platform_names_the_valid_ones(call: object) -> None:
    with pytest.raises(ValueError) as raised:
        call("myspace", "hello")  # type: ignore[operator]
    for name in PLATFORMS:
        assert name in str(raised.value)
    with pytest.raises(ValueError, match="myspace"):
        limit("myspace")
    with pytest.raises(ValueError, match="kind"):
        limit("x", "story")  # type: ignore[arg-type]


X_CASES = [
    ("", 0),
    ("hello", 5),
    ("日" * 140, 280),
    ("see example.com and t.co/x", 55),
    ("Kementerian Luar Negeri RI", 26),
    ("مرحبا بالعالم", 13),  # Arabic letters are in U+0000-U+10FF
    ("안녕하세요", 10),
    ("\u1100\u1161", 2),  # conjoining jamo compose (NFC) into one syllable, U+AC00
    ("e\u0301", 1),  # NFC: é
    ("q\u0301", 2),  # no precomposed form: q + combining acute, both light
    (FAMILY, 2),
    (FLAG_ID, 2),
    (KEYCAP_1, 2),
    (THUMB_TONE, 2),
    (HEART, 2),
    (SCOTLAND, 2),
    ("\u00a9", 2),  # © is an emoji (twemoji) though its code point is light
    ("\u00a9\ufe0e", 3),  # ... unless FE0E asks for text: 1 + 2
    ("\u2014 \u201cq\u201d", 5),  # general punctuation in the light ranges
    ("\u2026", 2),  # U+2026 is not
    (f"Baca {WIKI} sekarang", 5 + 23 + 9),
    ("https://example.com/a?b=1&c=2#top ok", 23 + 3),
    ("https://example.com/path.", 24),  # the trailing dot is text
    ("www.kemlu.go.id/portal", 23),
    ("example.comx", 12),  # not a TLD: counted as written
    ("https://日本語.jp/記事", 23 + 4),  # CJK path stays outside the link
]


@pytest.mark.parametrize(("text", "expected"), X_CASES)
def test_x_weighted_length(text: str, expected: int) -> None:
    assert measure("x", text) == expected


@pytest.mark.parametrize(
    ("text", "fits_x"),
    [
        ("a" * 280, True),
        ("a" * 281, False),
        ("日" * 140, True),
        ("日" * 141, False),
        (FAMILY * 140, True),
        (FAMILY * 141, False),
        ("a" * 256 + " https://example.com/" + "p" * 200, True),  # 256 + 1 + 23
        ("a" * 257 + " https://example.com/" + "p" * 200, False),
        ("ok\ufffe", False),  # X rejects U+FFFE, U+FEFF, U+FFFF
    ],
)
def test_x_fits(text: str, fits_x: bool) -> None:
    assert fits("x", text) is fits_x


def test_x_max_length_override() -> None:
    assert not fits("x", "a" * 300)
    assert fits("x", "a" * 300, max_length=25000)


MASTODON_CASES = [
    ("hello", 5),
    ("example.com", 11),  # a bare domain counts as written
    ("x https://example.com/a/very/long/path/that/goes/on?and=on", 2 + 23),
    (f"read {WIKI}", 5 + 23),
    ("@alice@mastodon.social hello", len("@alice hello")),
    ("@alice hello", 12),
    ("mail me: alice@example.org", 26),  # an e-mail address is not a mention
    (FAMILY, 1),
    (FLAG_ID + "\U0001f1ef\U0001f1f5", 2),
    ("e\u0301", 1),
    ("\u1112\u1161\u11ab", 1),  # conjoining jamo: one grapheme
    ("한국어", 3),
    ("日本語", 3),
]


@pytest.mark.parametrize(("text", "expected"), MASTODON_CASES)
def test_mastodon_measure(text: str, expected: int) -> None:
    assert measure("mastodon", text) == expected


def test_mastodon_options() -> None:
    assert measure_mastodon("https://example.com", url_length=30) == 30
    assert measure_mastodon("abc", spoiler_text="CW: x") == 8
    # A content warning counts against the same limit.
    assert fits("mastodon", "a" * 495, spoiler_text="12345")
    assert not fits("mastodon", "a" * 495, spoiler_text="123456")
    # Server-specific limits (Channel.max_length / Channel.url_length).
    assert fits("mastodon", "a" * 1000, max_length=1000)
    assert not fits("mastodon", "a" * 1001, max_length=1000)
    link = " https://example.com/x"
    assert fits("mastodon", "a" * 476 + link)  # 476 + 1 + 23 = 500
    assert not fits("mastodon", "a" * 477 + link)
    assert not fits("mastodon", "a" * 476 + link, url_length=24)
    # Glued to a word it is not a link (twitter-text rule): counted as written.
    assert measure_mastodon("a" * 10 + link.strip()) == 10 + 21


@pytest.mark.parametrize(
    ("text", "expected_fit"),
    [
        ("a" * 500, True),
        ("a" * 501, False),
        ("\u00e9" * 500, True),
        ("e\u0301" * 500, True),  # 1000 code points, 500 graphemes
        ("e\u0301" * 501, False),
    ],
)
def test_mastodon_limit(text: str, expected_fit: bool) -> None:
    assert fits("mastodon", text) is expected_fit


@pytest.mark.parametrize(
    ("text", "count", "size", "expected_fit"),
    [
        ("a" * 300, 300, 300, True),
        ("a" * 301, 301, 301, False),
        (GRIN * 300, 300, 1200, True),
        (GRIN * 301, 301, 1204, False),
        ("日本" * 150, 300, 900, True),
        # The byte cap bites first: 121 families are 121 graphemes but 3025 bytes.
        (FAMILY * 120, 120, 3000, True),
        (FAMILY * 121, 121, 3025, False),
        ("e\u0301" * 300, 300, 900, True),
    ],
)
def test_bluesky(text: str, count: int, size: int, expected_fit: bool) -> None:
    assert measure("bluesky", text) == count
    assert bluesky_bytes(text) == size
    assert fits("bluesky", text) is expected_fit


THREADS_CASES = [
    ("hello", 5),
    ("日本", 2),
    ("\U0001f44d", 4),
    (THUMB_TONE, 8),
    (FLAG_ID, 8),
    (FAMILY, 25),
    (HEART, 6),
    (KEYCAP_1, 7),
    ("ok " + GRIN, 7),
]


@pytest.mark.parametrize(("text", "expected"), THREADS_CASES)
def test_threads_measure(text: str, expected: int) -> None:
    assert measure("threads", text) == expected


def test_threads_limit_and_links() -> None:
    assert fits("threads", "a" * 500)
    assert not fits("threads", "a" * 501)
    assert fits("threads", "a" * 496 + GRIN)
    assert not fits("threads", "a" * 497 + GRIN)
    five = " ".join(f"https://example.com/{i}" for i in range(5))
    assert distinct_links(five) == 5
    assert fits("threads", five)
    assert not fits("threads", five + " example.org")
    assert fits("threads", five + " https://example.com/0")  # a repeat is not a new link
    assert distinct_links("a.com A.COM https://a.com/x https://A.com/x") == 2


TELEGRAM_CASES = [
    ("<b>bold</b> &amp; <i>it</i>", "bold & it", 9),
    ("&lt;tag&gt;", "<tag>", 5),
    ("&quot;q&quot;", '"q"', 3),
    ("&#128512; &#x1F600;", f"{GRIN} {GRIN}", 5),  # outside the BMP: 2 UTF-16 units each
    ("&nbsp;", "&nbsp;", 6),  # Telegram decodes only four named entities
    ('<a href="https://example.com/a/long/path">link</a>', "link", 4),
    ('<span class="tg-spoiler">x</span><tg-spoiler>y</tg-spoiler>', "xy", 2),
    ("<pre><code>a &lt; b</code></pre>", "a < b", 5),
    (GRIN, GRIN, 2),
    ("日本", "日本", 2),
]


@pytest.mark.parametrize(("markup", "visible", "expected"), TELEGRAM_CASES)
def test_telegram(markup: str, visible: str, expected: int) -> None:
    assert telegram_visible_text(markup) == visible
    assert measure("telegram", markup) == expected


def test_telegram_limits() -> None:
    assert fits("telegram", "a" * 4096)
    assert not fits("telegram", "a" * 4097)
    assert fits("telegram", "<b>" + "a" * 4096 + "</b>")  # markup is not counted
    assert fits("telegram", "&amp;" * 4096)
    assert fits("telegram", "a" * 1024, kind="caption")
    assert not fits("telegram", "a" * 1025, kind="caption")
    assert fits("telegram", GRIN * 2048)
    assert not fits("telegram", GRIN * 2049)


@pytest.mark.parametrize(
    ("platform", "text", "expected"),
    [
        ("linkedin", "Hello \\(world\\) \\#not\\_a\\_tag", 29),  # escapes count as sent
        ("linkedin", GRIN, 2),
        ("facebook", GRIN + "é", 3),
        ("instagram", FAMILY, 11),
    ],
)
def test_utf16_platforms(platform: str, text: str, expected: int) -> None:
    assert measure(platform, text) == expected


@pytest.mark.parametrize(
    ("platform", "cap"), [("linkedin", 3000), ("facebook", 63206), ("instagram", 2200)]
)
def test_utf16_limits(platform: str, cap: int) -> None:
    assert fits(platform, "a" * cap)
    assert not fits(platform, "a" * (cap + 1))
    assert fits(platform, GRIN * (cap // 2))
    assert not fits(platform, GRIN * (cap // 2) + "a" * (cap % 2 + 1))


def test_graphemes_ascii_fast_path_matches_clusters() -> None:
    for text in ["", "abc", "a\r\nb", "\r\r\n\n", "x\n\r"]:
        assert graphemes(text) == len(regex.findall(r"\X", text))


# Properties.

_LIGHT = regex.compile(r"[\x00-\u10FF\u2000-\u200D\u2010-\u201F\u2032-\u2037]")
_EMOJI_LIKE = regex.compile(r"[\p{Emoji}\p{Emoji_Component}\u20E3\uFE0E\uFE0F]")


def _reference_weight(text: str) -> int:
    """X's per-code-point rule, independently: light ranges 1, everything else 2."""
    return sum(1 if _LIGHT.match(c) else 2 for c in unicodedata.normalize("NFC", text))


plain_text = st.text(
    alphabet=st.characters(
        blacklist_categories=("Cs",), blacklist_characters=".:/@#＠＃\ufffe\ufeff\uffff"
    ).filter(lambda c: not _EMOJI_LIKE.match(c)),
    max_size=60,
)


@settings(max_examples=150, deadline=None)
@given(
    platform=st.sampled_from(PLATFORMS),
    text=st.text(st.characters(blacklist_characters=""), max_size=80),
)
def test_measure_is_never_negative(platform: str, text: str) -> None:
    assert measure(platform, text) >= 0


@settings(max_examples=150, deadline=None)
@given(text=plain_text)
def test_x_weight_follows_the_code_point_rule_without_links_or_emoji(text: str) -> None:
    assert measure("x", text) == _reference_weight(text)


@settings(max_examples=100, deadline=None)
@given(left=plain_text, right=plain_text)
def test_x_weight_adds_up_over_a_space(left: str, right: str) -> None:
    assert measure("x", f"{left} {right}") == measure("x", left) + 1 + measure("x", right)


@settings(max_examples=100, deadline=None)
@given(
    path=st.text(alphabet="abcdefghijklmnopqrstuvwxyz0123456789-_/", max_size=120),
    words=plain_text,
)
def test_x_link_weighs_23_whatever_its_length(path: str, words: str) -> None:
    link = f"https://example.org/{path}x"
    assert measure("x", f"{words} {link}") == measure("x", words) + 1 + 23


@settings(max_examples=150, deadline=None)
@given(text=st.text(alphabet=st.characters(blacklist_characters="<&"), max_size=80))
def test_telegram_without_markup_counts_utf16_units(text: str) -> None:
    assert measure("telegram", text) == len(text.encode("utf-16-le", "surrogatepass")) // 2


@settings(max_examples=150, deadline=None)
@given(text=st.text(max_size=80))
def test_unit_orderings(text: str) -> None:
    points = len(text)
    assert measure("bluesky", text) <= points
    assert measure("threads", text) >= points
    assert bluesky_bytes(text) >= points
    assert measure("linkedin", text) >= points


@settings(max_examples=100, deadline=None)
@given(text=plain_text)
def test_mastodon_without_links_or_mentions_counts_graphemes(text: str) -> None:
    assert measure("mastodon", text) == graphemes(text)
    assert measure("threads", text) == len(text)


_CLUSTER_PIECES = [
    "a", "é", "e\u0301", "\u0301", "\r", "\n", "日", "한", "\u1100", "\u1161", "\u11a8",
    "\uac00", "\U0001f1ee", "\U0001f1e9", "\u200d", "\U0001f468", "\U0001f3fd", "\ufe0f",
    "क", "\u094d", "ष", "\u093f", "\u0600", "1", "\u20e3", " ",
]  # fmt: skip


@settings(max_examples=200, deadline=None)
@given(
    text=st.one_of(
        st.lists(st.sampled_from(_CLUSTER_PIECES), max_size=16).map("".join),
        st.text(max_size=40),
    )
)
def test_graphemes_agree_with_full_segmentation(text: str) -> None:
    # graphemes() segments only the stretches around joining characters.
    assert graphemes(text) == len(regex.findall(r"\X", text))
