"""The first hour with the CLI (issue 12): one ``--config`` everywhere, usage errors exit
2 with one clear line, help texts without reStructuredText markup, words in the plural."""

from __future__ import annotations

import json
import shutil
from collections.abc import Iterator
from pathlib import Path

import click
import pytest
from click.testing import CliRunner

import dissem
from dissem.cli import cli
from dissem.settings import get_settings

EXAMPLE = Path(dissem.__file__).parent / "example"

#: every command that reads the config folder
CONFIG_COMMANDS = (
    ("validate",),
    ("init",),
    ("preview",),
    ("sync",),
    ("run",),
    ("queue",),
    ("feeds",),
    ("feeds", "poll"),
    ("approve",),
)


@pytest.fixture
def runner(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[CliRunner]:
    monkeypatch.chdir(tmp_path)
    for key in ("DISSEM_CONFIG_DIR", "DISSEM_TIMEZONE", "DISSEM_SANDBOX_URL"):
        monkeypatch.delenv(key, raising=False)
    monkeypatch.setenv("DISSEM_DATABASE_URL", f"sqlite:///{tmp_path / 'dissem.db'}")
    get_settings.cache_clear()
    yield CliRunner()
    get_settings.cache_clear()


def _commands(group: click.Group, prefix: tuple[str, ...] = ()) -> Iterator[tuple[str, ...]]:
    for name, command in group.commands.items():
        yield (*prefix, name)
        if isinstance(command, click.Group):
            yield from _commands(command, (*prefix, name))


def test_no_help_text_shows_double_backticks(runner: CliRunner) -> None:
    seen = []
    for path in _commands(cli):
        result = runner.invoke(cli, [*path, "--help"])
        assert result.exit_code == 0, (path, result.output)
        if "``" in result.output:
            seen.append(" ".join(path))
    assert seen == []


@pytest.mark.parametrize("path", CONFIG_COMMANDS, ids=" ".join)
def test_every_command_that_reads_the_config_takes_config(
    runner: CliRunner, path: tuple[str, ...]
) -> None:
    result = runner.invoke(cli, [*path, "--help"])
    assert "--config DIR" in result.output and "DISSEM_CONFIG_DIR" in result.output


@pytest.mark.parametrize(
    "args",
    [["run", "--once"], ["run"], ["sync"], ["validate"], ["preview", "release.yaml"]],
    ids=" ".join,
)
def test_no_config_folder_is_a_usage_error(
    runner: CliRunner, tmp_path: Path, args: list[str]
) -> None:
    (tmp_path / "release.yaml").write_text("title: T\n")
    result = runner.invoke(cli, args)
    assert result.exit_code == 2, result.output
    assert result.stderr.startswith(f"dissem {args[0]}: no config folder at config ")
    assert "--config DIR" in result.stderr and "Traceback" not in result.output


def test_init_on_an_existing_folder_exits_2_and_its_hint_names_the_folder(
    runner: CliRunner, tmp_path: Path
) -> None:
    first = runner.invoke(cli, ["init", "--config", "myconfig"])
    assert first.exit_code == 0, first.output
    assert first.stdout.splitlines()[-1] == (
        "next: edit myconfig/channels.yaml, then `dissem validate --config myconfig`"
    )
    again = runner.invoke(cli, ["init", "--config", "myconfig"])
    assert again.exit_code == 2
    assert "not overwriting existing files" in again.stderr
    ok = runner.invoke(cli, ["validate", "--config", "myconfig"])
    assert ok.exit_code == 0, ok.output


def test_the_positional_folder_still_works_with_a_note(runner: CliRunner, tmp_path: Path) -> None:
    shutil.copytree(EXAMPLE, tmp_path / "cfg")
    result = runner.invoke(cli, ["validate", "cfg"])
    assert result.exit_code == 0, result.output
    assert "deprecated; use `dissem validate --config DIR`" in result.stderr
    both = runner.invoke(cli, ["validate", "cfg", "--config", "other"])
    assert both.exit_code == 2 and "use --config only" in both.output


def test_config_option_beats_the_environment(
    runner: CliRunner, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    shutil.copytree(EXAMPLE, tmp_path / "cfg")
    monkeypatch.setenv("DISSEM_CONFIG_DIR", str(tmp_path / "missing"))
    get_settings.cache_clear()
    result = runner.invoke(cli, ["sync", "--config", "cfg"])
    assert result.exit_code == 0, result.output
    assert result.stdout.startswith("synced cfg: ")


def test_sync_says_counts_in_words_in_the_right_number(runner: CliRunner, tmp_path: Path) -> None:
    root = tmp_path / "one"
    runner.invoke(cli, ["init", "--config", str(root)])
    welcome = root / "releases" / "welcome.yaml"
    text = welcome.read_text().replace("targets: [main]", "targets: [main-mastodon]")
    welcome.write_text(text.replace("status: draft", "approved_by: Ed\nstatus: approved"))
    result = runner.invoke(cli, ["sync", "--config", str(root)])
    assert result.exit_code == 0, result.output
    line = result.stdout.strip()
    assert line == "synced one: 2 channels added, 2 releases added; 1 post planned", line
    welcome.unlink()
    text = (root / "channels.yaml").read_text().replace("daily_cap: 20", "daily_cap: 19")
    (root / "channels.yaml").write_text(text)
    again = runner.invoke(cli, ["sync", "--config", str(root)]).stdout.strip()
    assert again == "synced one: 1 channel changed, 1 release deleted; 1 post cancelled", again
    assert runner.invoke(cli, ["sync", "--config", str(root)]).stdout.strip() == (
        "synced one: nothing changed"
    )


def test_report_format_pdf_is_a_clean_usage_error(runner: CliRunner) -> None:
    result = runner.invoke(cli, ["report", "--format", "pdf"])
    assert result.exit_code == 2
    assert "'pdf' is not a report format; choose one or more of html, csv, xlsx" in result.output
    assert "('html'" not in result.output


def test_a_release_file_broken_after_sync_keeps_its_posts_and_queue_says_so(
    runner: CliRunner, tmp_path: Path
) -> None:
    root = tmp_path / "cfg"
    runner.invoke(cli, ["init", "--config", str(root)])
    welcome = root / "releases" / "welcome.yaml"
    welcome.write_text(
        welcome.read_text().replace("status: draft", "approved_by: Ed\nstatus: approved")
    )
    assert runner.invoke(cli, ["sync", "--config", "cfg"]).exit_code == 0
    assert runner.invoke(cli, ["queue", "--config", "cfg", "--problems"]).stdout.strip() == (
        "no problem posts"
    )
    welcome.write_text(welcome.read_text().replace("priority: normal", "priority: urgent"))
    assert runner.invoke(cli, ["sync", "--config", "cfg"]).exit_code == 2
    result = runner.invoke(cli, ["queue", "--config", "cfg"])
    rows = [line for line in result.stdout.splitlines() if " scheduled " in line]
    assert len(rows) == 2  # still scheduled: the last good version goes out
    for row in rows:
        assert "file now broken: cfg/releases/welcome.yaml:" in row and "priority" in row
    problems = runner.invoke(cli, ["queue", "--config", "cfg", "--problems", "--json"])
    listed = json.loads(problems.stdout)
    assert len(listed) == 2 and all(r["waiting"].startswith("file now broken") for r in listed)
