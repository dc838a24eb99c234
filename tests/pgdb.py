"""Fresh PostgreSQL databases for tests (importable as ``pgdb`` from any test module)."""

from __future__ import annotations

import os
import uuid

import pytest
from sqlalchemy import text
from sqlalchemy.engine import make_url

from dissem.store.db import make_engine, normalise_url
from dissem.store.migrate import upgrade

PG_ENV = "DISSEM_TEST_DATABASE_URL"


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
