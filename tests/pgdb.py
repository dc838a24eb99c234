"""Fresh migrated databases for tests (importable as ``pgdb`` from any test module)."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Connection, delete, text
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session

from dissem.store.db import make_engine, normalise_url
from dissem.store.migrate import upgrade
from dissem.store.models import Base

PG_ENV = "DISSEM_TEST_DATABASE_URL"

#: Fixture params for "every database backend": PostgreSQL carries the ``postgres`` mark.
BACKENDS: list[Any] = ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)]


def postgres_admin_url() -> str | None:
    url = os.environ.get(PG_ENV)
    if not url:
        if os.environ.get("CI"):
            pytest.fail(f"{PG_ENV} is not set: CI must run the PostgreSQL tests")
        pytest.skip(f"PostgreSQL tests skipped: set {PG_ENV} to run them")
    return normalise_url(url)


_template: dict[str, str] = {}


def _pg_template(admin_url: str) -> str:
    """A migrated template database, made once per test session."""
    if admin_url in _template:
        return _template[admin_url]
    name = f"dissem_tmpl_{uuid.uuid4().hex[:10]}"
    admin = make_engine(admin_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    admin.dispose()
    engine = make_engine(make_url(admin_url).set(database=name).render_as_string(False))
    upgrade(engine)
    engine.dispose()
    _template[admin_url] = name
    return name


def new_postgres_database() -> tuple[str, str]:
    """Creates a fresh migrated database; returns (url, name)."""
    admin_url = postgres_admin_url()
    assert admin_url
    tmpl = _pg_template(admin_url)
    name = f"dissem_t_{uuid.uuid4().hex[:12]}"
    admin = make_engine(admin_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}" TEMPLATE "{tmpl}"'))
    admin.dispose()
    return make_url(admin_url).set(database=name).render_as_string(False), name


def drop_postgres_database(name: str) -> None:
    admin_url = normalise_url(os.environ[PG_ENV])
    admin = make_engine(admin_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


def drop_templates() -> None:
    """Drops the template databases made in this test session."""
    if not _template or not os.environ.get(PG_ENV):
        return
    admin = make_engine(normalise_url(os.environ[PG_ENV]), isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        for name in _template.values():
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


@contextmanager
def migrated_database(backend: str, folder: Path) -> Iterator[str]:
    """The URL of a fresh, migrated database: for ``"sqlite"`` a file in ``folder``, for
    ``"postgres"`` a new PostgreSQL database (skipped without ``DISSEM_TEST_DATABASE_URL``),
    dropped on exit."""
    if backend == "sqlite":
        url = f"sqlite:///{folder / 'dissem.db'}"
        engine = make_engine(url)
        upgrade(engine)
        engine.dispose()
        yield url
        return
    url, name = new_postgres_database()
    try:
        yield url
    finally:
        drop_postgres_database(name)


def empty_tables(conn: Connection | Session) -> None:
    """Deletes every row of every table (children first), in the caller's transaction: how a
    database shared by a module's tests is made fresh for the next test."""
    for table in reversed(Base.metadata.sorted_tables):
        conn.execute(delete(table))
