"""The metrics history at the issue's full size: a simulated year, its size and the weekly report.

Issue 15 (Figures, "Metrics history"): 1,000 channels x 5 posts a day x 365 days = 1,825,000
published posts, each with snapshots on dissem's default collection grid
(``DISSEM_METRICS_SCHEDULE=1h@1d,6h@7d,1d@30d``: 71 grid ages, see
:mod:`dissem.metrics.schedule`), taken exactly at each grid time up to the report time. Telegram
reports no metrics (its declaration), so its channels (1 in 8) publish but collect nothing,
as a real collector does.

For each database (PostgreSQL: a database created for the run and dropped after it; SQLite: a
temp file), the history is generated *in the server* with ``INSERT ... SELECT`` over small
helper tables (channels, days, slots of the day, the grid), never row by row in Python:

1. **proof** on a slice (8 channels, one per platform, 2 posts a day for the whole year): the
   raw grid is generated, the real :func:`dissem.metrics.compact.compact_once` runs with
   ``hourly@7d,daily@90d,final``, and the rows it leaves are compared with what the direct
   generator of step 2 writes for the same slice (``EXCEPT`` both ways: both must be empty);
2. **compacted year**: what compaction leaves at the report time, generated directly (raw grid
   for posts under 7 days, the last snapshot of each day of age under 90 days, then only the
   snapshots every reader needs: final, the one its week's report reads, the one learned timing
   reads); rows, ``pg_total_relation_size`` of ``metric_snapshots`` and ``posts``, the database
   size (SQLite: the file);
3. the real weekly report (:func:`dissem.reports.weekly.generate_report`, what ``dissem report``
   runs: figures + HTML + CSV + XLSX) for the last week and a week in the middle of the year,
   timed (wall and this process's CPU), target < 10 s;
4. **raw, without compaction**: the exact row count of the raw year is counted from the same
   generator; the raw rows of one month at full rate (posts of 30 days, every grid age taken)
   are written and measured, and the year's size extrapolated from the bytes a row they take
   (``--raw-year`` writes the whole raw year instead, when disk and time allow).

Nothing is written into the repository: the SQLite file and the reports live in a temp dir.
Run: ``.venv/bin/python benchmarks/scale_metrics.py [--quick] [--pg-url URL] [--skip-sqlite]
[--sqlite-channels N] [--raw-year] [--keep-db] [--retime-db NAME]``;
``DISSEM_TEST_DATABASE_URL`` names the server when ``--pg-url`` is not given. ``--quick``: 40
channels (1/25 of the size) on both databases. ``--keep-db`` keeps PostgreSQL's year database
(its name is printed); ``--retime-db NAME`` then only times the reports on it again.
"""

from __future__ import annotations

import argparse
import os
import shutil
import sqlite3
import tempfile
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import Engine, text
from sqlalchemy.engine import make_url

from dissem.config.models import PLATFORMS
from dissem.metrics.schedule import parse_schedule
from dissem.retention import parse_retention
from dissem.store.db import make_engine, make_session_factory, normalise_url
from dissem.store.migrate import upgrade
from dissem.store.models import METRIC_COLUMNS
from dissem.timing.history import ENGAGEMENT
from dissem.timing.model import Params
from dissem.traits import traits_for

TZ = "Asia/Jakarta"
#: the report runs on Monday 30 Nov 2026 08:00 in Jakarta (as in benchmarks/report.py)
REPORT_AT = datetime(2026, 11, 30, 1, 0, tzinfo=UTC)
WEEKS = ("2026-W48", "2026-W22")  # the last complete week and one in the middle of the year
SCHEDULE = "1h@1d,6h@7d,1d@30d"  # the default DISSEM_METRICS_SCHEDULE
RULE = "hourly@7d,daily@90d,final"  # the rule docs/scaling.md recommends
DAYS = 365
POSTS_A_DAY = 5
CHANNELS = 1000
#: the 1/32 run of docs/scaling.md (benchmarks/report.py's generator, compacted), PostgreSQL
BASELINE = "1/32 baseline (docs/scaling.md): 968,111 -> 255,511 rows, 40 MB table, report 1.99 s"


@dataclass(frozen=True)
class Size:
    channels: int
    days: int
    posts_a_day: int

    @property
    def posts(self) -> int:
        return self.channels * self.days * self.posts_a_day


def _epoch(at: datetime) -> int:
    return int(at.timestamp())


def _offset_seconds() -> int:
    """The zone's UTC offset, which the SQL assumes fixed over the year (Asia/Jakarta: WIB,
    UTC+7, no daylight saving; checked here, not assumed)."""
    zone = ZoneInfo(TZ)
    offsets = {
        zone.utcoffset((REPORT_AT - timedelta(days=d)).replace(tzinfo=None)) for d in range(400)
    }
    assert len(offsets) == 1, f"{TZ} changes its offset within the year: {offsets}"
    only = offsets.pop()
    assert only is not None
    return int(only.total_seconds())


def _ts(dialect: str, seconds: str) -> str:
    """SQL for the naive UTC timestamp of epoch ``seconds`` (as dissem stores datetimes)."""
    if dialect == "postgresql":
        return f"(TIMESTAMP '1970-01-01 00:00:00' + ({seconds}) * INTERVAL '1 second')"
    # SQLAlchemy's SQLite DateTime text, microseconds included (string comparisons need it)
    return f"(strftime('%Y-%m-%d %H:%M:%S', {seconds}, 'unixepoch') || '.000000')"


def _json(dialect: str) -> str:
    return "CAST('{}' AS JSON)" if dialect == "postgresql" else "'{}'"


def _helpers(engine: Engine, size: Size) -> None:
    """Small tables the generator crosses: channels, days, slots of a day, the grid."""
    ages = [int(a.total_seconds()) for a in parse_schedule(SCHEDULE).grid_ages()]
    with engine.begin() as conn:
        for table in ("bench_ch", "bench_day", "bench_slot", "bench_grid", "bench_expect"):
            conn.execute(text(f"DROP TABLE IF EXISTS {table}"))
        flags = ", ".join(f"r_{m} INTEGER" for m in METRIC_COLUMNS)
        conn.execute(
            text(
                f"CREATE TABLE bench_ch (c BIGINT PRIMARY KEY, name VARCHAR(64), "
                f"platform VARCHAR(16), collects INTEGER, engaged INTEGER, {flags})"
            )
        )
        conn.execute(text("CREATE TABLE bench_day (d BIGINT PRIMARY KEY)"))
        conn.execute(text("CREATE TABLE bench_slot (k BIGINT PRIMARY KEY)"))
        conn.execute(text("CREATE TABLE bench_grid (age BIGINT PRIMARY KEY, nxt BIGINT)"))
        rows = []
        for c in range(size.channels):
            platform = PLATFORMS[c % len(PLATFORMS)]
            reported = traits_for(platform).metrics
            row: dict[str, Any] = {
                "c": c,
                "name": f"ch{c:05d}",
                "platform": platform,
                "collects": int(bool(reported)),
                "engaged": int(any(m in reported for m in ENGAGEMENT)),
            }
            row.update({f"r_{m}": int(m in reported) for m in METRIC_COLUMNS})
            rows.append(row)
        cols = list(rows[0])
        conn.execute(
            text(
                f"INSERT INTO bench_ch ({', '.join(cols)}) "
                f"VALUES ({', '.join(':' + c for c in cols)})"
            ),
            rows,
        )
        conn.execute(
            text("INSERT INTO bench_day (d) VALUES (:d)"), [{"d": d} for d in range(size.days)]
        )
        conn.execute(
            text("INSERT INTO bench_slot (k) VALUES (:k)"),
            [{"k": k} for k in range(size.posts_a_day)],
        )
        conn.execute(
            text("INSERT INTO bench_grid (age, nxt) VALUES (:age, :nxt)"),
            [
                {"age": a, "nxt": ages[i + 1] if i + 1 < len(ages) else None}
                for i, a in enumerate(ages)
            ],
        )


def _post_select(size: Size, days: tuple[int, int] | None = None) -> str:
    """One row per post: id, channel row, its publication epoch ``p`` and its day/slot.

    Post times: slot ``k`` of day ``d`` in the ``k``-th fifth of the day, at a spread offset
    (so posts fall on every hour of the day and week). ``days`` limits the posts' days."""
    start = _epoch(REPORT_AT) - size.days * 86400
    span = 86400 // size.posts_a_day
    where = "" if days is None else f"WHERE dd.d BETWEEN {days[0]} AND {days[1]}"
    return (
        f"SELECT 1 + (ch.c * {size.days} + dd.d) * {size.posts_a_day} + s.k AS id, "
        f"ch.*, dd.d AS d, s.k AS k, "
        f"{start} + dd.d * 86400 + s.k * {span} "
        f"+ (ch.c * 7919 + dd.d * 104729 + s.k * 31337) % {span} AS p "
        f"FROM bench_ch ch CROSS JOIN bench_day dd CROSS JOIN bench_slot s {where}"
    )


def _insert_posts(engine: Engine, size: Size) -> None:
    dialect = engine.dialect.name
    ts = _ts(dialect, "p")
    late = "(CASE WHEN id % 7 = 0 THEN 300 WHEN id % 50 = 0 THEN 2400 ELSE 0 END)"
    planned = _ts(dialect, f"p - {late}")
    with engine.begin() as conn:
        conn.execute(
            text(
                "INSERT INTO channels (name, platform, account, timezone, enabled, config_hash, "
                "config, removed, updated_at) "
                f"SELECT name, platform, '@' || name, '{TZ}', TRUE, 'h', {_json(dialect)}, "
                f"FALSE, {_ts(dialect, str(_epoch(REPORT_AT) - size.days * 86400))} "
                "FROM bench_ch"
            )
        )
        rel = "'rel-' || CAST(dd.d AS TEXT) || '-' || CAST(s.k AS TEXT)"
        conn.execute(
            text(
                "INSERT INTO releases (id, title, url, language, status, priority, source, "
                "content_hash, revision, deleted, data, created_at, updated_at) "
                f"SELECT {rel}, 'Release ' || {rel}, 'https://portal.example.go.id/' || {rel}, "
                f"'id', 'approved', 'normal', 'bench', 'c', 1, FALSE, {_json(dialect)}, "
                f"{_ts(dialect, str(_epoch(REPORT_AT)))}, {_ts(dialect, str(_epoch(REPORT_AT)))} "
                "FROM bench_day dd CROSS JOIN bench_slot s"
            )
        )
        conn.execute(
            text(
                "INSERT INTO posts (id, release_id, channel, platform, seq, part_index, "
                "part_total, release_revision, state, text, payload, idempotency_key, "
                "planned_at, due_at, attempts, remote_id, remote_url, remote_data, "
                "publish_state, published_at, created_at, updated_at) "
                "SELECT id, 'rel-' || CAST(d AS TEXT) || '-' || CAST(k AS TEXT), name, "
                "platform, 0, 1, 1, 1, 'published', "
                "'Post ' || CAST(id AS TEXT) || ' on ' || name || ': lorem ipsum dolor sit "
                "amet, consectetur adipiscing elit, sed do eiusmod tempor incididunt', "
                f"{_json(dialect)}, 'bench-' || CAST(id AS TEXT), {planned}, {planned}, "
                f"CASE WHEN id % 50 = 0 THEN 2 ELSE 1 END, 'r' || CAST(id AS TEXT), "
                f"'https://social.example/' || name || '/' || CAST(id AS TEXT), "
                f"{_json(dialect)}, {_json(dialect)}, {ts}, {planned}, {ts} "
                f"FROM ({_post_select(size)}) AS q"
            )
        )


def _snapshot_select(size: Size, compacted: bool, days: tuple[int, int] | None = None) -> str:
    """``(post_id, taken_at epoch, metrics...)`` of every snapshot a collector takes by the
    report time; with ``compacted``, only those :mod:`dissem.metrics.compact` keeps.

    What compaction keeps (see its module doc): the final snapshot; the latest taken at or
    before the end of the local ISO week holding the post; the snapshots aged ``Params.age``
    to twice that, up to and including the first that reports engagement; then by the post's
    age now: under the first span the last snapshot of each grain of snapshot age, and so on;
    past the last span nothing more."""
    now = _epoch(REPORT_AT)
    off = _offset_seconds()
    params = Params()
    t_lo, t_hi = int(params.age.total_seconds()), int(2 * params.age.total_seconds())
    ages = [int(a.total_seconds()) for a in parse_schedule(SCHEDULE).grid_ages()]
    t_first = min(a for a in ages if a >= t_lo)  # the first a collector takes at that age
    rule = parse_retention(RULE)
    assert rule is not None
    # the end (UTC epoch) of the local ISO week holding p: 1970-01-01 was a Thursday
    local_day = f"((p + {off}) / 86400)"
    week_end = f"(({local_day} - ({local_day} + 3) % 7 + 7) * 86400 - {off})"
    last = "(g.nxt IS NULL OR g.nxt > q.a)"
    keep = [
        last,
        "(g.age <= q.wk AND (g.nxt IS NULL OR g.nxt > q.wk OR g.nxt > q.a))",
        # learned timing: from Params.age, every snapshot until the first engaged one
        f"(g.age BETWEEN {t_lo} AND {t_hi} AND (q.engaged = 0 OR g.age <= {t_first}))",
    ]
    lower = 0
    for grain, span in rule.tiers:
        in_tier = f"q.a >= {lower} AND q.a < {int(span.total_seconds())}"
        if grain is None:
            keep.append(f"({in_tier})")
        else:
            g_s = int(grain.total_seconds())
            keep.append(f"({in_tier} AND ({last} OR g.nxt / {g_s} <> g.age / {g_s}))")
        lower = int(span.total_seconds())
    views = "((100 + q.id % 97 * 4) * (10 + g.age / 3600) / 10)"
    shares = {
        "views": views,
        "reach": f"({views} * 4 / 5)",
        "likes": f"({views} / 25)",
        "reposts": f"({views} / 100)",
        "replies": f"({views} / 200)",
        "quotes": f"({views} / 500)",
        "bookmarks": f"({views} / 300)",
        "shares": f"({views} / 150)",
        "link_clicks": f"({views} / 50)",
    }
    metrics = ", ".join(
        f"CASE WHEN q.r_{m} = 1 THEN {shares[m]} END AS {m}" for m in METRIC_COLUMNS
    )
    where = f"({' OR '.join(keep)})" if compacted else "1 = 1"
    return (
        f"SELECT q.id AS post_id, q.p + g.age AS t, {metrics} "
        f"FROM (SELECT b.*, {now} - b.p AS a, {week_end} - b.p AS wk "
        f"FROM ({_post_select(size, days)}) AS b WHERE b.collects = 1) AS q "
        f"JOIN bench_grid g ON g.age <= q.a WHERE {where}"
    )


def _insert_snapshots(
    engine: Engine, size: Size, compacted: bool, days: tuple[int, int] | None = None
) -> int:
    dialect = engine.dialect.name
    cols = ", ".join(METRIC_COLUMNS)
    with engine.begin() as conn:  # ids in collection order, as a collector writes them
        result = conn.execute(
            text(
                f"INSERT INTO metric_snapshots (post_id, taken_at, {cols}, raw) "
                f"SELECT post_id, {_ts(dialect, 't')}, {cols}, {_json(dialect)} "
                f"FROM ({_snapshot_select(size, compacted, days)}) AS z ORDER BY t, post_id"
            )
        )
        return int(result.rowcount)


def _count(engine: Engine, size: Size, compacted: bool) -> int:
    with engine.connect() as conn:
        sql = f"SELECT COUNT(*) FROM ({_snapshot_select(size, compacted)}) AS z"
        return int(conn.scalar(text(sql)) or 0)


def _analyze(engine: Engine) -> None:
    with engine.connect() as conn:
        if engine.dialect.name == "postgresql":
            conn = conn.execution_options(isolation_level="AUTOCOMMIT")
            conn.execute(text("VACUUM ANALYZE"))
        else:
            conn.execute(text("ANALYZE"))
            conn.commit()


def _sizes(engine: Engine, url: str) -> str:
    if engine.dialect.name == "postgresql":
        with engine.connect() as conn:
            snaps, posts, whole = conn.execute(
                text(
                    "SELECT pg_total_relation_size('metric_snapshots'), "
                    "pg_total_relation_size('posts'), pg_database_size(current_database())"
                )
            ).one()
        return (
            f"metric_snapshots {mib(snaps)}, posts {mib(posts)} (tables with indexes), "
            f"database {mib(whole)}"
        )
    path = url.removeprefix("sqlite:///")
    raw = sqlite3.connect(path, isolation_level=None)
    try:  # dbstat: the pages of each table and index (when SQLite is built with it)
        pages = dict(raw.execute("SELECT name, SUM(pgsize) FROM dbstat GROUP BY name"))
    except sqlite3.OperationalError:
        pages = {}
    finally:
        raw.close()
    file = Path(path).stat().st_size
    if not pages:
        return f"file {mib(file)}"

    def table(name: str) -> int:
        return sum(v for k, v in pages.items() if k == name or k.startswith(f"ix_{name}_"))

    return (
        f"metric_snapshots {mib(table('metric_snapshots'))}, posts {mib(table('posts'))} "
        f"(tables with indexes, dbstat), file {mib(file)}"
    )


def mib(n: int | float) -> str:
    return f"{n / 2**20:,.0f} MiB"


def time_reports(url: str, out: Path) -> list[str]:
    """The real weekly report of each of :data:`WEEKS`: figures alone, then the whole report
    (figures + HTML + CSV + XLSX), wall and CPU seconds."""
    from dissem.reports.figures import build_week_figures
    from dissem.reports.weekly import IsoWeek, generate_report
    from dissem.settings import Settings
    from dissem.store.db import transaction

    engine = make_engine(url)
    factory = make_session_factory(engine)
    settings = Settings(
        _env_file=None,
        database_url=url,
        timezone=TZ,
        report_dir=out,
        metrics_retention=RULE,
    )
    lines = []
    for week in WEEKS:
        start, end = IsoWeek.parse(week).bounds(TZ)
        t0, c0 = time.perf_counter(), time.process_time()
        with transaction(factory) as session:
            figures = build_week_figures(session, week, start, end, TZ, now=REPORT_AT)
        fig_wall, fig_cpu = time.perf_counter() - t0, time.process_time() - c0
        t0, c0 = time.perf_counter(), time.process_time()
        result = generate_report(factory, settings, week, now=REPORT_AT, out_dir=out / week)
        wall, cpu = time.perf_counter() - t0, time.process_time() - c0
        kib = {f: p.stat().st_size // 1024 for f, p in result.files.items()}
        lines.append(
            f"  report {week}: {figures.summary.posts:,} posts on "
            f"{figures.summary.channels_active} channels; figures {fig_wall:.2f} s wall "
            f"({fig_cpu:.2f} s CPU); whole report (figures + HTML + CSV + XLSX) {wall:.2f} s "
            f"wall ({cpu:.2f} s CPU), target < 10 s; files {kib} KiB"
        )
        print(lines[-1], flush=True)
    engine.dispose()
    return lines


def prove(url: str) -> list[str]:
    """The direct generator writes exactly what the real compaction leaves (a slice)."""
    from dissem.metrics.compact import compact_once
    from dissem.settings import Settings

    size = Size(len(PLATFORMS), DAYS, 2)
    engine = make_engine(url)
    upgrade(engine)
    _helpers(engine, size)
    _insert_posts(engine, size)
    raw = _insert_snapshots(engine, size, compacted=False)
    dialect = engine.dialect.name
    with engine.begin() as conn:
        conn.execute(text("CREATE TABLE bench_expect (post_id BIGINT, taken_at TIMESTAMP)"))
        if dialect == "sqlite":  # a text column: compare the stored text as it is
            conn.execute(text("DROP TABLE bench_expect"))
            conn.execute(text("CREATE TABLE bench_expect (post_id INTEGER, taken_at TEXT)"))
        conn.execute(
            text(
                f"INSERT INTO bench_expect SELECT post_id, {_ts(dialect, 't')} "
                f"FROM ({_snapshot_select(size, compacted=True)}) AS z"
            )
        )
    _analyze(engine)
    settings = Settings(
        _env_file=None,
        database_url=url,
        timezone=TZ,
        metrics_retention=RULE,
    )
    t0 = time.perf_counter()
    stats = compact_once(make_session_factory(engine), settings, REPORT_AT)
    took = time.perf_counter() - t0
    with engine.connect() as conn:
        kept = conn.scalar(text("SELECT COUNT(*) FROM metric_snapshots"))
        expected = conn.scalar(text("SELECT COUNT(*) FROM bench_expect"))
        extra = conn.scalar(
            text(
                "SELECT COUNT(*) FROM (SELECT post_id, taken_at FROM metric_snapshots "
                "EXCEPT SELECT post_id, taken_at FROM bench_expect) AS x"
            )
        )
        missing = conn.scalar(
            text(
                "SELECT COUNT(*) FROM (SELECT post_id, taken_at FROM bench_expect "
                "EXCEPT SELECT post_id, taken_at FROM metric_snapshots) AS x"
            )
        )
    engine.dispose()
    same = extra == 0 and missing == 0 and kept == expected
    line = (
        f"  proof on a slice ({size.channels} channels, {size.posts_a_day} posts a day, "
        f"{size.days} days: {size.posts:,} posts): raw {raw:,} -> compact_once {kept:,} kept "
        f"({stats.deleted:,} deleted, {took:.1f} s); direct generator {expected:,}; rows only "
        f"in compaction's result {extra}, only in the generator's {missing}: "
        f"{'IDENTICAL' if same else 'DIFFERENT'}"
    )
    print(line, flush=True)
    if not same:
        raise SystemExit("the direct generator does not write what compaction leaves")
    return [line]


def year(url: str, size: Size, out: Path, raw_year: bool, raw: bool = True) -> list[str]:
    engine = make_engine(url)
    upgrade(engine)
    _helpers(engine, size)
    lines: list[str] = []
    t0 = time.perf_counter()
    _insert_posts(engine, size)
    t_posts = time.perf_counter() - t0
    t0 = time.perf_counter()
    rows = _insert_snapshots(engine, size, compacted=True)
    t_snaps = time.perf_counter() - t0
    t0 = time.perf_counter()
    _analyze(engine)
    t_analyze = time.perf_counter() - t0
    lines.append(
        f"  compacted year ({RULE}): {size.posts:,} posts ({t_posts:.0f} s), {rows:,} snapshots "
        f"({t_snaps:.0f} s), analyze {t_analyze:.0f} s; {_sizes(engine, url)}"
    )
    print(lines[-1], flush=True)
    engine.dispose()
    lines += time_reports(url, out)
    if not raw:
        return lines
    engine = make_engine(url)
    t0 = time.perf_counter()
    raw_rows = _count(engine, size, compacted=False)
    lines.append(
        f"  raw year (no compaction): {raw_rows:,} snapshots (counted from the generator, "
        f"{time.perf_counter() - t0:.0f} s); {raw_rows / max(rows, 1):.1f}x the compacted rows"
    )
    print(lines[-1], flush=True)
    with engine.begin() as conn:  # no dead rows left behind to count in the sizes
        conn.execute(text("DELETE FROM metric_snapshots"))
    if engine.dialect.name == "postgresql":
        with engine.connect() as conn:
            conn.execution_options(isolation_level="AUTOCOMMIT").execute(
                text("VACUUM FULL metric_snapshots")
            )
    else:
        raw_conn = sqlite3.connect(url.removeprefix("sqlite:///"), isolation_level=None)
        raw_conn.execute("VACUUM")
        raw_conn.close()
    if raw_year:
        days, label = None, "the whole raw year"
    else:  # the posts of 30 days whose grids are complete by the report time
        days, label = (size.days - 61, size.days - 32), "raw month (posts of 30 days, full grids)"
    t0 = time.perf_counter()
    written = _insert_snapshots(engine, size, compacted=False, days=days)
    took = time.perf_counter() - t0
    _analyze(engine)
    sizes = _sizes(engine, url)
    lines.append(f"  {label}: {written:,} snapshots in {took:.0f} s; {sizes}")
    print(lines[-1], flush=True)
    if days is not None and engine.dialect.name == "postgresql":
        with engine.connect() as conn:
            snaps = int(conn.scalar(text("SELECT pg_total_relation_size('metric_snapshots')")))
        per_row = snaps / max(written, 1)
        lines.append(
            f"  raw year extrapolated: {raw_rows:,} rows x {per_row:.0f} bytes a row "
            f"(table and indexes, as measured on the month) = {mib(raw_rows * per_row)}"
        )
        print(lines[-1], flush=True)
    engine.dispose()
    return lines


@contextmanager
def pg_database(admin_url: str, tag: str, keep: bool = False) -> Iterator[str]:
    name = f"dissem_bench_year_{tag}_{uuid.uuid4().hex[:8]}"
    admin = make_engine(normalise_url(admin_url), isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        yield make_url(normalise_url(admin_url)).set(database=name).render_as_string(False)
    finally:
        if keep:
            print(f"kept database {name}: drop it with DROP DATABASE", flush=True)
        else:
            with admin.connect() as conn:
                conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--pg-url", default=os.environ.get("DISSEM_TEST_DATABASE_URL"))
    parser.add_argument("--quick", action="store_true", help="40 channels instead of 1,000")
    parser.add_argument("--skip-sqlite", action="store_true")
    parser.add_argument("--skip-pg", action="store_true")
    parser.add_argument("--sqlite-channels", type=int, default=100, help="default: 1/10")
    parser.add_argument("--raw-year", action="store_true", help="write the whole raw year")
    parser.add_argument("--no-raw", action="store_true", help="skip the raw (uncompacted) part")
    parser.add_argument("--keep-db", action="store_true", help="keep PostgreSQL's year database")
    parser.add_argument(
        "--retime-db",
        metavar="NAME",
        help="only time the reports again on a year database kept by --keep-db (PostgreSQL)",
    )
    args = parser.parse_args()
    channels = 40 if args.quick else CHANNELS
    free = shutil.disk_usage(tempfile.gettempdir()).free
    print(f"free disk {mib(free)}; {BASELINE}", flush=True)
    if args.raw_year and free < 40 * 2**30:
        raise SystemExit("--raw-year needs about 40 GiB free (about 25 GB of rows and indexes)")
    began = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="dissem-year-") as tmp_name:
        tmp = Path(tmp_name)
        if args.retime_db:
            if not args.pg_url:
                raise SystemExit("--retime-db needs --pg-url or DISSEM_TEST_DATABASE_URL")
            url = make_url(normalise_url(args.pg_url)).set(database=args.retime_db)
            print(f"[postgresql] re-timing the reports on {args.retime_db}", flush=True)
            time_reports(url.render_as_string(False), tmp / "pg")
        elif args.pg_url and not args.skip_pg:
            size = Size(channels, DAYS, POSTS_A_DAY)
            print(f"[postgresql] {size.channels} channels x {size.posts_a_day} a day", flush=True)
            with pg_database(args.pg_url, "proof") as url:
                prove(url)
            with pg_database(args.pg_url, "main", args.keep_db) as url:
                year(url, size, tmp / "pg", args.raw_year, not args.no_raw)
        elif not args.skip_pg:
            print("[postgresql] skipped: pass --pg-url or set DISSEM_TEST_DATABASE_URL")
        if not args.skip_sqlite:
            size = Size(min(channels, args.sqlite_channels), DAYS, POSTS_A_DAY)
            print(f"[sqlite] {size.channels} channels x {size.posts_a_day} a day", flush=True)
            prove(f"sqlite:///{tmp / 'proof.db'}")
            url = f"sqlite:///{tmp / 'year.db'}"
            year(url, size, tmp / "sqlite", args.raw_year, not args.no_raw)
    print(f"total {time.perf_counter() - began:.0f} s", flush=True)


if __name__ == "__main__":
    main()
