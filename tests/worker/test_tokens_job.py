"""The worker's ``tokens`` job against the sandbox on a simulated clock, on SQLite and
PostgreSQL: without DISSEM_TOKEN_KEY it says so once at start and keeps no row; with a key,
a token about to expire that could not be renewed is alerted once, across rounds and
restarts."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from cryptography.fernet import Fernet
from sqlalchemy import func, select

from dissem.config.models import Channel
from dissem.sandbox import Fault, RunningSandbox, start_sandbox
from dissem.settings import Settings
from dissem.store.db import make_engine, make_session_factory, transaction
from dissem.store.models import ChannelRow, TokenRow
from dissem.worker.daemon import Worker

T0 = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)
CONFIGURED = "threads-worker-token-8e21c4"
CHANNEL = Channel(
    name="th-main",
    platform="threads",
    account="27000000000000001",
    timezone="UTC",
    credentials={"access_token": "DISSEM_TEST_TH_TOKEN"},
)


class Clock:
    """The simulated clock the worker, its adapters and the sandbox all read."""

    def __init__(self) -> None:
        self.now = T0

    def __call__(self) -> datetime:
        return self.now


class Alerts:
    """Records alerts."""

    def __init__(self) -> None:
        self.sent: list[tuple[str, str, dict[str, Any]]] = []

    def send(self, kind: str, message: str, **fields: Any) -> None:
        self.sent.append((kind, message, fields))


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def sandbox(clock: Clock) -> Iterator[RunningSandbox]:
    with start_sandbox(clock=clock) as running:
        yield running


@pytest.fixture
def channel(db_url: str, monkeypatch: pytest.MonkeyPatch) -> str:
    """A synced Threads channel whose token is in the environment."""
    monkeypatch.setenv("DISSEM_TEST_TH_TOKEN", CONFIGURED)
    engine = make_engine(db_url)
    with transaction(make_session_factory(engine)) as session:
        session.add(
            ChannelRow(
                name=CHANNEL.name,
                platform=CHANNEL.platform,
                account=CHANNEL.account,
                timezone=CHANNEL.timezone,
                enabled=True,
                config_hash="h1",
                config=CHANNEL.model_dump(mode="json"),
                removed=False,
                updated_at=T0,
            )
        )
    engine.dispose()
    return CHANNEL.name


def make_worker(
    db_url: str, sandbox: RunningSandbox, clock: Clock, alerts: Alerts, key: str | None
) -> Worker:
    settings = Settings(
        _env_file=None,  # type: ignore[call-arg]
        database_url=db_url,
        sandbox_url=sandbox.url,
        token_key=key,
        http_timeout=5.0,
    )
    return Worker(settings, clock=clock, alerter=alerts)


def token_rows(db_url: str) -> int:
    engine = make_engine(db_url)
    with make_session_factory(engine)() as session:
        count = session.scalar(select(func.count()).select_from(TokenRow))
    engine.dispose()
    return int(count or 0)


def token_in_use(worker: Worker, name: str) -> str:
    with worker.session_factory() as session:
        row = session.get(ChannelRow, name)
        assert row is not None
    return worker.adapters.get(name, row.config, row.config_hash).credentials["access_token"]


def test_without_a_key_the_worker_says_so_once_and_keeps_no_row(
    db_url: str,
    sandbox: RunningSandbox,
    clock: Clock,
    channel: str,
    caplog: pytest.LogCaptureFixture,
) -> None:
    with caplog.at_level(logging.WARNING):
        worker = make_worker(db_url, sandbox, clock, Alerts(), key=None)
        try:
            worker.tokens_job()
            renewed = token_in_use(worker, channel)
            clock.now += timedelta(days=40)
            worker.tokens_job()
            again = token_in_use(worker, channel)
        finally:
            worker.close()
    said = [r.getMessage() for r in caplog.records if "DISSEM_TOKEN_KEY" in r.getMessage()]
    assert len(said) == 1 and "memory only" in said[0] and "generate_key" in said[0]
    assert renewed != CONFIGURED and again != renewed  # renewed, in memory
    assert token_rows(db_url) == 0


def test_a_token_about_to_expire_unrenewed_is_alerted_once(
    db_url: str, sandbox: RunningSandbox, clock: Clock, channel: str
) -> None:
    key = Fernet.generate_key().decode()
    alerts = Alerts()
    worker = make_worker(db_url, sandbox, clock, alerts, key)
    try:
        worker.tokens_job()  # the configured token is renewed: 60 days from T0
        kept = token_in_use(worker, channel)
        assert kept != CONFIGURED and token_rows(db_url) == 1
        clock.now = T0 + timedelta(days=54)  # 6 days left; the renewal fails from now on
        sandbox.faults.force("threads", Fault.ERROR, count=10, writes_only=False)
        worker.tokens_job()
        worker.tokens_job()
        clock.now += timedelta(hours=7)  # the renewal is tried again, and fails again
        worker.tokens_job()
    finally:
        worker.close()
    restarted = make_worker(db_url, sandbox, clock, alerts, key)  # a restart, same database
    try:
        clock.now += timedelta(hours=7)
        restarted.tokens_job()
        assert token_in_use(restarted, channel) == kept
        sandbox.faults.clear()
        clock.now += timedelta(hours=7)
        restarted.tokens_job()  # renewed at last
        assert token_in_use(restarted, channel) != kept
    finally:
        restarted.close()
    assert [kind for kind, _, _ in alerts.sent] == ["token_expiring"]
    _, message, fields = alerts.sent[0]
    assert fields["channel"] == channel and "th-main" in message
    assert "2027-01-30" in message  # T0 + 60 days
    assert kept not in message and CONFIGURED not in message
