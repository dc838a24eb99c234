"""An adapter's platform facts have one name: ``traits`` (no second spelling to keep in step)."""

from __future__ import annotations

import dissem.platforms.base as base
from dissem.platforms.base import Platform
from dissem.platforms.registry import get_platform
from dissem.traits import BUILTIN


def test_the_old_capabilities_spellings_are_gone() -> None:
    assert not hasattr(base, "Capabilities")
    assert "Capabilities" not in base.__all__
    assert not hasattr(Platform, "capabilities")


def test_each_adapter_holds_its_declaration_as_traits() -> None:
    for traits in BUILTIN:
        cls = get_platform(traits.name)
        assert cls.traits is traits
        assert not hasattr(cls, "capabilities")
