"""Every error a platform adapter or the image loader raises on purpose is a class of
``dissem.errors``, where the error tree is documented."""

from __future__ import annotations

from pathlib import Path

import pytest

import dissem.errors as errors
from dissem.platforms import base, media


@pytest.mark.parametrize("name", ["LookupUnsupported", "ImageUnavailable"])
def test_the_class_lives_in_errors_and_the_tree_names_it(name: str) -> None:
    cls = getattr(errors, name)
    assert cls.__module__ == "dissem.errors"
    assert issubclass(cls, errors.DissemError)
    assert name in (errors.__doc__ or "")


def test_the_old_import_paths_are_the_same_classes() -> None:
    assert base.LookupUnsupported is errors.LookupUnsupported
    assert media.ImageUnavailable is errors.ImageUnavailable


def test_the_image_loader_raises_the_errors_class(tmp_path: Path) -> None:
    with pytest.raises(errors.ImageUnavailable) as raised:
        media.load_image("missing.png", config_dir=tmp_path, timeout=1.0)
    assert raised.value.src == "missing.png" and "no such file" in raised.value.reason
