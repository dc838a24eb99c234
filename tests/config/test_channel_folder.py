"""Channels in many files: ``channels.yaml`` and/or a ``channels/`` folder of YAML files.

Names are unique across the files, groups may name channels and groups of other files,
every problem is located in its own file, the size cap holds per file, and a channel file
that cannot be read never reads as "its channels were removed"."""

from __future__ import annotations

import re
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import yaml
from sqlalchemy import event, select

from dissem.compose import compose
from dissem.compose.bounded import BoundedEnvironment
from dissem.config import loader as loader_module
from dissem.config.advice import config_warnings
from dissem.config.loader import load_config
from dissem.config.models import Channel, Release
from dissem.config.yamlsafe import MAX_BYTES
from dissem.settings import Settings
from dissem.store.db import make_engine, make_session_factory
from dissem.store.models import ChannelRow, Post, PostState
from dissem.worker.sync import sync
from tests.config.config_folder import load_folder

#: Monday 30 November 2026, 09:00 in Jakarta.
NOW = datetime(2026, 11, 30, 2, 0, tzinfo=UTC)


def channel(name: str, platform: str = "telegram", **more: object) -> str:
    extra = "".join(f"    {k}: {v}\n" for k, v in more.items())
    return (
        f"  - name: {name}\n"
        f"    platform: {platform}\n"
        f'    account: "@{name}"\n'
        f"    timezone: Asia/Jakarta\n"
        f"{extra}"
        f"    credentials:\n"
        f"      bot_token: DISSEM_TG_{name.upper().replace('-', '_')}\n"
    )


def channels_file(names: list[str], groups: str = "") -> str:
    text = "channels:\n" + "".join(channel(n) for n in names)
    return text + (f"groups:\n{groups}" if groups else "")


def test_a_channels_folder_alone_with_groups_across_files(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    cfg = load_folder(
        tmp_path,
        monkeypatch,
        {
            "channels/tokyo.yaml": channels_file(
                ["tokyo-x", "tokyo-ig"], "  tokyo: [tokyo-x, tokyo-ig]\n"
            ),
            "channels/berlin.yml": channels_file(
                ["berlin-x"], "  asia-and-berlin: [asia, berlin-x]\n"
            ),
            "channels/regions/asia.yaml": "groups:\n  asia: [tokyo, seoul-x]\n",
            "channels/regions/seoul.yaml": channels_file(["seoul-x"]),
        },
    )
    assert cfg.problems == []
    assert list(cfg.channels) == ["berlin-x", "seoul-x", "tokyo-x", "tokyo-ig"]
    assert cfg.groups["asia"] == ["tokyo-x", "tokyo-ig", "seoul-x"]
    assert cfg.groups["asia-and-berlin"] == ["tokyo-x", "tokyo-ig", "seoul-x", "berlin-x"]


def test_channels_yaml_groups_name_channels_and_groups_of_the_folder(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    cfg = load_folder(
        tmp_path,
        monkeypatch,
        {
            "channels.yaml": channels_file(["hq-x"], "  all: [hq-x, embassies]\n"),
            "channels/embassies.yaml": channels_file(
                ["tokyo-x"], "  embassies: [tokyo-x, london-x]\n"
            ),
            "channels/london.yaml": channels_file(["london-x"]),
        },
    )
    assert cfg.problems == []
    assert cfg.groups["all"] == ["hq-x", "tokyo-x", "london-x"]


def test_each_problem_is_located_in_its_own_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    tokyo = channels_file(["tokyo-x"], "  tokyo: [tokyo-x, tokio-ig]\n")
    tokyo = tokyo.replace("    timezone: Asia/Jakarta\n", "    timezone: Asia/Tokio\n")
    cfg = load_folder(
        tmp_path,
        monkeypatch,
        {
            "channels.yaml": channels_file(["hq-x"], "  all: [hq-x, tokyo, berlin]\n"),
            "channels/tokyo.yaml": tokyo,
            "channels/berlin.yaml": channels_file(["berlin-x"], "  berlin: [berlin-x, tokyo-ig]\n"),
            "channels/zz-tokyo-ig.yaml": channels_file(["tokyo-ig"]),
        },
    )
    where = {(p.path, p.line, p.field): p for p in cfg.problems}
    assert set(where) == {
        ("config/channels/tokyo.yaml", 5, "channels[0].timezone"),
        ("config/channels/tokyo.yaml", 9, "groups.tokyo[1]"),
    }
    typo = where[("config/channels/tokyo.yaml", 9, "groups.tokyo[1]")]
    assert "'tokio-ig'" in typo.message and typo.hint == "did you mean 'tokyo-ig'?"
    # berlin's group names a channel of a later file: found, no problem
    assert cfg.groups["berlin"] == ["berlin-x", "tokyo-ig"]


def test_a_duplicate_across_files_names_both_files_and_lines(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    cfg = load_folder(
        tmp_path,
        monkeypatch,
        {
            "channels.yaml": channels_file(["hq-x", "tokyo-x"], "  asia: [tokyo-x]\n"),
            "channels/tokyo.yaml": channels_file(["tokyo-ig", "tokyo-x"], "  asia: [tokyo-ig]\n"),
        },
    )
    by_field = {p.field: p for p in cfg.problems}
    assert set(by_field) == {"channels[1].name", "groups.asia"}
    chan = by_field["channels[1].name"]
    assert (chan.path, chan.line) == ("config/channels/tokyo.yaml", 8)
    assert "'tokyo-x' is used twice (first in config/channels.yaml:8)" in chan.message
    group = by_field["groups.asia"]
    assert (group.path, group.line) == ("config/channels/tokyo.yaml", 15)
    assert "'asia' is defined twice (first in config/channels.yaml:15)" in group.message
    # which tokyo-x is meant is unclear: both are left out and their posts wait
    assert "tokyo-x" not in cfg.channels and "tokyo-x" in cfg.broken_channel_names
    assert cfg.groups["asia"] == []  # the first definition holds


def test_the_size_cap_holds_per_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    files = {}
    for f in range(4):  # 4 files of ~165 KB: 660 KB in all, over the cap of one file
        names = [f"office{f}-ch{i:04d}" for i in range(1000)]
        files[f"channels/office{f}.yaml"] = channels_file(names)
        assert MAX_BYTES / 2 < len(files[f"channels/office{f}.yaml"]) < MAX_BYTES
    big = channels_file([f"big-ch{i:04d}" for i in range(1800)])
    assert len(big) > MAX_BYTES
    files["channels/zz-big.yaml"] = big
    cfg = load_folder(tmp_path, monkeypatch, files)
    (problem,) = cfg.problems
    assert problem.path == "config/channels/zz-big.yaml"
    assert "limited to 262,144 bytes" in problem.message
    assert "channels/ folder" in problem.hint
    assert len(cfg.channels) == 4000
    # the big file could not be read: its channels are not taken as removed
    assert cfg.channels_incomplete and "big-ch0007" in cfg.broken_channel_names


def test_a_cycle_across_files_and_a_group_named_like_a_channel_of_another(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    cfg = load_folder(
        tmp_path,
        monkeypatch,
        {
            "channels.yaml": channels_file(["hq-x"], "  a: [hq-x, b]\n"),
            "channels/b.yaml": "groups:\n  b: [a]\n  hq-x: [a]\n",
        },
    )
    found = {(p.path, p.field, p.message.split(":")[0]) for p in cfg.problems}
    assert found == {
        ("config/channels.yaml", "groups.a", "groups contain each other"),
        ("config/channels/b.yaml", "groups.hq-x", "group 'hq-x' has the name of a channel"),
    }


def test_neither_channels_yaml_nor_folder(tmp_path: Path) -> None:
    (tmp_path / "releases").mkdir()
    (problem,) = load_config(tmp_path).problems
    assert "channels.yaml not found" in problem.message
    assert "channels/ folder" in problem.hint


def test_hidden_files_and_other_suffixes_are_skipped(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    cfg = load_folder(
        tmp_path,
        monkeypatch,
        {
            "channels/a.yaml": channels_file(["a-x"]),
            "channels/.a.yaml.swp": "not: [yaml",
            "channels/.hidden/b.yaml": channels_file(["b-x"]),
            "channels/README.md": "# Our channels\n",
        },
    )
    assert cfg.problems == [] and list(cfg.channels) == ["a-x"]


def test_a_channels_path_that_is_a_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    cfg = load_folder(
        tmp_path,
        monkeypatch,
        {"channels.yaml": channels_file(["hq-x"]), "channels": "oops\n"},
    )
    (problem,) = cfg.problems
    assert problem.path == "config/channels" and "not a folder" in problem.message
    assert cfg.channels_incomplete and list(cfg.channels) == ["hq-x"]


def test_an_unreadable_channel_file_keeps_its_channels_and_posts(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, db_url: str
) -> None:
    """An embassy's file with a YAML mistake hides its channels: sync must neither mark
    them removed nor cancel their posts (a release targeting a group of all embassies
    stays valid), and once the file is fixed nothing was lost."""
    monkeypatch.chdir(tmp_path)
    root = tmp_path / "config"
    (root / "channels").mkdir(parents=True)
    (root / "releases").mkdir()
    (root / "channels.yaml").write_text(
        channels_file(["hq-x"], "  all: [hq-x, berlin-x, tokyo-x]\n")
    )
    (root / "channels/berlin.yaml").write_text(channels_file(["berlin-x"]))
    tokyo = channels_file(["tokyo-x"])
    (root / "channels/tokyo.yaml").write_text(tokyo)
    data = {
        "title": "Release",
        "summary": "What it is about.",
        "url": "https://portal.example/news/r1",
        "targets": ["all"],
        "status": "approved",
        "approved_by": "Editor",
    }
    (root / "releases/r1.yaml").write_text(yaml.safe_dump(data))
    settings = Settings(
        _env_file=None,  # type: ignore[call-arg]
        database_url=db_url,
        config_dir=root,
        timezone="Asia/Jakarta",
        worker_id="w-folder",
    )
    engine = make_engine(db_url)
    factory = make_session_factory(engine)
    try:
        sync(factory, settings, NOW)
        with factory() as s:
            before = {(p.channel, p.state) for p in s.scalars(select(Post))}
        assert before == {(c, PostState.SCHEDULED) for c in ("hq-x", "berlin-x", "tokyo-x")}
        (root / "channels/tokyo.yaml").write_text(tokyo.replace("channels:", "channels: [", 1))
        result = sync(factory, settings, NOW + timedelta(minutes=1))
        with factory() as s:
            after = {(p.channel, p.state) for p in s.scalars(select(Post))}
            removed = {r.name for r in s.scalars(select(ChannelRow)) if r.removed}
        assert [p.path for p in result.problems] == ["config/channels/tokyo.yaml"]
        assert result.changes.channels_removed == [] and removed == set()
        assert after == before
        (root / "channels/tokyo.yaml").write_text(tokyo)
        fixed = sync(factory, settings, NOW + timedelta(minutes=2))
        with factory() as s:
            again = {(p.channel, p.state) for p in s.scalars(select(Post))}
        assert fixed.problems == [] and again == before
    finally:
        engine.dispose()


def test_credential_warnings_read_each_channel_file_once(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Locating the unset-credential warning of 10,000 channels read every file once per
    channel (a minute of `dissem validate`); now each file is read once, and every warning
    still points at its variable in its own file."""
    files = {
        f"channels/office{f}.yaml": channels_file([f"office{f}-ch{i}" for i in range(20)])
        for f in range(10)
    }
    cfg = load_folder(tmp_path, monkeypatch, files)
    assert cfg.problems == []
    reads: list[Path] = []
    real = Path.read_text

    def counting(self: Path, *args: object, **kwargs: object) -> str:
        reads.append(self)
        return real(self, *args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(Path, "read_text", counting)
    warnings = [w for w in config_warnings(cfg, environ={}) if "credentials" in w.field]
    assert len(warnings) == 200
    assert sorted(r for r in reads if r.exists()) == sorted(
        tmp_path / "config" / rel for rel in files
    )
    last = warnings[-1]
    assert (last.path, last.line) == ("config/channels/office9.yaml", 121)
    assert "DISSEM_TG_OFFICE9_CH19" in last.message and last.column == 18


def test_one_template_shared_by_many_channels_compiles_once(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The compiled template was cached by (source, origin), and the origin names the
    channel: a release to 1,000 channels compiled the same template 1,000 times."""
    source = "{{ title }} {{ url }} #shared-" + uuid.uuid4().hex[:8]
    compiled: list[str] = []
    real = BoundedEnvironment.from_string

    def counting(self: BoundedEnvironment, text: str, *args: object, **kw: object) -> object:
        compiled.append(text)
        return real(self, text, *args, **kw)  # type: ignore[arg-type]

    monkeypatch.setattr(BoundedEnvironment, "from_string", counting)
    release = Release.model_validate(
        {"id": "r1", "title": "T", "url": "https://portal.example/n/1", "targets": ["all"]}
    )
    for i in range(30):
        ch = Channel.model_validate(
            {
                "name": f"office{i}-x",
                "platform": "x",
                "account": "@a",
                "timezone": "Asia/Jakarta",
                "template": source,
            }
        )
        (part,) = compose(release, ch, NOW)
        assert part.text.startswith("T https://portal.example")
    assert compiled.count(source) == 1


def test_a_release_to_many_channels_reads_their_planned_times_in_few_queries(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, db_url: str
) -> None:
    """Planning a new release read each target channel's planned times in a query of its
    own (1,000 queries for 1,000 channels); now 500 channels to a query."""
    monkeypatch.chdir(tmp_path)
    root = tmp_path / "config"
    (root / "releases").mkdir(parents=True)
    names = [f"office{i}-tg" for i in range(60)]
    (root / "channels.yaml").write_text(channels_file(names, f"  all: [{', '.join(names)}]\n"))
    data = {
        "title": "Release",
        "url": "https://portal.example/news/r1",
        "targets": ["all"],
        "status": "approved",
        "approved_by": "Editor",
    }
    (root / "releases/r1.yaml").write_text(yaml.safe_dump(data))
    settings = Settings(
        _env_file=None,  # type: ignore[call-arg]
        database_url=db_url,
        config_dir=root,
        timezone="Asia/Jakarta",
    )
    engine = make_engine(db_url)
    taken_queries: list[str] = []

    def capture(conn: object, cursor: object, statement: str, *rest: object) -> None:
        if re.match(
            r"\s*SELECT (posts\.channel, )?posts\.due_at, posts\.published_at\s", statement
        ):
            taken_queries.append(statement)

    event.listen(engine, "before_cursor_execute", capture)
    try:
        result = sync(make_session_factory(engine), settings, NOW)
    finally:
        event.remove(engine, "before_cursor_execute", capture)
        engine.dispose()
    assert result.plan.created == 60
    assert 1 <= len(taken_queries) <= 2  # one per pass (the first pass lacks compositions)


def test_a_reload_parses_only_the_files_that_changed(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The worker loads the config every sync; parsing 10,000 unchanged channels took 2 s
    of a sync that changed nothing. Unchanged files are taken from the last load; an edit
    is read, and a problem in it still reported on every load."""
    files = {f"channels/office{f}.yaml": channels_file([f"office{f}-ch0"]) for f in range(8)}
    files["releases/r1.yaml"] = "title: T\nurl: https://portal.example/1\ntargets: [office0-ch0]\n"
    first = load_folder(tmp_path, monkeypatch, files)
    assert first.problems == [] and len(first.channels) == 8
    parsed: list[int] = []
    real = loader_module.parse_yaml

    def counting(text: str, **kw: Any) -> Any:
        parsed.append(1)
        return real(text, **kw)

    monkeypatch.setattr(loader_module, "parse_yaml", counting)
    again = load_config(tmp_path / "config")
    assert parsed == [] and again.channels == first.channels
    assert [r.content_hash for r in again.releases] == [r.content_hash for r in first.releases]
    office3 = tmp_path / "config/channels/office3.yaml"
    office3.write_text(office3.read_text().replace("Asia/Jakarta", "Asia/Tokio"))
    for _ in range(2):
        edited = load_config(tmp_path / "config")
        (problem,) = edited.problems
        assert problem.path == "config/channels/office3.yaml" and "Tokio" in problem.message
        assert "office3-ch0" not in edited.channels and len(edited.channels) == 7
    assert parsed == [1]
