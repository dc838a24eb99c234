"""Opening the store the way every command and the daemon does: migrations first."""

from __future__ import annotations

from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from dissem.settings import Settings
from dissem.store.db import make_engine, make_session_factory
from dissem.store.migrate import upgrade


def open_store(settings: Settings, *, migrate: bool = True) -> tuple[Engine, sessionmaker[Session]]:
    """An engine and session factory for ``settings.database_url``, schema brought up to
    date (migrations are applied automatically on start)."""
    engine = make_engine(settings.database_url)
    if migrate:
        upgrade(engine)
    return engine, make_session_factory(engine)
