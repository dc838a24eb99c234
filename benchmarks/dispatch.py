"""Dispatch benchmarks, printed side by side in one run:

1. throughput of one worker against the sandbox (no latency) beside a bare
   ``requests.Session`` loop posting the same statuses (target: ratio >= 0.8);
2. four worker processes on PostgreSQL against the sandbox with 50 ms latency, beside one
   (target: >= 3.5x), at the default concurrency (4 threads per worker: on 2 cores the
   four workers run out of CPU first) and at concurrency 1 (isolates worker scaling);
   timed from the first publish to the last, and in the steady state;
3. lateness (publish time minus due time) of 10,000 posts due over ~100 s: p50, p99, max
   (target: p99 < 1 s, none over 60 s);
4. an idle worker's CPU and memory over 60 s with 100,000 future posts queued, and the
   query plans of its claim (they must probe indexes, not scan).

The sandbox runs as its own process (``dissem sandbox --port 0``), as the platforms are
other machines: in this process it would take the GIL from the worker and the bare loop.
Each part prints the load average first: other processes share the cores.

Run: ``.venv/bin/python benchmarks/dispatch.py [--quick] [--only 1,3]``. Part 2 needs
PostgreSQL: ``DISSEM_TEST_DATABASE_URL`` (an admin URL; a scratch database is made and
dropped). Workers of parts 2 and 4 are this script run with ``--worker``.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import requests
from sqlalchemy import Engine, event, func, insert, select, text, update
from sqlalchemy.engine import make_url

from dissem.compose.types import Part
from dissem.config.models import Channel
from dissem.settings import Settings
from dissem.store.db import make_engine, make_session_factory, normalise_url
from dissem.store.migrate import upgrade
from dissem.store.models import Attempt, ChannelRow, Post, PostState, ReleaseRow
from dissem.store.queue import claim_due_posts
from dissem.worker.dispatch import AdapterPool, dispatch_once

PLATFORM = "mastodon"
FAR = datetime(2100, 1, 1, tzinfo=UTC)


def utcnow() -> datetime:
    return datetime.now(UTC)


def token_var(channel: str) -> str:
    return f"BENCH_{channel.upper().replace('-', '_')}_TOKEN"


def token(channel: str) -> str:
    return f"bench-secret-{channel}"


# --- the sandbox, in its own process -----------------------------------------------------


class Sandbox:
    """A ``dissem sandbox`` running as its own process (as the platforms are other machines:
    the sandbox's CPU must not compete with the worker's or the bare loop's for one GIL)."""

    def __init__(self, proc: subprocess.Popen[str], url: str) -> None:
        self.proc = proc
        self.url = url


@contextmanager
def sandbox_process(faults: str = "", *options: str) -> Iterator[Sandbox]:
    """Starts ``dissem sandbox --port 0`` (with ``options``) and waits until it answers;
    stops it after."""
    # Every worker keeps a session (a connection) per channel: eight workers on 256
    # channels open more than the sandbox's 1,024 connections, and the 1,025th is refused
    # (an unknown outcome). Real platforms are many servers; the sandbox is one.
    command = (
        "import sys, dataclasses; import dissem.sandbox.server as server; "
        "server.LIMITS = dataclasses.replace(server.LIMITS, max_connections=8192); "
        "from dissem.cli import main; "
        "sys.argv = ['dissem', 'sandbox', '--port', '0', '--faults', *sys.argv[1:]]; main()"
    )
    proc = subprocess.Popen(
        [sys.executable, "-c", command, faults, *options],
        stdout=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    try:
        assert proc.stdout is not None
        first = proc.stdout.readline()
        if not first.startswith("dissem sandbox: http://"):
            raise RuntimeError(f"the sandbox did not start: {first!r}")
        url = first.split()[2]
        deadline = time.monotonic() + 10
        while True:  # it prints its URL when bound; make sure it also answers
            try:
                requests.get(f"{url}/_sandbox/health", timeout=1)
                break
            except requests.RequestException:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.05)
        yield Sandbox(proc, url)
    finally:
        proc.terminate()
        proc.wait(10)


# --- database set-up ----------------------------------------------------------------------


@contextmanager
def database(kind: str, folder: Path) -> Iterator[str]:
    """A migrated scratch database: a SQLite file, or a new PostgreSQL database."""
    if kind == "sqlite":
        url = f"sqlite:///{folder / f'bench-{uuid.uuid4().hex[:6]}.db'}"
        engine = make_engine(url)
        upgrade(engine)
        engine.dispose()
        yield url
        return
    admin_url = normalise_url(os.environ["DISSEM_TEST_DATABASE_URL"])
    name = f"dissem_bench_{uuid.uuid4().hex[:8]}"
    admin = make_engine(admin_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    url = make_url(admin_url).set(database=name).render_as_string(False)
    engine = make_engine(url)
    upgrade(engine)
    engine.dispose()
    try:
        yield url
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def seed(engine: Engine, channels: int, due: list[datetime], *, release: str = "bench") -> None:
    """``channels`` Mastodon channels and one post per entry of ``due``, dealt round-robin."""
    now = utcnow()
    names = [f"bench-{i:03d}" for i in range(channels)]
    with engine.begin() as conn:
        if (
            conn.scalar(
                select(func.count()).select_from(ReleaseRow).where(ReleaseRow.id == release)
            )
            == 0
        ):
            conn.execute(
                insert(ReleaseRow).values(
                    id=release,
                    title="Bench",
                    url="https://portal.example/bench",
                    language="en",
                    status="approved",
                    priority="normal",
                    source="bench",
                    content_hash="x",
                    data={},
                    created_at=now,
                    updated_at=now,
                )
            )
        existing = set(conn.scalars(select(ChannelRow.name)))
        rows = []
        for name in names:
            if name in existing:
                continue
            channel = Channel(
                name=name,
                platform=PLATFORM,
                account=f"@{name}@bench.example",
                timezone="UTC",
                credentials={"access_token": token_var(name)},
            )
            config = channel.model_dump(mode="json")
            config["windows"] = [w.text for w in channel.windows]
            rows.append(
                dict(
                    name=name,
                    platform=PLATFORM,
                    account=channel.account,
                    timezone="UTC",
                    enabled=True,
                    removed=False,
                    config_hash=name,
                    config=config,
                    paused_until=None,
                    pause_reason=None,
                    updated_at=now,
                )
            )
        if rows:
            conn.execute(insert(ChannelRow), rows)
        batch: list[dict[str, Any]] = []
        for i, at in enumerate(due):
            body = f"Ministry statement {uuid.uuid4().hex[:10]} number {i}"
            part = Part(index=1, total=1, text=body, length=len(body), limit=500)
            batch.append(
                dict(
                    release_id=release,
                    channel=names[i % channels],
                    platform=PLATFORM,
                    seq=i,
                    part_index=1,
                    part_total=1,
                    release_revision=1,
                    state=PostState.SCHEDULED,
                    text=body,
                    payload=part.to_json(),
                    idempotency_key=uuid.uuid4().hex,
                    planned_at=at,
                    due_at=at,
                    attempts=0,
                    remote_data={},
                    publish_state={},
                    created_at=now,
                    updated_at=now,
                )
            )
            if len(batch) == 5000:
                conn.execute(insert(Post), batch)
                batch = []
        if batch:
            conn.execute(insert(Post), batch)
    for name in names:
        os.environ[token_var(name)] = token(name)


def count_open(engine: Engine) -> int:
    """Posts still to go out (scheduled or being published)."""
    with engine.connect() as conn:
        q = select(func.count()).select_from(Post)
        q = q.where(Post.state.in_((PostState.SCHEDULED, PostState.PUBLISHING)))
        return int(conn.scalar(q) or 0)


def count_published(engine: Engine) -> int:
    with engine.connect() as conn:
        q = select(func.count()).select_from(Post).where(Post.state == PostState.PUBLISHED)
        return int(conn.scalar(q) or 0)


# --- the worker loop (in process, or as a subprocess with --worker) -------------------------


def worker_loop(
    db_url: str,
    settings: Settings,
    worker_id: str,
    stop: threading.Event,
    *,
    on_round: Callable[[], None] | None = None,
) -> None:
    """A daemon's dispatch cadence: a round, then sleep until the next post is due (at most
    ``dispatch_interval``)."""
    engine = make_engine(db_url)
    factory = make_session_factory(engine)
    adapters = AdapterPool(settings)
    while not stop.is_set():
        stats = dispatch_once(
            factory, settings, utcnow, adapters=adapters, worker_id=worker_id, stop_event=stop
        )
        if on_round:
            on_round()
        wait = settings.dispatch_interval
        if stats.next_due is not None:
            wait = min(wait, (stats.next_due - utcnow()).total_seconds())
        if wait > 0:
            stop.wait(wait)
    adapters.close()
    engine.dispose()


def worker_main(argv: list[str]) -> None:
    db_url, sandbox_url, worker_id = argv
    settings = Settings(database_url=db_url, sandbox_url=sandbox_url)
    sys.stdout.write("ready\n")
    sys.stdout.flush()
    worker_loop(db_url, settings, worker_id, threading.Event())


def start_workers(
    n: int, db_url: str, sandbox_url: str, *, env: dict[str, str] | None = None
) -> list[subprocess.Popen[str]]:
    procs = [
        subprocess.Popen(
            [sys.executable, __file__, "--worker", db_url, sandbox_url, f"bench-{i}"],
            stdout=subprocess.PIPE,
            text=True,
            env={**os.environ, **(env or {})},
        )
        for i in range(n)
    ]
    for p in procs:
        assert p.stdout is not None and p.stdout.readline().strip() == "ready"
    return procs


def stop_workers(procs: list[subprocess.Popen[str]]) -> None:
    for p in procs:
        p.terminate()
    for p in procs:
        p.wait(10)


# --- 1. throughput beside a bare requests loop ------------------------------------------------


def bare_loop(sandbox_url: str, channels: int, posts: int, *, sessions: int = 1) -> float:
    """Posts/s of plain ``requests.Session`` posting statuses, round-robin over accounts,
    through ``sessions`` sessions (a worker keeps one per channel)."""
    names = [f"bench-{i:03d}" for i in range(channels)]
    headers = [{"Authorization": f"Bearer {token(n)}"} for n in names]
    url = f"{sandbox_url}/{PLATFORM}/api/v1/statuses"
    pool = [requests.Session() for _ in range(sessions)]
    started = time.perf_counter()
    for i in range(posts):
        h = {**headers[i % channels], "Idempotency-Key": uuid.uuid4().hex}
        body = {
            "status": f"Bare statement {uuid.uuid4().hex[:10]} number {i}",
            "language": "en",
            "visibility": "public",
        }
        r = pool[i % sessions].post(url, json=body, headers=h, timeout=10)
        r.raise_for_status()
    rate = posts / (time.perf_counter() - started)
    for session in pool:
        session.close()
    return rate


def one_worker(db_url: str, settings: Settings, posts: int) -> float:
    engine = make_engine(db_url)
    factory = make_session_factory(engine)
    adapters = AdapterPool(settings)
    before = count_published(engine)
    with engine.begin() as conn:  # make the next ``posts`` future posts due now
        ids = list(
            conn.scalars(select(Post.id).where(Post.due_at == FAR).order_by(Post.id).limit(posts))
        )
        conn.execute(update(Post).where(Post.id.in_(ids)).values(due_at=utcnow()))
    started = time.perf_counter()
    dispatch_once(
        factory,
        settings,
        utcnow,
        adapters=adapters,
        worker_id="bench",
        stop_event=threading.Event(),
    )
    elapsed = time.perf_counter() - started
    done = count_published(engine) - before
    adapters.close()
    engine.dispose()
    assert done == posts, f"published {done} of {posts}"
    return posts / elapsed


def part1(folder: Path, quick: bool) -> list[str]:
    channels, per_round, rounds = 16, (300 if quick else 1000), (3 if quick else 5)
    with database("sqlite", folder) as url, sandbox_process() as sandbox:
        engine = make_engine(url)
        seed(engine, channels, [FAR] * (per_round * (rounds + 1)))
        engine.dispose()
        settings = Settings(database_url=url, sandbox_url=sandbox.url)
        one_worker(url, settings, per_round // 4)  # warm-up: adapters, connections
        bare_loop(sandbox.url, channels, per_round // 4)
        workers, bares, spread = [], [], []
        for _ in range(rounds):  # alternate, so background load hits both sides alike
            bares.append(bare_loop(sandbox.url, channels, per_round))
            workers.append(one_worker(url, settings, per_round))
            spread.append(bare_loop(sandbox.url, channels, per_round, sessions=channels))
    w, b, s = statistics.median(workers), statistics.median(bares), statistics.median(spread)
    return [
        f"1. throughput, {PLATFORM}, {channels} channels, sandbox in its own process, no latency, "
        f"{per_round} posts x {rounds} alternating rounds (median); concurrency "
        f"{settings.concurrency}, claim batch {settings.claim_batch}",
        f"   one worker {w:7.0f} posts/s   bare requests loop {b:7.0f} posts/s   "
        f"ratio {w / b:.2f} (target >= 0.8)",
        f"   (the bare loop with one session per channel, as a worker keeps: {s:.0f} posts/s, "
        f"ratio {w / s:.2f})",
    ]


# --- 2. four processes on PostgreSQL, 50 ms latency --------------------------------------------


@dataclass
class Fleet:
    """One timed run of ``workers`` worker processes."""

    workers: int
    rate: float  # posts/s from the first publish's start to the last one's end
    steady: float  # posts/s between the 10th and the 90th percentile of finish times
    per_worker: list[int]  # posts each worker published
    worker_cpu: float  # CPU ms per post, all workers together
    sandbox_cpu: float  # CPU ms per post of the sandbox process
    twice: int  # posts with more than one successful publish (must be 0)
    unpublished: int = 0  # posts not published at the end (unknown outcomes, errors)


def timed_fleet(n: int, folder: Path, posts: int, channels: int, concurrency: int) -> Fleet:
    """Starts ``n`` workers, makes ``posts`` posts due at once and times them.

    The posts fall due 2 s ahead, so every worker (idle, waking at least every
    ``dispatch_interval``) learns the due time first and wakes for it: all start together,
    as they would for posts planned ahead. The time runs from the start of the first publish
    to the end of the last (attempt rows).
    """
    with database("postgres", folder) as url, sandbox_process("latency_ms=50") as sandbox:
        engine = make_engine(url)
        seed(engine, channels, [FAR] * posts)
        procs = start_workers(n, url, sandbox.url, env={"DISSEM_CONCURRENCY": str(concurrency)})
        try:
            time.sleep(0.5)
            cpu0 = [proc_usage(p.pid)[0] for p in procs]
            sandbox0 = proc_usage(sandbox.proc.pid)[0]
            with engine.begin() as conn:
                conn.execute(update(Post).values(due_at=utcnow() + timedelta(seconds=2)))
            # the time comes from attempt rows; polling only costs CPU. Until every post is
            # out, or none is left to go (an unknown outcome waits for reconcile)
            deadline = time.monotonic() + 600
            while count_published(engine) < posts and time.monotonic() < deadline:
                if not count_open(engine):
                    break
                time.sleep(0.1)
            cpu = sum(proc_usage(p.pid)[0] for p in procs) - sum(cpu0)
            sandbox_cpu = proc_usage(sandbox.proc.pid)[0] - sandbox0
        finally:
            stop_workers(procs)
        with engine.connect() as conn:
            first, last = conn.execute(
                select(func.min(Attempt.started_at), func.max(Attempt.finished_at))
            ).one()
            ends = sorted(t for t in conn.scalars(select(Attempt.finished_at)) if t is not None)
            shares = dict(
                conn.execute(select(Attempt.worker, func.count()).group_by(Attempt.worker)).all()
            )
            sent = (
                select(Attempt.post_id)
                .where(Attempt.outcome == "ok")
                .group_by(Attempt.post_id)
                .having(func.count() > 1)
            )
            twice = conn.scalar(select(func.count()).select_from(sent.subquery())) or 0
        unpublished = posts - count_published(engine)
        engine.dispose()
    assert first is not None and last is not None
    # Without the batch's ramp and tail: at the end, a worker whose channels still hold
    # posts finishes them alone (one post per channel at a time) while the others idle.
    low, high = len(ends) // 10, len(ends) * 9 // 10
    return Fleet(
        workers=n,
        rate=posts / (last - first).total_seconds(),
        steady=(high - low) / (ends[high] - ends[low]).total_seconds(),
        per_worker=[shares.get(f"bench-{i}", 0) for i in range(n)],
        worker_cpu=1000 * cpu / posts,
        sandbox_cpu=1000 * sandbox_cpu / posts,
        twice=twice,
        unpublished=unpublished,
    )


#: workers in part 2's fleet (``--fleet``): 4, or 8 for issue 15's "eight workers publish at
#: least 6 times what one does"
FLEET = 4
#: channels in part 2 (``--channels``): more than the fleet's workers x concurrency, so a
#: worker that holds more channels than it can publish on shows (a ministry has ~1,000)
CHANNELS = 256
#: the speed-up each fleet size aims at
FLEET_TARGET = {4: 3.5, 8: 6.0}


def part2(folder: Path, quick: bool) -> list[str]:
    if not os.environ.get("DISSEM_TEST_DATABASE_URL"):
        return ["2. skipped: set DISSEM_TEST_DATABASE_URL to a PostgreSQL admin URL"]
    channels = CHANNELS
    lines = []
    default = Settings().concurrency
    # The default publishes 4 posts at once per worker: four workers on this 2-core machine
    # run out of CPU before they run out of latency to overlap. One thread per worker keeps
    # the load low enough to show how the workers themselves scale.
    for concurrency, posts, label in (
        (default, 400 if quick else 1600, "default"),
        (1, 160 if quick else 600, "isolates worker scaling"),
    ):
        one = timed_fleet(1, folder, posts, channels, concurrency)
        four = timed_fleet(FLEET, folder, posts, channels, concurrency)
        target = FLEET_TARGET.get(FLEET)
        aim = f" (target >= {target}x)" if target else ""
        lines += [
            f"2. PostgreSQL, sandbox latency 50 ms, {posts} posts over {channels} channels, "
            f"concurrency {concurrency} per worker ({label})",
            f"   1 worker {one.rate:7.1f} posts/s   {FLEET} workers {four.rate:7.1f} posts/s   "
            f"speed-up {four.rate / one.rate:.2f}x{aim}",
            f"   steady state (10th-90th percentile of finish times): {one.steady:.1f} / "
            f"{four.steady:.1f} posts/s, {four.steady / one.steady:.2f}x",
            f"   posts per worker {'/'.join(map(str, four.per_worker))}; CPU per post: "
            f"workers {one.worker_cpu:.1f} / {four.worker_cpu:.1f} ms, sandbox "
            f"{one.sandbox_cpu:.1f} / {four.sandbox_cpu:.1f} ms (1 / {FLEET} workers); "
            f"posts published twice: {one.twice} / {four.twice}; not published: "
            f"{one.unpublished} / {four.unpublished}",
        ]
    return lines


# --- 3. lateness -------------------------------------------------------------------------------


def part3(folder: Path, quick: bool) -> list[str]:
    posts, span, channels = (2000, 20.0, 100) if quick else (10_000, 100.0, 100)
    with database("sqlite", folder) as url, sandbox_process() as sandbox:
        engine = make_engine(url)
        t0 = utcnow() + timedelta(seconds=3)
        due = [t0 + timedelta(seconds=span * i / posts) for i in range(posts)]
        seed(engine, channels, due)
        settings = Settings(database_url=url, sandbox_url=sandbox.url)
        stop = threading.Event()
        loop = threading.Thread(target=worker_loop, args=(url, settings, "late", stop))
        loop.start()
        deadline = time.monotonic() + span + 120
        while count_published(engine) < posts and time.monotonic() < deadline:
            time.sleep(0.5)
        stop.set()
        loop.join()
        with engine.connect() as conn:
            rows = conn.execute(
                select(Post.published_at, Post.due_at).where(Post.state == PostState.PUBLISHED)
            ).all()
        engine.dispose()
    late = sorted((p - d).total_seconds() for p, d in rows if p is not None and d is not None)
    q = statistics.quantiles(late, n=100)
    return [
        f"3. lateness, one worker (SQLite), {posts} posts due over {span:.0f} s on {channels} "
        f"channels, dispatch interval {settings.dispatch_interval:.0f} s (wakes early)",
        f"   published {len(late)}/{posts}   p50 {q[49]:.3f} s   p99 {q[98]:.3f} s   "
        f"max {late[-1]:.3f} s   over 60 s: {sum(x > 60 for x in late)} "
        "(target p99 < 1 s, none over 60 s)",
    ]


# --- 4. idle worker ----------------------------------------------------------------------------


def proc_usage(pid: int) -> tuple[float, int]:
    """(CPU seconds used, resident KiB) of a process, from /proc."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    ticks = os.sysconf("SC_CLK_TCK")
    cpu = (int(fields[11]) + int(fields[12])) / ticks
    rss = next(
        int(line.split()[1])
        for line in Path(f"/proc/{pid}/status").read_text().splitlines()
        if line.startswith("VmRSS:")
    )
    return cpu, rss


def claim_plans(url: str) -> list[str]:
    """EXPLAIN QUERY PLAN of every SELECT one claim runs (with one post due)."""
    engine = make_engine(url)
    statements: list[tuple[str, Any]] = []

    def capture(conn: Any, cursor: Any, statement: str, params: Any, ctx: Any, many: bool) -> None:
        if statement.lstrip().upper().startswith("SELECT"):
            statements.append((statement, params))

    factory = make_session_factory(engine)
    with engine.begin() as conn:
        first = conn.scalar(select(Post.id).order_by(Post.due_at).limit(1))
        conn.execute(update(Post).where(Post.id == first).values(due_at=utcnow()))
    event.listen(engine, "before_cursor_execute", capture)
    claim_due_posts(factory, "plans", utcnow(), limit=32, lease_seconds=60)
    event.remove(engine, "before_cursor_execute", capture)
    lines = []
    with engine.connect() as conn:
        for sql, params in statements:
            for row in conn.exec_driver_sql(f"EXPLAIN QUERY PLAN {sql}", params):
                lines.append(str(row[-1]))
    engine.dispose()
    return sorted(set(lines))


def part4(folder: Path, quick: bool) -> list[str]:
    posts, seconds = (20_000, 15.0) if quick else (100_000, 60.0)
    with database("sqlite", folder) as url, sandbox_process() as sandbox:
        engine = make_engine(url)
        start = utcnow() + timedelta(days=1)
        seed(engine, 100, [start + timedelta(minutes=i) for i in range(posts)])
        engine.dispose()
        (proc,) = start_workers(1, url, sandbox.url)
        try:
            time.sleep(2)  # past start-up
            cpu0, _ = proc_usage(proc.pid)
            t0 = time.monotonic()
            rss_max = 0
            while time.monotonic() - t0 < seconds:
                time.sleep(1)
                rss_max = max(rss_max, proc_usage(proc.pid)[1])
            cpu1, rss = proc_usage(proc.pid)
            wall = time.monotonic() - t0
        finally:
            stop_workers([proc])
        plans = claim_plans(url)
    scans = [p for p in plans if p.startswith("SCAN") and "posts" in p]
    return [
        f"4. idle worker, SQLite, {posts} future posts on 100 channels, {wall:.0f} s, "
        "daemon cadence (dispatch every 1 s)",
        f"   CPU {cpu1 - cpu0:.2f} s ({100 * (cpu1 - cpu0) / wall:.2f} % of one core)   "
        f"RSS {rss / 1024:.0f} MiB (max {rss_max / 1024:.0f} MiB)",
        "   claim query plans: " + ("; ".join(plans)),
        f"   scans of posts: {len(scans)}",
    ]


def main() -> None:
    global FLEET, CHANNELS
    if len(sys.argv) > 1 and sys.argv[1] == "--worker":
        worker_main(sys.argv[2:])
        return
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="smaller, shorter runs")
    parser.add_argument("--only", default="1,2,3,4", help="which parts, e.g. 1,3")
    parser.add_argument("--fleet", type=int, default=4, help="workers in part 2 (4 or 8)")
    parser.add_argument("--channels", type=int, default=CHANNELS, help="channels in part 2")
    args = parser.parse_args()
    FLEET = args.fleet
    CHANNELS = args.channels
    parts = {"1": part1, "2": part2, "3": part3, "4": part4}
    cores = os.cpu_count()
    with tempfile.TemporaryDirectory(prefix="dissem-bench-") as tmp:
        for key in args.only.split(","):
            # Other processes' load shares the cores with the sandbox, the database and the
            # workers: a number means little without it.
            load = ", ".join(f"{x:.2f}" for x in os.getloadavg())
            print(f"(load average {load} on {cores} cores)", flush=True)
            for line in parts[key.strip()](Path(tmp), args.quick):
                print(line, flush=True)


if __name__ == "__main__":
    main()
