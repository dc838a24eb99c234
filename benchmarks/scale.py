"""Scale benchmarks (issue 15): each figure printed beside its target and a baseline
measured in the same run.

Sections:

- ``config``: a config of 10,000 channels in a ``channels/`` folder (125 representations of
  80 channels on all eight platforms, one file each) and 1,000 releases, generated into a
  temporary folder; baseline: the example config (21 channels, 6 releases).
  ``validate`` as a process (target < 5 s; its CPU time beside it, as the wall time of a
  busy machine waits for a core), a sync that changes nothing in a worker that synced
  before (target < 2 s; beside it the same sync in a fresh process), and the peak RSS of
  a process that loads and syncs it (target < 300 MB). Each release is approved and
  targets 8 channels of one representation (8,000 posts), so the no-op sync also walks
  that many posts;
- ``release``: one new release to a group of 1,000 channels on the synced 10,000-channel
  config: the sync that composes and plans it, minus the no-op sync measured just before
  (target < 1 s), in a process that has composed before (the first compositions of a
  process compile link patterns and templates: printed on their own), with this
  process's CPU time beside the wall time;
- ``compose``: compositions beside the floor of only rendering their templates
  (``benchmarks/compose.py``'s set; target within 10x of the floor).

Part B's sections (``queue``, ``metrics``, ``workers``) come from
``benchmarks/scale_queue.py`` when it is there. Databases: SQLite, and PostgreSQL when
``DISSEM_TEST_DATABASE_URL`` is set (an admin URL: a scratch database is made for the run
and dropped after it).

Run: ``.venv/bin/python benchmarks/scale.py [--quick] [--only config,release,compose]``.
"""

from __future__ import annotations

import argparse
import os
import resource
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from dispatch import database

import dissem
from dissem.settings import Settings
from dissem.store.db import make_engine, make_session_factory
from dissem.worker.sync import sync

EXAMPLE = Path(dissem.__file__).parent / "example"
PYTHON = sys.executable
#: Monday 30 November 2026, 09:00 in Jakarta.
NOW = datetime(2026, 11, 30, 2, 0, tzinfo=UTC)
PER_FILE = 80  # channels per representation: 10 accounts on each of 8 platforms
_PLATFORMS = {
    "x": ("@rep{r}_x{i}", "oauth2_user_token"),
    "mastodon": ("@rep{r}_{i}@social.example", "access_token"),
    "bluesky": ("rep{r}-{i}.bsky.example", "app_password"),
    "facebook": ("1000{r:04d}{i:04d}", "page_token"),
    "instagram": ("1784{r:04d}{i:04d}", "access_token"),
    "threads": ("2700{r:04d}{i:04d}", "access_token"),
    "linkedin": ("urn:li:organization:{r}{i:04d}", "access_token"),
    "telegram": ("@rep{r}_tg{i}", "bot_token"),
}
_ZONES = ["Europe/Berlin", "Asia/Tokyo", "America/New_York", "Africa/Nairobi", "Asia/Jakarta"]


def ms(seconds: float) -> str:
    return f"{seconds * 1000:8.0f} ms"


def verdict(ok: bool) -> str:
    return "ok" if ok else "MISSED"


# --- generating the config ----------------------------------------------------------------


def rep_file(r: int) -> str:
    """One representation's file: 80 channels, a group of all and a group of 8 (one per
    platform), with its own anchor for shared settings."""
    zone = _ZONES[r % len(_ZONES)]
    lines = [
        "# yaml-language-server: $schema=../schemas/channels.schema.json",
        "x-rep: &rep",
        f"  timezone: {zone}",
        "  language: en",
        "  windows: [mon-fri 08:00-12:00, mon-fri 13:00-19:00, sat 10:00-14:00]",
        "  min_gap: 1h",
        "  daily_cap: 6",
        "  hashtags: [Indonesia]",
        "  utm: {medium: social, source: representation}",
        "channels:",
    ]
    names: list[str] = []
    for i in range(PER_FILE // len(_PLATFORMS)):
        for platform, (account, cred) in _PLATFORMS.items():
            name = f"rep{r:03d}-{platform}-{i}"
            names.append(name)
            env = f"DISSEM_{name.upper().replace('-', '_')}_{cred.upper()}"
            lines += [
                "  - <<: *rep",
                f"    name: {name}",
                f"    platform: {platform}",
                f'    account: "{account.format(r=r, i=i)}"',
                f"    credentials: {{{cred}: {env}}}",
            ]
    main = [n for n in names if n.endswith("-0")]
    lines += ["groups:", f"  rep{r:03d}: [{', '.join(names)}]"]
    lines += [f"  rep{r:03d}-main: [{', '.join(main)}]"]
    return "\n".join(lines) + "\n"


def release_file(i: int, targets: list[str]) -> str:
    return (
        f"title: Release {i} on cooperation, trade and consular services\n"
        f"summary: >-\n  What release {i} is about, in two sentences. Citizens abroad can\n"
        f"  read more on the portal, with the contacts of every representation.\n"
        f"url: https://portal.example/news/{i}\n"
        f"language: en\n"
        f"targets: [{', '.join(targets)}]\n"
        f"status: approved\n"
        f"approved_by: Editor on duty\n"
        f"not_before: 2026-12-0{1 + i % 9} 09:00\n"
    )


def write_config(root: Path, channels: int, releases: int) -> None:
    """``channels`` channels in ``root/channels`` (80 a file), ``releases`` releases each to
    one representation's 8 main channels, and channels.yaml with the groups across files
    (``thousand``: 1,000 channels, for the new-release figure)."""
    reps = channels // PER_FILE
    (root / "channels").mkdir(parents=True)
    (root / "releases").mkdir()
    for r in range(reps):
        (root / "channels" / f"rep{r:03d}.yaml").write_text(rep_file(r), encoding="utf-8")
    thousand = [f"rep{r:03d}" for r in range(min(12, reps))]
    thousand += [f"rep{r:03d}-main" for r in range(12, min(17, reps))]
    (root / "channels.yaml").write_text(
        "groups:\n"
        f"  all: [{', '.join(f'rep{r:03d}' for r in range(reps))}]\n"
        f"  thousand: [{', '.join(thousand)}]\n",
        encoding="utf-8",
    )
    for i in range(releases):
        (root / "releases" / f"r{i:04d}.yaml").write_text(
            release_file(i, [f"rep{i % reps:03d}-main"]), encoding="utf-8"
        )


# --- measuring ------------------------------------------------------------------------------


def validate_seconds(root: Path) -> tuple[float, str, float]:
    """Wall time of ``dissem validate`` as a process (import time included), its line, and
    its CPU time (user + system: on a busy machine the wall time waits for a core)."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    done = subprocess.run(
        [str(Path(PYTHON).parent / "dissem"), "validate", "--config", str(root)],
        capture_output=True,
        text=True,
        check=False,
    )
    took = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = after.ru_utime - before.ru_utime + after.ru_stime - before.ru_stime
    out = (done.stdout.strip().splitlines() or [done.stderr.strip()])[-1]
    return took, out, cpu


_CHILD = """
import sys, time
from datetime import datetime
from pathlib import Path
from dissem.settings import Settings
from dissem.store.db import make_engine, make_session_factory
from dissem.worker.sync import sync
url, root, now = sys.argv[1], Path(sys.argv[2]), datetime.fromisoformat(sys.argv[3])
engine = make_engine(url)
settings = Settings(_env_file=None, database_url=url, config_dir=root, timezone="Asia/Jakarta")
start = time.perf_counter()
result = sync(make_session_factory(engine), settings, now)
took = time.perf_counter() - start
engine.dispose()
# VmHWM, not ru_maxrss: Linux carries ru_maxrss over from the parent through fork and exec
hwm = next(l.split()[1] for l in open("/proc/self/status") if l.startswith("VmHWM:"))
print(hwm, took, len(result.problems))
"""


def child_sync(url: str, root: Path, now: datetime) -> tuple[int, float]:
    """(peak RSS in KiB, seconds) of a fresh process that loads the config and syncs it."""
    done = subprocess.run(
        [PYTHON, "-c", _CHILD, url, str(root), now.isoformat()],
        capture_output=True,
        text=True,
        check=True,
    )
    rss, took, problems = done.stdout.split()
    assert problems == "0", done.stdout
    return int(rss), float(took)


def settings_for(url: str, root: Path) -> Settings:
    return Settings(
        _env_file=None,  # type: ignore[call-arg]
        database_url=url,
        config_dir=root,
        timezone="Asia/Jakarta",
    )


def timed_sync(url: str, root: Path, now: datetime) -> tuple[float, int]:
    """(seconds, posts created) of one sync in this process."""
    engine = make_engine(url)
    try:
        start = time.perf_counter()
        result = sync(make_session_factory(engine), settings_for(url, root), now)
        took = time.perf_counter() - start
    finally:
        engine.dispose()
    assert not result.problems, result.problems[:3]
    return took, result.plan.created


@contextmanager
def scratch() -> Iterator[Path]:
    with tempfile.TemporaryDirectory(prefix="dissem-scale-") as tmp:
        yield Path(tmp)


def kinds() -> list[str]:
    return ["sqlite", "postgres"] if os.environ.get("DISSEM_TEST_DATABASE_URL") else ["sqlite"]


# --- sections -------------------------------------------------------------------------------


def config_section(quick: bool) -> list[str]:
    channels, releases = (2_000, 200) if quick else (10_000, 1_000)
    out: list[str] = []
    with scratch() as tmp:
        big = tmp / "big"
        write_config(big, channels, releases)
        size = sum(p.stat().st_size for p in big.rglob("*.yaml"))
        largest = max(p.stat().st_size for p in (big / "channels").iterdir())
        out.append(
            f"config: {channels:,} channels in {channels // PER_FILE} files of channels/ "
            f"({size / 1e6:.1f} MB, largest file {largest / 1024:.0f} KB), {releases:,} releases"
        )
        base_v, base_line, base_cpu = validate_seconds(EXAMPLE)
        big_v, big_line, big_cpu = validate_seconds(big)
        out.append(
            f"  baseline validate (example)  : {ms(base_v)}   (CPU {ms(base_cpu).strip()})   "
            f"{base_line}"
        )
        out.append(
            f"  validate                     : {ms(big_v)}   target < 5 s: {verdict(big_v < 5)}"
            f" (CPU {ms(big_cpu).strip()})   {big_line}"
        )
        for kind in kinds():
            for name, root in (("example", EXAMPLE), ("big", big)):
                with database(kind, tmp) as url:
                    rss_first, first = child_sync(url, root, NOW)
                    rss_noop, noop = child_sync(url, root, NOW + timedelta(minutes=1))
                    timed_sync(url, root, NOW + timedelta(minutes=2))  # this process reads it
                    cpu = time.process_time()
                    warm, created = timed_sync(url, root, NOW + timedelta(minutes=3))
                    cpu = time.process_time() - cpu  # the database server's own not counted
                if name == "example":
                    out.append(
                        f"  [{kind}] baseline (example): first sync {ms(first)}, no-op sync "
                        f"{ms(warm)} (CPU {ms(cpu).strip()}; fresh process {ms(noop)}), peak RSS "
                        f"{rss_noop / 1024:.0f} MB"
                    )
                    continue
                rss = max(rss_first, rss_noop) / 1024
                out.append(f"  [{kind}] first sync (all posts)  : {ms(first)}")
                out.append(
                    f"  [{kind}] no-op sync (worker)     : {ms(warm)}   target < 2 s: "
                    f"{verdict(warm < 2)} (CPU {ms(cpu).strip()}; created {created}; a fresh "
                    f"process, parsing every file: {ms(noop)})"
                )
                out.append(
                    f"  [{kind}] peak RSS, load + sync   : {rss:8.0f} MB   target < 300 MB: "
                    f"{verdict(rss < 300)} (first {rss_first / 1024:.0f} MB, "
                    f"no-op {rss_noop / 1024:.0f} MB)"
                )
    return out


def first_compositions() -> float:
    """Seconds the first compositions of a process take: link patterns and templates are
    compiled then (a worker pays this once, not for every release)."""
    from dissem.compose import compose
    from dissem.config.models import PLATFORMS, Channel, Release

    release = Release.model_validate(
        {
            "id": "warm-up",
            "title": "A release composed once per process",
            "summary": "Link patterns and templates compile on first use.",
            "url": "https://portal.example/news/warm-up",
            "image": {"src": "https://portal.example/a.jpg", "alt": "a"},
            "targets": ["all"],
        }
    )
    start = time.perf_counter()
    for platform in PLATFORMS:
        channel = Channel.model_validate(
            {"name": f"w-{platform}", "platform": platform, "account": "a", "timezone": "UTC"}
        )
        compose(release, channel, NOW)
    return time.perf_counter() - start


def release_section(quick: bool) -> list[str]:
    channels, releases = (2_000, 200) if quick else (10_000, 1_000)
    first = first_compositions()  # as a worker that has composed before
    out = [
        f"  first compositions in a process (patterns, templates): {ms(first)} "
        "(paid once per worker; left out below)"
    ]
    with scratch() as tmp:
        root = tmp / "cfg"
        write_config(root, channels, releases)
        for kind in kinds():
            with database(kind, tmp) as url:
                child_sync(url, root, NOW)
                timed_sync(url, root, NOW + timedelta(minutes=1))  # this process reads it
                cpu = time.process_time()
                noop, _ = timed_sync(url, root, NOW + timedelta(minutes=1, seconds=30))
                noop_cpu = time.process_time() - cpu
                new = root / "releases" / "breaking.yaml"
                new.write_text(release_file(99_999, ["thousand"]).replace("not_before", "# "))
                cpu = time.process_time()
                took, created = timed_sync(url, root, NOW + timedelta(minutes=2))
                took_cpu = time.process_time() - cpu
                new.unlink()
            extra = took - noop
            out.append(
                f"  [{kind}] baseline: no-op sync        : {ms(noop)}   (CPU here {ms(noop_cpu)})"
            )
            out.append(
                f"  [{kind}] sync with the new release  : {ms(took)}   (CPU here {ms(took_cpu)})"
                f" ({created} posts)"
            )
            out.append(
                f"  [{kind}] composed and planned       : {ms(extra)}   target < 1 s: "
                f"{verdict(extra < 1)} (CPU of this process: {ms(took_cpu - noop_cpu)})"
            )
    return out


def compose_section(quick: bool) -> list[str]:
    done = subprocess.run(
        [
            PYTHON,
            str(Path(__file__).resolve().parent / "compose.py"),
            "--releases",
            "30" if quick else "100",
        ],
        capture_output=True,
        text=True,
        check=True,
    )
    lines = ["  " + line for line in done.stdout.strip().splitlines()]
    ratio = float(lines[-1].split(":")[1].strip().rstrip("x"))
    lines.append(f"  target: within 10x of the floor: {verdict(ratio <= 10)}")
    return lines


SECTIONS: dict[str, Callable[[bool], list[str]]] = {
    "config": config_section,
    "release": release_section,
    "compose": compose_section,
}
try:  # part B: queue, metrics, workers
    import scale_queue

    SECTIONS.update(scale_queue.SECTIONS)
except ImportError:  # pragma: no cover - part B not there
    pass


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="smaller, shorter runs")
    parser.add_argument("--only", default=",".join(SECTIONS), help="sections, e.g. config")
    args = parser.parse_args()
    for name in args.only.split(","):
        load = ", ".join(f"{x:.2f}" for x in os.getloadavg())
        print(f"== {name.strip()} (load average {load} on {os.cpu_count()} cores)", flush=True)
        for line in SECTIONS[name.strip()](args.quick):
            print(line, flush=True)


if __name__ == "__main__":
    main()
