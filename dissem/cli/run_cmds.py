"""``dissem run`` (the worker) and ``dissem demo`` (the whole pipeline, simulated week)."""

from __future__ import annotations

from pathlib import Path
from typing import NoReturn

import click

from dissem.cli.options import config_option, require_config_dir, settings_for


@click.command()
@click.option("--once", is_flag=True, help="do everything due now, then exit (cron, tests)")
@config_option
def run(once: bool, config_dir: Path | None) -> None:
    """Run the worker: sync, dispatch, reconcile, metrics and the weekly report.

    SIGTERM/SIGINT finish what is in hand and exit (a second one exits at once); SIGHUP
    reloads the config. Any number of workers can share one PostgreSQL database.

    A database that cannot be used ends it with one line saying what is wrong and what to
    do, and exit code 3 (unreachable, after DISSEM_DATABASE_WAIT seconds of retrying),
    4 (unusable: missing, login refused, read-only, no permission) or 5 (disk full).
    No config folder: exit 2.
    """
    from dissem.errors import DatabaseUnavailable
    from dissem.logs import setup_logging
    from dissem.store.db import database_problem
    from dissem.worker.daemon import open_worker

    settings = settings_for(config_dir)
    require_config_dir("run", settings.config_dir)
    setup_logging(settings.log_level, settings.log_format)
    try:
        worker = open_worker(settings)
    except DatabaseUnavailable as exc:
        _database_exit(exc.problem.line, exc.problem.exit_code)
    if once:
        try:
            result = worker.run_once()
        except Exception as exc:
            problem = database_problem(exc, settings.database_url)
            if problem is None:
                raise
            _database_exit(problem.line, problem.exit_code)
        finally:
            worker.close()
        outcomes = ", ".join(f"{k} {v}" for k, v in sorted(result.outcomes.items())) or "none"
        click.echo(
            f"run --once: published {result.published}; attempts: {outcomes}; "
            f"reconciled {result.reconciled}"
        )
        return
    raise SystemExit(worker.run())


def _database_exit(line: str, code: int) -> NoReturn:
    click.echo(f"dissem run: {line}", err=True)
    raise SystemExit(code)


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
    from dissem.demo import run_demo
    from dissem.logs import setup_logging

    # the demo's faults are injected on purpose: their warnings would only drown the summary
    setup_logging("ERROR", "text")
    run_demo(directory, echo=click.echo)
