"""`dissem validate`, `dissem init`, `dissem schema`."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from click.testing import CliRunner

import dissem
from dissem.cli import cli

EXAMPLE = Path(dissem.__file__).parent / "example"


@pytest.fixture
def runner(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> CliRunner:
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("DISSEM_CONFIG_DIR", raising=False)
    monkeypatch.delenv("DISSEM_TIMEZONE", raising=False)
    return CliRunner()


def test_validate_example_is_ok(runner: CliRunner) -> None:
    result = runner.invoke(cli, ["validate", str(EXAMPLE)])
    assert result.exit_code == 0, result.output
    assert "ok (" in result.output and "channels" in result.output


def test_validate_reports_each_problem_and_exits_2(runner: CliRunner, tmp_path: Path) -> None:
    shutil.copytree(EXAMPLE, tmp_path / "config")
    bad = tmp_path / "config" / "releases" / "bad.yaml"
    bad.write_text(
        "title: T\nurl: https://www.kemlu.example/b\ntargets: [hq]\nlanguage: en\n"
        "status: draft\npriority: normal\nsumary: typo\n"
    )
    result = runner.invoke(cli, ["validate"])  # default: DISSEM_CONFIG_DIR=config
    assert result.exit_code == 2
    lines = result.stdout.splitlines()
    assert lines == [
        "config/releases/bad.yaml:7:1: sumary: unknown key 'sumary' (hint: did you mean 'summary'?)"
    ]
    assert "1 problem in 1 file" in result.stderr


def test_validate_json(runner: CliRunner, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    shutil.copytree(EXAMPLE, tmp_path / "cfg")
    (tmp_path / "cfg" / "releases" / "x.yaml").write_text("title: T\n")
    monkeypatch.setenv("DISSEM_CONFIG_DIR", "cfg")
    result = runner.invoke(cli, ["validate", "--json"])
    assert result.exit_code == 2
    data = json.loads(result.stdout)
    assert data["ok"] is False and data["broken_release_ids"] == ["x"]
    assert {p["field"] for p in data["problems"]} == {"url", "targets"}
    assert all(p["path"] == "cfg/releases/x.yaml" for p in data["problems"])
    assert data["counts"]["releases"] >= 5


def test_init_writes_a_folder_that_validates(runner: CliRunner, tmp_path: Path) -> None:
    result = runner.invoke(cli, ["init", "starter"])
    assert result.exit_code == 0, result.output
    assert "created starter/channels.yaml" in result.output
    assert (tmp_path / "starter" / "schemas" / "release.schema.json").is_file()
    check = runner.invoke(cli, ["validate", "starter"])
    assert check.exit_code == 0, check.output
    assert "2 channels" in check.output and "2 releases" in check.output


def test_init_refuses_to_overwrite(runner: CliRunner, tmp_path: Path) -> None:
    (tmp_path / "starter").mkdir()
    (tmp_path / "starter" / "channels.yaml").write_text("mine\n")
    result = runner.invoke(cli, ["init", "starter"])
    assert result.exit_code == 2  # a usage error (issue 12)
    assert "starter/channels.yaml" in result.stderr
    assert (tmp_path / "starter" / "channels.yaml").read_text() == "mine\n"
    assert not (tmp_path / "starter" / "feeds.yaml").exists()


def test_schema_prints_all_three_kinds(runner: CliRunner) -> None:
    result = runner.invoke(cli, ["schema"])
    assert result.exit_code == 0
    data = json.loads(result.stdout)
    assert set(data) == {"channels", "release", "feeds"}
    assert "Channel" in data["channels"]["$defs"]


def test_schema_one_kind_and_out(runner: CliRunner, tmp_path: Path) -> None:
    one = runner.invoke(cli, ["schema", "release"])
    assert json.loads(one.stdout)["title"].startswith("dissem release")
    out = runner.invoke(cli, ["schema", "--out", "schemas"])
    assert out.exit_code == 0
    assert sorted(p.name for p in (tmp_path / "schemas").iterdir()) == [
        "channels.schema.json",
        "feeds.schema.json",
        "release.schema.json",
    ]
    assert runner.invoke(cli, ["schema", "nope"]).exit_code == 2
