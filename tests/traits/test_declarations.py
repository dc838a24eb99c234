"""The platform declarations tie every copy of a platform fact together: config, the
adapters, the sandbox, composing, the example config, the docs and the README all agree
with ``dissem/traits``, so a fact changed in one place cannot drift from the others."""

from __future__ import annotations

import ast
import json
import re
import sys
from datetime import UTC, datetime
from pathlib import Path

import pytest

from dissem.compose import compose
from dissem.compose.counting import measure
from dissem.config.loader import load_config
from dissem.config.models import PLATFORMS, Channel, Release
from dissem.config.schema import schema_for
from dissem.platforms.registry import available_platforms, get_platform, platform_names
from dissem.sandbox import lengths
from dissem.sandbox import mastodon as sandbox_mastodon
from dissem.sandbox.core import STAND_IN_MODULES, SandboxEnv, load_stand_ins, text_fits
from dissem.sandbox.faults import FaultPlan
from dissem.sandbox.state import SandboxState
from dissem.traits import (
    BUILTIN,
    ImageHandling,
    PlatformTraits,
    all_platforms,
    register,
    traits_for,
    unregister,
)
from dissem.traits.table import TABLE_END, TABLE_START, platform_table

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE = ROOT / "dissem" / "example"
NOW = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)
NAMES = [t.name for t in BUILTIN]


def test_the_platform_list_is_the_declarations() -> None:
    assert PLATFORMS == tuple(NAMES) == all_platforms() == platform_names()
    assert len(set(NAMES)) == len(NAMES) == 8


@pytest.mark.parametrize("kind", ["schema", "example file"])
def test_the_config_schema_lists_exactly_the_declared_platforms(kind: str) -> None:
    if kind == "schema":
        schema = schema_for("channels")
    else:
        schema = json.loads((EXAMPLE / "schemas" / "channels.schema.json").read_text())
    channel = schema["$defs"]["Channel"]["properties"]["platform"]
    assert channel["enum"] == NAMES


@pytest.mark.parametrize("name", NAMES)
def test_every_platform_has_its_adapter_and_its_stand_in(name: str) -> None:
    adapter = get_platform(name)
    assert adapter.traits is traits_for(name)
    assert adapter.required_credentials == traits_for(name).credentials
    assert name in available_platforms()
    assert name in STAND_IN_MODULES
    env = SandboxEnv(SandboxState(), lambda: NOW, FaultPlan())
    assert type(load_stand_ins(env)[name]).name == name


@pytest.mark.parametrize("name", NAMES)
def test_the_sandbox_takes_exactly_the_declared_limit(name: str) -> None:
    limit = traits_for(name).text_limit
    assert text_fits(name, "a" * limit)
    assert not text_fits(name, "a" * (limit + 1))


def test_the_stand_ins_own_length_rules_use_the_declared_limits() -> None:
    """The stand-ins count X, Mastodon and Bluesky apart from dissem; their limits must be
    the declared ones (a limit changed in one place only would pass every other test)."""
    assert traits_for("x").text_limit == lengths.X_MAX_WEIGHT
    assert traits_for("bluesky").text_limit == lengths.BLUESKY_MAX_GRAPHEMES
    assert traits_for("bluesky").max_bytes == lengths.BLUESKY_MAX_BYTES
    link = "https://example.org/" + "a" * 100
    assert lengths.mastodon_length(link) == traits_for("mastodon").url_length
    assert lengths.x_weight(link) == traits_for("x").url_length
    assert measure("x", link) == traits_for("x").url_length  # twitter-text's own constant


def test_the_mastodon_stand_in_states_the_declared_server_defaults() -> None:
    mastodon = traits_for("mastodon")
    stated = sandbox_mastodon.INSTANCE_DEFAULTS
    assert stated["max_characters"] == mastodon.text_limit
    assert stated["characters_reserved_per_url"] == mastodon.url_length
    assert stated["image_size_limit"] == mastodon.image_max_bytes
    assert mastodon.metrics_batch == sandbox_mastodon.STATUSES_LIMIT


def _channel(name: str) -> Channel:
    return Channel(name=f"{name}-main", platform=name, account="@a", timezone="UTC")


def _release(**fields: object) -> Release:
    data: dict[str, object] = {
        "id": "r1",
        "title": "Consular hours change",
        "summary": "The consular section opens earlier.",
        "url": "https://portal.example/news/r1",
        "targets": ["all"],
        "status": "approved",
        "approved_by": "Editor",
        **fields,
    }
    return Release.model_validate(data)


@pytest.mark.parametrize("name", NAMES)
def test_composing_follows_the_declaration(name: str) -> None:
    traits = traits_for(name)
    channel = _channel(name)
    with_image = compose(
        _release(image={"src": "https://portal.example/a.jpg", "alt": "A"}), channel, NOW
    )
    [part] = with_image
    assert part.limit == traits.text_limit or (
        traits.image is ImageHandling.CAPTION and part.limit == traits.caption_limit
    )
    assert bool(part.media) == (traits.image is not ImageHandling.LINK_PREVIEW)
    without = compose(_release(), channel, NOW)
    assert (not without) == traits.media_required
    if traits.media_required:
        assert without.skipped == f"skipped: {traits.display_name} needs an image"
    image = {"src": "https://portal.example/a.jpg", "alt": "A"}
    many = compose(_release(image=image, tags=[f"tag{i}x" for i in range(9)]), channel, NOW)
    assert many[0].text.count("#tag") == traits.hashtag_cap
    long = _release(image=image, body="Paragraph. " * 2000, thread=True)
    assert (len(compose(long, channel, NOW)) > 1) == traits.threads
    first = with_image[0]
    if traits.link_field:
        assert traits.link_field in first.options


def test_the_example_channels_map_a_declared_credential_set() -> None:
    config = load_config(EXAMPLE, timezone="UTC")
    assert config.channels
    for channel in config.channels.values():
        sets = traits_for(channel.platform).credentials
        mapped = set(channel.credentials)
        assert any(set(s) <= mapped for s in sets), (channel.name, sorted(mapped))
        assert mapped <= {n for s in sets for n in s}, (channel.name, sorted(mapped))


def test_the_docs_table_is_the_declarations() -> None:
    text = (ROOT / "docs" / "platforms.md").read_text(encoding="utf-8")
    start, end = text.index(TABLE_START), text.index(TABLE_END) + len(TABLE_END)
    assert text[start:end] == platform_table(), (
        "docs/platforms.md is out of date: regenerate its table with "
        'python -c "from dissem.traits.table import platform_table; print(platform_table())"'
    )
    for t in BUILTIN:
        assert f"### {t.display_name}" in text  # a section per platform, with its sources
        for source in t.sources:
            assert source in text, (t.name, source)


def test_the_readme_names_the_declared_platforms_and_credentials() -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    row = re.search(r"^\| `platform` \| required \| (.*) \|$", readme, re.M)
    assert row is not None
    assert re.findall(r"`([a-z]+)`", row.group(1)) == NAMES
    for t in BUILTIN:
        line = next(
            (
                ln
                for ln in readme.splitlines()
                if ln.startswith("| ") and t.display_name in ln.split("|")[1]
            ),
            None,
        )
        assert line is not None, t.display_name
        named = set(re.findall(r"`([a-z0-9_]+)`", line))
        # every declared name, and no other, is in the platform's row
        assert named == {n for s in t.credentials for n in s}, (t.name, named)


def test_a_declaration_states_consistent_facts() -> None:
    with pytest.raises(ValueError, match="lower-case"):
        PlatformTraits(name="Ninth", display_name="Ninth", text_limit=10)
    with pytest.raises(ValueError, match="unknown metric"):
        PlatformTraits(name="n", display_name="N", text_limit=10, metrics=("hearts",))
    with pytest.raises(ValueError, match="batch"):
        PlatformTraits(name="n", display_name="N", text_limit=10, metrics=("likes",))
    with pytest.raises(ValueError, match="formats"):
        PlatformTraits(name="n", display_name="N", text_limit=10, image=ImageHandling.UPLOAD)
    with pytest.raises(ValueError, match="names the field"):
        from dissem.traits import LinkHandling

        PlatformTraits(name="n", display_name="N", text_limit=10, link=LinkHandling.ATTACHMENT)


def test_a_shipped_platform_cannot_be_replaced_or_removed() -> None:
    fake_x = PlatformTraits(name="x", display_name="X", text_limit=10_000)
    with pytest.raises(ValueError, match="shipped"):
        register(fake_x)
    with pytest.raises(ValueError, match="shipped"):
        unregister("x")
    assert traits_for("x").text_limit == 280
    with pytest.raises(ValueError, match="unknown platform 'myspace'"):
        traits_for("myspace")


def test_the_declarations_import_only_the_standard_library() -> None:
    """Config and compose import dissem.traits; it must pull in no HTTP, no adapters and
    no other part of dissem, so that every layer may read it."""
    for path in sorted((ROOT / "dissem" / "traits").glob("*.py")):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                modules = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom):
                modules = [node.module or ""]
            else:
                continue
            for module in modules:
                top = module.split(".")[0]
                assert module.startswith("dissem.traits") or (
                    top != "dissem" and top in sys.stdlib_module_names
                ), (path.name, module)
