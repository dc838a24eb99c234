"""``dissem db upgrade``, ``dissem sync`` and ``dissem queue``."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo

import click
from sqlalchemy import select

from dissem.settings import Settings, get_settings
from dissem.store.models import ChannelRow, Post, PostState
from dissem.store.open import open_store


def register(cli: click.Group) -> None:
    """Adds ``db``, ``sync`` and ``queue`` to the ``dissem`` group."""
    cli.add_command(db)
    cli.add_command(sync_cmd)
    cli.add_command(queue)


@click.group()
def db() -> None:
    """Database maintenance."""


@db.command("upgrade")
def db_upgrade() -> None:
    """Apply the schema migrations (also done automatically on start)."""
    from dissem.store.migrate import current_revision

    engine, _ = open_store(get_settings())
    click.echo(f"database at revision {current_revision(engine)}")
    engine.dispose()


@click.command("sync")
@click.option("--json", "as_json", is_flag=True, help="print the changes as JSON")
def sync_cmd(as_json: bool) -> None:
    """Load the config folder into the database (idempotent).

    Broken files are reported with file:line and skipped; everything else is synced.
    Exit 2 when a file had problems, 0 otherwise.
    """
    from dissem.worker.sync import sync

    settings = get_settings()
    engine, factory = open_store(settings)
    result = sync(factory, settings, datetime.now(UTC))
    engine.dispose()
    for problem in result.problems:
        click.echo(str(problem), err=True)
    if as_json:
        click.echo(json.dumps(vars(result.changes), indent=2))
    else:
        click.echo(f"synced {settings.config_dir}: {result.changes.summary()}")
    if result.problems:
        raise SystemExit(2)


@click.command()
@click.option("--problems", is_flag=True, help="only failed, unconfirmed and needs_review posts")
@click.option("--all", "show_all", is_flag=True, help="every post, published and closed too")
@click.option("--limit", default=50, show_default=True, help="most rows to show")
@click.option("--json", "as_json", is_flag=True, help="print rows as JSON")
def queue(problems: bool, show_all: bool, limit: int, as_json: bool) -> None:
    """Upcoming and problem posts: channel, platform, due time (channel zone and UTC),
    state and last error."""
    settings = get_settings()
    engine, factory = open_store(settings, read_only=True)
    rows = queue_rows(factory, settings, problems=problems, show_all=show_all, limit=limit)
    engine.dispose()
    if as_json:
        click.echo(json.dumps(rows, indent=2, ensure_ascii=False))
        return
    if not rows:
        click.echo("nothing queued" if not problems else "no problem posts")
        return
    header = ("ID", "CHANNEL", "PLATFORM", "DUE (LOCAL)", "DUE (UTC)", "STATE", "LAST ERROR")
    table = [header] + [
        (
            str(r["id"]),
            r["channel"],
            r["platform"],
            r["due_local"] or "-",
            r["due_utc"] or "-",
            r["state"],
            (r["last_error"] or "")[:60],
        )
        for r in rows
    ]
    widths = [max(len(row[i]) for row in table) for i in range(len(header))]
    for row in table:
        click.echo("  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)).rstrip())


def queue_rows(
    factory: Any, settings: Settings, *, problems: bool, show_all: bool, limit: int
) -> list[dict[str, Any]]:
    """The rows ``dissem queue`` shows, as plain data."""
    stmt = select(Post, ChannelRow.timezone).join(ChannelRow, ChannelRow.name == Post.channel)
    if problems:
        stmt = stmt.where(Post.state.in_(sorted(PostState.PROBLEMS)))
    elif not show_all:
        stmt = stmt.where(Post.state.in_(sorted(PostState.OPEN | PostState.PROBLEMS)))
    stmt = stmt.order_by(Post.due_at.is_(None), Post.due_at, Post.id).limit(limit)
    out: list[dict[str, Any]] = []
    with factory() as session:
        for post, tz in session.execute(stmt):
            due = post.due_at
            out.append(
                {
                    "id": post.id,
                    "release": post.release_id,
                    "channel": post.channel,
                    "platform": post.platform,
                    "part": f"{post.part_index}/{post.part_total}",
                    "state": post.state,
                    "due_local": due.astimezone(ZoneInfo(tz)).strftime("%Y-%m-%d %H:%M %Z")
                    if due
                    else None,
                    "due_utc": due.strftime("%Y-%m-%d %H:%M UTC") if due else None,
                    "attempts": post.attempts,
                    "last_error": post.last_error,
                    "remote_url": post.remote_url,
                }
            )
    return out
