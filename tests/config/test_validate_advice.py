"""`dissem validate` in the first hour (issue 12): unset credential variables, an empty
releases folder and a title-only translation are warnings (problems with --strict); a tab
is named as such; a misspelt channel name is one problem with the right suggestion."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from dissem.cli import cli
from dissem.config.yamlsafe import parse_yaml
from dissem.errors import YamlProblem
from dissem.settings import get_settings

VARS = ("DISSEM_MASTODON_MAIN_ACCESS_TOKEN", "DISSEM_TELEGRAM_MAIN_BOT_TOKEN")


@pytest.fixture
def starter(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[Path]:
    """A fresh `dissem init` folder, its credential variables set (no warning)."""
    monkeypatch.chdir(tmp_path)
    for key in ("DISSEM_CONFIG_DIR", "DISSEM_TIMEZONE", "DISSEM_SANDBOX_URL"):
        monkeypatch.delenv(key, raising=False)
    for var in VARS:
        monkeypatch.setenv(var, "set")
    get_settings.cache_clear()
    assert CliRunner().invoke(cli, ["init", "--config", "cfg"]).exit_code == 0
    yield tmp_path / "cfg"
    get_settings.cache_clear()


def _validate(*args: str) -> Result:
    return CliRunner().invoke(cli, ["validate", "--config", "cfg", *args])


def test_the_starter_folder_validates_without_any_warning(starter: Path) -> None:
    result = _validate()
    assert result.exit_code == 0, result.output
    assert result.stderr == "" and result.stdout.startswith("cfg: ok (")
    feeds = (starter / "feeds.yaml").read_text()
    assert "dissem approve" in feeds and "--backfill" in feeds  # what the feeds really do


def test_unset_credentials_are_named_a_warning_and_an_error_with_strict(
    starter: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv(VARS[1])
    result = _validate()
    assert result.exit_code == 0, result.output
    (line,) = result.stderr.splitlines()
    assert line.startswith("warning: cfg/channels.yaml:")
    assert f"main-telegram.credentials: not set in this environment: {VARS[1]}; " in line
    assert "the channel cannot publish until they are" in line
    assert result.stdout.strip().endswith("; 1 warning")
    strict = _validate("--strict")
    assert strict.exit_code == 2 and f"not set in this environment: {VARS[1]}" in strict.stdout
    data = json.loads(_validate("--json").stdout)
    assert data["ok"] is True and [w["field"] for w in data["warnings"]] == [
        "main-telegram.credentials"
    ]
    monkeypatch.setenv("DISSEM_SANDBOX_URL", "http://127.0.0.1:9")
    get_settings.cache_clear()
    assert "sandbox placeholders stand in" in _validate().stderr


def test_an_empty_releases_folder_is_a_warning(starter: Path) -> None:
    for path in (starter / "releases").iterdir():
        path.unlink()
    result = _validate()
    assert result.exit_code == 0
    assert result.stderr.startswith("warning: cfg/releases:1:1: no release files yet")
    assert _validate("--strict").exit_code == 2


def test_a_translation_with_only_a_title_warns_that_it_mixes_languages(starter: Path) -> None:
    welcome = starter / "releases" / "welcome.yaml"
    text = welcome.read_text()
    start = text.index("    summary: >-                    # a translation")
    end = text.index("targets:")
    welcome.write_text(text[:start] + text[end:])
    result = _validate()
    assert result.exit_code == 0
    (line,) = result.stderr.splitlines()
    number = welcome.read_text().splitlines().index("  en:") + 1
    assert line.startswith(f"warning: cfg/releases/welcome.yaml:{number}:3: translations.en: ")
    assert "only a title: 'en' posts would pair it with the 'id' summary" in line


def test_a_tab_in_the_indentation_is_named(starter: Path) -> None:
    bad = starter / "releases" / "tabbed.yaml"
    bad.write_text("title: T\nurl: https://p.example/a\ntargets: [main]\ntranslations:\n\ten:\n")
    result = _validate()
    assert result.exit_code == 2
    assert result.stdout.splitlines() == [
        "cfg/releases/tabbed.yaml:5:1: tabs are not allowed, indent with spaces (hint: replace "
        "each tab at the start of the line with spaces (YAML counts only spaces as "
        "indentation); set your editor to insert spaces)"
    ]
    with pytest.raises(YamlProblem) as caught:
        parse_yaml("a:\n  b: 1\n  \tc: 2\n")
    assert (caught.value.line, caught.value.column, caught.value.message) == (
        3,
        3,
        "tabs are not allowed, indent with spaces",
    )
    assert parse_yaml("a:\tb  # a tab after the indentation is fine\n").data == {"a": "b"}


def test_a_misspelt_channel_name_is_one_problem_suggesting_the_name_used(starter: Path) -> None:
    channels = starter / "channels.yaml"
    channels.write_text(channels.read_text().replace("name: main-mastodon ", "name: main-mastodn "))
    result = _validate()
    assert result.exit_code == 2
    number = (
        channels.read_text()
        .splitlines()
        .index(next(x for x in channels.read_text().splitlines() if "name: main-mastodn" in x))
    )
    assert result.stdout.splitlines() == [
        f"cfg/channels.yaml:{number + 1}:11: name: channel 'main-mastodn' is named nowhere, "
        "while 'main-mastodon', which no channel has, is named 2 times (in cfg/channels.yaml, "
        "cfg/releases/how-we-publish.md) (hint: did you mean 'main-mastodon'?)"
    ]
    # a target misspelt in one release is still that release's problem, rightly suggested
    channels.write_text(channels.read_text().replace("name: main-mastodn ", "name: main-mastodon "))
    welcome = starter / "releases" / "welcome.yaml"
    welcome.write_text(welcome.read_text().replace("targets: [main]", "targets: [mian]"))
    lines = _validate().stdout.splitlines()
    assert len(lines) == 1 and "target 'mian'" in lines[0] and "did you mean 'main'?" in lines[0]
