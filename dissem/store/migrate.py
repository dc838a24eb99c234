"""Alembic migrations, applied by ``dissem db upgrade`` and on every start.

A database already at :data:`HEAD` (the usual case for every command after the first) is
recognised by one query, without importing alembic or reading the migration scripts: that
was most of the start-up of a read-only command such as ``dissem queue --problems``.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from sqlalchemy import Engine, text
from sqlalchemy.exc import SQLAlchemyError

if TYPE_CHECKING:
    from alembic.config import Config

MIGRATIONS = Path(__file__).with_name("migrations")

#: the newest migration's revision; ``tests/store/test_migrations.py`` holds it equal to
#: the head alembic finds in ``migrations/versions`` (update both with a new migration)
HEAD = "0005"


def alembic_config(engine: Engine) -> Config:
    from alembic.config import Config

    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    cfg.attributes["engine"] = engine
    return cfg


def upgrade(engine: Engine, revision: str = "head") -> None:
    """Brings the database schema to ``revision`` (idempotent)."""
    if revision in ("head", HEAD) and at_head(engine):
        return
    from alembic import command

    command.upgrade(alembic_config(engine), revision)


def at_head(engine: Engine) -> bool:
    """Whether the database records exactly :data:`HEAD` (False when it has no version
    table yet, or cannot be read: alembic then does the work and reports the problem)."""
    try:
        with engine.connect() as conn:
            found = conn.execute(text("SELECT version_num FROM alembic_version")).scalars().all()
    except SQLAlchemyError:
        return False
    return list(found) == [HEAD]


def current_revision(engine: Engine) -> str | None:
    from alembic.runtime.migration import MigrationContext

    with engine.connect() as conn:
        return MigrationContext.configure(conn).get_current_revision()
