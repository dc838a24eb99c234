"""Migrations build exactly the models, on SQLite and PostgreSQL."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import Engine, inspect

from dissem.store.migrate import alembic_config, current_revision, upgrade
from dissem.store.models import Base


def test_migrations_match_models(engine: Engine) -> None:
    with engine.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn), Base.metadata)
    assert diff == []


def test_upgrade_is_idempotent(engine: Engine) -> None:
    before = current_revision(engine)
    upgrade(engine)
    assert current_revision(engine) == before
    assert "posts" in inspect(engine).get_table_names()


def _post_indexes(engine: Engine) -> set[str]:
    return {str(i["name"]) for i in inspect(engine).get_indexes("posts")}


def test_0005_drops_the_redundant_channel_state_index_and_downgrades(engine: Engine) -> None:
    """(channel, state) is the prefix of (channel, state, due_at): at head only the longer
    one is left; downgrading past 0005 puts it back, upgrading takes it away again."""
    assert "ix_posts_channel_state" not in _post_indexes(engine)
    assert {"ix_posts_channel_state_due", "ix_posts_state_due"} <= _post_indexes(engine)
    command.downgrade(alembic_config(engine), "0004")
    assert "ix_posts_channel_state" in _post_indexes(engine)
    upgrade(engine)
    assert "ix_posts_channel_state" not in _post_indexes(engine)
    with engine.connect() as conn:
        assert compare_metadata(MigrationContext.configure(conn), Base.metadata) == []


def test_head_is_the_newest_migration(engine: Engine) -> None:
    from alembic.script import ScriptDirectory

    from dissem.store.migrate import HEAD

    assert ScriptDirectory.from_config(alembic_config(engine)).get_current_head() == HEAD


def test_a_database_at_head_opens_without_alembic(tmp_path: Path) -> None:
    """Every command opens the store; once the schema is current that is one query, and
    alembic (about 0.3 s of a read-only command's start-up) is not even imported."""
    url = f"sqlite:///{tmp_path / 'd.db'}"
    code = (
        "import sys\n"
        "from dissem.store.db import make_engine\n"
        "from dissem.store.migrate import upgrade\n"
        f"engine = make_engine({url!r})\n"
        "upgrade(engine)\n"
        "print('alembic' in sys.modules, engine.dialect.has_table(engine.connect(), 'posts'))\n"
    )

    def run() -> str:
        return subprocess.run(
            [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=120
        ).stdout.strip()

    assert run() == "True True"  # a new database: alembic builds it
    assert run() == "False True"  # at head: one query
