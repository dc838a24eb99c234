"""Opening the store the way every command and the daemon does: migrations first."""

from __future__ import annotations

from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from dissem.settings import Settings
from dissem.store.db import make_engine, make_session_factory
from dissem.store.migrate import upgrade


def open_store(
    settings: Settings, *, migrate: bool = True, read_only: bool = False
) -> tuple[Engine, sessionmaker[Session]]:
    """An engine and session factory for ``settings.database_url``, schema brought up to
    date (migrations are applied automatically on start). ``read_only`` engines never take
    SQLite's write lock (see :func:`~dissem.store.db.make_engine`)."""
    engine = make_engine(settings.database_url, read_only=read_only)
    if migrate:
        upgrade(engine)
    return engine, make_session_factory(engine)
