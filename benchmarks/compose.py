"""Compositions per second on one core, beside the floor: rendering the same templates
with the same (precomputed) variables and nothing else (no Markdown, no UTM, no hashtags,
no measuring, no shortening, no threads, no escaping, no facets).

~100 varied releases (English, Indonesian, Japanese, Arabic, emoji, URLs, Markdown bodies,
translations, overrides) x 18 channels on all eight platforms, some of them threading.
Run: ``.venv/bin/python benchmarks/compose.py [--releases N] [--repeat R]``.
"""

from __future__ import annotations

import argparse
import os
import random
import time
from collections import Counter
from datetime import UTC, datetime
from typing import Any

from dissem.compose import compose, composer, links, shorten, stencil, twitter_text, urls
from dissem.compose.templates import link_hint, markdown_to_text, render
from dissem.config.models import Channel, Release
from dissem.traits import traits_for

NOW = datetime(2026, 6, 1, 3, 0, tzinfo=UTC)

_VOCABULARY = {
    "en": "ministry embassy cooperation training agreement vocational students trade climate "
    "health citizens consular service festival culture report annual digital",
    "id": "kementerian kedutaan kerja sama pelatihan perjanjian vokasi mahasiswa perdagangan "
    "iklim kesehatan warga layanan konsuler festival budaya laporan tahunan digital",
    "ja": "外務省 大使館 協力 研修 協定 職業 学生 貿易 気候 健康 市民 領事 文化 祭り 報告",
    "ar": "وزارة سفارة تعاون تدريب اتفاقية طلاب تجارة مناخ صحة مواطنين ثقافة تقرير",
}
WORDS = {lang: words.split() for lang, words in _VOCABULARY.items()}
EXTRAS = ["🇮🇩", "🇩🇪", "👨‍👩‍👧‍👦", "👍🏽", "(2026)", "R&D", "#Jakarta", "@kemlu_ri", "café"]
URLS = [
    "https://www.kemlu.go.id/berita/{id}",
    "https://portal.go.id/news/{id}?ref=home&utm_source=rss",
    "https://portal.go.id/news/{id}#ringkasan",
    "https://id.wikipedia.org/wiki/Kerja_sama_({id})",
]


def _sentence(rng: random.Random, lang: str, words: int) -> str:
    picked = [rng.choice(WORDS[lang]) for _ in range(words)]
    if rng.random() < 0.3:
        picked.insert(rng.randrange(len(picked)), rng.choice(EXTRAS))
    if rng.random() < 0.1:
        picked.append("https://portal.go.id/x/" + str(rng.randrange(1000)))
    sep = "" if lang == "ja" else " "
    text = sep.join(picked)
    return text[0].upper() + text[1:] + ("。" if lang == "ja" else ".")


def _paragraphs(rng: random.Random, lang: str, count: int) -> str:
    blocks = []
    for i in range(count):
        if i and rng.random() < 0.2:
            blocks.append("\n".join(f"- {_sentence(rng, lang, 4)}" for _ in range(3)))
        else:
            sentences = [_sentence(rng, lang, rng.randint(6, 16)) for _ in range(3)]
            blocks.append(" ".join(sentences).replace(" ", " **", 1).replace(" ", "** ", 2))
    return "\n\n".join(blocks)


def make_releases(count: int, seed: int = 7) -> list[Release]:
    """``count`` varied releases; about a third with a long body, a fifth threading."""
    rng = random.Random(seed)
    out = []
    for i in range(count):
        lang = rng.choice(["en", "en", "id", "id", "ja", "ar"])
        rid = f"r{i:03d}"
        data: dict[str, Any] = {
            "id": rid,
            "title": _sentence(rng, lang, rng.randint(5, 14)).rstrip(".。"),
            "summary": " ".join(_sentence(rng, lang, rng.randint(8, 20)) for _ in range(3)),
            "body": _paragraphs(rng, lang, rng.choice([0, 2, 4, 12])),
            "url": rng.choice(URLS).format(id=rid),
            "language": lang,
            "tags": rng.sample(
                ["kerja sama", "COVID-19", "iklim", "Hari Batik", "東京", "vokasi"], 3
            ),
            "targets": ["all"],
            "thread": rng.random() < 0.2 or None,
            "image": {"src": f"https://portal.go.id/img/{rid}.jpg", "alt": "foto"}
            if rng.random() < 0.7
            else None,
        }
        if lang != "id" and rng.random() < 0.5:
            data["translations"] = {"id": {"title": _sentence(rng, "id", 8).rstrip(".")}}
        if rng.random() < 0.15:
            data["overrides"] = {"x": {"hashtags": ["breaking"], "title": "Breaking: " + rid}}
        out.append(Release.model_validate(data))
    return out


def make_channels() -> list[Channel]:
    """18 channels over all eight platforms; x-thread, bluesky-en, threads-en, mastodon-long
    and telegram-en thread long releases."""
    specs: list[dict[str, Any]] = [
        {"name": "x-id", "platform": "x", "language": "id"},
        {"name": "x-en", "platform": "x"},
        {"name": "x-thread", "platform": "x", "thread": True},
        {"name": "mastodon-id", "platform": "mastodon", "language": "id"},
        {"name": "mastodon-long", "platform": "mastodon", "max_length": 1000, "thread": True},
        {"name": "bluesky-id", "platform": "bluesky", "language": "id"},
        {"name": "bluesky-en", "platform": "bluesky", "thread": True},
        {"name": "threads-id", "platform": "threads", "language": "id"},
        {"name": "threads-en", "platform": "threads", "thread": True},
        {"name": "facebook-id", "platform": "facebook", "language": "id"},
        {"name": "facebook-en", "platform": "facebook", "template": "{{ title }}\n\n{{ body }}"},
        {"name": "instagram-id", "platform": "instagram", "language": "id"},
        {"name": "instagram-en", "platform": "instagram"},
        {"name": "linkedin-id", "platform": "linkedin", "language": "id"},
        {"name": "linkedin-en", "platform": "linkedin", "hashtags": ["PublicDiplomacy"]},
        {"name": "telegram-id", "platform": "telegram", "language": "id"},
        {"name": "telegram-en", "platform": "telegram", "thread": True},
        {
            "name": "x-custom",
            "platform": "x",
            "template": "📰 {{ title }} {{ url }} {{ hashtags }}",
        },
    ]
    return [
        Channel.model_validate({"account": "a", "timezone": "Asia/Jakarta", **spec})
        for spec in specs
    ]


def _floor_inputs(
    releases: list[Release], channels: list[Channel]
) -> list[tuple[str, dict[str, Any]]]:
    """The template and its variables per pair, computed before the floor's clock starts."""
    pairs = []
    for rel in releases:
        body = markdown_to_text(rel.body) if rel.body else ""
        for ch in channels:
            variables = {
                "title": rel.title,
                "summary": rel.summary,
                "body": body,
                "url": rel.url,
                "hashtags": "#a #b",
                "id": rel.id,
                "release_id": rel.id,
                "language": ch.language,
                "priority": rel.priority,
                "now": NOW,
                "host": "portal.go.id",
                "link_hint": link_hint(ch.language, "portal.go.id"),
            }
            pairs.append((ch.template or traits_for(ch.platform).default_template, variables))
    return pairs


def cold_release_caches() -> None:
    """Forgets what compose keeps per release (normalised fields, links and emoji of
    candidate texts, template shapes, where fields were cut, cut positions, hashtags,
    split URLs), so that each round pays for it once per release as a new release would;
    compiled templates and parsed Markdown stay warm on both sides."""
    composer._nfc.cache_clear()
    composer._CUT_HINTS.clear()
    composer._hashtags.cache_clear()
    links._split.cache_clear()
    shorten._cuts.cache_clear()
    links.portal_host.cache_clear()
    urls._extract.cache_clear()
    twitter_text._emoji_spans.cache_clear()
    stencil.clear()


def _best(repeat: int, rounds: dict[str, Any], before: Any = None) -> dict[str, float]:
    """The least CPU time of each round over ``repeat`` runs, the rounds interleaved so
    that both sides see the same machine (other processes change wall-clock times by 2x
    on a shared machine; CPU time much less)."""
    best: dict[str, float] = {}
    for _ in range(repeat):
        for name, work in rounds.items():
            if before is not None:
                before()
            start = time.process_time()
            work()
            took = time.process_time() - start
            best[name] = min(best.get(name, took), took)
    return best


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--releases", type=int, default=100)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    if hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, {min(os.sched_getaffinity(0))})  # one core
    releases, channels = make_releases(args.releases), make_channels()
    pairs = [(r, c) for r in releases for c in channels]
    floor_inputs = _floor_inputs(releases, channels)

    # warm the caches (compiled templates, parsed Markdown) so both sides start equal
    for source, variables in floor_inputs:
        render(source, variables)
    results = [compose(r, c, NOW) for r, c in pairs]

    best = _best(
        args.repeat,
        {
            "compose": lambda: [compose(r, c, NOW) for r, c in pairs],
            "floor": lambda: [render(s, v) for s, v in floor_inputs],
        },
        cold_release_caches,
    )
    compose_s, render_s = best["compose"], best["floor"]

    parts = sum(len(c) for c in results)
    skipped = Counter(c.skipped for c in results if c.skipped)
    threads = sum(1 for c in results if len(c) > 1)
    too_long = sum(1 for c in results for p in c if p.length > p.limit)
    n = len(pairs)
    print(f"releases x channels        : {len(releases)} x {len(channels)} = {n} compositions")
    print(f"parts produced             : {parts} ({threads} threads, {too_long} over limit)")
    for reason, count in skipped.items():
        print(f"skipped                    : {count} ({reason})")
    print(
        f"compose                    : {n / compose_s:10.0f} compositions/s"
        f"  ({compose_s * 1e6 / n:8.1f} us each)"
    )
    print(
        f"floor: templates only      : {n / render_s:10.0f} renders/s"
        f"      ({render_s * 1e6 / n:8.1f} us each)"
    )
    print(f"ratio compose / floor      : {compose_s / render_s:10.1f}x")


if __name__ == "__main__":
    main()
