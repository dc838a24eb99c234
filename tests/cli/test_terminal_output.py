"""Text from config files never reaches the terminal as control sequences: a title holding
``\\e]0;...\\a`` (set the window title) or ``\\e[2J`` (clear the screen) is shown escaped by
``preview``, ``demo`` and ``validate``. (``color=True``: click strips some sequences
itself, but only when the output is no terminal, and only ``\\e[...``.)"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner
from hypothesis import given
from hypothesis import strategies as st

from dissem.cli import cli
from dissem.config.quote import printable, shown
from dissem.demo import DemoPost, DemoResult, _print

CHANNELS = """\
channels:
  - {name: hq-x, platform: x, account: "@hq", timezone: Asia/Jakarta}
  - {name: hq-tg, platform: telegram, account: "@hq", timezone: Asia/Jakarta}
"""

# YAML double-quoted escapes: the file itself is plain text, the title is not
RELEASE = """\
title: "Breaking \\e]0;pwned\\a news \\e[2J\\x9b31m"
summary: "Line one\\rover"
url: https://portal.example/news/a
targets: [hq-x, hq-tg]
"""

_RAW = ("\x1b", "\x07", "\x9b", "\r")


def _clean(text: str) -> bool:
    return not any(c in text for c in _RAW)


@pytest.fixture
def config(tmp_path: Path) -> Path:
    (tmp_path / "releases").mkdir()
    (tmp_path / "channels.yaml").write_text(CHANNELS, encoding="utf-8")
    (tmp_path / "releases" / "a.yaml").write_text(RELEASE, encoding="utf-8")
    return tmp_path


def test_preview_shows_control_characters_escaped(config: Path) -> None:
    result = CliRunner().invoke(
        cli, ["preview", str(config / "releases" / "a.yaml"), "--config", str(config)], color=True
    )
    assert result.exit_code == 0, result.output
    assert _clean(result.stdout) and _clean(result.stderr)
    assert "Breaking \\x1b]0;pwned\\x07 news" in result.stdout


def test_preview_json_escapes_them_as_json(config: Path) -> None:
    result = CliRunner().invoke(
        cli, ["preview", str(config / "releases" / "a.yaml"), "--config", str(config), "--json"]
    )
    assert result.exit_code == 0, result.output
    assert _clean(result.stdout)
    parts = json.loads(result.stdout)[0]["parts"]
    assert "\x1b]0;pwned\x07" in parts[0]["text"]  # the data itself is unchanged


def test_demo_summary_shows_control_characters_escaped() -> None:
    lines: list[str] = []
    result = DemoResult(directory=Path("demo"), week="2026-W49")
    result.published.append(
        DemoPost(
            "hq-x", "Tue 16:00 WIB", "09:00 UTC", "Hi \x1b]0;pwned\x07 \x9b2J", "", "http://s/1"
        )
    )
    _print(result, lines.append)
    assert all(_clean(line) for line in lines)
    assert any("Hi \\x1b]0;pwned\\x07 \\x9b2J" in line for line in lines)


def test_validate_never_prints_control_characters(tmp_path: Path) -> None:
    (tmp_path / "releases").mkdir()
    (tmp_path / "channels.yaml").write_text(CHANNELS, encoding="utf-8")
    (tmp_path / "releases" / "b.yaml").write_text(
        'title: T\nurl: https://portal.example/b\ntargets: ["\\e]0;x\\a"]\n"\\e[2Jkey": 1\n',
        encoding="utf-8",
    )
    (tmp_path / "releases" / "c\x1b[2J.yaml").write_text("title: [", encoding="utf-8")
    # color=True: as on a terminal
    result = CliRunner().invoke(cli, ["validate", "--config", str(tmp_path)], color=True)
    assert result.exit_code == 2
    assert _clean(result.output), result.output
    assert "\\x1b" in result.output


@given(st.text())
def test_printable_leaves_no_control_character_but_tab_and_newline(text: str) -> None:
    out = printable(text)
    assert not any((ord(c) < 0x20 and c not in "\t\n") or 0x7F <= ord(c) < 0xA0 for c in out)
    if all(c in "\t\n" or 0x20 <= ord(c) < 0x7F or ord(c) >= 0xA0 for c in text):
        assert out == text


@given(st.text(min_size=0, max_size=5000))
def test_shown_is_short(text: str) -> None:
    assert len(shown(text)) <= 80 + len(f" ({len(text):,} characters)")
