"""The ``dissem`` command: a thin layer over the modules; one module per area of commands.

Exit codes: 0 ok, 1 failure, 2 usage or config error; ``dissem run`` also 3 database
unreachable, 4 database unusable (missing, login refused, read-only, no permission), 5 the
database's disk is full (see :mod:`dissem.store.db`).
"""

from __future__ import annotations

import click

from dissem import __version__
from dissem.cli import (
    config_cmds,
    feeds_cmds,
    insights_cmd,
    preview_cmd,
    report_cmds,
    run_cmds,
    sandbox_cmd,
    store_cmds,
    worker_cmds,
)


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="dissem")
def cli() -> None:
    """dissem: disseminate releases to every channel, adapted, on time, exactly once."""


for _module in (
    config_cmds,
    store_cmds,
    preview_cmd,
    sandbox_cmd,
    run_cmds,
    worker_cmds,
    report_cmds,
    insights_cmd,
    feeds_cmds,
):
    _module.register(cli)


def main() -> None:
    """Console-script entry point."""
    cli(prog_name="dissem")
