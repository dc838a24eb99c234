"""Imports run one way: up the layers of ``docs/architecture.md``, never down->up.

The import graph is read with ``ast`` from every module under ``dissem/``: every import
statement, at module level, inside functions, and under ``TYPE_CHECKING`` alike (a lazy
import is still a dependency). A module belongs to the layer of its longest listed prefix;
it may import its own layer and those below. The layer list is here and in the docs, and
the test checks that both say the same.
"""

from __future__ import annotations

import ast
import re
from collections.abc import Iterator
from dataclasses import dataclass
from functools import cache
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
PACKAGE = REPO / "dissem"
DOC = REPO / "docs" / "architecture.md"

#: bottom to top: (layer name, module prefixes). ``dissem`` itself (the package root) is an
#: exact name: it re-exports ``measure`` and ``limit`` from compose. The template language
#: (``compose.templates``, ``compose.bounded``) sits below config, which checks every
#: template when it loads the folder.
LAYERS: tuple[tuple[str, tuple[str, ...]], ...] = (
    (
        "foundation",
        (
            "dissem.errors",
            "dissem.redact",
            "dissem.logs",
            "dissem.clock",
            "dissem.retention",
            "dissem.imagetype",
            "dissem.settings",
            "dissem.lifecycle",
            "dissem.traits",
            "dissem.bounded_http",
        ),
    ),
    ("templates", ("dissem.compose.templates", "dissem.compose.bounded")),
    ("config", ("dissem.config",)),
    ("compose", ("dissem.compose", "dissem")),
    ("planning", ("dissem.planning",)),
    ("platforms", ("dissem.platforms",)),
    ("store", ("dissem.store",)),
    ("timing", ("dissem.timing",)),
    ("feeds, metrics", ("dissem.feeds", "dissem.metrics")),
    ("reports", ("dissem.reports",)),
    ("worker", ("dissem.worker",)),
    ("sandbox", ("dissem.sandbox",)),
    ("demo", ("dissem.demo",)),
    ("cli", ("dissem.cli",)),
)

#: layers whose modules may not reach an HTTP client, even through other modules: the
#: shared types live there, and the store records what adapters return without them
NO_HTTP = ("foundation", "templates", "config", "compose", "planning", "store")
HTTP_CLIENTS = ("requests", "urllib3", "http.client", "urllib.request")

#: down->up imports that remain, each named (importer, imported); this list only shrinks:
#: the test fails on any other, and on a listed one that is gone
KNOWN: frozenset[tuple[str, str]] = frozenset()


@dataclass(frozen=True)
class Import:
    module: str  # the importing module
    target: str  # the imported dissem module
    line: int


def module_name(path: Path) -> str:
    parts = path.relative_to(REPO).with_suffix("").parts
    if parts[-1] == "__init__":
        parts = parts[:-1]
    return ".".join(parts)


@cache
def all_modules() -> dict[str, Path]:
    return {module_name(p): p for p in sorted(PACKAGE.rglob("*.py"))}


def _resolve(name: str) -> str:
    """``name``, or the nearest enclosing module that exists (``from x import name``)."""
    modules = all_modules()
    while name not in modules and "." in name:
        name = name.rsplit(".", 1)[0]
    return name


def imports_of(module: str, path: Path) -> Iterator[Import]:
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    package = module if path.name == "__init__.py" else module.rsplit(".", 1)[0]
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name == "dissem" or alias.name.startswith("dissem."):
                    yield Import(module, _resolve(alias.name), node.lineno)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")[: len(package.split(".")) - node.level + 1]
                source = ".".join([*base, *([node.module] if node.module else [])])
            else:
                source = node.module or ""
            if source != "dissem" and not source.startswith("dissem."):
                continue
            for alias in node.names:  # ``from dissem.x import y``: y may be a module
                yield Import(module, _resolve(f"{source}.{alias.name}"), node.lineno)


@cache
def graph() -> tuple[Import, ...]:
    return tuple(imp for m, p in all_modules().items() for imp in imports_of(m, p))


def layer_of(module: str, layers: tuple[tuple[str, tuple[str, ...]], ...] = LAYERS) -> int:
    """Index of the layer whose prefix is the longest match; -1 when none matches."""
    best, best_len = -1, -1
    for index, (_, prefixes) in enumerate(layers):
        for prefix in prefixes:
            exact = prefix == "dissem"
            matches = module == prefix or (not exact and module.startswith(prefix + "."))
            if matches and len(prefix) > best_len:
                best, best_len = index, len(prefix)
    return best


def upward(layers: tuple[tuple[str, tuple[str, ...]], ...] = LAYERS) -> list[Import]:
    return [imp for imp in graph() if layer_of(imp.target, layers) > layer_of(imp.module, layers)]


def describe(imp: Import) -> str:
    low, high = LAYERS[layer_of(imp.module)][0], LAYERS[layer_of(imp.target)][0]
    path = all_modules()[imp.module].relative_to(REPO)
    return f"{path}:{imp.line}: {imp.module} ({low}) imports {imp.target} ({high})"


def test_every_module_has_a_layer() -> None:
    missing = [m for m in all_modules() if layer_of(m) < 0]
    assert not missing, f"place these in LAYERS and docs/architecture.md: {missing}"


def test_imports_run_one_way() -> None:
    found = upward()
    new = sorted({describe(i) for i in found if (i.module, i.target) not in KNOWN})
    assert not new, "imports against the layers:\n" + "\n".join(new)


def test_known_exceptions_still_exist() -> None:
    """A fixed exception leaves the list, so it cannot come back unnoticed."""
    gone = KNOWN - {(i.module, i.target) for i in upward()}
    assert not gone, f"no longer imported; remove from KNOWN: {sorted(gone)}"


@cache
def _targets() -> dict[str, set[str]]:
    by_module: dict[str, set[str]] = {}
    for imp in graph():
        by_module.setdefault(imp.module, set()).add(imp.target)
    return by_module


def _closure(module: str) -> set[str]:
    seen: set[str] = set()
    todo = [module]
    by_module = _targets()
    while todo:
        current = todo.pop()
        if current in seen:
            continue
        seen.add(current)
        todo.extend(by_module.get(current, ()))
        parts = current.split(".")  # importing a.b.c runs a/__init__ and a/b/__init__
        todo.extend(".".join(parts[:n]) for n in range(1, len(parts)))
    return seen


@cache
def _http_clients_of(module: str) -> list[str]:
    tree = ast.parse(all_modules()[module].read_text(encoding="utf-8"))
    names: list[str] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names += [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom) and not node.level and node.module:
            names.append(node.module)
    return [n for n in names if any(n == c or n.startswith(c + ".") for c in HTTP_CLIENTS)]


def test_low_layers_reach_no_http_client() -> None:
    names = [name for name, _ in LAYERS]
    bad = []
    for module in all_modules():
        if names[layer_of(module)] in NO_HTTP:
            for reached in sorted(_closure(module) & all_modules().keys()):
                for client in _http_clients_of(reached):
                    bad.append(f"{module} reaches {client} through {reached}")
    assert not bad, "\n".join(bad)


def doc_layers() -> tuple[tuple[str, tuple[str, ...]], ...]:
    """The table of ``docs/architecture.md``: ``| n | layer | `module`, ... | ... |``."""
    rows = []
    for line in DOC.read_text(encoding="utf-8").splitlines():
        m = re.match(r"^\|\s*(\d+)\s*\|\s*([^|]+?)\s*\|([^|]*)\|", line)
        if m:
            rows.append((int(m.group(1)), m.group(2), tuple(re.findall(r"`([\w.]+)`", m.group(3)))))
    assert [n for n, _, _ in rows] == list(range(1, len(rows) + 1)), "numbered 1, 2, ..."
    return tuple((name, prefixes) for _, name, prefixes in rows)


def test_docs_list_the_same_layers() -> None:
    assert doc_layers() == LAYERS


# --- the checker itself ------------------------------------------------------------------


def test_checker_sees_function_level_and_type_checking_imports(tmp_path: Path) -> None:
    code = (
        "from typing import TYPE_CHECKING\n"
        "if TYPE_CHECKING:\n    from dissem.worker.daemon import Worker\n"
        "def f():\n    import dissem.cli\n    from dissem import demo\n"
        "from . import models\n"
    )
    path = tmp_path / "x.py"
    path.write_text(code, encoding="utf-8")
    found = {(i.target, i.line) for i in imports_of("dissem.config.x", path)}
    assert found == {
        ("dissem.worker.daemon", 3),
        ("dissem.cli", 5),
        ("dissem.demo", 6),
        ("dissem.config.models", 7),
    }


@pytest.mark.parametrize(
    ("module", "layer"),
    [
        ("dissem", "compose"),
        ("dissem.errors", "foundation"),
        ("dissem.config.models", "config"),
        ("dissem.compose.templates", "templates"),
        ("dissem.compose.composer", "compose"),
        ("dissem.demo", "demo"),
        ("dissem.cli.config_cmds", "cli"),
        ("dissem.store.migrations.env", "store"),
    ],
)
def test_layer_of(module: str, layer: str) -> None:
    assert LAYERS[layer_of(module)][0] == layer


def test_checker_flags_an_upward_import() -> None:
    """Swap two layers: the imports between them now go up, and are found."""
    swapped = list(LAYERS)
    i, j = [n for n, _ in LAYERS].index("config"), [n for n, _ in LAYERS].index("compose")
    swapped[i], swapped[j] = swapped[j], swapped[i]
    flagged = {(imp.module, imp.target) for imp in upward(tuple(swapped))}
    assert ("dissem.compose.composer", "dissem.config.models") in flagged
