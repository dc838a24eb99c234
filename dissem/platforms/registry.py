"""Which adapter serves which platform, and building an adapter for a channel.

Adapter modules are imported lazily, keyed by platform name (:data:`PLATFORM_MODULES`), so
importing the registry costs nothing and a broken module only breaks its own platform. A
module provides exactly one concrete :class:`~dissem.platforms.base.Platform` subclass whose
``name`` is the platform name; its class name is free. The platforms are those declared in
:mod:`dissem.traits`; an adapter for a platform registered there (a test's ninth platform)
is registered here with :func:`register_adapter`.
"""

from __future__ import annotations

import importlib
import importlib.util
import inspect
from collections.abc import Mapping

import requests

from dissem.config.models import PLATFORMS, Channel
from dissem.platforms.base import Platform, read_credentials
from dissem.redact import register_secret
from dissem.settings import Settings
from dissem.traits import all_platforms, traits_for

__all__ = [
    "PLATFORM_MODULES",
    "available_platforms",
    "build_adapter",
    "get_platform",
    "platform_names",
    "register_adapter",
    "unregister_adapter",
]

#: platform name -> module holding its adapter (every platform dissem ships)
PLATFORM_MODULES: dict[str, str] = {name: f"dissem.platforms.{name}" for name in PLATFORMS}

_cache: dict[str, type[Platform]] = {}
#: adapters registered at run time (:func:`register_adapter`), by platform name
_registered: dict[str, type[Platform]] = {}


def register_adapter(cls: type[Platform]) -> type[Platform]:
    """Makes ``cls`` the adapter of ``cls.name``, a platform declared with
    :func:`dissem.traits.register` (a test adding a platform); usable as a decorator."""
    if cls.name in PLATFORM_MODULES:
        raise ValueError(f"{cls.name!r} is a shipped platform; its adapter cannot be replaced")
    if cls.name not in all_platforms():
        raise ValueError(f"declare {cls.name!r} first (dissem.traits.register)")
    cls.take_traits(traits_for(cls.name))
    _registered[cls.name] = cls
    return cls


def unregister_adapter(name: str) -> None:
    """Forgets an adapter registered with :func:`register_adapter`."""
    _registered.pop(name, None)


def platform_names() -> tuple[str, ...]:
    """Every platform name dissem knows, in the declared order (:mod:`dissem.traits`)."""
    return all_platforms()


def available_platforms() -> tuple[str, ...]:
    """The platforms whose adapter is installed (importable without importing it) or
    registered."""
    return tuple(
        name
        for name in all_platforms()
        if name in _registered
        or (name in PLATFORM_MODULES and importlib.util.find_spec(PLATFORM_MODULES[name]))
    )


def get_platform(name: str) -> type[Platform]:
    """The adapter class for ``name``.

    Raises ``KeyError`` for an unknown platform name and ``LookupError`` when the module
    holds no (or more than one) concrete adapter with that ``name``.
    """
    if name in _registered:
        return _registered[name]
    if name in _cache:
        return _cache[name]
    if name not in PLATFORM_MODULES:
        known = ", ".join([*PLATFORM_MODULES, *_registered])
        raise KeyError(f"unknown platform {name!r}; known: {known}")
    module = importlib.import_module(PLATFORM_MODULES[name])
    found = [
        obj
        for obj in vars(module).values()
        if inspect.isclass(obj)
        and issubclass(obj, Platform)
        and not inspect.isabstract(obj)
        and obj.__module__ == module.__name__
        and getattr(obj, "name", None) == name
    ]
    if len(found) != 1:
        raise LookupError(
            f"{module.__name__} must define exactly one Platform subclass named {name!r}; "
            f"found {len(found)}"
        )
    _cache[name] = found[0]
    return found[0]


def build_adapter(
    channel: Channel,
    settings: Settings,
    environ: Mapping[str, str] | None = None,
    session: requests.Session | None = None,
) -> Platform:
    """An adapter for ``channel`` with its credentials read from the environment.

    Raises :class:`~dissem.errors.CredentialsMissing` naming the channel and the variable;
    with ``DISSEM_SANDBOX_URL`` set, sandbox placeholders stand in for missing ones.
    Every credential value is registered with :mod:`dissem.redact` before the adapter exists.
    """
    cls = get_platform(channel.platform)
    credentials = read_credentials(
        channel, cls.required_credentials, environ, sandbox=bool(settings.sandbox_url)
    )
    for value in credentials.values():
        register_secret(value)
    return cls(channel, credentials, settings, session)
