"""Fixtures for the worker tests: the queue's database, one per test module and emptied per
test (defined in queue_seed.py, which tests elsewhere import them from)."""

from __future__ import annotations

from tests.worker.queue_seed import qengine, qfactory, queue_db, qurl

__all__ = ["qengine", "qfactory", "queue_db", "qurl"]  # fixtures, found by name
