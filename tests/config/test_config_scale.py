"""A large config folder: loading it costs little beyond parsing its YAML, keeps little
memory, and still locates every problem.

The figures are relative to a floor measured in the same test (composing the same files
with PyYAML, which no loader can avoid), so a slow or busy machine does not fail them.
The whole benchmark is ``benchmarks/scale.py --only config``.
"""

from __future__ import annotations

import gc
import time
import tracemalloc
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml

from dissem.config import loader
from dissem.config.loader import load_config
from dissem.config.yamlsafe import parse_yaml
from dissem.errors import YamlProblem

_LOADER: Any = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
_PLATFORMS = (
    "x",
    "mastodon",
    "bluesky",
    "facebook",
    "instagram",
    "threads",
    "linkedin",
    "telegram",
)
OFFICES = 15  # 15 files of 80 channels: 1,200 channels
PER_PLATFORM = 10


def office_file(office: int) -> str:
    """One office's channels, sharing their settings through a merge key, and a group."""
    lines = [
        "x-office: &office",
        "  timezone: Europe/Berlin",
        "  windows: [mon-fri 08:00-12:00, mon-fri 13:00-19:00, sat 10:00-14:00]",
        "  min_gap: 1h",
        "  hashtags: [Indonesia]",
        "  utm: {medium: social, source: office}",
        "channels:",
    ]
    names = []
    for i in range(PER_PLATFORM):
        for platform in _PLATFORMS:
            name = f"office{office:02d}-{platform}-{i}"
            names.append(name)
            lines += [
                "  - <<: *office",
                f"    name: {name}",
                f"    platform: {platform}",
                f'    account: "acct-{office}-{i}"',
                f"    credentials: {{token: DISSEM_{name.upper().replace('-', '_')}}}",
            ]
    lines.append(f"groups:\n  office{office:02d}: [{', '.join(names)}]")
    return "\n".join(lines) + "\n"


def write_offices(root: Path) -> list[str]:
    (root / "channels").mkdir(parents=True)
    (root / "releases").mkdir()
    texts = []
    for office in range(OFFICES):
        text = office_file(office)
        (root / "channels" / f"office{office:02d}.yaml").write_text(text, encoding="utf-8")
        texts.append(text)
    return texts


def cpu_seconds(run: Callable[[], object]) -> float:
    """The least CPU time of three runs (each from a cold loader cache)."""
    best = float("inf")
    for _ in range(3):
        loader._CACHE.clear()
        gc.collect()
        start = time.process_time()
        run()
        best = min(best, time.process_time() - start)
    return best


@pytest.fixture
def offices(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> tuple[Path, list[str]]:
    monkeypatch.chdir(tmp_path)
    root = tmp_path / "config"
    return root, write_offices(root)


def test_loading_costs_little_beyond_parsing(offices: tuple[Path, list[str]]) -> None:
    """Marks were recorded for every value, and a merged block was built again for each
    channel that merged it: loading took five to eight times as long as composing the
    YAML (now about twice)."""
    root, texts = offices
    cfg = load_config(root)
    assert cfg.problems == [] and len(cfg.channels) == OFFICES * 80
    floor = cpu_seconds(lambda: [yaml.compose(text, Loader=_LOADER) for text in texts])
    load = cpu_seconds(lambda: load_config(root))
    assert load < 4 * floor, f"load {load:.3f} s of CPU, composing alone {floor:.3f} s"


def test_a_loaded_config_keeps_little_memory(offices: tuple[Path, list[str]]) -> None:
    """The worker keeps every file's parsed document between syncs: marks for every value
    made that 66 times the size of the YAML; the data and the text are about 22 times."""
    root, texts = offices
    loader._CACHE.clear()
    gc.collect()
    tracemalloc.start()
    try:
        cfg = load_config(root)
        kept, _ = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    size = sum(len(text.encode()) for text in texts)
    assert len(cfg.channels) == OFFICES * 80
    assert kept < 35 * size, f"{kept / 1e6:.1f} MB kept for {size / 1e6:.2f} MB of YAML"


def test_problems_deep_in_a_large_folder_are_located(offices: tuple[Path, list[str]]) -> None:
    """Marks are found on demand: a merged value, an explicit one and a key, in the last
    file, still point at their own line and column."""
    root, _ = offices
    last = root / "channels" / f"office{OFFICES - 1:02d}.yaml"
    text = last.read_text(encoding="utf-8")
    text = text.replace("  min_gap: 1h\n", "  min_gap: soon\n", 1)  # in the merged block
    text = text.replace('account: "acct-14-9"', "account: [a]", 1)
    text = text.replace(
        "    name: office14-telegram-9\n", "    name: office14-telegram-9\n    colour: red\n"
    )
    last.write_text(text, encoding="utf-8")
    lines = text.splitlines()
    cfg = load_config(root)
    where = {(p.field, p.line, p.column) for p in cfg.problems}
    gap_line = lines.index("  min_gap: soon") + 1
    account_line = next(i for i, t in enumerate(lines, 1) if t.endswith("account: [a]"))
    colour_line = lines.index("    colour: red") + 1
    assert ("channels[0].min_gap", gap_line, 12) in where  # every channel merges it
    assert ("channels[79].min_gap", gap_line, 12) in where
    assert (f"channels[{80 - 8}].account", account_line, 14) in where
    assert ("channels[79].colour", colour_line, 5) in where
    assert all(p.path.endswith("office14.yaml") for p in cfg.problems)


def test_merged_blocks_still_count_against_the_alias_budget() -> None:
    """A block merged into many mappings is built once, but each use counts its values."""
    block = "x-a: &a {" + ", ".join(f"k{i}: {i}" for i in range(10)) + "}\n"
    uses = "items:\n" + "".join("  - {<<: *a, n: 1}\n" for _ in range(1_500))
    with pytest.raises(YamlProblem, match="more than 10,000 values"):
        parse_yaml(block + uses)
    doc = parse_yaml(block + "items:\n" + "".join("  - {<<: *a, n: 1}\n" for _ in range(300)))
    assert doc.data["items"][299] == {**{f"k{i}": i for i in range(10)}, "n": 1}
    assert doc.mark(("items", 299, "k3")).line == 1
    assert doc.mark(("items", 299, "n")).line == 302


def test_the_collector_pause_restores_the_collector() -> None:
    """``dissem validate`` pauses the cycle collector while it loads; the collector is as
    it was afterwards, also when the command fails."""
    assert gc.isenabled()
    with pytest.raises(SystemExit), loader.collector_paused():
        assert not gc.isenabled()
        raise SystemExit(2)
    assert gc.isenabled()
    gc.disable()
    try:
        with loader.collector_paused():
            pass
        assert not gc.isenabled()  # left off, as it was
    finally:
        gc.enable()
