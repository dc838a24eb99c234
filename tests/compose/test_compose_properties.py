"""Properties of compose() over generated releases: every part fits, the link is in the
first part, no grapheme cluster is split, Bluesky facets cover exactly their bytes."""

from __future__ import annotations

import unicodedata
from datetime import UTC, datetime
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from dissem.compose import compose
from dissem.compose.counting import fits, measure
from dissem.compose.hashtags import hashtags_for
from dissem.compose.shorten import ELLIPSIS, graphemes, shorten
from dissem.compose.templates import link_hint, markdown_to_text
from dissem.config.models import PLATFORMS, Channel, Release

NOW = datetime(2026, 3, 1, 4, 0, tzinfo=UTC)
PIECES = [
    "Kerja sama",
    "vokasi.",
    "Menteri",
    "東京で会議。",
    "한국어 문장.",
    "مرحبا بالعالم",
    "👨‍👩‍👧‍👦",
    "🇮🇩🇩🇪",
    "👍🏽",
    "e\u0301",
    "ṩ̂",
    "https://portal.go.id/a_(b)?x=1&y=2",
    "example.com/path",
    "#tagar",
    "@kemlu@mastodon.social",
    "(kurung)",
    "R&D <b>",
    "\\*_~|",
    "!",
    "?",
    "\n\n",
]
_chars = st.characters(blacklist_categories=("Cs", "Cc", "Co", "Cn"))
_word = st.one_of(st.sampled_from(PIECES), st.text(_chars, min_size=1, max_size=12))
text = st.lists(_word, max_size=60).map(" ".join)
title = st.lists(_word, min_size=1, max_size=20).map(" ".join).filter(lambda t: t.strip())


@st.composite
def cases(draw: st.DrawFn, platforms: tuple[str, ...] = PLATFORMS) -> tuple[Release, Channel]:
    platform = draw(st.sampled_from(platforms))
    rel = Release.model_validate(
        {
            "id": "r1",
            "title": draw(title),
            "summary": draw(text),
            "body": draw(text),
            "url": draw(
                st.sampled_from(
                    ["https://portal.go.id/berita/1", "https://kemlu.go.id/a?p=1&q=(2)#s"]
                )
            ),
            "tags": draw(st.lists(st.one_of(st.sampled_from(PIECES), st.text(_chars)), max_size=6)),
            "targets": ["a"],
            "image": {"src": "https://portal.go.id/i.jpg"},
            "thread": draw(st.booleans()),
            "content_warning": draw(st.sampled_from([None, "CW 🔥"])),
        }
    )
    ch = Channel.model_validate(
        {
            "name": "c",
            "platform": platform,
            "account": "a",
            "timezone": "Asia/Jakarta",
            "max_length": draw(st.sampled_from([None, 200])) if platform == "mastodon" else None,
        }
    )
    return rel, ch


def _nfc(t: str) -> str:
    return (
        unicodedata.normalize("NFC", t).translate(dict.fromkeys((0xFEFF, 0xFFFE, 0xFFFF))).strip()
    )


@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(cases())
def test_every_part_fits_and_the_first_holds_the_link(case: tuple[Release, Channel]) -> None:
    rel, ch = case
    comp = compose(rel, ch, NOW)
    assert comp.skipped is None and comp
    for part in comp:
        assert 0 < part.length <= part.limit
        if ch.platform != "mastodon":
            assert part.length == measure(ch.platform, part.text)
            assert fits(ch.platform, part.text, max_length=part.limit)
    link = comp[0].link or ""
    if ch.platform == "instagram":
        assert link_hint("en", "portal.go.id").split(",")[0] in comp[0].text or len(comp) == 1
    else:
        sent = link.replace("&", "&amp;") if ch.platform == "telegram" else link
        assert sent in comp[0].text
    assert all(p.link is None for p in comp[1:])


@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(cases())
def test_no_part_splits_a_grapheme_cluster(case: tuple[Release, Channel]) -> None:
    rel, ch = case
    if ch.platform in ("telegram", "linkedin"):  # markup characters join clusters on purpose
        return
    comp = compose(rel, ch, NOW)
    link = comp[0].link or ""
    sources = [
        _nfc(rel.title),
        _nfc(rel.summary),
        _nfc(markdown_to_text(rel.body)),
        link,
        link_hint("en", "portal.go.id"),
        " ".join(hashtags_for(ch.platform, [_nfc(t) for t in rel.tags])),
    ]
    allowed: set[str] = set()
    for source in sources:
        allowed.update(graphemes(source))
    allowed.update(ELLIPSIS + "0123456789/# \n")
    for part in comp:
        stray = set(graphemes(part.text)) - allowed
        assert not stray, (part.text, stray)


@settings(max_examples=60, deadline=None)
@given(cases(("bluesky",)))
def test_bluesky_facets_point_at_their_exact_bytes(case: tuple[Release, Channel]) -> None:
    rel, ch = case
    for part in compose(rel, ch, NOW):
        raw = part.text.encode("utf-8")
        for facet in part.facets:
            start, end = facet["index"]["byteStart"], facet["index"]["byteEnd"]
            assert 0 <= start < end <= len(raw)
            covered = raw[start:end].decode("utf-8")  # raises if cut inside a character
            feature: dict[str, Any] = facet["features"][0]
            if feature["$type"].endswith("#link"):
                assert feature["uri"] in (covered, "https://" + covered)
            else:
                assert covered[1:] == feature["tag"] and covered[0] in "#＃"
        if part.index == 1:
            assert any(f["features"][0].get("uri") == part.link for f in part.facets)


@settings(max_examples=100, deadline=None)
@given(text, st.integers(min_value=1, max_value=80))
def test_shorten_keeps_whole_clusters(value: str, most: int) -> None:
    out = shorten(value, lambda t: len(graphemes(t)) <= most)
    assert len(graphemes(out)) <= most
    kept = graphemes(out.removesuffix(ELLIPSIS))
    assert kept == graphemes(value)[: len(kept)] or out == value
