"""Start-up: ``dissem --version`` and ``dissem --help`` answer without importing the heavy
libraries, and the static command table in :mod:`dissem.cli` says what the commands say.

The imports are read from ``python -X importtime`` of the real entry point in a fresh
interpreter, so a module-level import added anywhere on the path shows here.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import click
import pytest
from click.testing import CliRunner

from dissem import __version__
from dissem.cli import COMMANDS, cli

REPO = Path(__file__).resolve().parents[2]

#: libraries a command pays for only when it runs
HEAVY = (
    "sqlalchemy",
    "alembic",
    "pydantic",
    "pydantic_settings",
    "requests",
    "jinja2",
    "openpyxl",
    "yaml",
    "regex",
    "feedparser",
    "cryptography",
    "dissem.config",
    "dissem.compose",
    "dissem.store",
    "dissem.settings",
)


def imported_by(*args: str) -> tuple[set[str], subprocess.CompletedProcess[str]]:
    """Top-level names of the modules ``dissem ARGS`` imports, from ``-X importtime``."""
    proc = subprocess.run(
        [sys.executable, "-X", "importtime", "-c", "from dissem.cli import main; main()", *args],
        capture_output=True,
        text=True,
        cwd=REPO,
        timeout=60,
        check=False,
    )
    names: set[str] = set()
    for line in proc.stderr.splitlines():
        if line.startswith("import time:") and "|" in line:
            name = line.rsplit("|", 1)[1].strip()
            if name != "imported package":
                names.add(name)
    return names, proc


def heavy_in(modules: set[str]) -> list[str]:
    return sorted(m for m in modules for h in HEAVY if m == h or m.startswith(h + "."))


def test_version_imports_no_heavy_library() -> None:
    modules, proc = imported_by("--version")
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert proc.stdout.strip() == f"dissem, version {__version__}"
    assert "click" in modules  # the reading works: it saw the imports
    assert not heavy_in(modules), heavy_in(modules)


def test_help_imports_no_heavy_library_and_lists_every_command() -> None:
    modules, proc = imported_by("--help")
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert not heavy_in(modules), heavy_in(modules)
    for name in COMMANDS:
        assert f"\n  {name} " in proc.stdout, name


def test_validate_imports_no_database_or_http_library() -> None:
    modules, proc = imported_by("validate", "--config", "dissem/example")
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert "pydantic" in modules  # it does load the config
    for name in (
        "sqlalchemy",
        "alembic",
        "requests",
        "openpyxl",
        "feedparser",
        "pydantic_settings",
    ):
        assert name not in modules, name


def _real_commands() -> dict[str, click.Command]:
    ctx = click.Context(cli)
    return {name: cli.get_command(ctx, name) for name in cli.list_commands(ctx)}  # type: ignore[misc]


def test_table_names_the_real_commands() -> None:
    real = _real_commands()
    assert sorted(real) == sorted(COMMANDS)
    for name, command in real.items():
        assert isinstance(command, click.Command), name
        assert command.name == name


@pytest.mark.parametrize("limit", [30, 45, 60, 200])
def test_table_short_help_matches_each_command(limit: int) -> None:
    for name, command in _real_commands().items():
        listed = click.Command(name, help=COMMANDS[name][1])
        assert listed.get_short_help_str(limit) == command.get_short_help_str(limit), name


def test_table_holds_the_first_paragraph_of_each_help() -> None:
    for name, command in _real_commands().items():
        first = (command.help or "").split("\n\n")[0]
        assert COMMANDS[name][1] == " ".join(first.split()), name


def test_help_text_is_what_eager_click_would_print() -> None:
    """The static listing is the listing click prints for the loaded commands."""
    lazy = CliRunner().invoke(cli, ["--help"], terminal_width=100)
    eager = click.Group(name="dissem", help=cli.help, commands=_real_commands())
    eager.params = list(cli.params)
    expected = CliRunner().invoke(eager, ["--help"], terminal_width=100, prog_name="dissem")
    assert lazy.exit_code == 0
    assert lazy.output.split("Commands:")[1] == expected.output.split("Commands:")[1]


def test_unknown_command_is_a_usage_error() -> None:
    result = CliRunner().invoke(cli, ["no-such-command"])
    assert result.exit_code == 2
    assert "No such command" in result.output


def test_package_root_loads_its_public_functions_on_first_use() -> None:
    code = (
        "import sys, dissem\n"
        "assert 'dissem.compose.counting' not in sys.modules\n"
        "print(dissem.limit('x'), dissem.measure('bluesky', 'caf\\u00e9 \\U0001f600'))\n"
        "try:\n    dissem.nothing\nexcept AttributeError as e:\n    print('no', e)\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True
    )
    assert out.stdout.splitlines() == ["280 6", "no module 'dissem' has no attribute 'nothing'"]
