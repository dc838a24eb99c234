"""Writing a config folder for the config tests and loading it (importable as
``config_folder``). The folder always has a ``releases`` folder, empty unless files are
written into it: a missing one is a problem of its own."""

from __future__ import annotations

import textwrap
from collections.abc import Mapping
from pathlib import Path

import pytest

from dissem.config.loader import load_config
from dissem.config.models import LoadedConfig


def write(root: Path, files: Mapping[str, str]) -> Path:
    """Writes ``files`` (relative path -> text, dedented) under ``root``; returns ``root``."""
    for rel, text in files.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(text), encoding="utf-8")
    return root


def load_folder(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, files: Mapping[str, str]
) -> LoadedConfig:
    """Loads ``tmp_path/config`` holding ``files`` from the working folder ``tmp_path``, so
    problems name paths such as ``config/releases/r.yaml``."""
    monkeypatch.chdir(tmp_path)
    root = write(tmp_path / "config", files)
    (root / "releases").mkdir(exist_ok=True)  # every config folder has one, maybe empty
    return load_config(root)
