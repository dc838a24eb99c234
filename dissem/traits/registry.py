"""Which platforms exist: the declarations shipped with dissem, and those a test or an
extension registers (:func:`register`)."""

from __future__ import annotations

from dissem.traits import bluesky, facebook, instagram, linkedin, mastodon, telegram, threads, x
from dissem.traits.base import PlatformTraits

__all__ = ["BUILTIN", "all_platforms", "find_traits", "register", "traits_for", "unregister"]

#: the platforms dissem ships, in the order config, docs and reports list them
BUILTIN: tuple[PlatformTraits, ...] = tuple(
    module.TRAITS
    for module in (x, mastodon, bluesky, facebook, instagram, threads, linkedin, telegram)
)

_registry: dict[str, PlatformTraits] = {t.name: t for t in BUILTIN}


def traits_for(name: str) -> PlatformTraits:
    """The declaration of platform ``name``; raises ``ValueError`` for an unknown one."""
    try:
        return _registry[name]
    except (KeyError, TypeError):
        raise ValueError(
            f"unknown platform {name!r}; expected one of: {', '.join(_registry)}"
        ) from None


def find_traits(name: str) -> PlatformTraits | None:
    """The declaration of ``name``, or None for an unknown platform (one dict lookup: for
    code that treats unknown platforms by a default, in hot loops)."""
    return _registry.get(name)


def all_platforms() -> tuple[str, ...]:
    """Every platform name, the shipped ones first, in their order, then registered ones."""
    return tuple(_registry)


def register(traits: PlatformTraits) -> PlatformTraits:
    """Adds (or replaces) a platform's declaration; returns it. A shipped platform cannot
    be replaced: its facts are tested against its adapter and stand-in."""
    if any(t.name == traits.name for t in BUILTIN) and traits is not _registry[traits.name]:
        raise ValueError(f"{traits.name!r} is a shipped platform; it cannot be replaced")
    _registry[traits.name] = traits
    return traits


def unregister(name: str) -> None:
    """Removes a registered platform (tests clean up with it); shipped ones stay."""
    if any(t.name == name for t in BUILTIN):
        raise ValueError(f"{name!r} is a shipped platform; it cannot be removed")
    _registry.pop(name, None)
