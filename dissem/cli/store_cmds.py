"""``dissem db upgrade``, ``dissem sync`` and ``dissem queue``."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import click
from sqlalchemy import and_, or_, select

from dissem.cli.options import config_option, require_config_dir, settings_for
from dissem.clock import utcnow
from dissem.config.locate import display_path
from dissem.config.models import LoadedConfig
from dissem.settings import Settings, get_settings
from dissem.store.models import ChannelRow, Post, PostState
from dissem.store.open import open_store
from dissem.store.queue import PAUSED_FOREVER


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
@config_option
@click.option("--json", "as_json", is_flag=True, help="print the changes as JSON")
def sync_cmd(config_dir: Path | None, as_json: bool) -> None:
    """Load the config folder into the database (idempotent).

    Broken files are reported with file:line and skipped; everything else is synced.
    Exit 2 when a file had problems (or there is no config folder), 0 otherwise.
    """
    from dissem.worker.sync import sync
    from dissem.worker.sync_line import describe_sync

    settings = settings_for(config_dir)
    require_config_dir("sync", settings.config_dir)
    engine, factory = open_store(settings)
    result = sync(factory, settings, utcnow())
    engine.dispose()
    for problem in result.problems:
        click.echo(str(problem), err=True)
    if as_json:
        click.echo(json.dumps(vars(result.changes), indent=2))
    else:
        shown = display_path(settings.config_dir)
        click.echo(f"synced {shown}: {describe_sync(result.changes, result.plan)}")
    if result.problems:
        raise SystemExit(2)


@click.command()
@click.option(
    "--problems",
    is_flag=True,
    help="only what needs a person: failed, unconfirmed and needs_review posts, paused "
    "channels and the posts waiting on them, posts of release files now broken",
)
@click.option("--all", "show_all", is_flag=True, help="every post, published and closed too")
@click.option("--limit", default=50, show_default=True, help="most rows to show")
@config_option
@click.option("--json", "as_json", is_flag=True, help="print rows as JSON")
def queue(
    problems: bool, show_all: bool, limit: int, config_dir: Path | None, as_json: bool
) -> None:
    """Upcoming and problem posts: channel, platform, due time (channel zone and UTC),
    state and why it waits or failed (in full).

    A post of a release file that broke after it was synced keeps its place (the last
    good version goes out) and is marked "file now broken: FILE:LINE: ..."; a post of a
    paused channel is marked with the pause's end and reason.
    """
    settings = settings_for(config_dir)
    config = None
    if settings.config_dir.is_dir():
        from dissem.config.loader import load_config

        config = load_config(settings.config_dir, timezone=settings.timezone)
    engine, factory = open_store(settings, read_only=True)
    now = utcnow()
    try:
        rows = queue_rows(
            factory, settings, problems=problems, show_all=show_all, limit=limit,
            config=config, now=now,
        )  # fmt: skip
        paused = paused_channels(factory, now) if problems else []
    finally:
        engine.dispose()
    if as_json:
        click.echo(json.dumps(rows, indent=2, ensure_ascii=False))
        return
    for channel in paused:
        click.echo(f"channel {channel['channel']} paused until {channel['until']}: "
                   f"{channel['reason']}")  # fmt: skip
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
            "; ".join(filter(None, [r["waiting"], r["last_error"]])),
        )
        for r in rows
    ]
    widths = [max(len(row[i]) for row in table) for i in range(len(header))]
    for row in table:
        click.echo("  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)).rstrip())


def _paused_text(until: datetime) -> str:
    if until >= PAUSED_FOREVER:
        return "a person resumes it"
    return until.astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC")


def paused_channels(factory: Any, now: datetime) -> list[dict[str, str]]:
    """Channels paused now: name, until when (UTC) and why."""
    stmt = (
        select(ChannelRow.name, ChannelRow.paused_until, ChannelRow.pause_reason)
        .where(ChannelRow.paused_until > now, ChannelRow.removed.is_(False))
        .order_by(ChannelRow.name)
    )
    with factory() as session:
        return [
            {"channel": name, "until": _paused_text(until), "reason": reason or ""}
            for name, until, reason in session.execute(stmt)
        ]


def broken_files(config: LoadedConfig) -> dict[str, str]:
    """Release id -> "file now broken: FILE:LINE: ..." for each release file that is
    present but broken (its first problem)."""
    out: dict[str, str] = {}
    for problem in config.problems:
        path = Path(problem.path)
        if path.parent.name != "releases" or path.stem not in config.broken_release_ids:
            continue
        out.setdefault(path.stem, f"file now broken: {problem}")
    return out


def queue_rows(
    factory: Any,
    settings: Settings,
    *,
    problems: bool,
    show_all: bool,
    limit: int,
    config: LoadedConfig | None = None,
    now: datetime | None = None,
) -> list[dict[str, Any]]:
    """The rows ``dissem queue`` shows, as plain data. ``waiting`` says what holds an open
    post back: its channel's pause, or its release file broken since it was synced (with
    ``config``, the folder as it is now)."""
    now = now or utcnow()
    broken = broken_files(config) if config is not None else {}
    paused = {c["channel"]: c for c in paused_channels(factory, now)}
    stmt = select(Post, ChannelRow.timezone).join(ChannelRow, ChannelRow.name == Post.channel)
    if problems:
        waiting = Post.state.in_(sorted(PostState.OPEN))
        # Only the parts that can match: with an empty list in the OR, SQLite read every
        # post of every channel (4.3 s at a million posts) instead of the problem states.
        wanted: list[Any] = [Post.state.in_(sorted(PostState.PROBLEMS))]
        if paused:
            wanted.append(and_(waiting, Post.channel.in_(sorted(paused))))
        if broken:
            wanted.append(and_(waiting, Post.release_id.in_(sorted(broken))))
        stmt = stmt.where(or_(*wanted))
    elif not show_all:
        stmt = stmt.where(Post.state.in_(sorted(PostState.OPEN | PostState.PROBLEMS)))
    stmt = stmt.order_by(Post.due_at.is_(None), Post.due_at, Post.id).limit(limit)
    out: list[dict[str, Any]] = []
    with factory() as session:
        for post, tz in session.execute(stmt):
            due = post.due_at
            notes: list[str] = []
            if post.state in PostState.OPEN:
                if post.release_id in broken:
                    notes.append(broken[post.release_id])
                if post.channel in paused:
                    pause = paused[post.channel]
                    notes.append(f"channel paused until {pause['until']}: {pause['reason']}")
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
                    "waiting": "; ".join(notes) or None,
                    "remote_url": post.remote_url,
                }
            )
    return out
