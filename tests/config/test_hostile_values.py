"""Values that are wrong in hostile or careless ways: each is a located problem of its own
file, never a traceback, and never stops the other files (issue: one bad value stopped the
whole config)."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest
from click.testing import CliRunner

from dissem.cli import cli
from dissem.config.models import LoadedConfig
from dissem.config.schema import schema_for
from tests.config.config_folder import load_folder

CHANNEL = """\
  - name: {name}
    platform: mastodon
    account: "@{name}@social.example"
    timezone: Europe/Berlin
"""
RELEASE = """\
title: A release
url: https://www.portal.example/news/a
targets: [c1]
"""


def channels(names: list[str], extra: str = "", groups: str = "") -> str:
    text = "channels:\n" + "".join(CHANNEL.format(name=n) for n in names) + extra
    return text + (f"groups:\n{groups}" if groups else "")


def load(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, **files: str) -> LoadedConfig:
    """``files``: ``releases__x.yaml`` for ``releases/x.yaml``; channels c1, c2 and a good
    release ``good`` unless given."""
    base = {"channels.yaml": channels(["c1", "c2"]), "releases/good.yaml": RELEASE}
    return load_folder(
        tmp_path, monkeypatch, {**base, **{k.replace("__", "/"): v for k, v in files.items()}}
    )


@pytest.mark.parametrize(
    ("line", "field"),
    [
        ("not_before: 0001-01-01 00:00:00", "not_before"),
        ("expires: 9999-12-31T23:59:59-12:00", "expires"),
        ("not_before: 1999-12-31T23:00:00Z", "not_before"),
        ('url: "http://[::1.x/a"', "url"),
        ('url: "https://portal.example:99999/a"', "url"),
        ('image: {src: "a\\0b.jpg"}', "image.src"),
        ('image: {src: "javascript://x.example/%0aalert(1)"}', "image.src"),
        ("image: {src: ../../etc/passwd}", "image.src"),
        ("image: {src: /dev/zero}", "image.src"),
        ('image: {src: "' + "x" * 5000 + '.jpg"}', "image.src"),
    ],
)
def test_a_bad_release_value_is_located_and_the_others_load(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, line: str, field: str
) -> None:
    text = (
        RELEASE.replace("url: https://www.portal.example/news/a\n", "")
        if "url" in line
        else RELEASE
    )
    cfg = load(tmp_path, monkeypatch, **{"releases/bad.yaml": f"{text}{line}\n"})
    (problem,) = cfg.problems
    assert problem.path == "config/releases/bad.yaml" and problem.field == field
    assert problem.line == (text + line).count("\n") + 1
    assert [r.release.id for r in cfg.releases] == ["good"]
    assert cfg.broken_release_ids == {"bad"}
    assert len(problem.message) < 300


@pytest.mark.parametrize(
    "setting",
    [
        "min_gap: 99999999999d",
        "min_gap: .inf",
        "min_gap: .nan",
        "min_gap: -5",
        "min_gap: 400d",
        "min_gap: P99999999999D",
        "evergreen_interval: 1s",
        "daily_cap: 99999999999999999999",
        "api_base: 'javascript:alert(1)'",
        "api_base: file:///etc/passwd",
        "api_base: 'http://[::1.x/a'",
        "windows: ['" + "mon," * 20000 + "mon 08:00-09:00']",
    ],
)
def test_a_bad_channel_value_is_located_and_the_other_channels_load(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, setting: str
) -> None:
    cfg = load(
        tmp_path, monkeypatch, **{"channels.yaml": channels(["c1", "c2"], f"    {setting}\n")}
    )
    (problem,) = cfg.problems
    assert problem.path == "config/channels.yaml" and problem.line == 10
    assert problem.field.startswith("channels[1]."), problem
    assert list(cfg.channels) == ["c1"] and cfg.broken_channel_names == {"c2"}
    assert [r.release.id for r in cfg.releases] == ["good"]
    assert len(str(problem)) < 500


def test_a_chain_of_1500_groups_expands(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    groups = "".join(f"  g{i}: [g{i + 1}]\n" for i in range(1500)) + "  g1500: [c2]\n"
    cfg = load(tmp_path, monkeypatch, **{"channels.yaml": channels(["c1", "c2"], groups=groups)})
    assert cfg.problems == []
    assert cfg.groups["g0"] == ["c2"] and len(cfg.groups) == 1501


def test_groups_naming_each_other_take_linear_time(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """110 groups that all name each other (about 60 KB) took 48 s, at every sync."""
    names = [f"group-number-{i}" for i in range(110)]
    groups = "".join(f"  {n}: [c1, {', '.join(m for m in names if m != n)}]\n" for n in names)
    started = time.monotonic()
    cfg = load(tmp_path, monkeypatch, **{"channels.yaml": channels(["c1", "c2"], groups=groups)})
    assert time.monotonic() - started < 2
    cycles = [p for p in cfg.problems if "contain each other" in p.message]
    assert len(cycles) == 1 and len(cfg.problems) == 1
    assert cfg.groups[names[5]] == ["c1"]


def test_a_nul_byte_is_reported_at_its_own_line(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    cfg = load(tmp_path, monkeypatch, **{"releases/bad.yaml": RELEASE + "summary: ab\x00c\n"})
    (problem,) = cfg.problems
    assert (problem.line, problem.column) == (4, 12)
    assert "U+0000" in problem.message


def test_a_huge_value_is_cut_in_messages(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    huge = "y" * 80_000  # three times in a file under the 256 KB limit
    cfg = load(
        tmp_path,
        monkeypatch,
        **{
            "releases/bad.yaml": f"{RELEASE}language: [{huge}]\npriority: {huge}\n? {huge}\n: 1\n",
            "channels.yaml": channels(["c1", "c2"], f"    min_gap: {huge}\n"),
        },
    )
    assert len(cfg.problems) >= 4
    for problem in cfg.problems:
        assert len(str(problem)) < 600, str(problem)[:300]
    assert any("80,000 characters" in p.message for p in cfg.problems)


def test_validate_never_ends_in_a_traceback(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    root = tmp_path / "config"
    (root / "releases").mkdir(parents=True)
    (root / "channels.yaml").write_text(channels(["c1"], "    min_gap: .inf\n"))
    (root / "releases" / "a.yaml").write_text(RELEASE + "not_before: 0001-01-01 00:00:00\n")
    (root / "releases" / "b.yaml").write_text(RELEASE + 'image: {src: "a\\0b"}\n')
    monkeypatch.chdir(tmp_path)
    result = CliRunner().invoke(cli, ["validate", "--config", "config", "--json"])
    assert (result.exit_code == 2 and result.exception is None) or isinstance(
        result.exception, SystemExit
    )
    report = json.loads(result.stdout)
    assert {p["path"] for p in report["problems"]} == {
        "config/channels.yaml",
        "config/releases/a.yaml",
        "config/releases/b.yaml",
    }


def test_the_schema_shows_the_bounds() -> None:
    channel = schema_for("channels")["$defs"]["Channel"]["properties"]
    assert (channel["min_gap"]["minimum"], channel["min_gap"]["maximum"]) == (0, 365 * 24 * 60)
    assert "0s to 365d" in channel["min_gap"]["description"]
    assert channel["daily_cap"]["anyOf"][0]["maximum"] == 10_000
    release = schema_for("release")["properties"]["not_before"]["anyOf"][0]
    assert release["pattern"].startswith("^2\\d{3}-") and "2999-12-31" in release["description"]


def test_a_time_zone_too_long_for_a_file_name_is_a_problem(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Found by the fuzz test: ZoneInfo raised OSError (file name too long)."""
    text = channels(["c1", "c2"]).replace("Europe/Berlin", "x" * 5000, 1)
    cfg = load(tmp_path, monkeypatch, **{"channels.yaml": text})
    (problem,) = cfg.problems
    assert problem.field == "channels[0].timezone" and "unknown time zone" in problem.message
    assert list(cfg.channels) == ["c2"]
