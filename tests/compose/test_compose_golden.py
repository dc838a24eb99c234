"""compose() gives exactly the stored outputs: every example release for every example
channel, and a seeded sample of generated releases (many scripts, emoji, links, long
bodies, threads, overrides) for channels on every platform.

The golden file pins today's output so that work on the composer's speed cannot change
a single byte of what is sent. When the output is meant to change, regenerate it and
review the diff::

    .venv/bin/python tests/compose/test_compose_golden.py
"""

from __future__ import annotations

import json
import random
import sys
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

import dissem
from dissem.compose import compose
from dissem.config.loader import load_config
from dissem.config.models import PLATFORMS, Channel, Release

GOLDEN = Path(__file__).parent / "data" / "compose_golden.json"
EXAMPLE = Path(dissem.__file__).parent / "example"
NOW = datetime(2026, 3, 1, 4, 0, tzinfo=UTC)

PIECES = [
    "Kerja sama",
    "vokasi.",
    "Menteri",
    "東京で会議。",
    "研修、協定、職業",
    "한국어 문장.",
    "مرحبا بالعالم",
    "👨‍👩‍👧‍👦",
    "🇮🇩🇩🇪",
    "👍🏽",
    "e\u0301",
    "ṩ̂",
    "https://portal.go.id/a_(b)?x=1&y=2",
    "http://t.co/abc123",
    "example.com/path",
    "日本kemlu.go.id",
    "#tagar",
    "#2024",
    "@kemlu_ri",
    "@kemlu@mastodon.social",
    "(kurung)",
    "R&D <b>",
    "\\*_~|",
    "!",
    "?",
    "…",
    "\n\n",
    "\n- item",
]
_ALPHABETS = [
    "abcdefghijklmnopqrstuvwxyz",
    "абвгдежзийклмнопрстуфхцчшщ",
    "αβγδεζηθικλμνξοπρστυφχψω",
    "あいうえおかきくけこさしすせそ日本語外務省",
    "ابتثجحخدذرزسشصضطظعغفقكلمنهوي",
    "กขคงจฉชซญดตถทนบปผพฟมยรลวสหอ",
    "가나다라마바사아자차카타파하",
]


def _word(rng: random.Random) -> str:
    if rng.random() < 0.35:
        return rng.choice(PIECES)
    alphabet = rng.choice(_ALPHABETS)
    return "".join(rng.choice(alphabet) for _ in range(rng.randint(1, 12)))


def _text(rng: random.Random, words: int) -> str:
    out = " ".join(_word(rng) for _ in range(words))
    if rng.random() < 0.3:
        out = out.replace(" ", ". ", rng.randint(1, 4))
    return out


def generated_releases(count: int = 36, seed: int = 15) -> list[Release]:
    """``count`` seeded releases; about a third with a long body."""
    rng = random.Random(seed)
    out = []
    for i in range(count):
        data: dict[str, Any] = {
            "id": f"g{i:03d}",
            "title": _text(rng, rng.randint(1, 20)).strip() or "Judul",
            "summary": _text(rng, rng.choice([0, 5, 20, 60])),
            "body": "\n\n".join(
                _text(rng, rng.randint(5, 30)) for _ in range(rng.choice([0, 1, 3, 6]))
            ),
            "url": rng.choice(
                [
                    "https://portal.go.id/berita/1",
                    "https://kemlu.go.id/a?p=1&q=(2)&utm_source=rss#s",
                    "https://www.kemlu.go.id/berita/" + "x" * rng.randint(1, 120),
                ]
            ),
            "language": rng.choice(["en", "id", "ja"]),
            "tags": [_word(rng) for _ in range(rng.randint(0, 6))],
            "targets": ["all"],
            "thread": rng.choice([None, True, False]),
            "content_warning": rng.choice([None, None, "CW 🔥"]),
            "image": {"src": "https://portal.go.id/i.jpg", "alt": "foto"}
            if rng.random() < 0.7
            else None,
        }
        if rng.random() < 0.3:
            data["translations"] = {"en": {"title": _text(rng, 6).strip() or "Title"}}
        if rng.random() < 0.2:
            data["overrides"] = {
                rng.choice(["x", "mastodon", "telegram"]): {
                    "hashtags": ["breaking"],
                    "title": "Breaking: " + _text(rng, 4),
                }
            }
        out.append(Release.model_validate(data))
    return out


def generated_channels() -> list[Channel]:
    """Each platform plain, threading and with a custom template; a few odd settings."""
    specs: list[dict[str, Any]] = []
    for platform in PLATFORMS:
        specs.append({"name": f"{platform}-id", "platform": platform, "language": "id"})
        specs.append({"name": f"{platform}-thread", "platform": platform, "thread": True})
        specs.append(
            {
                "name": f"{platform}-custom",
                "platform": platform,
                "template": "📰 {{ title }} {{ url }} {{ hashtags }}\n{{ body }}",
                "hashtags": ["PublicDiplomacy"],
            }
        )
    specs += [
        {"name": "mastodon-small", "platform": "mastodon", "max_length": 200, "thread": True},
        {"name": "mastodon-long", "platform": "mastodon", "max_length": 1000, "url_length": 30},
        {"name": "x-noutm", "platform": "x", "utm": {"enabled": False}, "thread": True},
        {"name": "x-literal", "platform": "x", "template": "A" * 300 + " {{ url }}"},
    ]
    return [
        Channel.model_validate({"account": "a", "timezone": "Asia/Jakarta", **spec})
        for spec in specs
    ]


def _cases() -> Iterator[tuple[str, Release, Channel]]:
    cfg = load_config(EXAMPLE)
    assert cfg.releases and cfg.channels, cfg.problems
    for loaded in cfg.releases:
        for ch in cfg.channels.values():
            yield f"example {loaded.release.id} {ch.name}", loaded.release, ch
    channels = generated_channels()
    for i, rel in enumerate(generated_releases()):
        for ch in channels[i % 4 :: 4]:  # a quarter of the channels each, all of them overall
            yield f"generated {rel.id} {ch.name}", rel, ch


def _outputs() -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, rel, ch in _cases():
        comp = compose(rel, ch, NOW)
        out[key] = {"skipped": comp.skipped, "parts": [p.to_json() for p in comp]}
    return out


def test_compose_output_matches_the_golden_file() -> None:
    golden = json.loads(GOLDEN.read_text(encoding="utf-8"))
    outputs = _outputs()
    assert len(outputs) > 300
    assert sorted(outputs) == sorted(golden)
    changed = [key for key in golden if outputs[key] != golden[key]]
    assert not changed, f"{len(changed)} compositions changed, first: {changed[0]}: " + (
        json.dumps({"now": outputs[changed[0]], "golden": golden[changed[0]]}, ensure_ascii=False)
    )


@pytest.mark.parametrize("platform", PLATFORMS)
def test_golden_file_covers_threads_cuts_and_skips_on_every_platform(platform: str) -> None:
    golden = json.loads(GOLDEN.read_text(encoding="utf-8"))
    mine = [v for k, v in golden.items() if k.split()[2].startswith(platform)]
    assert any(len(v["parts"]) > 1 for v in mine) or platform not in (
        "x",
        "mastodon",
        "bluesky",
        "threads",
        "telegram",
    )
    assert any("…" in p["text"] for v in mine for p in v["parts"])


if __name__ == "__main__":
    GOLDEN.parent.mkdir(exist_ok=True)
    data = _outputs()
    lines = [f"{json.dumps(k)}: {json.dumps(data[k], ensure_ascii=False)}" for k in sorted(data)]
    GOLDEN.write_text("{\n" + ",\n".join(lines) + "\n}\n", encoding="utf-8")
    print(f"wrote {len(data)} compositions to {GOLDEN}", file=sys.stderr)
