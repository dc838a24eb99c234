"""The registry knows every platform, and builds adapters with their credentials.

The names the registry lists are checked against independent evidence: the adapter classes
found by importing every module of :mod:`dissem.platforms`, the stand-ins the sandbox
actually serves, and the JSON schema shipped with the example configuration.
"""

from __future__ import annotations

import importlib
import inspect
import json
import pkgutil
from importlib.resources import files
from typing import Any

import pytest
import requests

import dissem.platforms
from dissem.config.models import Channel
from dissem.errors import CredentialsMissing
from dissem.platforms.base import Platform
from dissem.platforms.registry import (
    available_platforms,
    build_adapter,
    get_platform,
    platform_names,
)
from dissem.redact import redact
from dissem.sandbox import start_sandbox
from dissem.settings import Settings


def _adapters_on_disk() -> dict[str, type[Platform]]:
    """Every concrete adapter class, by its ``name``, found by importing each module of
    :mod:`dissem.platforms` (not through the registry)."""
    found: dict[str, type[Platform]] = {}
    for info in pkgutil.iter_modules(dissem.platforms.__path__, "dissem.platforms."):
        module = importlib.import_module(info.name)
        for obj in vars(module).values():
            if (
                inspect.isclass(obj)
                and issubclass(obj, Platform)
                and obj.__module__ == module.__name__
                and not inspect.isabstract(obj)
                and "name" in vars(obj)
            ):
                assert obj.name not in found, f"two adapters named {obj.name!r}"
                found[obj.name] = obj
    return found


def test_the_registry_lists_exactly_the_adapters_that_exist() -> None:
    on_disk = _adapters_on_disk()
    assert len(on_disk) >= 8, sorted(on_disk)
    assert set(on_disk) <= set(platform_names())
    assert set(on_disk) <= set(available_platforms())
    for name, cls in on_disk.items():
        assert get_platform(name) is cls
    for name in set(platform_names()) - set(on_disk):
        # only a platform a test registered at run time has no module in dissem.platforms
        assert not get_platform(name).__module__.startswith("dissem.platforms"), name


def test_the_sandbox_serves_a_stand_in_for_every_platform() -> None:
    with start_sandbox() as sb, requests.Session() as http:
        health = http.get(f"{sb.url}/_sandbox/health", timeout=10).json()
    assert set(_adapters_on_disk()) <= set(health["platforms"]) <= set(platform_names())


def _enum_of(schema: Any, key: str) -> list[str]:
    """The first ``enum`` under a property named ``key``, anywhere in ``schema``."""
    if isinstance(schema, dict):
        prop = schema.get("properties", {}).get(key)
        if isinstance(prop, dict) and "enum" in prop:
            return list(prop["enum"])
        for value in schema.values():
            if found := _enum_of(value, key):
                return found
    if isinstance(schema, list):
        for value in schema:
            if found := _enum_of(value, key):
                return found
    return []


def test_the_shipped_channel_schema_offers_the_same_platforms() -> None:
    path = files("dissem") / "example" / "schemas" / "channels.schema.json"
    schema = json.loads(path.read_text(encoding="utf-8"))
    shipped = [name for name in platform_names() if name in _adapters_on_disk()]
    assert _enum_of(schema, "platform") == shipped


@pytest.mark.parametrize("name", platform_names())
def test_each_platform_module_holds_one_adapter_of_that_name(name: str) -> None:
    cls = get_platform(name)  # a deleted or broken module fails here, never skips
    assert issubclass(cls, Platform)
    assert cls.name == name
    assert cls.traits.text_limit > 0
    assert cls.required_credentials and all(cls.required_credentials)


def test_the_four_platforms_of_part_a_are_available() -> None:
    assert {"x", "mastodon", "bluesky", "telegram"} <= set(available_platforms())


def test_unknown_platform_is_a_key_error() -> None:
    with pytest.raises(KeyError, match="myspace"):
        get_platform("myspace")


def _channel(**credentials: str) -> Channel:
    return Channel(
        name="tg-main", platform="telegram", account="@news", timezone="UTC",
        credentials=credentials,
    )  # fmt: skip


def test_build_adapter_reads_credentials_and_registers_them_as_secrets() -> None:
    channel = _channel(bot_token="TG_TOKEN_FOR_REGISTRY")
    adapter = build_adapter(
        channel, Settings(), environ={"TG_TOKEN_FOR_REGISTRY": "42:registry-secret-value"}
    )
    assert adapter.credentials == {"bot_token": "42:registry-secret-value"}
    assert adapter.api_base == "https://api.telegram.org"
    assert redact("url /bot42:registry-secret-value/x") == "url /bot***/x"


def test_build_adapter_names_the_missing_variable() -> None:
    channel = _channel(bot_token="TG_TOKEN_UNSET")
    with pytest.raises(CredentialsMissing) as caught:
        build_adapter(channel, Settings(), environ={"TG_TOKEN_UNSET": "  "})
    assert caught.value.channel == "tg-main"
    assert caught.value.variable == "TG_TOKEN_UNSET"


def test_sandbox_url_wins_over_the_channel_api_base() -> None:
    channel = _channel(bot_token="TG_T").model_copy(update={"api_base": "https://tg.example"})
    env = {"TG_T": "token-value-1234"}
    assert build_adapter(channel, Settings(), environ=env).api_base == "https://tg.example"
    sandboxed = build_adapter(channel, Settings(sandbox_url="http://127.0.0.1:9/"), environ=env)
    assert sandboxed.api_base == "http://127.0.0.1:9/telegram"
