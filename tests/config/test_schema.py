"""JSON Schemas of the config files: valid, YAML-shaped, and in step with the example."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import jsonschema
import pytest

import dissem
from dissem.config.schema import KINDS, schema_file_name, schema_for, schema_json, write_schemas
from dissem.config.yamlsafe import parse_yaml, split_front_matter

EXAMPLE = Path(dissem.__file__).parent / "example"


def as_json_data(value: Any) -> Any:
    """YAML data as an editor sees it: dates and times are text."""
    return json.loads(json.dumps(value, default=str))


@pytest.mark.parametrize("kind", list(KINDS))
def test_schema_is_a_valid_draft_2020_12_schema(kind: str) -> None:
    schema = schema_for(kind)
    jsonschema.Draft202012Validator.check_schema(schema)
    assert schema["$schema"].endswith("2020-12/schema")
    assert json.loads(schema_json(kind)) == schema


def test_windows_durations_and_times_are_patterned_strings() -> None:
    channel = schema_for("channels")["$defs"]["Channel"]["properties"]
    window = channel["windows"]["items"]
    assert window["type"] == "string" and "mon-fri 07:00-21:00" in window["examples"]
    assert re.search(window["pattern"], "Mon-Fri 07:00-21:00")
    assert not re.search(window["pattern"], "weekdays")
    gap = channel["min_gap"]
    assert "string" in gap["type"] and gap["default"] == "30m"
    assert re.search(gap["pattern"], "2h") and not re.search(gap["pattern"], "two hours")
    assert "properties" not in json.dumps(window)
    nb = schema_for("release")["properties"]["not_before"]["anyOf"][0]
    assert nb["type"] == "string" and re.search(nb["pattern"], "2026-12-01 09:00")
    assert re.search(nb["pattern"], "2026-12-01T09:00:00+07:00")


def test_release_id_is_optional_and_x_keys_allowed() -> None:
    release = schema_for("release")
    assert "id" not in release["required"] and "title" in release["required"]
    assert release["additionalProperties"] is False
    validator = jsonschema.Draft202012Validator(release)
    base = {"title": "T", "url": "https://a.example/x", "targets": ["hq"]}
    assert validator.is_valid({**base, "x-note": {"anything": 1}})
    assert not validator.is_valid({**base, "sumary": "typo"})


def test_example_files_validate_against_the_schemas() -> None:
    channels = jsonschema.Draft202012Validator(schema_for("channels"))
    channel_files = [EXAMPLE / "channels.yaml", *sorted((EXAMPLE / "channels").glob("*.yaml"))]
    assert len(channel_files) > 1  # the example shows the channels/ folder
    for path in channel_files:
        data = parse_yaml(path.read_text()).data
        assert list(channels.iter_errors(as_json_data(data))) == [], path.name
    release = jsonschema.Draft202012Validator(schema_for("release"))
    files = sorted((EXAMPLE / "releases").iterdir())
    assert files
    for path in files:
        text = path.read_text()
        if path.suffix == ".md":
            text, _ = split_front_matter(text)
        errors = list(release.iter_errors(as_json_data(parse_yaml(text).data)))
        assert errors == [], path.name
    feeds = jsonschema.Draft202012Validator(schema_for("feeds"))
    data = parse_yaml((EXAMPLE / "feeds.yaml").read_text()).data
    assert list(feeds.iter_errors(as_json_data(data))) == []


def test_example_schema_files_are_current() -> None:
    """The example's schemas/ (used by its yaml-language-server comments) match the models;
    regenerate with `dissem schema --out dissem/example/schemas`."""
    for kind in KINDS:
        assert (EXAMPLE / "schemas" / schema_file_name(kind)).read_text() == schema_json(kind)


def test_example_files_name_an_existing_schema() -> None:
    for path in [
        EXAMPLE / "channels.yaml",
        *sorted((EXAMPLE / "channels").glob("*.yaml")),
        *sorted((EXAMPLE / "releases").glob("*.yaml")),
    ]:
        first = path.read_text().splitlines()[0]
        m = re.fullmatch(r"# yaml-language-server: \$schema=(\S+)", first)
        assert m, path.name
        assert (path.parent / m.group(1)).is_file()


def test_write_schemas(tmp_path: Path) -> None:
    written = write_schemas(tmp_path / "out", ["feeds"])
    assert written == [tmp_path / "out" / "feeds.schema.json"]
    assert json.loads(written[0].read_text())["title"].startswith("dissem feeds")


def test_a_channels_folder_file_may_hold_only_groups_or_only_channels() -> None:
    """A file of the channels/ folder has the keys of channels.yaml, and either may be left
    out (the schema used to require ``channels``)."""
    validator = jsonschema.Draft202012Validator(schema_for("channels"))
    assert validator.is_valid({"groups": {"europe": ["embassy-berlin", "embassy-london"]}})
    assert validator.is_valid({"channels": []})
    assert not validator.is_valid({"chanels": []})
    assert "channels/" in schema_for("channels")["title"]
