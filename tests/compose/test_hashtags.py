"""Tags into platform hashtags."""

from __future__ import annotations

import pytest

from dissem.compose.hashtags import hashtags_for, to_hashtag
from dissem.config.models import PLATFORMS
from dissem.traits import traits_for


@pytest.mark.parametrize(
    ("tag", "hashtag"),
    [
        ("kerja sama", "#KerjaSama"),
        ("Kerja  sama\tvokasi", "#KerjaSamaVokasi"),
        ("COVID-19", "#COVID19"),
        ("#iklim", "#iklim"),
        ("iklim", "#iklim"),  # one word keeps its case
        ("Hari Batik Nasional!", "#HariBatikNasional"),
        ("ekonomi_hijau", "#ekonomi_hijau"),
        ("東京", "#東京"),
        ("한국 문화", "#한국문화"),
        ("الأمم المتحدة", "#الأممالمتحدة"),
        ("Bahasa Indonésia", "#BahasaIndonésia"),
        ("cafe\u0301", "#café"),  # NFC: one code point, combining mark kept
        ("हिन्दी", "#हिन्दी"),  # Devanagari vowel signs are marks, not punctuation
        ("🇮🇩 merdeka", "#merdeka"),  # emoji dropped; one word left keeps its case
        ("2026", None),  # digits only are no hashtag
        ("!!!", None),
        ("", None),
        ("  ", None),
    ],
)
def test_to_hashtag(tag: str, hashtag: str | None) -> None:
    assert to_hashtag(tag) == hashtag


def test_duplicates_are_case_insensitive_and_order_is_kept() -> None:
    tags = ["kerja sama", "KerjaSama", "Kerja-Sama", "#kerjasama", "iklim", "Iklim"]
    assert hashtags_for("mastodon", tags) == ["#KerjaSama", "#iklim"]


@pytest.mark.parametrize("platform", PLATFORMS)
def test_cap_per_platform(platform: str) -> None:
    tags = [f"tag{i}x" for i in range(40)]
    assert len(hashtags_for(platform, tags)) == traits_for(platform).hashtag_cap


def test_invalid_tags_do_not_use_up_the_cap() -> None:
    assert hashtags_for("x", ["2026", "!!", "a b", "c"]) == ["#AB", "#c"]


def test_explicit_cap_and_caps_are_documented_for_every_platform() -> None:
    assert hashtags_for("instagram", ["a", "b", "c"], cap=1) == ["#a"]
    assert traits_for("threads").hashtag_cap == 1 and traits_for("x").hashtag_cap == 2
    assert hashtags_for("myspace", [f"t{i}x" for i in range(9)]) == ["#t0x", "#t1x", "#t2x"]
