"""UTM tagging of the link back to the portal."""

from __future__ import annotations

from urllib.parse import parse_qsl, urlsplit

import pytest

from dissem.compose.links import portal_host, tag_link
from dissem.config.models import Utm

TAG = {"platform": "x", "channel_name": "kemlu-x", "release_id": "r-2026-01"}
OURS = "utm_source=x&utm_medium=social&utm_campaign=r-2026-01&utm_content=kemlu-x"


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("https://portal.go.id/a", f"https://portal.go.id/a?{OURS}"),
        ("https://portal.go.id/a?id=7", f"https://portal.go.id/a?id=7&{OURS}"),
        ("https://portal.go.id/a#top", f"https://portal.go.id/a?{OURS}#top"),
        ("https://portal.go.id/a?b=1#sec-2", f"https://portal.go.id/a?b=1&{OURS}#sec-2"),
        # a feed's own utm_ keys are replaced, never duplicated; other keys keep their order
        (
            "https://portal.go.id/a?utm_source=rss&x=1&utm_medium=rss",
            f"https://portal.go.id/a?x=1&{OURS}",
        ),
        # other encodings of the existing query survive byte for byte
        (
            "https://portal.go.id/a?q=a%20b+c&k=%E2%9C%93",
            f"https://portal.go.id/a?q=a%20b+c&k=%E2%9C%93&{OURS}",
        ),
        # parentheses in the path (Wikipedia-style) stay as they are
        (
            "https://id.wikipedia.org/wiki/Jakarta_(kota)",
            f"https://id.wikipedia.org/wiki/Jakarta_(kota)?{OURS}",
        ),
        # a utm_ key dissem does not set (utm_term) is kept
        (
            "https://portal.go.id/a?utm_term=vokasi",
            f"https://portal.go.id/a?utm_term=vokasi&{OURS}",
        ),
    ],
)
def test_tag_link(url: str, expected: str) -> None:
    assert tag_link(url, Utm(), **TAG) == expected


def test_no_key_twice_even_in_other_case() -> None:
    tagged = tag_link("https://p.id/a?UTM_SOURCE=rss", Utm(), **TAG)
    keys = [k.lower() for k, _ in parse_qsl(urlsplit(tagged).query)]
    assert keys.count("utm_source") == 1


def test_configured_values_and_encoding() -> None:
    utm = Utm(source="twitter", medium="organic social", campaign="Hari Batik", content="a&b")
    tagged = tag_link("https://p.id/a", utm, **TAG)
    assert dict(parse_qsl(urlsplit(tagged).query)) == {
        "utm_source": "twitter",
        "utm_medium": "organic social",
        "utm_campaign": "Hari Batik",
        "utm_content": "a&b",
    }
    assert " " not in tagged


def test_disabled_leaves_url_alone() -> None:
    url = "https://p.id/a?utm_source=rss#x"
    assert tag_link(url, Utm(enabled=False), **TAG) == url


@pytest.mark.parametrize(
    ("url", "host"),
    [("https://www.kemlu.go.id/x", "kemlu.go.id"), ("http://Portal.ID:8080/a", "portal.id")],
)
def test_portal_host(url: str, host: str) -> None:
    assert portal_host(url) == host
