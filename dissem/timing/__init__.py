"""When each channel's audience engages, learned from the metric history.

- :mod:`dissem.timing.slots`: coarse local-time slots (weekday/weekend by hour blocks);
- :mod:`dissem.timing.model`: the per-channel empirical-Bayes model and its recommendation;
- :mod:`dissem.timing.history`: reading the model's inputs from the database, and the
  advice planning uses for channels with ``timing: learned``.
"""

from dissem.timing.model import (
    ChannelHistory,
    ChannelTiming,
    Observation,
    Params,
    SlotEstimate,
    fit,
    group_of,
)
from dissem.timing.slots import Slot, all_slots, slot_of

__all__ = [
    "ChannelHistory",
    "ChannelTiming",
    "Observation",
    "Params",
    "Slot",
    "SlotEstimate",
    "all_slots",
    "fit",
    "group_of",
    "slot_of",
]
