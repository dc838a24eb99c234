"""The worker process of the crash test: dispatch, expire leases and reconcile in a loop
against a database and a sandbox, until it is killed.

Usage: ``python crash_worker.py DB_URL SANDBOX_URL WORKER_ID EPOCH SIM_START SPEED``.
Time is simulated and shared with the test's sandbox: ``SIM_START + (time.time() - EPOCH) *
SPEED``, so a five-minute throttle lasts seconds. Credentials come from the environment.
"""

from __future__ import annotations

import logging
import sys
import threading
import time
from collections.abc import Callable
from datetime import datetime, timedelta

from dissem.settings import Settings
from dissem.store.db import make_engine, make_session_factory
from dissem.store.queue import expire_leases
from dissem.worker.dispatch import AdapterPool, dispatch_once
from dissem.worker.reconcile import reconcile_once

#: simulated seconds (5 real): far longer than any publish (HTTP timeout is 2 real seconds)
LEASE_SIM_SECONDS = 500.0


def sim_clock(epoch: float, start: datetime, speed: float) -> Callable[[], datetime]:
    """A clock running ``speed`` times faster than real time from ``start`` at ``epoch``."""

    def now() -> datetime:
        return start + timedelta(seconds=(time.time() - epoch) * speed)

    return now


def crash_settings(db_url: str, sandbox_url: str) -> Settings:
    return Settings(
        database_url=db_url,
        sandbox_url=sandbox_url,
        http_timeout=2.0,
        lease_seconds=LEASE_SIM_SECONDS,
        backoff_base=20.0,
        backoff_max=200.0,
        max_attempts=30,
        concurrency=3,
        claim_batch=6,
    )


def main(argv: list[str]) -> None:
    db_url, sandbox_url, worker_id, epoch, start, speed = argv
    clock = sim_clock(float(epoch), datetime.fromisoformat(start), float(speed))
    settings = crash_settings(db_url, sandbox_url)
    engine = make_engine(db_url)
    factory = make_session_factory(engine)
    adapters = AdapterPool(settings)
    stop = threading.Event()
    last_reconcile = 0.0
    while True:
        expire_leases(factory, clock())
        dispatch_once(
            factory, settings, clock, adapters=adapters, worker_id=worker_id, stop_event=stop
        )
        if time.monotonic() - last_reconcile > 0.5:
            reconcile_once(factory, settings, clock(), adapters=adapters, worker_id=worker_id)
            last_reconcile = time.monotonic()
        time.sleep(0.05)


if __name__ == "__main__":
    logging.basicConfig(level=logging.WARNING, stream=sys.stderr)
    main(sys.argv[1:])
