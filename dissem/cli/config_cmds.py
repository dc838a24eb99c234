"""Config commands: ``dissem validate``, ``dissem init``, ``dissem schema``.

Exit codes: 0 ok, 1 failure, 2 problems in the config or a usage error (``init`` would
overwrite a file; no config folder to validate).
"""

from __future__ import annotations

import json
from dataclasses import asdict
from pathlib import Path

import click

from dissem.cli.options import (
    config_option,
    pick_config_dir,
    read_setting,
    require_config_dir,
)
from dissem.clock import check_zone
from dissem.config.advice import collapse_misnamed_channels, config_warnings
from dissem.config.loader import collector_paused, load_config
from dissem.config.locate import display_path
from dissem.config.models import LoadedConfig
from dissem.config.schema import KINDS, schema_for, write_schemas
from dissem.config.starter import create_starter


def _plural(n: int, word: str) -> str:
    return f"{n} {word}{'' if n == 1 else 's'}"


def _counts(cfg: LoadedConfig) -> dict[str, int]:
    return {
        "channels": len(cfg.channels),
        "groups": len(cfg.groups),
        "releases": len(cfg.releases),
        "feeds": len(cfg.feeds),
    }


@click.command()
@click.argument("directory", required=False, type=click.Path(path_type=Path, file_okay=False))
@config_option
@click.option("--json", "as_json", is_flag=True, help="print the problems as JSON data")
@click.option("--strict", is_flag=True, help="warnings count as problems (exit 2)")
def validate(directory: Path | None, config_dir: Path | None, as_json: bool, strict: bool) -> None:
    """Check a config folder and list every problem and warning.

    Each is printed as path:line:column: field: message (hint: ...). Warnings (unset
    credential variables, an empty releases folder, ...) do not fail it unless --strict.
    Exits 2 when there is any problem. (A DIR argument still works but is deprecated.)
    """
    root = pick_config_dir("validate", config_dir, directory) or _config_dir()
    require_config_dir("validate", root)
    with collector_paused():  # a short run: see collector_paused
        _validate(root, as_json=as_json, strict=strict)


#: the three settings ``validate`` and ``init`` read, with Settings' defaults (a test holds
#: them equal); read with :func:`read_setting` so these commands skip pydantic-settings
DEFAULTS = {"config_dir": "config", "timezone": "Asia/Jakarta", "sandbox_url": None}


def _config_dir() -> Path:
    return Path(read_setting("config_dir", DEFAULTS["config_dir"]) or "config")


def _validate(root: Path, *, as_json: bool, strict: bool) -> None:
    timezone = read_setting("timezone", DEFAULTS["timezone"]) or "Asia/Jakarta"
    try:
        check_zone(timezone)
    except ValueError as e:
        click.echo(f"dissem validate: DISSEM_TIMEZONE: {e}", err=True)
        raise SystemExit(2) from None
    cfg = load_config(root, timezone=timezone)
    cfg.problems = collapse_misnamed_channels(cfg)
    warnings = config_warnings(cfg, sandbox=bool(read_setting("sandbox_url")))
    problems = cfg.problems + warnings if strict else cfg.problems
    counts = _counts(cfg)
    if as_json:
        click.echo(
            json.dumps(
                {
                    "config_dir": display_path(root),
                    "ok": not problems,
                    "counts": counts,
                    "problems": [asdict(p) for p in cfg.problems],
                    "warnings": [asdict(p) for p in warnings],
                    "broken_release_ids": sorted(cfg.broken_release_ids),
                    "broken_channel_names": sorted(cfg.broken_channel_names),
                },
                indent=2,
                ensure_ascii=False,
            )
        )
    else:
        for problem in cfg.problems:
            click.echo(str(problem))
        for warning in warnings:
            click.echo(f"{'' if strict else 'warning: '}{warning}", err=not strict)
        found = ", ".join(_plural(n, k.rstrip("s")) for k, n in counts.items())
        noted = f"; {_plural(len(warnings), 'warning')}" if warnings and not strict else ""
        if problems:
            files = len({p.path for p in problems})
            click.echo(
                f"{_plural(len(problems), 'problem')} in {_plural(files, 'file')}; loaded {found}",
                err=True,
            )
        else:
            click.echo(f"{display_path(root)}: ok ({found}){noted}")
    if problems:
        raise SystemExit(2)


@click.command()
@click.argument("directory", required=False, type=click.Path(path_type=Path, file_okay=False))
@config_option
def init(directory: Path | None, config_dir: Path | None) -> None:
    """Write a starter config folder with commented examples.

    Refuses, writing nothing, when any of its files already exists (exit 2). (A DIR
    argument still works but is deprecated.)
    """
    root = pick_config_dir("init", config_dir, directory) or _config_dir()
    try:
        written = create_starter(root)
    except FileExistsError as e:
        click.echo(f"not overwriting existing files: {e}", err=True)
        raise SystemExit(2) from None
    for path in written:
        click.echo(f"created {display_path(path)}")
    shown = display_path(root)
    click.echo(
        f"next: edit {display_path(root / 'channels.yaml')}, then "
        f"`dissem validate --config {shown}`"
    )


@click.command()
@click.argument("kind", required=False, type=click.Choice(list(KINDS)))
@click.option(
    "--out",
    "out_dir",
    type=click.Path(path_type=Path, file_okay=False),
    help="write <kind>.schema.json files into this folder instead of printing",
)
def schema(kind: str | None, out_dir: Path | None) -> None:
    """Print the JSON Schema of a config file kind (all kinds, keyed by kind, without KIND).

    For editors: the VS Code YAML extension reads a first line such as
    "# yaml-language-server: $schema=./schemas/channels.schema.json".
    """
    kinds = [kind] if kind else list(KINDS)
    if out_dir is not None:
        for path in write_schemas(out_dir, kinds):
            click.echo(f"wrote {display_path(path)}")
        return
    data = schema_for(kind) if kind else {k: schema_for(k) for k in kinds}
    click.echo(json.dumps(data, indent=2, ensure_ascii=False))
