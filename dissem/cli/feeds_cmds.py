"""Feed commands: ``dissem feeds`` (each feed's state), ``dissem feeds poll [NAME]``,
``dissem feeds items [NAME]``, ``dissem feeds export RELEASE`` and ``dissem approve RELEASE
--by NAME`` (see :mod:`dissem.feeds`).

Exit codes: 0 done, 1 a poll failed or the release cannot be approved or exported, 2 usage
or config error (an unknown feed).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import click

from dissem.cli.options import config_option, settings_for
from dissem.clock import utcnow
from dissem.config.loader import load_config
from dissem.config.models import LoadedConfig
from dissem.settings import Settings, get_settings
from dissem.store.open import open_store


def _config(settings: Settings) -> LoadedConfig:
    config = load_config(settings.config_dir, timezone=settings.timezone)
    for problem in config.problems:
        click.echo(str(problem), err=True)
    return config


def _table(header: tuple[str, ...], rows: list[tuple[str, ...]]) -> None:
    table = [header, *rows]
    widths = [max(len(row[i]) for row in table) for i in range(len(header))]
    for row in table:
        click.echo("  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)).rstrip())


def _when(value: str | None) -> str:
    return value[:16].replace("T", " ") if value else "-"


@click.group(invoke_without_command=True)
@config_option
@click.option("--json", "as_json", is_flag=True, help="print rows as JSON")
@click.pass_context
def feeds(ctx: click.Context, config_dir: Path | None, as_json: bool) -> None:
    """Each feed: last poll, next poll (UTC), HTTP status, items seen on the first run, new,
    updated, held, errors, and the last error."""
    if ctx.invoked_subcommand is not None:
        return
    from dissem.worker.feed_review import feed_rows

    settings = settings_for(config_dir)
    config = _config(settings)
    engine, factory = open_store(settings, read_only=True)
    try:
        rows = feed_rows(factory, config)
    finally:
        engine.dispose()
    if as_json:
        click.echo(json.dumps(rows, indent=2, ensure_ascii=False))
        return
    if not rows:
        click.echo("no feeds in feeds.yaml")
        return
    header = (
        "FEED",
        "LAST POLL",
        "NEXT POLL",
        "HTTP",
        "SEEN",
        "NEW",
        "UPD",
        "HELD",
        "ERR",
        "LAST ERROR",
    )
    _table(
        header,
        [
            (
                r["feed"] + ("" if r["enabled"] else " (off)"),
                _when(r["last_poll"]),
                _when(r["next_poll"]),
                str(r["status"] or "-"),
                str(r["seen"]),
                str(r["new"]),
                str(r["updated"]),
                str(r["held"]),
                str(r["errors"]),
                (r["last_error"] or "")[:60],
            )
            for r in rows
        ],
    )


@feeds.command("poll")
@click.argument("name", required=False)
@click.option("--backfill", default=0, type=click.IntRange(0, 1000), help="post the newest N")
@config_option
@click.option("--json", "as_json", is_flag=True, help="print the results as JSON")
def poll_cmd(name: str | None, backfill: int, config_dir: Path | None, as_json: bool) -> None:
    """Read feed NAME now (every enabled feed without NAME), whether due or not."""
    from dissem.errors import FeedNotFound
    from dissem.worker.alerts import build_alerter
    from dissem.worker.feed_poll import poll_feed

    settings = settings_for(config_dir)
    config = _config(settings)
    if backfill and name is None:
        raise click.UsageError("--backfill needs a feed NAME")
    names = [name] if name else [f.name for f in config.feeds if f.enabled]
    engine, factory = open_store(settings)
    results = []
    try:
        for each in names:
            try:
                results.append(
                    poll_feed(
                        factory,
                        settings,
                        config,
                        each,
                        now=utcnow(),
                        force=True,
                        backfill=backfill,
                        alerter=build_alerter(settings),
                    )
                )
            except FeedNotFound as exc:
                click.echo(f"error: {exc}", err=True)
                raise SystemExit(2) from None
    finally:
        engine.dispose()
    out: list[dict[str, Any]] = []
    for r in results:
        row = {
            "feed": r.feed,
            "status": r.status,
            "not_modified": r.not_modified,
            "new": r.new,
            "updated": r.updated,
            "seen": r.seen,
            "held": r.held,
            "duplicates": r.duplicates,
            "error": r.error,
            "next_poll": r.next_poll_at.isoformat() if r.next_poll_at else None,
        }
        out.append(row)
        if not as_json:
            if r.error:
                click.echo(f"{r.feed}: error: {r.error}", err=True)
                continue
            what = "not modified" if r.not_modified else f"HTTP {r.status}"
            first = f", first run: {r.seen} items recorded as seen (none posted)" if r.seen else ""
            click.echo(
                f"{r.feed}: {what}: {len(r.new)} new, {len(r.updated)} updated, {r.held} held, "
                f"{r.duplicates} duplicates{first}"
            )
    if as_json:
        click.echo(json.dumps(out, indent=2, ensure_ascii=False))
    if any(r.error for r in results):
        raise SystemExit(1)


@feeds.command("items")
@click.argument("name", required=False)
@click.option("--limit", default=50, show_default=True, help="most rows to show")
@click.option("--json", "as_json", is_flag=True, help="print rows as JSON")
def items_cmd(name: str | None, limit: int, as_json: bool) -> None:
    """The latest items read (of feed NAME, or all): what each became."""
    from dissem.worker.feed_review import item_rows

    settings = get_settings()
    engine, factory = open_store(settings, read_only=True)
    try:
        rows = item_rows(factory, name, limit=limit)
    finally:
        engine.dispose()
    if as_json:
        click.echo(json.dumps(rows, indent=2, ensure_ascii=False))
        return
    if not rows:
        click.echo("no items read yet")
        return
    _table(
        ("FEED", "DECISION", "RELEASE", "STATUS", "PUBLISHED", "TITLE"),
        [
            (
                r["feed"],
                r["decision"],
                r["release"] or "-",
                r["release_status"] or "-",
                _when(r["published"]),
                r["title"][:50],
            )
            for r in rows
        ],
    )


@feeds.command("export")
@click.argument("release")
@click.option(
    "--out",
    "out_dir",
    type=click.Path(file_okay=False, path_type=Path),
    help="write <release>.yaml into this folder instead of printing it",
)
def export_cmd(release: str, out_dir: Path | None) -> None:
    """Write a feed item's release as a release file (for teams that approve through git)."""
    from dissem.errors import ReviewError
    from dissem.worker.feed_review import export_release, safe_file_name

    settings = get_settings()
    engine, factory = open_store(settings, read_only=True)
    try:
        text = export_release(factory, release)
    except ReviewError as exc:
        click.echo(f"error: {exc}", err=True)
        raise SystemExit(1) from None
    finally:
        engine.dispose()
    if out_dir is None:
        click.echo(text, nl=False)
        return
    out_dir.mkdir(parents=True, exist_ok=True)
    path = out_dir / safe_file_name(release)
    path.write_text(text, encoding="utf-8")
    click.echo(f"wrote {path}")


@click.command("approve")
@click.argument("release")
@click.option("--by", "by", required=True, help="who approves (recorded)")
@config_option
def approve(release: str, by: str, config_dir: Path | None) -> None:
    """Approve a draft feed item's release: its posts are planned at once."""
    from dissem.errors import ReviewError
    from dissem.worker.feed_review import approve_release

    settings = settings_for(config_dir)
    config = _config(settings)
    engine, factory = open_store(settings)
    try:
        plan = approve_release(factory, settings, config, release, by=by, now=utcnow())
    except ReviewError as exc:
        click.echo(f"error: {exc}", err=True)
        raise SystemExit(1) from None
    finally:
        engine.dispose()
    click.echo(
        f"release {release}: approved by {' '.join(by.split())}; {plan.created} posts planned"
    )
