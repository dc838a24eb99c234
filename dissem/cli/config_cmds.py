"""Config commands: ``dissem validate``, ``dissem init``, ``dissem schema``.

Exit codes: 0 ok, 1 failure (e.g. ``init`` would overwrite a file), 2 problems in the config.
"""

from __future__ import annotations

import json
from dataclasses import asdict
from pathlib import Path

import click

from dissem.config.loader import load_config
from dissem.config.locate import display_path
from dissem.config.models import LoadedConfig
from dissem.config.schema import KINDS, schema_for, write_schemas
from dissem.config.starter import create_starter
from dissem.settings import Settings


def register(cli: click.Group) -> None:
    """Adds this module's commands to the `dissem` group."""
    cli.add_command(validate)
    cli.add_command(init)
    cli.add_command(schema)


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
@click.option("--json", "as_json", is_flag=True, help="print the problems as JSON data")
def validate(directory: Path | None, as_json: bool) -> None:
    """Check a config folder (default: DISSEM_CONFIG_DIR) and list every problem.

    Each problem is printed as ``path:line:column: field: message (hint: ...)``. Exits 2
    when there is any problem.
    """
    settings = Settings()
    root = directory or settings.config_dir
    cfg = load_config(root, timezone=settings.timezone)
    counts = _counts(cfg)
    if as_json:
        click.echo(
            json.dumps(
                {
                    "config_dir": display_path(root),
                    "ok": not cfg.problems,
                    "counts": counts,
                    "problems": [asdict(p) for p in cfg.problems],
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
        found = ", ".join(_plural(n, k.rstrip("s")) for k, n in counts.items())
        if cfg.problems:
            files = len({p.path for p in cfg.problems})
            click.echo(
                f"{_plural(len(cfg.problems), 'problem')} in {_plural(files, 'file')}; "
                f"loaded {found}",
                err=True,
            )
        else:
            click.echo(f"{display_path(root)}: ok ({found})")
    if cfg.problems:
        raise SystemExit(2)


@click.command()
@click.argument("directory", required=False, type=click.Path(path_type=Path, file_okay=False))
def init(directory: Path | None) -> None:
    """Write a starter config folder (default: DISSEM_CONFIG_DIR) with commented examples.

    Refuses, writing nothing, when any of its files already exists.
    """
    root = directory or Settings().config_dir
    try:
        written = create_starter(root)
    except FileExistsError as e:
        click.echo(f"not overwriting existing files: {e}", err=True)
        raise SystemExit(1) from None
    for path in written:
        click.echo(f"created {display_path(path)}")
    click.echo(f"next: edit {display_path(root / 'channels.yaml')}, then `dissem validate`")


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
    ``# yaml-language-server: $schema=./schemas/channels.schema.json``.
    """
    kinds = [kind] if kind else list(KINDS)
    if out_dir is not None:
        for path in write_schemas(out_dir, kinds):
            click.echo(f"wrote {display_path(path)}")
        return
    data = schema_for(kind) if kind else {k: schema_for(k) for k in kinds}
    click.echo(json.dumps(data, indent=2, ensure_ascii=False))
