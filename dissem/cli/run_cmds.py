"""``dissem run`` (the worker) and ``dissem demo`` (the whole pipeline, simulated week)."""

from __future__ import annotations

from pathlib import Path

import click

from dissem.settings import get_settings


def register(cli: click.Group) -> None:
    """Adds ``run`` and ``demo`` to the ``dissem`` group."""
    cli.add_command(run)
    cli.add_command(demo)


@click.command()
@click.option("--once", is_flag=True, help="do everything due now, then exit (cron, tests)")
def run(once: bool) -> None:
    """Run the worker: sync, dispatch, reconcile, metrics and the weekly report.

    SIGTERM/SIGINT finish what is in hand and exit (a second one exits at once); SIGHUP
    reloads the config. Any number of workers can share one PostgreSQL database.
    """
    from dissem.logs import setup_logging
    from dissem.worker.daemon import Worker

    settings = get_settings()
    setup_logging(settings.log_level, settings.log_format)
    worker = Worker(settings)
    if once:
        try:
            result = worker.run_once()
        finally:
            worker.close()
        outcomes = ", ".join(f"{k} {v}" for k, v in sorted(result.outcomes.items())) or "none"
        click.echo(
            f"run --once: published {result.published}; attempts: {outcomes}; "
            f"reconciled {result.reconciled}"
        )
        return
    raise SystemExit(worker.run())


@click.command()
@click.option(
    "--dir",
    "directory",
    type=click.Path(file_okay=False, path_type=Path),
    help="keep the database, config and reports here (default: a temporary folder)",
)
def demo(directory: Path | None) -> None:
    """Run the whole pipeline on the embedded default: SQLite, the sandbox in-process, the
    example config, a simulated week of posting; then print what went out where and write
    the weekly report."""
    from dissem.logs import setup_logging
    from dissem.worker.demo import run_demo

    # the demo's faults are injected on purpose: their warnings would only drown the summary
    setup_logging("ERROR", "text")
    run_demo(directory, echo=click.echo)
