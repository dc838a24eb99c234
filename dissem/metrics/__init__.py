"""Metrics over each post's life: a snapshot schedule by post age and the collection round.

The daemon calls :func:`collect_due_metrics` every ``DISSEM_METRICS_INTERVAL`` seconds. A
post enters the schedule when it is published, with ``next_metrics_at`` set to its first
grid time (:func:`first_snapshot_at`: one hour after publication by default).
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
