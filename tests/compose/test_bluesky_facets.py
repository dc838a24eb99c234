"""Bluesky facets: UTF-8 byte offsets of links and tags; the link card."""

from __future__ import annotations

import pytest

from dissem.compose.bluesky import EXTERNAL_EMBED, LINK_FEATURE, TAG_FEATURE, external_embed, facets


def covered(text: str, facet: dict) -> str:  # type: ignore[type-arg]
    index = facet["index"]
    return text.encode("utf-8")[index["byteStart"] : index["byteEnd"]].decode("utf-8")


@pytest.mark.parametrize(
    "prefix",
    [
        "",
        "Kerja sama vokasi ",
        "東京と大阪 ",  # 3 bytes a character
        "👨‍👩‍👧‍👦 keluarga ",  # 25 bytes for one cluster
        "مرحبا ",  # Arabic, 2 bytes a letter
        "cafe\u0301 ",
    ],
)
def test_link_and_tag_offsets_are_bytes(prefix: str) -> None:
    url = "https://portal.go.id/a?x=1&utm_source=bluesky"
    text = f"{prefix}{url}\n\n#KerjaSama #東京"
    found = facets(text)
    assert [f["features"][0]["$type"] for f in found] == [LINK_FEATURE, TAG_FEATURE, TAG_FEATURE]
    assert covered(text, found[0]) == url and found[0]["features"][0]["uri"] == url
    assert covered(text, found[1]) == "#KerjaSama" and found[1]["features"][0]["tag"] == "KerjaSama"
    assert covered(text, found[2]) == "#東京" and found[2]["features"][0]["tag"] == "東京"
    assert found[0]["index"]["byteStart"] == len(prefix.encode("utf-8"))


def test_bare_domain_links_to_https() -> None:
    (facet,) = facets("lihat portal.go.id sekarang")
    assert facet["features"][0]["uri"] == "https://portal.go.id"
    assert facet["index"] == {"byteStart": 6, "byteEnd": 18}


def test_no_facets_in_plain_text() -> None:
    assert facets("tanpa tautan atau tagar") == ()


def test_external_embed() -> None:
    embed = external_embed("https://p.id/a", "Judul", "Ringkasan")
    assert embed == {
        "$type": EXTERNAL_EMBED,
        "external": {"uri": "https://p.id/a", "title": "Judul", "description": "Ringkasan"},
    }
    long = external_embed("https://p.id/a", "🇮🇩" * 400, "")
    assert long["external"]["title"].endswith("…")
    assert len(long["external"]["title"]) == 299 * 2 + 1


def test_the_known_link_is_linked_even_on_an_unknown_tld() -> None:
    link = "https://www.kemlu.example/en/news?utm_source=bluesky"
    text = f"Berita 🇮🇩 {link} #tagar"
    found = facets(text, (link,))
    assert [f["features"][0].get("uri") for f in found] == [link, None]
    assert covered(text, found[0]) == link
    # a detected URL overlapping the known link is not linked twice
    detected = "https://portal.go.id/a?x=1"
    assert len(facets(f"{detected} x", (detected,))) == 1
