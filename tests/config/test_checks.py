"""Cross-file checks: names, groups, targets, overrides, duplicate ids, feeds."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from dissem.config.checks import expand_groups
from dissem.config.models import LoadedConfig
from tests.config.config_folder import load_folder

CHANNEL = """\
  - name: {name}
    platform: {platform}
    account: "@{name}"
    timezone: Europe/Berlin
"""


def channels_yaml(names: list[str], groups: str = "") -> str:
    body = "".join(CHANNEL.format(name=n, platform="mastodon") for n in names)
    return "channels:\n" + body + (f"groups:\n{textwrap.indent(groups, '  ')}" if groups else "")


def release(targets: str, extra: str = "") -> str:
    return f"title: T\nurl: https://www.portal.example/a\ntargets: {targets}\n{extra}"


def load(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, channels: str, files: dict[str, str]
) -> LoadedConfig:
    return load_folder(tmp_path, monkeypatch, {"channels.yaml": channels, **files})


def test_unknown_target_is_located_with_a_suggestion(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    cfg = load(
        tmp_path,
        monkeypatch,
        channels_yaml(["hq-x", "embassy-berlin"], "embassies: [embassy-berlin]\n"),
        {"releases/r.yaml": release("[hq-x, embasies]"), "releases/ok.yaml": release("[hq-x]")},
    )
    (p,) = cfg.problems
    assert (p.path, p.line, p.column, p.field) == ("config/releases/r.yaml", 3, 17, "targets[1]")
    assert "'embasies'" in p.message and p.hint == "did you mean 'embassies'?"
    assert cfg.broken_release_ids == {"r"}
    assert [r.release.id for r in cfg.releases] == ["ok"]


def test_targets_of_a_broken_file_are_still_checked(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    cfg = load(
        tmp_path,
        monkeypatch,
        channels_yaml(["hq-x"]),
        {"releases/r.yaml": release("[hq-y]", "bogus: 1\n")},
    )
    assert sorted(p.field for p in cfg.problems) == ["bogus", "targets[0]"]


def test_groups_expand_nested_in_order_without_duplicates(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    groups = "europe: [berlin, london]\nasia: [tokyo]\nembassies: [europe, asia, berlin]\n"
    groups += "all: [hq, embassies]\n"
    cfg = load(
        tmp_path,
        monkeypatch,
        channels_yaml(["hq", "berlin", "london", "tokyo"], groups),
        {"releases/r.yaml": release("[embassies, hq]")},
    )
    assert cfg.problems == []
    assert cfg.groups["embassies"] == ["berlin", "london", "tokyo"]
    assert cfg.groups["all"] == ["hq", "berlin", "london", "tokyo"]
    (r,) = cfg.releases
    assert cfg.targets_of(r.release) == ["berlin", "london", "tokyo", "hq"]


def test_group_cycle_is_reported_once(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    groups = "a: [x, b]\nb: [c]\nc: [a]\nd: [d]\n"
    cfg = load(tmp_path, monkeypatch, channels_yaml(["x"], groups), {})
    cycles = [p for p in cfg.problems if "contain each other" in p.message]
    assert [p.message.split(": ", 1)[1] for p in cycles] == ["a -> b -> c -> a", "d -> d"]
    assert cycles[0].field == "groups.a" and cycles[0].line == 7  # the key of group a
    assert cfg.groups["a"] == ["x"]  # expansion stops where the cycle closes


def test_expand_groups_reports_cycles_as_paths() -> None:
    expanded, cycles = expand_groups({"a": ["b", "ch1"], "b": ["a", "ch2"]})
    assert cycles == [["a", "b", "a"]]
    assert expanded["a"] == ["ch2", "ch1"]


def test_unknown_group_member_and_name_clash(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    groups = "team: [hq-x, hq-mastodn]\nhq-x: [hq-x]\nBad Name: [hq-x]\n"
    cfg = load(tmp_path, monkeypatch, channels_yaml(["hq-x", "hq-mastodon"], groups), {})
    by_msg = {p.message: p for p in cfg.problems}
    member = next(p for m, p in by_msg.items() if "'hq-mastodn'" in m)
    assert member.hint == "did you mean 'hq-mastodon'?" and member.field == "groups.team[1]"
    assert any("has the name of a channel" in m for m in by_msg)
    assert any("not a valid group name" in m for m in by_msg)


def test_duplicate_channel_names(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    cfg = load(
        tmp_path,
        monkeypatch,
        channels_yaml(["a", "b", "a"]),
        {"releases/r.yaml": release("[a, b]")},
    )
    (p,) = cfg.problems
    assert (p.line, p.field) == (10, "channels[2].name") and "first on line 2" in p.message
    assert list(cfg.channels) == ["b"]
    assert cfg.broken_channel_names == {"a"}
    # a release naming the ambiguous channel is not blamed for it
    assert [r.release.id for r in cfg.releases] == ["r"]


def test_duplicate_release_ids_across_files(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    md = "---\n" + release("[a]") + "---\nBody\n"
    cfg = load(
        tmp_path,
        monkeypatch,
        channels_yaml(["a"]),
        {
            "releases/story.yaml": release("[a]"),
            "releases/story.md": md,
            "releases/other.yaml": release("[a]", "id: shared\n"),
            "releases/shared.yml": release("[a]"),
        },
    )
    paths = sorted(p.path for p in cfg.problems)
    assert paths == [
        "config/releases/other.yaml",
        "config/releases/shared.yml",
        "config/releases/story.md",
        "config/releases/story.yaml",
    ]
    assert all("more than one file" in p.message for p in cfg.problems)
    assert cfg.releases == [] and cfg.broken_release_ids == {"story", "shared"}


def test_override_keys_must_be_platforms_or_channels(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    overrides = "overrides:\n  x: {skip: true}\n  hq-a: {text: hi}\n  twiter: {skip: true}\n"
    overrides += "  hq-b: {skip: true}\n"
    cfg = load(
        tmp_path,
        monkeypatch,
        channels_yaml(["hq-a"]),
        {"releases/r.yaml": release("[hq-a]", overrides)},
    )
    assert [(p.field, p.line, p.hint) for p in cfg.problems] == [
        ("overrides.twiter", 7, "did you mean 'x'?"),
        ("overrides.hq-b", 8, "did you mean 'hq-a'?"),
    ]


def test_feed_checks(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    feeds = textwrap.dedent(
        """\
        feeds:
          - name: news
            url: https://www.portal.example/rss
            targets: [a]
          - name: news
            url: ftp://www.portal.example/rss
            targets: [b]
            status: approved
          - name: wrong
            url: https://www.portal.example/rss
            targts: [a]
        """
    )
    cfg = load(tmp_path, monkeypatch, channels_yaml(["a"]), {"feeds.yaml": feeds})
    found = {(p.field, p.line) for p in cfg.problems}
    assert found == {
        ("feeds[1].name", 5),
        ("feeds[1].url", 6),
        ("feeds[1].status", 8),
        ("feeds[1].targets[0]", 7),
        ("feeds[2].targts", 11),
        ("feeds[2].targets", 9),
    }
    assert [f.name for f in cfg.feeds] == ["news"]


def test_templates_are_checked_where_they_are_written(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    channels = channels_yaml(["a", "b"]).replace(
        "  - name: b\n", "  - name: b\n    template: '{{ title }} {% if url %}'\n"
    )
    overrides = "overrides:\n  x:\n    text: '{{ titel }} {{ url }}'\n"
    cfg = load(
        tmp_path,
        monkeypatch,
        channels,
        {"releases/r.yaml": release("[a]", overrides), "releases/ok.yaml": release("[a, b]")},
    )
    found = {(p.path, p.line, p.field): p for p in cfg.problems}
    assert set(found) == {
        ("config/channels.yaml", 7, "channels[1].template"),
        ("config/releases/r.yaml", 6, "overrides.x.text"),
    }
    assert "syntax error" in found[("config/channels.yaml", 7, "channels[1].template")].message
    assert "'titel'" in found[("config/releases/r.yaml", 6, "overrides.x.text")].message
    assert list(cfg.channels) == ["a"] and cfg.broken_channel_names == {"b"}
    assert [r.release.id for r in cfg.releases] == ["ok"]
