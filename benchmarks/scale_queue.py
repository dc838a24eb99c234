"""Scale benchmarks, part B (issue 15): a million posts queued, metric history over a year,
eight workers on PostgreSQL.

Sections (each returns its printed lines; ``benchmarks/scale.py`` imports :data:`SECTIONS`
and runs them after its own when this module is there):

- ``queue``: 1,000,000 posts (1,000 channels, a year of history and months ahead) loaded
  with COPY (PostgreSQL) or executemany of plain rows (SQLite), then: a claim round (target
  < 5 ms), the other queries a worker runs every round, an idle ``dissem run`` for 60 s
  (target < 1 % of a core, < 200 MB RSS), ``dissem queue --problems`` and ``/status``
  (target < 1 s each);
- ``metrics``: a simulated year of snapshots, database size before and after compaction
  (:mod:`dissem.metrics.compact`), the weekly report over it (target < 10 s) and whether it
  is the same before and after;
- ``workers``: 1 and 8 worker processes on PostgreSQL against the sandbox with 50 ms latency
  (target >= 6x), and no post published twice.

Run: ``.venv/bin/python benchmarks/scale_queue.py [--quick] [--only queue,metrics]``.
PostgreSQL needs ``DISSEM_TEST_DATABASE_URL`` (an admin URL: a scratch database is made and
dropped); without it only SQLite runs.
"""

from __future__ import annotations

import argparse
import json
import os
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import requests
from sqlalchemy import Engine, text

sys.path.insert(0, str(Path(__file__).resolve().parent))

from dispatch import database, proc_usage

from dissem.lifecycle import Event
from dissem.platforms.base import RemotePost
from dissem.store import queue as queue_module
from dissem.store import queue_sql
from dissem.store.db import make_engine, make_session_factory
from dissem.store.queue import (
    Outcome,
    expire_leases,
    next_due_at,
    settle_and_claim,
)

CHANNELS = 1000
RELEASES = 5000
PLATFORM = "mastodon"


def utcnow() -> datetime:
    return datetime.now(UTC)


def channel_name(i: int) -> str:
    return f"rep-{i:04d}"


def ms(seconds: float) -> str:
    return f"{1000 * seconds:.2f} ms"


# --- bulk loading -----------------------------------------------------------------------

POST_COLUMNS = (
    "release_id",
    "channel",
    "platform",
    "seq",
    "part_index",
    "part_total",
    "release_revision",
    "state",
    "text",
    "payload",
    "idempotency_key",
    "planned_at",
    "due_at",
    "attempts",
    "remote_id",
    "remote_url",
    "remote_data",
    "publish_state",
    "published_at",
    "last_error",
    "next_metrics_at",
    "created_at",
    "updated_at",
)


def _state_of(i: int, total: int) -> str:
    """The post mix of a year: 60 % published, 30 % scheduled ahead, 9 % cancelled,
    expired or skipped, 1 % problems (failed, needs_review: unconfirmed ones
    would be reconciled, which is work, not idling)."""
    r = (i * 7919) % 1000
    if r < 600:
        return "published"
    if r < 900:
        return "scheduled"
    if r < 990:
        return ("cancelled", "expired", "skipped")[r % 3]
    return ("failed", "needs_review")[r % 2]


def post_rows(total: int, now: datetime) -> Iterator[tuple[Any, ...]]:
    """``total`` posts over :data:`CHANNELS` channels and :data:`RELEASES` releases: the
    published ones over the past year (metrics done, but for the last 30 days), the
    scheduled ones over the next 60 days (none due)."""
    per_release = total // RELEASES
    year = 365 * 86400
    for i in range(total):
        release, k = divmod(i, per_release)
        channel = channel_name((release * 7 + k) % CHANNELS)
        state = _state_of(i, total)
        body = f"Statement {release} for {channel}: the ministry announces item {i}."
        payload = json.dumps(
            {"index": 1, "total": 1, "text": body, "length": len(body), "limit": 500}
        )
        published = remote = url = metrics = error = None
        if state == "scheduled":
            due = now + timedelta(seconds=3600 + (i * 37) % (60 * 86400))
        else:
            due = now - timedelta(seconds=60 + (i * 53) % year)
        if state == "published":
            published = due
            remote = str(10**9 + i)
            url = f"https://{channel}.example/@{channel}/{remote}"
            if now - published < timedelta(days=30):
                metrics = now + timedelta(seconds=600 + i % 3600)
        elif state in ("failed", "unconfirmed", "needs_review"):
            error = f"HTTP 503 from the platform (try {i % 5})"
        yield (
            f"rel-{release:05d}",
            channel,
            PLATFORM,
            0,
            1,
            1,
            1,
            state,
            body,
            payload,
            uuid.UUID(int=i).hex,
            due,
            due,
            1 if state != "scheduled" else 0,
            remote,
            url,
            "{}",
            "{}",
            published,
            error,
            metrics,
            due - timedelta(days=1),
            due,
        )


def _naive(value: Any) -> Any:
    return value.replace(tzinfo=None) if isinstance(value, datetime) else value


def bulk_load(engine: Engine, total: int, now: datetime) -> float:
    """Channels, releases and ``total`` posts; returns the seconds the posts took."""
    channels = [
        (
            channel_name(i),
            PLATFORM,
            f"@{channel_name(i)}@gov.example",
            "Europe/Brussels",
            True,
            channel_name(i),
            json.dumps(
                {
                    "name": channel_name(i),
                    "platform": PLATFORM,
                    "account": f"@{channel_name(i)}@gov.example",
                    "timezone": "Europe/Brussels",
                    "windows": ["daily 00:00-24:00"],
                }
            ),
            False,
            now.replace(tzinfo=None),
        )
        for i in range(CHANNELS)
    ]
    releases = [
        (
            f"rel-{r:05d}",
            f"Press release {r}",
            f"https://gov.example/news/{r}",
            "en",
            "approved",
            "normal",
            f"releases/rel-{r:05d}.md",
            "x",
            1,
            False,
            "{}",
            (now - timedelta(days=365) + timedelta(seconds=r * 6300)).replace(tzinfo=None),
            (now - timedelta(days=365) + timedelta(seconds=r * 6300)).replace(tzinfo=None),
        )
        for r in range(RELEASES)
    ]
    channel_cols = "name, platform, account, timezone, enabled, config_hash, config, removed, "
    channel_cols += "updated_at"
    release_cols = "id, title, url, language, status, priority, source, content_hash, "
    release_cols += "revision, deleted, data, created_at, updated_at"
    cols = ", ".join(POST_COLUMNS)
    raw = engine.raw_connection()
    try:
        cur = raw.cursor()
        if engine.dialect.name == "postgresql":
            with cur.copy(f"COPY channels ({channel_cols}) FROM STDIN") as copy:  # type: ignore[attr-defined]
                for row in channels:
                    copy.write_row(row)
            with cur.copy(f"COPY releases ({release_cols}) FROM STDIN") as copy:  # type: ignore[attr-defined]
                for row in releases:
                    copy.write_row(row)
            started = time.perf_counter()
            with cur.copy(f"COPY posts ({cols}) FROM STDIN") as copy:  # type: ignore[attr-defined]
                for row in post_rows(total, now):
                    copy.write_row(tuple(_naive(v) for v in row))
            raw.commit()
            cur.execute("ANALYZE")
            raw.commit()
        else:
            cur.executemany(
                f"INSERT INTO channels ({channel_cols}) VALUES ({', '.join('?' * 9)})",
                [tuple(_naive(v) for v in row) for row in channels],
            )
            cur.executemany(
                f"INSERT INTO releases ({release_cols}) VALUES ({', '.join('?' * 13)})",
                releases,
            )
            started = time.perf_counter()
            marks = ", ".join("?" * len(POST_COLUMNS))
            batch: list[tuple[Any, ...]] = []
            for row in post_rows(total, now):
                batch.append(tuple(_sqlite_value(v) for v in row))
                if len(batch) == 20_000:
                    cur.executemany(f"INSERT INTO posts ({cols}) VALUES ({marks})", batch)
                    batch = []
            if batch:
                cur.executemany(f"INSERT INTO posts ({cols}) VALUES ({marks})", batch)
            raw.commit()
            cur.execute("ANALYZE")
            raw.commit()
        return time.perf_counter() - started
    finally:
        raw.close()


def _stored(engine: Engine, at: datetime) -> Any:
    """A naive UTC time as the column stores it (SQLite: text with microseconds)."""
    if engine.dialect.name == "postgresql":
        return at
    return at.strftime("%Y-%m-%d %H:%M:%S.%f")


def _sqlite_value(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.replace(tzinfo=None).isoformat(sep=" ")
    return value


# --- timing one query or round -----------------------------------------------------------


def timed(fn: Callable[[], Any], repeat: int = 20) -> tuple[float, Any]:
    """Median seconds of ``fn`` over ``repeat`` calls (after one warm-up), and its result."""
    result = fn()
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        result = fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times), result


def claim_figures(url: str, now: datetime) -> list[str]:
    """An idle claim round, busy claim rounds (1,000 posts due, one per channel, claimed 32
    at a time and settled as published in the next round), next_due_at, expire_leases."""
    engine = make_engine(url)
    factory = make_session_factory(engine)
    lines = []
    with engine.connect() as conn:
        idle, _ = timed(
            lambda: settle_and_claim(conn, "bench", [], now, limit=32, lease_seconds=60)
        )
    nxt, _ = timed(lambda: next_due_at(factory, now), 5)
    exp, _ = timed(lambda: expire_leases(factory, now), 5)
    # one post per channel due now, a millisecond apart (as a release staggered over its
    # channels is: ties would make "oldest first" arbitrary)
    with engine.begin() as conn:
        firsts = sorted(
            conn.scalars(
                text("SELECT min(id) FROM posts WHERE state = 'scheduled' GROUP BY channel")
            )
        )
        start = now.replace(tzinfo=None) - timedelta(seconds=2)
        conn.execute(
            text("UPDATE posts SET due_at = :at WHERE id = :id"),
            [
                {"id": post_id, "at": _stored(engine, start + timedelta(milliseconds=k))}
                for k, post_id in enumerate(firsts)
            ],
        )
    lines += claim_query_figures(engine, now)
    rounds: list[float] = []
    outcomes: list[Outcome] = []
    claimed_total = 0
    with engine.connect() as conn:
        while True:
            t0 = time.perf_counter()
            _, claimed = settle_and_claim(conn, "bench", outcomes, now, limit=32, lease_seconds=60)
            rounds.append(time.perf_counter() - t0)
            claimed_total += len(claimed)
            if not claimed and not outcomes:
                break
            outcomes = [
                Outcome(
                    post_id=c.post_id,
                    event=Event.PUBLISHED,
                    started_at=now,
                    finished_at=now,
                    remote=RemotePost(str(c.post_id), f"https://x.example/{c.post_id}", {}),
                    channel=c.channel,
                )
                for c in claimed
            ]
    busy = statistics.quantiles(rounds, n=20)
    lines.append(f"   claim round, nothing due: {ms(idle)} (median)   target < 5 ms")
    lines.append(
        f"   claim rounds, {claimed_total} posts due on {CHANNELS} channels, 32 a round, "
        f"settling the previous 32: median {ms(statistics.median(rounds))}, "
        f"p95 {ms(busy[18])}, max {ms(max(rounds))}"
    )
    lines.append(f"   next_due_at {ms(nxt)}   expire_leases {ms(exp)}")
    engine.dispose()
    return lines


def claim_query_figures(engine: Engine, now: datetime) -> list[str]:
    """With 1,000 channels due: the SELECTs that pick 32 channels (the per-channel query
    the claim used before, then the head of the due index that it uses now), and a whole
    claim of 32 (the SELECTs and the UPDATE that takes the posts), each in a transaction
    rolled back, so every repeat sees the same queue."""
    postgres = engine.dialect.name == "postgresql"
    old_query = queue_sql.CLAIMABLE_LOCKED if postgres else queue_sql.CLAIMABLE

    with engine.connect() as conn:  # one connection, as a worker keeps

        def rolled_back(fn: Callable[[Any], Any]) -> Callable[[], Any]:
            def run() -> Any:
                tx = conn.begin()
                try:
                    return fn(conn)
                finally:
                    tx.rollback()

            return run

        params = {"now": now, "limit": 32}
        old, got_old = timed(rolled_back(lambda c: c.execute(old_query, params).all()))
        new, got_new = timed(rolled_back(lambda c: queue_module._claimable(c, now, 32)))
        whole, claimed = timed(
            rolled_back(lambda c: queue_module._claim(c, "bench", now, 32, 60, probe=False))
        )
    same = [r.name for r in got_old] == [r.name for r in got_new]
    return [
        f"   picking 32 of 1,000 due channels: per-channel query {ms(old)}, head of the due "
        f"index {ms(new)} (same channels: {same}); a whole claim of {len(claimed)} posts "
        f"{ms(whole)} (medians)   target < 5 ms"
    ]


# --- the idle daemon, dissem queue --problems, /status --------------------------------------


def dissem_command(*args: str) -> list[str]:
    """The ``dissem`` command line, run by this Python."""
    code = "import sys; from dissem.cli import main; sys.argv = ['dissem', *sys.argv[1:]]; main()"
    return [sys.executable, "-c", code, *args]


def free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def write_config(folder: Path) -> Path:
    """A config folder with the :data:`CHANNELS` channels (limits set: no server to ask) in
    a ``channels/`` folder of 100 a file, and no ``releases`` folder, which sync reads as
    "keep every stored release as it is".

    Each channel is written out in full: YAML aliases repeating a block 1,000 times are
    refused by the loader (they expand the file past its limit of values)."""
    root = folder / "config"
    (root / "channels").mkdir(parents=True, exist_ok=True)
    for start in range(0, CHANNELS, 100):
        lines = ["channels:"]
        for i in range(start, min(start + 100, CHANNELS)):
            name = channel_name(i)
            lines += [
                f"  - name: {name}",
                f"    platform: {PLATFORM}",
                f'    account: "@{name}@gov.example"',
                "    timezone: Europe/Brussels",
                "    max_length: 500",
                "    url_length: 23",
                "    credentials:",
                "      access_token: SCALE_TOKEN",
            ]
        (root / "channels" / f"reps-{start // 100:02d}.yaml").write_text("\n".join(lines) + "\n")
    return root


def daemon_figures(
    url: str, folder: Path, seconds: float, on_idle: Callable[[int], Any] | None = None
) -> list[str]:
    """``dissem run`` against the loaded database (its channels in the config, no releases
    folder: sync keeps the stored ones), its CPU and RSS over ``seconds`` after start-up,
    and ``/status`` while it runs. ``on_idle`` is called with the process id when the
    measured window begins (a profiler's hook)."""
    port = free_port()
    env = {
        **os.environ,
        "SCALE_TOKEN": "scale-secret",
        "DISSEM_DATABASE_URL": url,
        "DISSEM_CONFIG_DIR": str(write_config(folder)),
        "DISSEM_HEALTH_PORT": str(port),
        "DISSEM_REPORT_DIR": str(folder / "reports"),
    }
    log = open(folder / "daemon.log", "w")  # noqa: SIM115
    proc = subprocess.Popen(dissem_command("run"), env=env, stdout=log, stderr=subprocess.STDOUT)
    try:
        # Past start-up: the first sync (it records the config's 1,000 channels, which the
        # bulk load left with placeholder hashes, and replans their posts once), reconcile,
        # metrics and report rounds; then a few seconds more.
        deadline = time.monotonic() + 600
        while True:
            try:
                done = requests.get(f"http://127.0.0.1:{port}/healthz", timeout=5).json()
                if {"sync", "dispatch", "reconcile", "metrics"} <= set(done["last_run"]):
                    break
            except requests.RequestException:
                pass
            if time.monotonic() > deadline or proc.poll() is not None:
                raise RuntimeError((folder / "daemon.log").read_text()[-2000:])
            time.sleep(0.5)
        time.sleep(5)
        if on_idle is not None:
            on_idle(proc.pid)
        cpu0, _ = proc_usage(proc.pid)
        t0 = time.monotonic()
        rss_max = 0
        while time.monotonic() - t0 < seconds:
            time.sleep(1)
            rss_max = max(rss_max, proc_usage(proc.pid)[1])
        cpu1, rss = proc_usage(proc.pid)
        wall = time.monotonic() - t0
        status_times = []
        size = 0
        for _ in range(3):
            t1 = time.perf_counter()
            r = requests.get(f"http://127.0.0.1:{port}/status", timeout=60)
            status_times.append(time.perf_counter() - t1)
            r.raise_for_status()
            size = len(r.content)
    finally:
        proc.terminate()
        proc.wait(30)
        log.close()
    return [
        f"   idle `dissem run`, {wall:.0f} s after start-up: CPU {cpu1 - cpu0:.2f} s "
        f"({100 * (cpu1 - cpu0) / wall:.2f} % of one core), RSS {rss / 1024:.0f} MiB "
        f"(max {rss_max / 1024:.0f} MiB)   targets < 1 %, < 200 MB",
        f"   GET /status: {ms(min(status_times))} best, {ms(max(status_times))} worst of 3 "
        f"({size // 1024} KiB)   target < 1 s",
    ]


def problems_figures(url: str, folder: Path) -> list[str]:
    """``dissem queue --problems`` as a command (wall time, Python start-up included) and
    the rows it reads, in process."""
    from dissem.cli.store_cmds import queue_rows
    from dissem.settings import Settings

    # bytecode cached as an installed package has it (pip compiles at install), even where
    # PYTHONDONTWRITEBYTECODE is set: else every run compiles each module it imports
    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    env.update(
        DISSEM_DATABASE_URL=url,
        DISSEM_CONFIG_DIR=str(folder / "none"),
        PYTHONPYCACHEPREFIX=str(folder / "pycache"),
    )

    def run() -> tuple[float, subprocess.CompletedProcess[str]]:
        t0 = time.perf_counter()
        done = subprocess.run(
            dissem_command("queue", "--problems"), env=env, capture_output=True, text=True
        )
        return time.perf_counter() - t0, done

    first, out = run()  # compiles and caches the bytecode
    wall, out = sorted((run() for _ in range(3)), key=lambda r: r[0])[1]  # median of 3
    t0 = time.perf_counter()
    start = subprocess.run(dissem_command("--help"), env=env, capture_output=True, check=False)
    startup = time.perf_counter() - t0
    engine = make_engine(url, read_only=True)
    factory = make_session_factory(engine)
    settings = Settings(database_url=url)
    query, rows = timed(
        lambda: queue_rows(factory, settings, problems=True, show_all=False, limit=50), 5
    )
    engine.dispose()
    assert start.returncode == 0
    return [
        f"   `dissem queue --problems`: {ms(wall)} wall, median of 3 (first run, compiling: "
        f"{ms(first)}; exit {out.returncode}, "
        f"{len(out.stdout.splitlines())} lines; `dissem --help` alone {ms(startup)}); "
        f"its queries {ms(query)} for {len(rows)} rows   target < 1 s"
    ]


def queue_section(quick: bool, folder: Path, kinds: list[str]) -> list[str]:
    total = 100_000 if quick else 1_000_000
    lines: list[str] = []
    for kind in kinds:
        with database(kind, folder) as url:
            engine = make_engine(url)
            now = utcnow()
            loaded = bulk_load(engine, total, now)
            size = database_size(engine, url)
            engine.dispose()
            lines.append(
                f"queue, {kind}: {total:,} posts on {CHANNELS} channels loaded in "
                f"{loaded:.1f} s ({size / 2**20:.0f} MiB); 60 % published over a year, "
                "30 % scheduled over 60 days, 1 % problems"
            )
            lines += problems_figures(url, folder)
            lines += daemon_figures(url, folder, 15.0 if quick else 60.0)
            lines += claim_figures(url, utcnow())
            print("\n".join(lines[-6:]), flush=True)
    return lines


def database_size(engine: Engine, url: str) -> int:
    with engine.connect() as conn:
        if engine.dialect.name == "postgresql":
            return int(conn.scalar(text("SELECT pg_database_size(current_database())")) or 0)
    path = Path(url.removeprefix("sqlite:///"))
    return sum(p.stat().st_size for p in path.parent.glob(path.name + "*"))


@contextmanager
def _folder() -> Iterator[Path]:
    with tempfile.TemporaryDirectory(prefix="dissem-scale-") as tmp:
        yield Path(tmp)


def _kinds() -> list[str]:
    return ["sqlite", "postgres"] if os.environ.get("DISSEM_TEST_DATABASE_URL") else ["sqlite"]


def run_queue(quick: bool) -> list[str]:
    with _folder() as folder:
        return queue_section(quick, folder, _kinds())


def _table_size(engine: Engine, url: str) -> tuple[int, str]:
    """After a full vacuum: the SQLite file, or ``metric_snapshots`` with its indexes."""
    if engine.dialect.name == "postgresql":
        with engine.connect() as conn:
            conn = conn.execution_options(isolation_level="AUTOCOMMIT")
            conn.execute(text("VACUUM FULL metric_snapshots"))
            size = conn.scalar(text("SELECT pg_total_relation_size('metric_snapshots')"))
        return int(size or 0), "metric_snapshots with indexes"
    path = url.removeprefix("sqlite:///")
    raw = sqlite3.connect(path, isolation_level=None)  # VACUUM needs no open transaction
    raw.execute("VACUUM")
    raw.close()
    return Path(path).stat().st_size, "whole file"


def _past_reports(factory: Any) -> tuple[list[Any], float]:
    """The figures of the 8 weeks up to ``report.py``'s week, and the mean seconds each."""
    import report as history

    from dissem.reports.figures import build_week_figures
    from dissem.reports.weekly import IsoWeek

    week, out = IsoWeek.parse(history.WEEK), []
    began = time.perf_counter()
    with factory() as session:
        for _ in range(8):
            start, end = week.bounds(history.TZ)
            out.append(
                build_week_figures(
                    session, str(week), start, end, history.TZ, now=history.REPORT_AT
                )
            )
            week = week.previous()
    return out, (time.perf_counter() - began) / 8


def metrics_section(quick: bool, folder: Path, kinds: list[str]) -> list[str]:
    """A simulated year of snapshots (``benchmarks/report.py``'s generator, scaled down: 57
    posts a channel a year and 20 snapshots a post instead of 1,825 and 70, so sizes are
    about 1/32 of the issue's), compacted with the default-like rule; the weekly reports of
    8 past weeks before and after, timed and compared."""
    import report as history

    from dissem.metrics.compact import compact_once
    from dissem.settings import Settings

    rule = "hourly@7d,daily@90d,final"
    channels = 200 if quick else CHANNELS
    lines: list[str] = []
    for kind in kinds:
        with database(kind, folder) as url:
            engine = make_engine(url)
            factory = make_session_factory(engine)
            counts = history.generate(engine, channels, 57, 20)

            size_before, what = _table_size(engine, url)
            before, report_before = _past_reports(factory)
            settings = Settings(
                _env_file=None,  # type: ignore[call-arg]
                database_url=url,
                timezone=history.TZ,
                metrics_retention=rule,
            )
            began = time.perf_counter()
            stats = compact_once(factory, settings, history.REPORT_AT)
            took = time.perf_counter() - began
            size_after, _ = _table_size(engine, url)
            after, report_after = _past_reports(factory)
            engine.dispose()
            kept = counts["snapshots"] - stats.deleted
            lines += [
                f"metrics, {kind}: {counts['posts']:,} posts, {counts['snapshots']:,} snapshots "
                f"over a year on {channels} channels (scaled down, see docstring)",
                f"  compaction {rule}: {kept:,} kept, {stats.deleted:,} deleted in "
                f"{stats.batches} transactions, {took:.1f} s",
                f"  size ({what}, vacuumed): {size_before / 2**20:.0f} MiB -> "
                f"{size_after / 2**20:.0f} MiB",
                f"  weekly report figures, mean of 8 past weeks: {report_before:.2f} s -> "
                f"{report_after:.2f} s (target < 10 s); identical: {before == after}",
            ]
            print("\n".join(lines[-4:]), flush=True)
    return lines


def run_metrics(quick: bool) -> list[str]:
    with _folder() as folder:
        return metrics_section(quick, folder, _kinds())


#: name -> section (takes ``quick``, returns the lines it printed)
SECTIONS: dict[str, Callable[[bool], list[str]]] = {"queue": run_queue, "metrics": run_metrics}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="smaller, shorter runs")
    parser.add_argument("--only", default=",".join(SECTIONS), help="sections, e.g. queue")
    parser.add_argument("--kinds", default="", help="sqlite,postgres (default: both if set)")
    args = parser.parse_args()
    if args.kinds:
        global _kinds
        kinds = args.kinds.split(",")
        _kinds = lambda: kinds  # noqa: E731
    for name in args.only.split(","):
        load = ", ".join(f"{x:.2f}" for x in os.getloadavg())
        print(f"== {name} (load average {load} on {os.cpu_count()} cores)", flush=True)
        for line in SECTIONS[name.strip()](args.quick):
            print(line, flush=True)


if __name__ == "__main__":
    main()
