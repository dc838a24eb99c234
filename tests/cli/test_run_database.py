"""``dissem run`` with a database it cannot use: one line saying what is wrong and what to
do, and a distinct exit code (3 unreachable, 4 unusable, 5 full), never a traceback; a
database that cannot be reached yet is tried again with backoff before giving up.

Each case runs ``dissem run --once`` as a subprocess, as systemd would: a read-only SQLite
file (as an unprivileged user when the tests run as root, who may write any file), a
PostgreSQL port nobody listens on, a missing PostgreSQL database, and a full disk (a 64 KiB
tmpfs mounted in a private user and mount namespace, when the kernel allows one).
"""

from __future__ import annotations

import os
import shutil
import sqlite3
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy.engine import make_url

from dissem.settings import Settings
from dissem.store.db import make_engine
from dissem.store.migrate import upgrade
from tests.pgdb import postgres_admin_url

DISSEM = str(Path(sys.executable).with_name("dissem"))


def run_once(
    url: str, folder: Path, *, wrap: list[str] | None = None
) -> subprocess.CompletedProcess[str]:
    (folder / "config").mkdir(exist_ok=True)  # without one, `dissem run` exits 2 first
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith("DISSEM_")},
        "DISSEM_DATABASE_URL": url,
        "DISSEM_CONFIG_DIR": str(folder / "config"),
        "DISSEM_REPORT_DIR": str(folder / "reports"),
        "DISSEM_DATABASE_WAIT": "0",
    }
    return subprocess.run(
        [*(wrap or []), DISSEM, "run", "--once"],
        env=env,
        cwd=folder,
        capture_output=True,
        text=True,
        timeout=120,
    )


def one_line(result: subprocess.CompletedProcess[str]) -> str:
    """The one line ``dissem run`` says; the rest of stderr is log lines, no traceback."""
    assert "Traceback" not in result.stderr, result.stderr
    lines = [line for line in result.stderr.splitlines() if line.startswith("dissem run: ")]
    assert len(lines) == 1, result.stderr
    return lines[0]


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    return tmp_path


def _namespaces() -> bool:
    if not shutil.which("unshare"):
        return False
    probe = subprocess.run(["unshare", "-rm", "true"], capture_output=True, timeout=30)
    return probe.returncode == 0


NAMESPACES = _namespaces()


@pytest.mark.skipif(
    os.geteuid() == 0 and not NAMESPACES, reason="root writes any file; no namespace to stop it"
)
def test_a_read_only_sqlite_file_exits_4_with_one_line(folder: Path) -> None:
    db = folder / "dissem.db"
    engine = make_engine(f"sqlite:///{db}")
    upgrade(engine)
    engine.dispose()
    db.chmod(0o444)
    read_only = 'mount --bind "$0" "$0" && mount -o remount,bind,ro "$0" && exec "$@"'
    wrap = ["unshare", "-rm", "sh", "-c", read_only, str(db)] if os.geteuid() == 0 else None
    result = run_once(f"sqlite:///{db}", folder, wrap=wrap)
    line = one_line(result)
    assert result.returncode == 4, result.stderr
    assert line.startswith("dissem run: database unusable: the SQLite file ")
    assert f"{db} is read-only for this user" in line and "DISSEM_DATABASE_URL" in line


def test_a_postgresql_port_nobody_listens_on_exits_3_with_one_line(folder: Path) -> None:
    result = run_once("postgresql://postgres@127.0.0.1:1/test", folder)
    line = one_line(result)
    assert result.returncode == 3, result.stderr
    assert line == (
        'dissem run: database unreachable: cannot reach the PostgreSQL database "test" at '
        "127.0.0.1:1 (Connection refused); check that the server runs and the host and port "
        "in DISSEM_DATABASE_URL"
    )


@pytest.mark.postgres
def test_a_missing_postgresql_database_exits_4_with_one_line(folder: Path) -> None:
    admin = postgres_admin_url()
    assert admin is not None
    url = make_url(admin).set(database="dissem_no_such_db").render_as_string(False)
    result = run_once(url, folder)
    line = one_line(result)
    assert result.returncode == 4, result.stderr
    assert '"dissem_no_such_db"' in line and "does not exist; create it" in line
    assert "password" not in line.lower() or "@" not in line  # no URL with its password


@pytest.mark.skipif(not NAMESPACES, reason="no user namespaces: cannot mount a small disk")
def test_a_full_disk_exits_5_with_one_line(folder: Path) -> None:
    disk = folder / "disk"
    disk.mkdir()
    mount = ["unshare", "-rm", "sh", "-c", 'mount -t tmpfs -o size=64k tmpfs "$0" && exec "$@"']
    result = run_once(f"sqlite:///{disk / 'dissem.db'}", folder, wrap=[*mount, str(disk)])
    line = one_line(result)
    assert result.returncode == 5, result.stderr
    assert line == (
        f"dissem run: database full: the disk holding the SQLite file {disk / 'dissem.db'} is "
        "full; free space there, then start again"
    )


def test_sqlite_says_full_the_way_a_full_disk_does(tmp_path: Path) -> None:
    """The same classification from SQLite's own error (a page limit stands in for the
    disk), for machines where the namespace test above cannot run."""
    conn = sqlite3.connect(tmp_path / "x.db")
    conn.execute("CREATE TABLE t (b BLOB)")
    conn.commit()
    pages = conn.execute("PRAGMA page_count").fetchone()[0]
    conn.execute(f"PRAGMA max_page_count = {pages}")
    with pytest.raises(sqlite3.OperationalError) as caught:
        conn.execute("INSERT INTO t VALUES (randomblob(100000))")
    conn.close()
    from dissem.store.db import database_problem

    problem = database_problem(caught.value, f"sqlite:///{tmp_path / 'x.db'}")
    assert problem is not None and problem.kind == "full" and problem.exit_code == 5


def test_an_unreachable_database_is_tried_again_with_backoff_then_given_up() -> None:
    from dissem.errors import DatabaseUnavailable
    from dissem.worker.daemon import open_worker

    now = [0.0]
    sleeps: list[float] = []

    def sleep(seconds: float) -> None:
        sleeps.append(seconds)
        now[0] += seconds

    settings = Settings(
        _env_file=None,  # type: ignore[call-arg]
        database_url="postgresql://postgres@127.0.0.1:1/test",
        database_wait=5.0,
    )
    with pytest.raises(DatabaseUnavailable) as caught:
        open_worker(settings, sleep=sleep, monotonic=lambda: now[0])
    assert sleeps == [1.0, 2.0, 2.0]  # 1 s doubling, cut to what is left of the 5 s
    assert caught.value.problem.kind == "unreachable" and caught.value.problem.exit_code == 3


def test_an_unusable_database_is_not_waited_for(tmp_path: Path) -> None:
    from dissem.errors import DatabaseUnavailable
    from dissem.worker.daemon import open_worker

    (tmp_path / "not-a-db").write_bytes(b"this is no SQLite file, it is plain text " * 200)
    settings = Settings(
        _env_file=None,  # type: ignore[call-arg]
        database_url=f"sqlite:///{tmp_path / 'not-a-db'}",
        database_wait=60.0,
    )
    slept: list[Any] = []
    with pytest.raises(DatabaseUnavailable) as caught:
        open_worker(settings, sleep=slept.append)
    assert slept == [] and caught.value.problem.exit_code == 4
    assert "is not a dissem database or is damaged" in str(caught.value)
