"""Links, hashtags and mentions as spans (beyond the twitter-text conformance tables)."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from dissem.compose.urls import find_hashtags, find_mentions, find_urls


def _pieces(text: str, spans: list[tuple[int, int]]) -> list[str]:
    return [text[s:e] for s, e in spans]


URL_CASES = [
    # (text, links with or without a scheme, links with a scheme)
    ("Baca https://en.wikipedia.org/wiki/Foo_(bar).",
     ["https://en.wikipedia.org/wiki/Foo_(bar)"], ["https://en.wikipedia.org/wiki/Foo_(bar)"]),
    ("(see https://en.wikipedia.org/wiki/Foo_(bar))",
     ["https://en.wikipedia.org/wiki/Foo_(bar)"], ["https://en.wikipedia.org/wiki/Foo_(bar)"]),
    ("lihat (https://example.com/a?b=1&c=2#x), ya",
     ["https://example.com/a?b=1&c=2#x"], ["https://example.com/a?b=1&c=2#x"]),
    ("Read https://example.com/news?utm_source=x&id=7!",
     ["https://example.com/news?utm_source=x&id=7"], ["https://example.com/news?utm_source=x&id=7"]),
    ("see example.com and t.co/x", ["example.com", "t.co/x"], []),
    ("Situs: kemlu.go.id/portal/id; info@kemlu.go.id", ["kemlu.go.id/portal/id"], []),
    ("version 2.0 and file.txt and e.g. this", [], []),
    ("日本語https://example.jp/記事です", ["https://example.jp/"], ["https://example.jp/"]),
    ("«https://example.org/a»", ["https://example.org/a"], ["https://example.org/a"]),
    ("https://example.com/path/'quoted'", ["https://example.com/path/'quoted"],
     ["https://example.com/path/'quoted"]),
]  # fmt: skip


@pytest.mark.parametrize(("text", "any_links", "schemed"), URL_CASES)
def test_find_urls(text: str, any_links: list[str], schemed: list[str]) -> None:
    assert _pieces(text, find_urls(text, require_scheme=False)) == any_links
    assert _pieces(text, find_urls(text, require_scheme=True)) == schemed


def test_spans_are_python_indices() -> None:
    text = "👨\u200d👩\u200d👧 日本 https://example.com/x"  # astral characters before the link
    ((start, end),) = find_urls(text, require_scheme=True)
    assert text[start:end] == "https://example.com/x"
    assert (start, end) == (9, 30)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("cc @alice and @bob@mastodon.social", ["@alice", "@bob@mastodon.social"]),
        ("mail alice@example.org", []),  # an e-mail address is not a mention
        ("https://x.com/@carol is a link", []),  # inside a link
        ("ke @user@sub.example.co.id!", ["@user@sub.example.co.id"]),
        ("thanks @alice.", ["@alice"]),
        ("@Tim_Komunikasi, halo", ["@Tim_Komunikasi"]),
        ("@userÀ", []),  # runs on into an accented letter: not a mention
    ],
)
def test_find_mentions(text: str, expected: list[str]) -> None:
    assert _pieces(text, find_mentions(text)) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("#Indonesia #HariKemerdekaan ke-80", ["#Indonesia", "#HariKemerdekaan"]),
        ("#日本語 #한국어 #السعودية #Россия", ["#日本語", "#한국어", "#السعودية", "#Россия"]),
        ("#2024 #tahun_2024 #80tahun", ["#tahun_2024", "#80tahun"]),  # not all digits
        ("see https://a.com/#tag and a.com/#tag2", []),  # fragments are not tags
        ("A&#39;s #ok", ["#ok"]),  # "&#39" is an HTML entity, not a tag
        ("＃全角", ["＃全角"]),
        ("1#tag a#tag", []),  # glued to a word
    ],
)
def test_find_hashtags(text: str, expected: list[str]) -> None:
    assert _pieces(text, find_hashtags(text)) == expected


@settings(max_examples=200, deadline=None)
@given(
    text=st.lists(
        st.sampled_from(
            [
                "a", "é", "日", " ", "\n", ".", ",", "(", ")", "/", "?", "&", "=", "#", "@",
                "-", "_", ":", "'", "https://", "http://", "example", ".com", ".co.id",
                "t.co/", "wiki/Foo_(bar)", "?q=1", "#frag", "@user", "@host.social",
                "\U0001f1ee\U0001f1e9", "\u200d",
            ]
        ),
        max_size=30,
    ).map("".join)
)  # fmt: skip
def test_spans_are_ordered_disjoint_and_space_free(text: str) -> None:
    for finder in (
        lambda t: find_urls(t, require_scheme=False),
        lambda t: find_urls(t, require_scheme=True),
        find_hashtags,
        find_mentions,
    ):
        spans = finder(text)
        previous_end = 0
        for start, end in spans:
            assert previous_end <= start < end <= len(text)
            assert " " not in text[start:end] and "\n" not in text[start:end]
            previous_end = end
    schemed = set(find_urls(text, require_scheme=True))
    assert schemed <= set(find_urls(text, require_scheme=False))
    for start, end in schemed:
        assert text[start:end].lower().startswith(("http://", "https://"))
