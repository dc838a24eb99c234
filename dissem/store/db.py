"""Engines and sessions for SQLite (one worker, WAL) and PostgreSQL (many workers), and
what to tell a person when the database cannot be used.

:func:`database_problem` reads a failure (SQLAlchemy's, the driver's) and says, in one line,
what is wrong and what to do, with the exit code ``dissem run`` ends with at start-up:

=====  ===============  ==============================================================
exit   kind             when
=====  ===============  ==============================================================
3      ``unreachable``  no answer: server down or starting, wrong host or port, network
                        (``dissem run`` retries it for ``DISSEM_DATABASE_WAIT`` s first);
                        also SQLite's lock held by another process for 30 s (``busy``)
4      ``unusable``     it answers but cannot be used: missing database, login refused,
                        no permission, read-only file or server, not a database, damaged
5      ``full``         the disk (or the server's) is full
=====  ===============  ==============================================================

While a worker runs, the same problems are retried with backoff and shown in ``/healthz``
(:mod:`dissem.worker.daemon`); :func:`probe_writable` finds a read-only database at start,
before anything else would have written.
"""

from __future__ import annotations

import os
import re
import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, Literal

from sqlalchemy import Engine, create_engine, event, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session, sessionmaker

#: exit codes of ``dissem run`` by :attr:`DatabaseProblem.kind` (see the module doc)
EXIT_CODES = {"unreachable": 3, "busy": 3, "unusable": 4, "full": 5}


def normalise_url(url: str) -> str:
    """``postgresql://`` and ``postgres://`` mean psycopg 3 (the driver dissem installs)."""
    for prefix in ("postgres://", "postgresql://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix) :]
    return url


def is_sqlite(engine: Engine) -> bool:
    return engine.dialect.name == "sqlite"


def make_engine(url: str, *, read_only: bool = False, **kwargs: Any) -> Engine:
    """An engine for ``url``. SQLite gets WAL, a busy timeout, foreign keys and
    ``BEGIN IMMEDIATE`` transactions (one writer at a time, no upgrade deadlocks); with
    ``read_only`` a plain ``BEGIN`` instead, so readers (health, CLI listings) never hold the
    write lock. WAL lets them read while a worker writes."""
    url = normalise_url(url)
    parsed = make_url(url)
    if parsed.get_backend_name() != "sqlite":
        kwargs.setdefault("pool_pre_ping", True)
        return create_engine(url, **kwargs)
    memory = parsed.database in (None, "", ":memory:")
    if memory:
        from sqlalchemy.pool import StaticPool

        kwargs.setdefault("poolclass", StaticPool)
    engine = create_engine(url, connect_args={"check_same_thread": False, "timeout": 30}, **kwargs)

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_conn: Any, _record: Any) -> None:
        # Let SQLAlchemy drive transactions; pysqlite's own BEGIN handling is off.
        dbapi_conn.isolation_level = None
        cur = dbapi_conn.cursor()
        if not memory:
            cur.execute("PRAGMA journal_mode=WAL")
        cur.execute("PRAGMA synchronous=NORMAL")
        cur.execute("PRAGMA foreign_keys=ON")
        cur.execute("PRAGMA busy_timeout=30000")
        cur.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn: Any) -> None:
        conn.exec_driver_sql("BEGIN" if read_only else "BEGIN IMMEDIATE")

    return engine


def make_session_factory(engine: Engine) -> sessionmaker[Session]:
    return sessionmaker(engine, expire_on_commit=False)


@contextmanager
def transaction(factory: sessionmaker[Session]) -> Iterator[Session]:
    """A session in one short transaction: committed on success, rolled back on error."""
    with factory() as session, session.begin():
        yield session


Kind = Literal["unreachable", "busy", "unusable", "full"]


@dataclass(frozen=True)
class DatabaseProblem:
    """Why the database cannot be used: ``what`` is wrong and what to ``do``."""

    kind: Kind
    what: str
    do: str

    @property
    def exit_code(self) -> int:
        return EXIT_CODES[self.kind]

    @property
    def temporary(self) -> bool:
        """Whether waiting may cure it (a server restarting, a network glitch)."""
        return self.kind in ("unreachable", "busy")

    @property
    def line(self) -> str:
        return f"database {self.kind}: {self.what}; {self.do}"


def describe_url(url: str) -> str:
    """Where ``url`` points, without user or password: ``SQLite file /x/dissem.db`` or
    ``PostgreSQL database "d" at host:port``."""
    try:
        parsed = make_url(normalise_url(url))
    except Exception:
        return "the database of DISSEM_DATABASE_URL"
    if parsed.get_backend_name() == "sqlite":
        name = parsed.database or ":memory:"
        return f"SQLite file {os.path.abspath(name) if name != ':memory:' else name}"
    where = f"{parsed.host or 'localhost'}:{parsed.port or 5432}"
    return f'PostgreSQL database "{parsed.database or ""}" at {where}'


_PG_TEMPORARY = re.compile(
    r"starting up|shutting down|in recovery|too many (clients|connections)|"
    r"server closed the connection|terminating connection",
    re.I,
)
_PG_UNREACHABLE = re.compile(
    r"connection refused|timeout|timed out|could not connect|failed to resolve host|"
    r"could not translate host|name or service not known|network is unreachable|"
    r"no route to host|connection reset|connection is lost|consuming input failed|"
    r"server closed|SSL SYSCALL",
    re.I,
)


def database_problem(exc: BaseException, url: str) -> DatabaseProblem | None:
    """What ``exc`` says about the database at ``url``; None when it is no database
    trouble (a bug, a constraint broken) and should be reported as such."""
    orig: BaseException = exc
    if isinstance(exc, DBAPIError) and exc.orig is not None:
        orig = exc.orig
    where = describe_url(url)
    if isinstance(orig, sqlite3.Error):
        return _sqlite_problem(orig, where)
    if orig.__class__.__module__.split(".")[0] == "psycopg" or isinstance(exc, DBAPIError):
        return _pg_problem(orig, exc, where)
    return None


def _sqlite_problem(exc: sqlite3.Error, where: str) -> DatabaseProblem | None:
    name = getattr(exc, "sqlite_errorname", "") or ""
    text = str(exc)
    if name.startswith("SQLITE_FULL") or "disk is full" in text:
        return DatabaseProblem(
            "full", f"the disk holding the {where} is full", "free space there, then start again"
        )
    if name.startswith("SQLITE_READONLY") or "readonly database" in text:
        return DatabaseProblem(
            "unusable",
            f"the {where} is read-only for this user (uid {os.getuid()})",
            "let the user running dissem write the file and its folder (SQLite keeps -wal "
            "and -shm files beside it), or set DISSEM_DATABASE_URL to a writable place",
        )
    if name.startswith(("SQLITE_CANTOPEN", "SQLITE_PERM", "SQLITE_AUTH")) or (
        "unable to open database" in text
    ):
        return DatabaseProblem(
            "unusable",
            f"cannot open the {where}: its folder is missing or not writable",
            "create the folder and let the user running dissem write it, or set "
            "DISSEM_DATABASE_URL",
        )
    if name.startswith(("SQLITE_NOTADB", "SQLITE_CORRUPT")) or "not a database" in text:
        return DatabaseProblem(
            "unusable",
            f"the {where} is not a dissem database or is damaged ({text})",
            "restore it from a backup, or point DISSEM_DATABASE_URL at the right file",
        )
    if name.startswith(("SQLITE_BUSY", "SQLITE_LOCKED")) or "database is locked" in text:
        return DatabaseProblem(
            "busy",
            f"the {where} stayed locked by another process for 30 s",
            "run one worker per SQLite file (several need PostgreSQL) and stop other "
            "programs writing it",
        )
    if name.startswith("SQLITE_IOERR") or "disk I/O error" in text:
        return DatabaseProblem(
            "unusable",
            f"the disk holding the {where} fails to read or write ({text})",
            "check the disk and its free space",
        )
    return None


def _pg_problem(orig: BaseException, exc: BaseException, where: str) -> DatabaseProblem | None:
    state = getattr(orig, "sqlstate", None) or ""
    raw = str(orig)
    text = " ".join(raw.split())
    # psycopg: "connection failed: connection to server at "h", port 1 failed: <reason>\n
    # <hint>": the reason, on its first line, is what to show
    lines = raw.rsplit("failed:", 1)[-1].strip().splitlines() or [""]
    detail = " ".join(lines[0].removeprefix("FATAL:").split())[:200]
    if state == "53100" or "could not extend file" in text or "No space left" in text:
        return DatabaseProblem(
            "full", f"the disk of the {where} is full ({detail})", "free space on the server"
        )
    if state == "3D000" or re.search(r'database ".*" does not exist', text):
        return DatabaseProblem(
            "unusable",
            f"the {where} does not exist",
            "create it (createdb, or CREATE DATABASE) or fix the name in DISSEM_DATABASE_URL",
        )
    if state in ("28000", "28P01") or re.search(
        r'role ".*" does not exist|authentication failed|no pg_hba\.conf entry|password', text
    ):
        return DatabaseProblem(
            "unusable",
            f"the {where} refused the login ({detail})",
            "check the user and password in DISSEM_DATABASE_URL and the server's pg_hba.conf",
        )
    if state in ("42501", "25006"):
        return DatabaseProblem(
            "unusable",
            f"the {where} does not let dissem write ({detail})",
            "grant the user the rights on the database (or connect to the primary, not a "
            "read-only standby)",
        )
    if state.startswith(("08", "57P")) or _PG_TEMPORARY.search(text):
        return DatabaseProblem(
            "unreachable",
            f"the {where} is not answering ({detail})",
            "wait for the server, or check that it runs; dissem keeps retrying",
        )
    invalidated = isinstance(exc, DBAPIError) and exc.connection_invalidated
    if invalidated or (not state and _PG_UNREACHABLE.search(text)):
        return DatabaseProblem(
            "unreachable",
            f"cannot reach the {where} ({detail})",
            "check that the server runs and the host and port in DISSEM_DATABASE_URL",
        )
    if not state and "FATAL" in text:  # the server refused the connection otherwise
        return DatabaseProblem(
            "unusable",
            f"the {where} refused the connection ({detail})",
            "see the server's log",
        )
    return None


def probe_writable(engine: Engine) -> None:
    """Writes to the database once (rewriting the schema version in place) so a read-only
    file, a read-only server or a full disk shows at start; raises the driver's error."""
    with engine.begin() as conn:
        conn.execute(text("UPDATE alembic_version SET version_num = version_num"))


__all__ = [
    "EXIT_CODES",
    "DatabaseProblem",
    "database_problem",
    "describe_url",
    "is_sqlite",
    "make_engine",
    "make_session_factory",
    "normalise_url",
    "probe_writable",
    "transaction",
]
