"""The weekly report over one year of history: 1,000 channels, ~1,000,000 metric snapshots.

For SQLite (a temp file) and, when ``--pg-url`` or ``DISSEM_TEST_DATABASE_URL`` names a
PostgreSQL server, for PostgreSQL (a database created for the run and dropped after it):

1. generates the history with bulk inserts (``executemany`` in chunks of 20,000): channels on
   all eight platforms, ~57 posts per channel over 365 days, 20 snapshots per post taken on
   the default schedule's grid (only what a collector would have taken by the report time;
   none for Telegram, which reports no metrics; NULL where a platform does not report);
2. in a fresh child process (so its peak memory is the report's alone), times the SQL
   aggregation of the last complete week and the whole report (aggregation + HTML + CSV +
   XLSX), wall-clock and the process's own CPU time (the figure that does not depend on
   what else the machine is doing), then measures the peak memory of one more report
   (``tracemalloc`` peak and ``ru_maxrss``).

Nothing is written into the repository: databases and reports live in a temp dir.
Run: ``.venv/bin/python benchmarks/report.py [--pg-url URL] [--channels N] [--repeats R]``.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, TypeVar

from sqlalchemy import Engine, insert, text
from sqlalchemy.engine import make_url

from dissem.config.models import PLATFORMS
from dissem.metrics.schedule import parse_schedule
from dissem.store.db import make_engine, normalise_url
from dissem.store.migrate import upgrade
from dissem.store.models import (
    METRIC_COLUMNS,
    ChannelRow,
    Post,
    PostState,
    ReleaseRow,
)
from dissem.traits import find_traits

TZ = "Asia/Jakarta"
#: the report runs on Monday 30 Nov 2026 08:00 in Jakarta: the week reported is 2026-W48
REPORT_AT = datetime(2026, 11, 30, 1, 0, tzinfo=UTC)
WEEK = "2026-W48"
CHUNK = 20_000
_Row = TypeVar("_Row")


def _reported(platform: str) -> tuple[str, ...]:
    traits = find_traits(platform)
    if traits is None:  # a platform not declared: assume the common counters
        return ("likes", "reposts", "replies")
    return traits.metrics


def _chunks(rows: Iterator[_Row], size: int = CHUNK) -> Iterator[list[_Row]]:
    batch: list[_Row] = []
    for row in rows:
        batch.append(row)
        if len(batch) >= size:
            yield batch
            batch = []
    if batch:
        yield batch


def generate(engine: Engine, channels: int, posts_per_channel: int, snaps: int) -> dict[str, Any]:
    """Writes the history; returns counts and the time it took."""
    rng = random.Random(48)
    end = REPORT_AT
    start = end - timedelta(days=365)
    ages = parse_schedule("1h@1d,6h@7d,1d@30d").grid_ages()
    step = len(ages) / snaps
    chosen_ages = [ages[int(i * step)] for i in range(snaps)]
    reported = {p: _reported(p) for p in PLATFORMS}
    names = [f"ch{i:04d}" for i in range(channels)]
    platform_of = {n: PLATFORMS[i % len(PLATFORMS)] for i, n in enumerate(names)}
    began = time.perf_counter()
    counts: dict[str, Any] = {"channels": channels, "releases": 365, "posts": 0, "snapshots": 0}
    with engine.begin() as conn:
        conn.execute(
            insert(ChannelRow),
            [
                {
                    "name": n,
                    "platform": platform_of[n],
                    "account": f"@{n}",
                    "timezone": TZ,
                    "enabled": True,
                    "config_hash": "h",
                    "config": {"name": n},
                    "removed": False,
                    "updated_at": start,
                }
                for n in names
            ],
        )
        conn.execute(
            insert(ReleaseRow),
            [
                {
                    "id": f"rel-{d:03d}",
                    "title": f"Release of day {d}",
                    "url": f"https://portal.example.go.id/rel-{d:03d}",
                    "language": "id",
                    "status": "approved",
                    "priority": "normal",
                    "not_before": None,
                    "expires": None,
                    "source": "bench",
                    "content_hash": "c",
                    "revision": 1,
                    "deleted": False,
                    "data": {},
                    "created_at": start,
                    "updated_at": start,
                }
                for d in range(365)
            ],
        )
    posts: list[tuple[int, str, datetime]] = []

    def post_rows() -> Iterator[dict[str, Any]]:
        pid = 0
        for n in names:
            for k in range(posts_per_channel):
                pid += 1
                published = start + timedelta(seconds=rng.uniform(0, 365 * 86400))
                failed = rng.random() < 0.01
                late = timedelta(minutes=rng.choice([0, 0, 0, 2, 5, 40]))
                day = min(364, (published - start).days)
                if not failed:
                    posts.append((pid, platform_of[n], published))
                yield {
                    "id": pid,
                    "release_id": f"rel-{day:03d}",
                    "channel": n,
                    "platform": platform_of[n],
                    "seq": k,
                    "part_index": 1,
                    "part_total": 1,
                    "release_revision": 1,
                    "state": PostState.FAILED if failed else PostState.PUBLISHED,
                    "text": f"Post {pid} on {n}: " + "lorem ipsum dolor sit amet " * 6,
                    "payload": {},
                    "idempotency_key": f"bench-{pid}",
                    "planned_at": published - late,
                    "due_at": published - late,
                    "attempts": 2 if late > timedelta(minutes=30) else 1,
                    "remote_id": None if failed else f"r{pid}",
                    "remote_url": None if failed else f"https://social.example/{n}/{pid}",
                    "remote_data": {},
                    "publish_state": {},
                    "published_at": None if failed else published,
                    "last_error": "ContentRejected: text too long" if failed else None,
                    "next_metrics_at": None,
                    "created_at": published - late,
                    "updated_at": published,
                }

    with engine.begin() as conn:
        for batch in _chunks(post_rows()):
            conn.execute(insert(Post), batch)
            counts["posts"] += len(batch)

    # Snapshots go through the driver's executemany with ready values: at a million rows
    # the per-row type processing of the ORM layer would dominate the set-up time.
    sqlite = engine.dialect.name == "sqlite"
    mark = "?" if engine.dialect.paramstyle == "qmark" else "%s"
    columns = ("post_id", "taken_at", *METRIC_COLUMNS, "raw")
    sql = (
        f"INSERT INTO metric_snapshots ({', '.join(columns)}) "
        f"VALUES ({', '.join([mark] * len(columns))})"
    )

    def snapshot_rows() -> Iterator[tuple[Any, ...]]:
        for pid, platform, published in posts:
            names_reported = reported[platform]
            if not names_reported:
                continue
            appeal = 1 + (pid % 97) / 25
            for age in chosen_ages:
                taken = published + age
                if taken > end:
                    break
                views = int(appeal * 40 * (age.total_seconds() / 60) ** 0.5)
                values = {
                    "views": views,
                    "reach": int(views * 0.8),
                    "likes": views // 25,
                    "reposts": views // 100,
                    "replies": views // 200,
                    "quotes": views // 500,
                    "bookmarks": views // 300,
                    "shares": views // 150,
                    "link_clicks": views // 50,
                }
                naive = taken.astimezone(UTC).replace(tzinfo=None)
                # the same text SQLAlchemy stores for SQLite datetimes (with microseconds)
                stamp: Any = naive.strftime("%Y-%m-%d %H:%M:%S.%f") if sqlite else naive
                metrics = (values[m] if m in names_reported else None for m in METRIC_COLUMNS)
                yield (pid, stamp, *metrics, "{}")

    with engine.begin() as conn:
        for rows in _chunks(snapshot_rows()):
            conn.exec_driver_sql(sql, rows)
            counts["snapshots"] += len(rows)
    if engine.dialect.name == "postgresql":
        with engine.connect() as conn:
            conn.execution_options(isolation_level="AUTOCOMMIT").execute(text("ANALYZE"))
    else:
        with engine.begin() as conn:
            conn.execute(text("ANALYZE"))
    counts["seconds"] = round(time.perf_counter() - began, 1)
    return counts


def measure(url: str, out_dir: Path, repeats: int) -> dict[str, Any]:
    """Runs in the child process: times aggregation and the whole report, with memory."""
    import resource
    import tracemalloc

    from dissem.reports.figures import build_week_figures
    from dissem.reports.weekly import IsoWeek, generate_report
    from dissem.settings import Settings
    from dissem.store.db import make_session_factory, transaction

    engine = make_engine(url)
    factory = make_session_factory(engine)
    settings = Settings(database_url=url, timezone=TZ, report_dir=out_dir)
    start, end = IsoWeek.parse(WEEK).bounds(TZ)
    aggregation: list[float] = []
    aggregation_cpu: list[float] = []
    figures = None
    for _ in range(repeats):
        t0, c0 = time.perf_counter(), time.process_time()
        with transaction(factory) as session:
            figures = build_week_figures(session, WEEK, start, end, TZ)
        aggregation.append(time.perf_counter() - t0)
        aggregation_cpu.append(time.process_time() - c0)
    assert figures is not None
    whole: list[float] = []
    whole_cpu: list[float] = []
    for i in range(repeats):
        t0, c0 = time.perf_counter(), time.process_time()
        result = generate_report(factory, settings, WEEK, now=REPORT_AT, out_dir=out_dir / str(i))
        whole.append(time.perf_counter() - t0)
        whole_cpu.append(time.process_time() - c0)
    # memory in a run of its own: tracemalloc slows Python down about twice
    tracemalloc.start()
    generate_report(factory, settings, WEEK, now=REPORT_AT, out_dir=out_dir / "traced")
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    engine.dispose()
    return {
        "week_posts": figures.summary.posts,
        "week_channels": figures.summary.channels_active,
        "week_engagement": figures.summary.engagement,
        "aggregation_s": sorted(aggregation),
        "report_s": sorted(whole),
        "aggregation_cpu_s": sorted(aggregation_cpu),
        "report_cpu_s": sorted(whole_cpu),
        "tracemalloc_peak_mb": peak / 2**20,
        "ru_maxrss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
        "files_kb": {f: p.stat().st_size // 1024 for f, p in result.files.items()},
    }


def run_one(label: str, url: str, args: argparse.Namespace, tmp: Path) -> None:
    engine = make_engine(url)
    upgrade(engine)
    counts = generate(engine, args.channels, args.posts_per_channel, args.snapshots_per_post)
    engine.dispose()
    print(
        f"[{label}] generated {counts['channels']} channels, {counts['posts']:,} posts, "
        f"{counts['snapshots']:,} snapshots in {counts['seconds']} s",
        flush=True,
    )
    child = subprocess.run(
        [sys.executable, __file__, "--measure", url, "--out", str(tmp / label),
         "--repeats", str(args.repeats)],
        check=True, capture_output=True, text=True,
    )  # fmt: skip
    m = json.loads(child.stdout.strip().splitlines()[-1])

    def best_median(key: str) -> str:
        values = m[key]
        return f"best {values[0]:.3f} s, median {values[len(values) // 2]:.3f} s"

    print(
        f"[{label}] week {WEEK}: {m['week_posts']:,} posts on {m['week_channels']} channels, "
        f"engagement {m['week_engagement']:,}\n"
        f"[{label}] aggregation (SQL, latest snapshot per post), {len(m['aggregation_s'])} runs:"
        f" wall {best_median('aggregation_s')}; this process's CPU "
        f"{best_median('aggregation_cpu_s')}\n"
        f"[{label}] whole report (aggregation + HTML + CSV + XLSX): wall "
        f"{best_median('report_s')}; CPU {best_median('report_cpu_s')}\n"
        f"[{label}] peak memory: tracemalloc {m['tracemalloc_peak_mb']:.1f} MiB, "
        f"ru_maxrss {m['ru_maxrss_mb']:.1f} MiB (report process); files {m['files_kb']} KiB",
        flush=True,
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--pg-url", default=os.environ.get("DISSEM_TEST_DATABASE_URL"))
    parser.add_argument("--channels", type=int, default=1000)
    parser.add_argument("--posts-per-channel", type=int, default=57)
    parser.add_argument("--snapshots-per-post", type=int, default=20)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--skip-sqlite", action="store_true")
    parser.add_argument("--measure", help=argparse.SUPPRESS)
    parser.add_argument("--out", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.measure:
        print(json.dumps(measure(args.measure, Path(args.out), args.repeats)))
        return
    with tempfile.TemporaryDirectory(prefix="dissem-bench-") as tmp_name:
        tmp = Path(tmp_name)
        if not args.skip_sqlite:
            run_one("sqlite", f"sqlite:///{tmp / 'bench.db'}", args, tmp)
        if args.pg_url:
            admin_url = normalise_url(args.pg_url)
            name = f"dissem_bench_{uuid.uuid4().hex[:10]}"
            admin = make_engine(admin_url, isolation_level="AUTOCOMMIT")
            with admin.connect() as conn:
                conn.execute(text(f'CREATE DATABASE "{name}"'))
            try:
                url = make_url(admin_url).set(database=name).render_as_string(False)
                run_one("postgresql", url, args, tmp)
            finally:
                with admin.connect() as conn:
                    conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
                admin.dispose()
        else:
            print("[postgresql] skipped: pass --pg-url or set DISSEM_TEST_DATABASE_URL")


if __name__ == "__main__":
    main()
