"""Feeds benchmarks: from the portal's feed to a channel, printed beside the baselines.

One ``dissem run`` worker process (SQLite, the feeds job every 0.5 s, dispatch every 0.25 s,
``DISSEM_FEED_HOST_INTERVAL=0``: every feed is on the one sandbox host) reads the sandbox's
news portal (``dissem sandbox`` in its own process, as the portal and the platforms are other
machines) with 102 feeds: ``news-push`` (the Indonesian RSS, read hourly: only a push makes
it read sooner), ``news-poll`` (the English RSS every minute, the shortest interval
``feeds.yaml`` allows) and 100 section feeds (``/portal/en/sNNN/rss.xml``) every 5 minutes.
Both news feeds are ``breaking`` and target one Mastodon channel (a channel with room:
breaking posts ignore windows, gaps and caps).

1. push: items published one by one, the portal's CMS pinging the worker's
   ``POST /feeds/news-push/ping`` (HMAC-signed) each time; latency is the platform's post
   time minus the item's publication time, both on the sandbox's clock (target: p95 < 3 s;
   Echobox: breaking news within about 15 minutes);
2. polling: items published at random moments over 2.5 minutes (target: p95 < poll
   interval + 5 s = 65 s; dlvr.it, Postiz, IFTTT free: hourly);
3. unchanged polls answered 304 by the portal (the 100 section feeds after their first
   read; target >= 95 %);
4. idle CPU (user + system, from ``/proc``) of a worker with the default intervals (feeds
   every 5 s, dispatch every 1 s, sync every 30 s) holding the 102 feeds, all read once:
   30 s with no feed due, then a minute holding every section feed's poll (five times
   their steady rate of 100 per 5 minutes); the steady state is the quiet share plus a
   fifth of the difference (target < 1 % of one core).

Run: ``.venv/bin/python benchmarks/feeds.py [--quick]`` (``--quick``: 20 items each, a
one-minute polling window). It takes about 6 minutes (4 quick): a worker process runs on
the wall clock.
"""

from __future__ import annotations

import argparse
import hashlib
import os
import random
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import requests
import yaml

sys.path.insert(0, str(Path(__file__).resolve().parent))

from dispatch import sandbox_process

SECRET = "benchmark-ping-secret-" + hashlib.sha256(os.urandom(16)).hexdigest()[:16]
SECTIONS = 100
ECHOBOX = 15 * 60.0  # seconds: "breaking news within about 15 minutes"
HOURLY = 3600.0  # dlvr.it, Postiz, IFTTT free


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _wait(check: Any, timeout: float, step: float = 0.05) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if check():
                return True
        except requests.RequestException:
            pass
        time.sleep(step)
    return False


def write_config(root: Path, portal: str) -> None:
    (root / "releases").mkdir(parents=True, exist_ok=True)
    channels = {
        "channels": [
            {
                "name": "desk-mastodon",
                "platform": "mastodon",
                "account": "@desk@social.example",
                "timezone": "Asia/Jakarta",
                "windows": ["daily 00:00-23:59"],
                "credentials": {"access_token": "BENCH_MASTODON_TOKEN"},
            }
        ]
    }
    (root / "channels.yaml").write_text(yaml.safe_dump(channels))
    base = {
        "targets": ["desk-mastodon"],
        "status": "approved",
        "approved_by": "benchmark",
        "priority": "breaking",
        "cap_per_hour": None,
        "fetch_article": False,
    }
    feeds = [
        {"name": "news-push", "url": f"{portal}/portal/id/rss.xml", "poll_interval": "1h", **base},
        {"name": "news-poll", "url": f"{portal}/portal/en/rss.xml", "poll_interval": "1m", **base},
    ]
    feeds += [
        {
            "name": f"section-{n:03d}",
            "url": f"{portal}/portal/en/s{n:03d}/rss.xml",
            "poll_interval": "5m",
            **base,
        }
        for n in range(1, SECTIONS + 1)
    ]
    (root / "feeds.yaml").write_text(yaml.safe_dump({"feeds": feeds}))


def set_due(folder: Path, due: dict[str, datetime], *, later: float) -> None:
    """Sets when each feed is next read: ``due``'s feeds then, every other ``later`` s on."""
    from sqlalchemy import update

    from dissem.store.db import make_engine
    from dissem.store.models import FeedState

    engine = make_engine(f"sqlite:///{folder / 'bench.db'}")
    far = datetime.now(UTC) + timedelta(seconds=later)
    with engine.begin() as conn:
        conn.execute(update(FeedState).values(next_poll_at=far))
        for name, when in due.items():
            conn.execute(update(FeedState).where(FeedState.name == name).values(next_poll_at=when))
    engine.dispose()


@contextmanager
def worker_process(
    folder: Path, portal: str, port: int, **overrides: str | None
) -> Iterator[subprocess.Popen[str]]:
    env: dict[str, str | None] = {
        **os.environ,
        "DISSEM_DATABASE_URL": f"sqlite:///{folder / 'bench.db'}",
        "DISSEM_CONFIG_DIR": str(folder / "config"),
        "DISSEM_SANDBOX_URL": portal,
        "DISSEM_HEALTH_PORT": str(port),
        "DISSEM_FEED_PING_SECRET": SECRET,
        "DISSEM_FEED_CHECK_INTERVAL": "0.5",
        "DISSEM_FEED_HOST_INTERVAL": "0",
        "DISSEM_DISPATCH_INTERVAL": "0.25",
        "DISSEM_REPORT_DIR": str(folder / "reports"),
        "DISSEM_LOG_LEVEL": "WARNING",
        "DISSEM_WORKER_ID": "bench-feeds",
        "BENCH_MASTODON_TOKEN": "bench-mastodon-token",
        **overrides,
    }
    proc = subprocess.Popen(
        [sys.executable, "-c", "from dissem.cli import main; main()", "run"],
        env={k: v for k, v in env.items() if v is not None},
        text=True,
        stderr=open(folder / "worker.log", "a"),  # noqa: SIM115 (closed with the process)
    )
    try:
        if not _wait(lambda: requests.get(f"http://127.0.0.1:{port}/healthz", timeout=1), 30):
            raise RuntimeError("the worker did not start; see worker.log")
        yield proc
    finally:
        proc.terminate()
        proc.wait(20)


def stats(portal: str) -> dict[str, Any]:
    data: dict[str, Any] = requests.get(f"{portal}/_sandbox/portal/stats", timeout=5).json()
    return data


def add_item(portal: str, lang: str, title: str) -> dict[str, Any]:
    answer = requests.post(
        f"{portal}/_sandbox/portal/items", json={"title": title, "lang": lang}, timeout=5
    )
    answer.raise_for_status()
    item: dict[str, Any] = answer.json()
    return item


def latencies(portal: str, items: list[dict[str, Any]], timeout: float) -> list[float]:
    """Seconds from each item's publication to its post on Mastodon (sandbox clock); waits
    up to ``timeout`` s for all of them."""
    wanted = {i["title"]: datetime.fromisoformat(i["published"]) for i in items}
    found: dict[str, float] = {}

    def check() -> bool:
        for post in requests.get(f"{portal}/_sandbox/posts", timeout=5).json():
            for title, published in wanted.items():
                if title not in found and title in post["text"]:
                    created = datetime.fromisoformat(post["created_at"])
                    found[title] = (created - published).total_seconds()
        return len(found) == len(wanted)

    _wait(check, timeout, step=0.5)
    return sorted(found.values())


def pct(values: list[float], q: float) -> float:
    return values[min(int(q * len(values)), len(values) - 1)] if values else float("nan")


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def run(quick: bool) -> list[str]:
    n = 20 if quick else 100
    window = 60.0 if quick else 150.0
    out: list[str] = []
    with (
        tempfile.TemporaryDirectory(prefix="dissem-bench-feeds-") as tmp,
        sandbox_process("", "--audiences", "off") as sandbox,
    ):
        portal = sandbox.url
        folder = Path(tmp)
        write_config(folder / "config", portal)
        port = _free_port()
        # the feeds list the newest 100 items: the polling part publishes 40 a minute, and a
        # 20-item feed would drop some before a 1-minute poll sees them. Set before the first
        # read: a change of the portal's settings changes every feed (its lastBuildDate).
        requests.post(f"{portal}/_sandbox/portal/faults", json={"size": 100}, timeout=5)
        with worker_process(folder, portal, port) as proc:
            # the first read of every feed records what is there; nothing is posted
            if not _wait(lambda: len(stats(portal)["by_feed"]) >= SECTIONS + 2, 120, 0.5):
                raise RuntimeError("the worker did not read every feed; see worker.log")
            ping = f"http://127.0.0.1:{port}/feeds/news-push/ping"
            targets = [{"lang": "id", "url": ping, "secret": SECRET}]
            requests.post(f"{portal}/_sandbox/portal/pings", json=targets, timeout=5)

            # 1. push: the CMS pings on each publication
            pushed = []
            for i in range(n):
                pushed.append(add_item(portal, "id", f"Breaking push {i:03d}: banjir di kota {i}"))
                time.sleep(0.3)  # a desk publishing in a burst, not all in one instant
            push = latencies(portal, pushed, 60)
            pings = stats(portal)["pings"]
            ok_pings = sum(1 for p in pings if p["status"] == 202)

            # 2. polling: items at random moments, read on the feed's 1-minute interval
            rng = random.Random(11)
            moments = sorted(rng.uniform(0, window) for _ in range(n))
            polled = []
            t0 = time.monotonic()
            for i, at in enumerate(moments):
                time.sleep(max(0.0, at - (time.monotonic() - t0)))
                polled.append(add_item(portal, "en", f"Breaking poll {i:03d}: storm warning {i}"))
            poll = latencies(portal, polled, 75)

        # 4. idle CPU: a worker with the default intervals, the feeds already read once.
        # 30 s with no feed due, then 60 s holding all 100 section feeds' polls (five times
        # their steady rate of 100 per 5 minutes)
        at_rest = {"DISSEM_FEED_CHECK_INTERVAL": None, "DISSEM_DISPATCH_INTERVAL": None}
        set_due(folder, {}, later=3600.0)
        with worker_process(folder, portal, port, **at_rest) as proc:
            up = time.monotonic()
            t = datetime.now(UTC)
            due = {f"section-{n:03d}": 35.0 + 0.6 * n for n in range(SECTIONS)}
            set_due(folder, {k: t + timedelta(seconds=v) for k, v in due.items()}, later=3600.0)
            before = stats(portal)["by_feed"]
            time.sleep(max(0.0, up + 5.0 - time.monotonic()))
            cpu0, wall0 = cpu_seconds(proc.pid), time.monotonic()
            time.sleep(max(0.0, up + 35.0 - time.monotonic()))
            cpu1, wall1 = cpu_seconds(proc.pid), time.monotonic()
            time.sleep(max(0.0, up + 100.0 - time.monotonic()))
            cpu2, wall2 = cpu_seconds(proc.pid), time.monotonic()
            by_feed = stats(portal)["by_feed"]
        quiet = (cpu1 - cpu0) / (wall1 - wall0)
        busy = (cpu2 - cpu1) / (wall2 - wall1)
        steady = quiet + (busy - quiet) / 5.0
        round_polls = sum(
            by_feed[k][0] - before.get(k, [0, 0])[0] for k in by_feed if k.startswith("/en/s")
        )

    sections = [v for k, v in by_feed.items() if k.startswith("/en/s")]
    requests_after_first = sum(r - 1 for r, _ in sections)
    not_modified = sum(m for _, m in sections)
    ratio_304 = not_modified / requests_after_first if requests_after_first else float("nan")
    p95_push, p95_poll = pct(push, 0.95), pct(poll, 0.95)
    out.append(f"breaking item, push ping ({len(push)}/{n} posted, {ok_pings} pings answered 202):")
    out.append(
        f"  p50 {pct(push, 0.5):6.2f} s  p95 {p95_push:6.2f} s  max {max(push, default=0):6.2f} s"
        f"   target p95 < 3 s   Echobox ~{ECHOBOX:.0f} s: {ECHOBOX / p95_push:,.0f}x sooner"
    )
    out.append(f"breaking item, polling every 60 s ({len(poll)}/{n} posted):")
    out.append(
        f"  p50 {pct(poll, 0.5):6.2f} s  p95 {p95_poll:6.2f} s  max {max(poll, default=0):6.2f} s"
        f"   target p95 < 65 s   hourly (dlvr.it) {HOURLY:.0f} s: {HOURLY / p95_poll:,.0f}x sooner"
    )
    out.append(
        f"unchanged polls answered 304: {not_modified}/{requests_after_first} = "
        f"{100 * ratio_304:.1f} %   target >= 95 %"
    )
    out.append(
        f"idle worker, {SECTIONS} feeds at 5 min (+2 news feeds), default intervals, CPU of one"
        " core:"
    )
    out.append(
        f"  no feed due {100 * quiet:.2f} %   a minute with {round_polls} polls (5x the steady"
        f" rate) {100 * busy:.2f} %   steady state {100 * steady:.2f} %   target < 1 %"
    )
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="20 items each, shorter windows")
    args = parser.parse_args()
    load = ", ".join(f"{x:.2f}" for x in os.getloadavg())
    print(f"(load average {load} on {os.cpu_count()} cores)", flush=True)
    for line in run(args.quick):
        print(line, flush=True)


if __name__ == "__main__":
    main()
