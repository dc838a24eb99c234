"""Shared fixtures: a fresh, migrated database on SQLite and on PostgreSQL.

PostgreSQL tests need ``DISSEM_TEST_DATABASE_URL`` (e.g.
``postgresql://postgres@127.0.0.1:5432/test``). Without it they skip with a message, except
under CI (``CI=true``), where a missing database is an error: CI never skips them.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from dissem.store.db import make_engine, make_session_factory
from tests.pgdb import BACKENDS, drop_templates, migrated_database


@pytest.fixture(params=BACKENDS)
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A fresh, migrated database URL: a SQLite file, or a new PostgreSQL database."""
    with migrated_database(request.param, tmp_path) as url:
        yield url


@pytest.fixture
def engine(db_url: str) -> Iterator[Engine]:
    eng = make_engine(db_url)
    yield eng
    eng.dispose()


@pytest.fixture
def session_factory(engine: Engine) -> sessionmaker[Session]:
    return make_session_factory(engine)


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    drop_templates()
