"""JSON Schemas of the config files, generated from the pydantic models.

Editors use them to complete and check config files as people type; with the VS Code YAML
extension, a first line ``# yaml-language-server: $schema=./schemas/channels.schema.json``
in a file (or a ``yaml.schemas`` setting) is enough. The schemas show values the way they
are written in YAML: durations (``30m``), windows (``mon-fri 07:00-21:00``) and times
(``2026-12-01 09:00``) are strings with patterns, not the objects they become.
"""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path
from typing import Any

from pydantic import BaseModel
from pydantic.json_schema import GenerateJsonSchema, JsonSchemaValue
from pydantic_core import core_schema

from dissem.config.models import ChannelsFile, FeedsFile, Release, duration_text

__all__ = ["KINDS", "schema_file_name", "schema_for", "schema_json", "write_schemas"]

#: Config file kinds and the model each is validated with.
KINDS: dict[str, type[BaseModel]] = {
    "channels": ChannelsFile,
    "release": Release,
    "feeds": FeedsFile,
}

_TITLES = {
    "channels": "dissem channels.yaml, or one file of the channels/ folder",
    "release": "dissem release (releases/*.yaml, or the front matter of releases/*.md)",
    "feeds": "dissem feeds.yaml",
}

_DATETIME_SCHEMA: dict[str, Any] = {
    "type": "string",
    "pattern": r"^2\d{3}-\d{2}-\d{2}([Tt ]\d{1,2}:\d{2}(:\d{2}(\.\d+)?)?"
    r"\s*([Zz]|[+-]\d{2}(:?\d{2})?)?)?$",
    "description": "date and time from 2000-01-01 to 2999-12-31 (UTC); without an offset it "
    "is read in DISSEM_TIMEZONE",
    "examples": ["2026-12-01 09:00", "2026-12-01T09:00:00+07:00"],
}


class _YamlFacingSchema(GenerateJsonSchema):
    """Writes times and default durations the way a person types them in YAML."""

    def datetime_schema(self, schema: core_schema.DatetimeSchema) -> JsonSchemaValue:
        return dict(_DATETIME_SCHEMA)

    def encode_default(self, dft: Any) -> Any:
        if isinstance(dft, timedelta):
            return duration_text(dft)
        return super().encode_default(dft)


def schema_for(kind: str) -> dict[str, Any]:
    """The JSON Schema (draft 2020-12) of one config file kind; raises KeyError for an
    unknown kind (see :data:`KINDS`)."""
    model = KINDS[kind]
    schema = model.model_json_schema(schema_generator=_YamlFacingSchema)
    if kind == "release":
        # the id defaults to the file name, and a Markdown release's body is the Markdown
        schema["required"] = [r for r in schema.get("required", []) if r != "id"]
    # top-level x-... keys are ignored by the loader: they hold YAML anchors
    schema["patternProperties"] = {"^x-": {}}
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$id": f"https://dissem.example/schemas/{schema_file_name(kind)}",
        **schema,
        "title": _TITLES[kind],
    }


def schema_json(kind: str) -> str:
    """:func:`schema_for` as indented JSON text ending in a newline."""
    return json.dumps(schema_for(kind), indent=2, ensure_ascii=False) + "\n"


def schema_file_name(kind: str) -> str:
    return f"{kind}.schema.json"


def write_schemas(out_dir: Path, kinds: list[str] | None = None) -> list[Path]:
    """Writes ``<kind>.schema.json`` for each kind (all by default) into ``out_dir``
    (created if needed); returns the files written."""
    out_dir.mkdir(parents=True, exist_ok=True)
    written: list[Path] = []
    for kind in kinds or list(KINDS):
        path = out_dir / schema_file_name(kind)
        path.write_text(schema_json(kind), encoding="utf-8")
        written.append(path)
    return written
