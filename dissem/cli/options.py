"""The ``--config`` option every command that reads the config folder takes, the same way.

Its default is ``DISSEM_CONFIG_DIR`` (environment or ``.env``), else ``./config``. A command
that cannot work without the folder stops with exit code 2 and one line saying where it
looked and how to make one, never with a silent success.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import click

from dissem.config.locate import display_path

if TYPE_CHECKING:
    from dissem.settings import Settings

F = TypeVar("F", bound=Callable[..., Any])

CONFIG_HELP = "config folder (default: DISSEM_CONFIG_DIR, else ./config)"


def config_option(f: F) -> F:
    """Adds ``--config DIR`` (passed as ``config_dir``, None when not given)."""
    return click.option(
        "--config",
        "config_dir",
        type=click.Path(file_okay=False, path_type=Path),
        default=None,
        metavar="DIR",
        help=CONFIG_HELP,
    )(f)


#: as :data:`dissem.settings.ENV_PREFIX` and :data:`~dissem.settings.ENV_FILE` (a test holds
#: them equal): repeated here so :func:`read_setting` does not import the settings module
ENV_PREFIX = "DISSEM_"
ENV_FILE = Path(".env")


def read_setting(name: str, default: str | None = None) -> str | None:
    """One setting as :class:`~dissem.settings.Settings` finds it (the environment in any
    case, then ``.env``), as text, for the short commands (``validate``, ``init``) that need
    one or two settings and answer sooner without importing pydantic-settings (about 0.15 s).
    ``default`` is the field's default (a test holds each caller's equal to Settings')."""
    key = (ENV_PREFIX + name).lower()
    for variable, value in os.environ.items():
        if variable.lower() == key:
            return value
    if ENV_FILE.is_file():
        from dotenv import dotenv_values

        for variable, found in dotenv_values(ENV_FILE, encoding="utf-8").items():
            if variable.lower() == key and found is not None:
                return found
    return default


def settings_for(config_dir: Path | None, *, fresh: bool = False) -> Settings:
    """The settings, with ``config_dir`` (when given) as the config folder."""
    from dissem.settings import Settings, get_settings

    settings = Settings() if fresh else get_settings()
    if config_dir is None:
        return settings
    return settings.model_copy(update={"config_dir": config_dir})


def pick_config_dir(command: str, option: Path | None, positional: Path | None) -> Path | None:
    """``--config`` wins; the older positional folder still works, with a note on stderr."""
    if positional is None:
        return option
    if option is not None and option != positional:
        raise click.UsageError(
            f"two config folders given ({option} and {positional}); use --config only"
        )
    click.echo(
        f"note: `dissem {command} DIR` is deprecated; use `dissem {command} --config DIR`",
        err=True,
    )
    return positional


def require_config_dir(command: str, root: Path) -> None:
    """Exit 2 with one line when ``root`` is not a config folder."""
    if root.is_dir():
        return
    click.echo(
        f"dissem {command}: no config folder at {display_path(root)} (give --config DIR or "
        "set DISSEM_CONFIG_DIR; `dissem init --config DIR` writes a starter folder)",
        err=True,
    )
    raise SystemExit(2)
