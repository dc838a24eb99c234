"""Choosing due times: windows in local time, DST, gaps, daily caps, priority, stagger.

Pure functions: ``now`` and the channel's other posts in, UTC due times out.
"""

from dissem.planning.due import (
    HORIZON,
    PlanRequest,
    Priority,
    lateness,
    next_evergreen,
    plan_due_time,
    plan_many,
)
from dissem.planning.stagger import stagger_offset
from dissem.planning.windows import Opening, day_bounds, first_reach, next_window_instant, openings

__all__ = [
    "HORIZON",
    "Opening",
    "PlanRequest",
    "Priority",
    "day_bounds",
    "first_reach",
    "lateness",
    "next_evergreen",
    "next_window_instant",
    "openings",
    "plan_due_time",
    "plan_many",
    "stagger_offset",
]
