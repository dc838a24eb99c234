"""The registry knows every platform, and builds adapters with their credentials."""

from __future__ import annotations

import importlib.util

import pytest

from dissem.config.models import PLATFORMS, Channel
from dissem.errors import CredentialsMissing
from dissem.platforms.base import Platform
from dissem.platforms.registry import (
    PLATFORM_MODULES,
    available_platforms,
    build_adapter,
    get_platform,
    platform_names,
)
from dissem.redact import redact
from dissem.settings import Settings


def test_every_config_platform_has_a_module_entry() -> None:
    assert platform_names() == PLATFORMS
    assert set(PLATFORM_MODULES) == set(PLATFORMS)


@pytest.mark.parametrize("name", PLATFORMS)
def test_each_existing_module_holds_one_adapter_of_that_name(name: str) -> None:
    if importlib.util.find_spec(PLATFORM_MODULES[name]) is None:
        assert name not in available_platforms()
        pytest.skip(f"{PLATFORM_MODULES[name]} is not written yet")
    cls = get_platform(name)
    assert issubclass(cls, Platform)
    assert cls.name == name
    assert cls.capabilities.text_limit > 0
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
