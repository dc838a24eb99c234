"""Commands of this area (filled in by the issue that builds them)."""

from __future__ import annotations

import click


def register(cli: click.Group) -> None:
    """Adds this module's commands to the `dissem` group."""
