"""Every error dissem raises on purpose is a class of ``dissem.errors``, where the error tree
is documented: one class, one place. No other module defines one, lists one in its
``__all__``, or is the path anything imports one from."""

from __future__ import annotations

import ast
import importlib
import inspect
import pkgutil
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType

import pytest

import dissem
import dissem.errors as errors
from dissem.platforms import base, media

REPO = Path(__file__).resolve().parents[1]

#: exception classes that may live outside ``dissem.errors``, each with the reason
ELSEWHERE = {
    # a subclass of Jinja's SecurityError, so the template sandbox treats a template over
    # its budget as the unsafe template it is; errors.py imports no Jinja
    "dissem.compose.bounded.TemplateBudgetError",
    # private signals inside one module, never raised out of it
    "dissem.platforms.bluesky._SessionExpired",
    "dissem.platforms.bluesky._RecordNotFound",
    "dissem.worker.feed_plan._Compose",
    "dissem.worker.sync._Compose",
    # the local stand-in's HTTP answer (status and body), not an error of dissem's
    "dissem.sandbox.core.Reject",
}

ERROR_NAMES = {
    name
    for name, value in vars(errors).items()
    if inspect.isclass(value) and issubclass(value, BaseException)
}


def all_modules() -> Iterator[ModuleType]:
    yield dissem
    for info in pkgutil.walk_packages(dissem.__path__, "dissem."):
        yield importlib.import_module(info.name)


@pytest.mark.parametrize(
    "name",
    [
        "LookupUnsupported",
        "ImageUnavailable",
        "LookupAmbiguous",
        "DatabaseUnavailable",
        "TokenKeyInvalid",
        "TokenUnreadable",
        "FetchFailed",
        "FetchRefused",
        "FeedFetchError",
        "FeedParseError",
        "FeedNotFound",
        "DeliveryError",
        "AlertFailed",
        "YamlProblem",
    ],
)
def test_the_class_lives_in_errors_and_the_tree_names_it(name: str) -> None:
    cls = getattr(errors, name)
    assert cls.__module__ == "dissem.errors"
    assert issubclass(cls, errors.DissemError)
    assert name in (errors.__doc__ or "")


def test_the_old_import_paths_do_not_offer_the_classes() -> None:
    assert not hasattr(base, "LookupUnsupported")
    assert not hasattr(base, "LookupAmbiguous")
    assert "ImageUnavailable" not in media.__all__


def test_no_other_module_defines_an_error_class() -> None:
    found = {
        f"{module.__name__}.{name}"
        for module in all_modules()
        for name, value in vars(module).items()
        if inspect.isclass(value)
        and issubclass(value, BaseException)
        and value.__module__ == module.__name__ != "dissem.errors"
    }
    assert found == ELSEWHERE


def test_no_other_module_re_exports_an_error_class() -> None:
    listed = {
        (module.__name__, name)
        for module in all_modules()
        if module.__name__ != "dissem.errors"
        for name in getattr(module, "__all__", ())
        if name in ERROR_NAMES
    }
    assert listed == set()


def _error_imports(path: Path) -> Iterator[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module and node.module != "dissem.errors":
            for alias in node.names:
                if alias.name in ERROR_NAMES and node.module.startswith("dissem"):
                    rel = path.relative_to(REPO)
                    yield f"{rel}:{node.lineno}: from {node.module} import {alias.name}"


def test_every_import_of_an_error_class_names_dissem_errors() -> None:
    paths = [
        p
        for folder in ("dissem", "tests", "benchmarks")
        for p in sorted((REPO / folder).rglob("*.py"))
    ]
    assert [line for p in paths for line in _error_imports(p)] == []


def test_the_image_loader_raises_the_errors_class(tmp_path: Path) -> None:
    with pytest.raises(errors.ImageUnavailable) as raised:
        media.load_image("missing.png", config_dir=tmp_path, timeout=1.0)
    assert raised.value.src == "missing.png" and "no such file" in raised.value.reason
