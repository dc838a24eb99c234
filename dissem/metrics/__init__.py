"""Metrics over each post's life: a snapshot schedule by post age and the collection round.

The daemon calls :func:`collect_due_metrics` every ``DISSEM_METRICS_INTERVAL`` seconds; the
publisher sets ``next_metrics_at = first_snapshot_at(published_at, schedule)`` when a post
goes out.
"""

from __future__ import annotations

from dissem.metrics.collect import CollectStats, collect_due_metrics
from dissem.metrics.schedule import (
    Schedule,
    ScheduleStep,
    first_snapshot_at,
    next_snapshot_at,
    parse_schedule,
)

__all__ = [
    "CollectStats",
    "Schedule",
    "ScheduleStep",
    "collect_due_metrics",
    "first_snapshot_at",
    "next_snapshot_at",
    "parse_schedule",
]
