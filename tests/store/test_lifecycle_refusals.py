"""Outcomes the lifecycle table refuses are logged and not written (SQLite and PostgreSQL,
whose bulk settle refuses in SQL)."""

from __future__ import annotations

import logging
from datetime import timedelta

import pytest
from sqlalchemy.orm import Session, sessionmaker

from dissem.lifecycle import Event, PostState
from dissem.platforms.base import RemotePost
from dissem.store.queue import Outcome, claim_due_posts, expire_leases, settle_outcomes
from tests.worker.queue_seed import (
    T0,
    add_channel,
    add_post,
    get_post,
    qengine,
    qfactory,
    queue_db,
    qurl,
)

__all__ = ["qengine", "qfactory", "queue_db", "qurl"]  # fixtures used by name

Factory = sessionmaker[Session]


def test_a_late_retry_is_refused_and_logged_a_late_success_written(
    qfactory: Factory, caplog: pytest.LogCaptureFixture
) -> None:
    add_channel(qfactory, "m")
    pid = add_post(qfactory, "m")
    claim_due_posts(qfactory, "w1", T0, limit=5, lease_seconds=60)
    expire_leases(qfactory, T0 + timedelta(seconds=61))
    assert get_post(qfactory, pid).state == PostState.UNCONFIRMED

    retry = Outcome(pid, Event.TRANSIENT, T0, T0, due_at=T0)
    with caplog.at_level(logging.WARNING, logger="dissem.lifecycle"):
        assert settle_outcomes(qfactory, "w1", [retry]) == [False]
    assert f"post {pid}: lifecycle refused transient from unconfirmed" in caplog.text
    assert get_post(qfactory, pid).state == PostState.UNCONFIRMED

    out = Outcome(pid, Event.PUBLISHED, T0, T0, remote=RemotePost("id1", "https://x/1"))
    assert settle_outcomes(qfactory, "w1", [out]) == [True]
    assert get_post(qfactory, pid).state == PostState.PUBLISHED


def test_an_outcome_of_a_lost_lease_is_not_a_lifecycle_refusal(
    qfactory: Factory, caplog: pytest.LogCaptureFixture
) -> None:
    add_channel(qfactory, "m")
    pid = add_post(qfactory, "m")
    claim_due_posts(qfactory, "w1", T0, limit=5, lease_seconds=60)
    retry = Outcome(pid, Event.TRANSIENT, T0, T0, due_at=T0)
    with caplog.at_level(logging.WARNING, logger="dissem.lifecycle"):
        assert settle_outcomes(qfactory, "intruder", [retry]) == [False]
    assert "lifecycle refused" not in caplog.text
    assert get_post(qfactory, pid).state == PostState.PUBLISHING
