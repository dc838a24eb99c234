"""Review commands: ``dissem retry POST``, ``dissem cancel POST``,
``dissem mark-published POST URL``, ``dissem resume CHANNEL``.

Exit codes: 0 done, 1 the post cannot take that step (missing, or in the wrong state),
2 usage error. Add a command by defining it below and listing it in :data:`COMMANDS`.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

import click
from sqlalchemy.orm import Session, sessionmaker

from dissem.clock import utcnow
from dissem.errors import ReviewError
from dissem.settings import get_settings
from dissem.store.open import open_store
from dissem.worker.review import (
    ReviewResult,
    cancel_post,
    mark_published,
    resume_channel,
    retry_post,
)


def _run_review(action: Callable[[sessionmaker[Session], datetime], ReviewResult]) -> None:
    """Runs one review operation on the configured database and reports it."""
    engine, factory = open_store(get_settings())
    try:
        result = action(factory, utcnow())
    except ReviewError as exc:
        click.echo(f"error: {exc}", err=True)
        raise SystemExit(1) from None
    finally:
        engine.dispose()
    followers = f" (and {result.followers} later thread part(s))" if result.followers else ""
    click.echo(f"post {result.post_id}: {result.before} -> {result.after}{followers}")


@click.command("retry")
@click.argument("post_id", metavar="POST", type=int)
def retry_cmd(post_id: int) -> None:
    """Send POST again, due now (from failed, needs_review or unconfirmed).

    Keeps the post's idempotency key; only do this when you know it did not go out.
    """
    _run_review(lambda factory, now: retry_post(factory, post_id, now))


@click.command("cancel")
@click.argument("post_id", metavar="POST", type=int)
def cancel_cmd(post_id: int) -> None:
    """Cancel POST (any open state, or failed) and the later parts of its thread."""
    _run_review(lambda factory, now: cancel_post(factory, post_id, now))


@click.command("mark-published")
@click.argument("post_id", metavar="POST", type=int)
@click.argument("url")
@click.option("--remote-id", help="the platform's id of the post (enables metrics)")
def mark_published_cmd(post_id: int, url: str, remote_id: str | None) -> None:
    """Record that POST is out at URL (from needs_review, unconfirmed or failed)."""
    _run_review(
        lambda factory, now: mark_published(factory, post_id, url, now, remote_id=remote_id)
    )


@click.command("resume")
@click.argument("channel")
def resume_cmd(channel: str) -> None:
    """Lift CHANNEL's pause now (after fixing what paused it: credentials, a block).

    Its waiting posts go out at their next dispatch round; a cause still there pauses it
    again. The status page names this command next to each paused channel.
    """
    engine, factory = open_store(get_settings())
    try:
        reason = resume_channel(factory, channel)
    except ReviewError as exc:
        click.echo(f"error: {exc}", err=True)
        raise SystemExit(1) from None
    finally:
        engine.dispose()
    click.echo(f"channel {channel}: resumed" + (f" (was paused: {reason})" if reason else ""))
