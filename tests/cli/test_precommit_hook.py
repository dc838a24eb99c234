"""``.pre-commit-hooks.yaml``: the ``dissem-validate`` hook a team's config repository uses,
in pre-commit's manifest format (https://pre-commit.com/#new-hooks), and its command runs."""

from __future__ import annotations

import os
import re
import shlex
import subprocess
import sys
import tomllib
from pathlib import Path
from typing import Any

import yaml

REPO = Path(__file__).resolve().parents[2]


def hooks() -> list[dict[str, Any]]:
    data = yaml.safe_load((REPO / ".pre-commit-hooks.yaml").read_text(encoding="utf-8"))
    assert isinstance(data, list)  # the manifest is a list of hooks
    return data


def the_hook() -> dict[str, Any]:
    (hook,) = [h for h in hooks() if h.get("id") == "dissem-validate"]
    return hook


def test_manifest_has_the_required_keys() -> None:
    for hook in hooks():
        assert {"id", "name", "entry", "language"} <= set(hook), hook


def test_validate_hook() -> None:
    hook = the_hook()
    assert hook["entry"] == "dissem validate"
    assert hook["language"] == "python"  # pre-commit pip-installs this repository
    assert hook["pass_filenames"] is False  # validate reads the whole folder


def test_hook_runs_on_config_yaml_and_markdown_only() -> None:
    files = re.compile(the_hook()["files"])
    for path in ("config/channels.yaml", "config/releases/a.yml", "team/config/releases/b.md"):
        assert files.search(path), path
    for path in ("README.md", "channels.yaml", "config.py", "src/config/x.py", "myconfig/a.yaml"):
        assert not files.search(path), path


def test_entry_is_the_installed_console_script() -> None:
    scripts = tomllib.loads((REPO / "pyproject.toml").read_text(encoding="utf-8"))["project"][
        "scripts"
    ]
    program, *_ = shlex.split(the_hook()["entry"])
    assert scripts[program] == "dissem.cli:main"


def test_entry_command_runs(tmp_path: Path) -> None:
    """The hook's command, as pre-commit runs it in a config repository: good config 0,
    a broken one 2."""
    _, *args = shlex.split(the_hook()["entry"])
    run = [sys.executable, "-c", "from dissem.cli import main; main()", *args]
    good = subprocess.run(
        [*run, "--config", str(REPO / "dissem" / "example")],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert good.returncode == 0, good.stderr[-2000:]
    assert ": ok (" in good.stdout
    config = tmp_path / "config"
    config.mkdir()
    (config / "channels.yaml").write_text("channels:\n  - name: x\n", encoding="utf-8")
    env = {k: v for k, v in os.environ.items() if not k.upper().startswith("DISSEM_")}
    bad = subprocess.run(
        run, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120, check=False
    )
    assert bad.returncode == 2, bad.stdout + bad.stderr
    assert "channels.yaml" in bad.stdout + bad.stderr
