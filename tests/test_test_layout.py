"""The tests are a package: helpers import as ``tests.<area>.<module>``, never through a
``sys.path`` change or a bare module name that only resolves after pytest put a folder on
the path (which breaks when another folder's test runs first)."""

from __future__ import annotations

import ast
from pathlib import Path

TESTS = Path(__file__).resolve().parent
SKIP = {"node_modules", "__pycache__", "node22", "fixtures", "data"}


def _python_files() -> list[Path]:
    return [p for p in sorted(TESTS.rglob("*.py")) if not SKIP & set(p.relative_to(TESTS).parts)]


def _helper_names() -> set[str]:
    """Module names of every .py file under tests/ (a bare import of one is a path trick)."""
    return {p.stem for p in _python_files()} - {"__init__"}


def test_every_test_folder_is_a_package() -> None:
    folders = {p.parent for p in _python_files()}
    assert len(folders) > 5
    missing = sorted(
        str(f.relative_to(TESTS.parent)) for f in folders if not (f / "__init__.py").exists()
    )
    assert missing == []


def test_no_test_changes_sys_path_or_imports_a_helper_by_its_bare_name() -> None:
    helpers = _helper_names()
    offences = []
    for path in _python_files():
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            where = f"{path.relative_to(TESTS.parent)}:{getattr(node, 'lineno', 0)}"
            if isinstance(node, ast.Attribute) and node.attr == "path":
                if isinstance(node.value, ast.Name) and node.value.id == "sys":
                    offences.append(f"{where}: sys.path")
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                if node.module.split(".")[0] in helpers:
                    offences.append(f"{where}: from {node.module} import ...")
            elif isinstance(node, ast.Import):
                offences += [
                    f"{where}: import {a.name}"
                    for a in node.names
                    if a.name.split(".")[0] in helpers
                ]
    assert offences == []
