"""The ``dissem`` command: a thin layer over the modules; one module per area of commands.

A command's module is imported only when that command runs (or its own ``--help`` is
asked for): ``dissem --version`` and ``dissem --help`` import click and this file only, so
a git hook or a person at a terminal gets an answer at once. :data:`COMMANDS` names each
command's module and the first paragraph of its help, which ``dissem --help`` lists without
importing anything; ``tests/cli/test_startup.py`` checks the table against the commands.
(This is the lazy group of click's documentation, "Lazily Loading Subcommands":
https://click.palletsprojects.com/en/stable/complex/#lazily-loading-subcommands.)

Exit codes: 0 ok, 1 failure, 2 usage or config error; ``dissem run`` also 3 database
unreachable, 4 database unusable (missing, login refused, read-only, no permission), 5 the
database's disk is full (see :mod:`dissem.store.db`).
"""

from __future__ import annotations

import importlib
from typing import Any

import click

from dissem import __version__

__all__ = ["COMMANDS", "LazyGroup", "cli", "main"]

#: name -> ("module:attribute" of the click command, the first paragraph of its help)
COMMANDS: dict[str, tuple[str, str]] = {
    "validate": (
        "dissem.cli.config_cmds:validate",
        "Check a config folder and list every problem and warning.",
    ),
    "init": (
        "dissem.cli.config_cmds:init",
        "Write a starter config folder with commented examples.",
    ),
    "schema": (
        "dissem.cli.config_cmds:schema",
        "Print the JSON Schema of a config file kind (all kinds, keyed by kind, without KIND).",
    ),
    "db": ("dissem.cli.store_cmds:db", "Database maintenance."),
    "sync": (
        "dissem.cli.store_cmds:sync_cmd",
        "Load the config folder into the database (idempotent).",
    ),
    "queue": (
        "dissem.cli.store_cmds:queue",
        "Upcoming and problem posts: channel, platform, due time (channel zone and UTC), "
        "state and why it waits or failed (in full).",
    ),
    "preview": (
        "dissem.cli.preview_cmd:preview",
        "Show the exact posts RELEASE_FILE becomes on each target channel.",
    ),
    "sandbox": (
        "dissem.cli.sandbox_cmd:sandbox",
        "Serve a stand-in for all eight platforms on one local port.",
    ),
    "run": (
        "dissem.cli.run_cmds:run",
        "Run the worker: sync, dispatch, reconcile, metrics and the weekly report.",
    ),
    "demo": (
        "dissem.cli.run_cmds:demo",
        "Run the whole pipeline on the embedded default: SQLite, the sandbox in-process, the "
        "example config, a simulated week of posting; then print what went out where and write "
        "the weekly report.",
    ),
    "retry": (
        "dissem.cli.worker_cmds:retry_cmd",
        "Send POST again, due now (from failed, needs_review or unconfirmed).",
    ),
    "cancel": (
        "dissem.cli.worker_cmds:cancel_cmd",
        "Cancel POST (any open state, or failed) and the later parts of its thread.",
    ),
    "mark-published": (
        "dissem.cli.worker_cmds:mark_published_cmd",
        "Record that POST is out at URL (from needs_review, unconfirmed or failed).",
    ),
    "resume": (
        "dissem.cli.worker_cmds:resume_cmd",
        "Lift CHANNEL's pause now (after fixing what paused it: credentials, a block).",
    ),
    "report": (
        "dissem.cli.report_cmds:report",
        "Write the weekly report (HTML, CSV, XLSX) for one ISO week.",
    ),
    "metrics": (
        "dissem.cli.report_cmds:metrics",
        "Show the metrics history of one POST (its id, as `dissem queue --all` lists).",
    ),
    "insights": (
        "dissem.cli.insights_cmd:insights",
        "Show when CHANNEL's audience engages (every channel without CHANNEL).",
    ),
    "feeds": (
        "dissem.cli.feeds_cmds:feeds",
        "Each feed: last poll, next poll (UTC), HTTP status, items seen on the first run, new, "
        "updated, held, errors, and the last error.",
    ),
    "approve": (
        "dissem.cli.feeds_cmds:approve",
        "Approve a draft feed item's release: its posts are planned at once.",
    ),
}


class LazyGroup(click.Group):
    """A click group whose subcommands are imported by name when first needed."""

    def __init__(self, *args: Any, lazy: dict[str, tuple[str, str]], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.lazy = lazy

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted({*super().list_commands(ctx), *self.lazy})

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        if cmd_name not in self.commands and cmd_name in self.lazy:
            module_name, attr = self.lazy[cmd_name][0].split(":")
            command = getattr(importlib.import_module(module_name), attr)
            if not isinstance(command, click.Command):  # pragma: no cover - a wrong table
                raise TypeError(f"{self.lazy[cmd_name][0]} is not a click command")
            self.add_command(command, cmd_name)
        return super().get_command(ctx, cmd_name)

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        """The listing of ``dissem --help`` from the table; loaded commands speak for
        themselves. Shortened as click shortens each command's help."""
        listed: dict[str, click.Command] = {
            name: self.commands.get(name) or click.Command(name, help=self.lazy[name][1])
            for name in self.list_commands(ctx)
        }
        shown = {name: c for name, c in listed.items() if not c.hidden}
        if not shown:
            return
        limit = formatter.width - 6 - max(len(name) for name in shown)
        with formatter.section("Commands"):
            formatter.write_dl([(name, c.get_short_help_str(limit)) for name, c in shown.items()])


@click.group(
    cls=LazyGroup,
    lazy=COMMANDS,
    context_settings={"help_option_names": ["-h", "--help"]},
)
@click.version_option(__version__, prog_name="dissem")
def cli() -> None:
    """dissem: disseminate releases to every channel, adapted, on time, exactly once."""


def main() -> None:
    """Console-script entry point. A setting the environment gets wrong is one line per
    setting and exit code 2, not a traceback."""
    try:
        cli(prog_name="dissem")
    except Exception as exc:
        if type(exc).__name__ != "ValidationError":  # pydantic's; imported only if so
            raise
        from dissem.settings import settings_problem

        problem = settings_problem(exc)
        if problem is None:
            raise
        click.echo(f"dissem: bad setting\n{problem}", err=True)
        raise SystemExit(2) from None
