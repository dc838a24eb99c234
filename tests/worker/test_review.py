"""Review operations and their commands: retry, cancel, mark-published."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta

import pytest
from click.testing import CliRunner
from sqlalchemy import select, update
from sqlalchemy.orm import Session, sessionmaker

from dissem.cli import cli
from dissem.errors import ReviewError
from dissem.settings import get_settings
from dissem.store.db import transaction
from dissem.store.models import Attempt, ChannelRow, Post, PostState
from dissem.store.queue import PAUSED_FOREVER
from dissem.worker.review import (
    cancel_post,
    mark_published,
    resume_channel,
    retry_post,
)
from tests.worker.queue_seed import (
    T0,
    add_channel,
    add_post,
    add_thread,
    get_channel,
    get_post,
)

Factory = sessionmaker[Session]
LATER = T0 + timedelta(hours=2)


@pytest.fixture
def factory(qfactory: Factory) -> Factory:
    add_channel(qfactory, "m")
    return qfactory


def manual_attempts(factory: Factory, post_id: int) -> list[str]:
    with factory() as s:
        q = select(Attempt.outcome).where(Attempt.post_id == post_id, Attempt.kind == "manual")
        return list(s.scalars(q))


@pytest.mark.parametrize("state", [PostState.FAILED, PostState.NEEDS_REVIEW, PostState.UNCONFIRMED])
def test_retry_schedules_now_with_fresh_attempts(factory: Factory, state: str) -> None:
    pid = add_post(factory, "m", state=state, attempts=3)
    key = get_post(factory, pid).idempotency_key
    result = retry_post(factory, pid, LATER)
    post = get_post(factory, pid)
    assert (result.before, result.after) == (state, PostState.SCHEDULED)
    assert (post.state, post.due_at, post.attempts, post.idempotency_key) == (
        PostState.SCHEDULED,
        LATER,
        0,
        key,
    )
    assert manual_attempts(factory, pid) == ["retry"]


@pytest.mark.parametrize("state", [PostState.PUBLISHED, PostState.SCHEDULED, PostState.PUBLISHING])
def test_retry_refuses_other_states(factory: Factory, state: str) -> None:
    pid = add_post(factory, "m", state=state)
    with pytest.raises(ReviewError, match=f"is {state}"):
        retry_post(factory, pid, LATER)
    assert get_post(factory, pid).state == state


def test_missing_post_is_an_error(factory: Factory) -> None:
    with pytest.raises(ReviewError, match="no post with id 999"):
        cancel_post(factory, 999, LATER)


def test_cancel_takes_the_rest_of_the_thread_along(factory: Factory) -> None:
    p1, p2, p3 = add_thread(factory, "m", 3)
    with transaction(factory) as s:
        s.execute(update(Post).where(Post.id == p1).values(state=PostState.PUBLISHED))
    result = cancel_post(factory, p2, LATER)
    assert (result.after, result.followers) == (PostState.CANCELLED, 1)
    assert get_post(factory, p1).state == PostState.PUBLISHED
    assert get_post(factory, p3).state == PostState.CANCELLED
    with pytest.raises(ReviewError):
        cancel_post(factory, p1, LATER)  # published posts stay published


def test_cancel_refuses_a_post_being_published(factory: Factory) -> None:
    pid = add_post(factory, "m", state=PostState.PUBLISHING)
    with pytest.raises(ReviewError, match="being published right now"):
        cancel_post(factory, pid, LATER)


def test_mark_published_records_url_and_reopens_blocked_parts(factory: Factory) -> None:
    p1, p2 = add_thread(factory, "m", 2)
    with transaction(factory) as s:
        s.execute(update(Post).where(Post.id == p1).values(state=PostState.NEEDS_REVIEW))
        s.execute(
            update(Post)
            .where(Post.id == p2)
            .values(state=PostState.FAILED, last_error="blocked: part 1 failed: x")
        )
    result = mark_published(factory, p1, "https://t.me/c/5", LATER, remote_id="5")
    assert result.followers == 1
    post = get_post(factory, p1)
    assert (post.state, post.remote_url, post.remote_id) == ("published", "https://t.me/c/5", "5")
    assert post.published_at == LATER and post.next_metrics_at == LATER + timedelta(hours=1)
    assert get_post(factory, p2).state == PostState.SCHEDULED
    assert manual_attempts(factory, p1) == ["marked_published"]


def test_retry_of_a_failed_part_reopens_only_parts_it_blocked(factory: Factory) -> None:
    p1, p2 = add_thread(factory, "m", 2)
    with transaction(factory) as s:
        s.execute(update(Post).where(Post.id == p1).values(state=PostState.FAILED))
        s.execute(update(Post).where(Post.id == p2).values(state=PostState.FAILED))
    assert retry_post(factory, p1, LATER).followers == 0  # p2 failed on its own
    assert get_post(factory, p2).state == PostState.FAILED


def test_resume_channel_lifts_a_pause(factory: Factory) -> None:
    with transaction(factory) as s:
        s.execute(
            update(ChannelRow)
            .where(ChannelRow.name == "m")
            .values(paused_until=PAUSED_FOREVER, pause_reason="auth: expired")
        )
    assert resume_channel(factory, "m") == "auth: expired"
    assert get_channel(factory, "m").paused_until is None
    with pytest.raises(ReviewError):
        resume_channel(factory, "nope")


@pytest.fixture
def runner(qurl: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[CliRunner]:
    monkeypatch.setenv("DISSEM_DATABASE_URL", qurl)
    get_settings.cache_clear()
    yield CliRunner()
    get_settings.cache_clear()


def test_commands_exit_codes(factory: Factory, runner: CliRunner) -> None:
    failed = add_post(factory, "m", state=PostState.FAILED)
    review = add_post(factory, "m", state=PostState.NEEDS_REVIEW)
    done = runner.invoke(cli, ["retry", str(failed)])
    assert done.exit_code == 0, done.output
    assert f"post {failed}: failed -> scheduled" in done.output
    again = runner.invoke(cli, ["retry", str(failed)])
    assert again.exit_code == 1 and "is scheduled" in again.output
    marked = runner.invoke(cli, ["mark-published", str(review), "https://m.example/@a/1"])
    assert marked.exit_code == 0 and get_post(factory, review).state == PostState.PUBLISHED
    cancelled = runner.invoke(cli, ["cancel", str(failed)])
    assert cancelled.exit_code == 0 and get_post(factory, failed).state == PostState.CANCELLED
    assert runner.invoke(cli, ["cancel", "not-a-number"]).exit_code == 2
    assert runner.invoke(cli, ["mark-published", str(review)]).exit_code == 2
    assert runner.invoke(cli, ["cancel", "12345"]).exit_code == 1


@pytest.mark.parametrize("command", ["retry", "cancel", "mark-published"])
def test_commands_have_help(command: str) -> None:
    result = CliRunner().invoke(cli, [command, "--help"])
    assert result.exit_code == 0 and "POST" in result.output
