"""``dissem report`` (the weekly report) and ``dissem metrics POST`` (one post's history)."""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import click

from dissem.clock import utcnow
from dissem.settings import get_settings
from dissem.store.open import open_store


@click.command()
@click.option("--week", help="ISO week, e.g. 2026-W48 (default: the last complete week)")
@click.option(
    "--out",
    type=click.Path(file_okay=False, path_type=Path),
    help="folder for the files (default: DISSEM_REPORT_DIR/<week>/)",
)
@click.option("--format", "formats", help="comma-separated: html,csv,xlsx (default: all)")
@click.option(
    "--lang",
    type=click.Choice(["en", "id"]),
    help="report language, part of each file name (default: DISSEM_REPORT_LANG)",
)
@click.option("--send", is_flag=True, help="also e-mail it / post it to the webhook")
def report(
    week: str | None, out: Path | None, formats: str | None, lang: str | None, send: bool
) -> None:
    """Write the weekly report (HTML, CSV, XLSX) for one ISO week.

    Weeks run Monday to Sunday in DISSEM_TIMEZONE; a week not over yet is marked partial.
    Files are named dissem-report-<week>-<lang>.<format>, so each language keeps its own.
    A manual run does not mark the week as done for the daemon's own weekly report. Exit 1
    when sending failed.
    """
    from dissem.reports.weekly import (
        FORMATS,
        IsoWeek,
        deliver_report,
        generate_report,
        parse_formats,
    )

    settings = get_settings()
    try:
        chosen = IsoWeek.parse(week) if week else None
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint="--week") from None
    try:
        fmts = parse_formats(formats) if formats is not None else None
    except ValueError:
        raise click.BadParameter(
            f"{formats!r} is not a report format; choose one or more of "
            f"{', '.join(FORMATS)}, comma-separated (e.g. html,csv)",
            param_hint="--format",
        ) from None
    engine, factory = open_store(settings)
    try:
        result = generate_report(
            factory, settings, chosen, now=utcnow(), out_dir=out, formats=fmts, lang=lang
        )
    finally:
        engine.dispose()
    for fmt, path in result.files.items():
        click.echo(f"{fmt}: {path}")
    if not send:
        return
    if not (settings.report_email_to or settings.report_webhook_url):
        raise click.UsageError("--send needs DISSEM_REPORT_EMAIL_TO or DISSEM_REPORT_WEBHOOK_URL")
    deliver_report(result, settings)
    for way in result.delivered:
        click.echo(f"sent: {way}")
    for error in result.errors:
        click.echo(f"not sent: {error}", err=True)
    if result.errors:
        raise SystemExit(1)


@click.command()
@click.argument("post", type=int)
@click.option("--json", "as_json", is_flag=True, help="print the history as JSON")
def metrics(post: int, as_json: bool) -> None:
    """Show the metrics history of one POST (its id, as `dissem queue --all` lists).

    A dash means the platform does not report that figure (never zero). Exit 1 when there
    is no such post.
    """
    from dissem.metrics.history import post_history
    from dissem.reports.figures import platform_reports_metrics
    from dissem.store.db import transaction

    settings = get_settings()
    engine, factory = open_store(settings, read_only=True)
    try:
        with transaction(factory) as session:
            history = post_history(session, post)
    finally:
        engine.dispose()
    if history is None:
        click.echo(f"no post with id {post}", err=True)
        raise SystemExit(1)
    if as_json:
        click.echo(json.dumps(history.as_json(), indent=2, ensure_ascii=False))
        return
    zone = ZoneInfo(settings.timezone)

    def local(when: datetime | None) -> str:
        return "-" if when is None else when.astimezone(zone).strftime("%Y-%m-%d %H:%M")

    click.echo(
        f"post {history.post_id} on {history.channel} ({history.platform}), "
        f"release {history.release_id}, {history.state}"
    )
    click.echo(f"published {local(history.published_at)} {settings.timezone}")
    if history.remote_url:
        click.echo(f"live at   {history.remote_url}")
    click.echo(f"next snapshot {local(history.next_metrics_at)}")
    if not history.snapshots:
        if platform_reports_metrics(history.platform) is False:
            click.echo("metrics: not reported by the platform")
        else:
            click.echo("no snapshots yet")
        return
    names = history.reported
    header = ["taken at", "age", *names]
    rows = []
    for snap in history.snapshots:
        age = snap.taken_at - history.published_at if history.published_at else None
        rows.append(
            [
                local(snap.taken_at),
                "-" if age is None else _age(age.total_seconds()),
                *("–" if snap.metrics[m] is None else str(snap.metrics[m]) for m in names),
            ]
        )
    widths = [max(len(r[i]) for r in [header, *rows]) for i in range(len(header))]
    for i, row in enumerate([header, *rows]):
        pairs = enumerate(zip(row, widths, strict=True))
        cells = [c.ljust(w) if j < 2 else c.rjust(w) for j, (c, w) in pairs]
        click.echo("  ".join(cells).rstrip())
        if i == 0:
            click.echo("  ".join("-" * w for w in widths))


def _age(seconds: float) -> str:
    """``3d 4h``, ``5h``, ``12m``."""
    minutes = int(seconds // 60)
    days, rest = divmod(minutes, 1440)
    hours, mins = divmod(rest, 60)
    if days:
        return f"{days}d {hours}h" if hours else f"{days}d"
    if hours:
        return f"{hours}h {mins}m" if mins else f"{hours}h"
    return f"{mins}m"
