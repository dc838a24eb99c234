"""What adapters hand back, as plain values: a published post (:class:`RemotePost`), a
metrics reading (:class:`MetricSample`) and the names summed into engagement.

No HTTP here: the store records these values and learned timing reads them, and neither
should load an HTTP client to do so (``tests/test_layers.py`` holds the store to it).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from dissem.traits import METRIC_NAMES

__all__ = ["ENGAGEMENT_METRICS", "METRIC_NAMES", "MetricSample", "RemotePost"]

#: the interactions summed into "engagement" (the weekly report, learned timing, compaction):
#: every metric but views and reach
ENGAGEMENT_METRICS: tuple[str, ...] = tuple(m for m in METRIC_NAMES if m not in ("views", "reach"))


@dataclass(frozen=True)
class RemotePost:
    """A post as the platform knows it. ``data`` keeps what replies need (Bluesky cid...)."""

    remote_id: str
    url: str | None = None
    data: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class MetricSample:
    """Normalised values (only the names the platform reported) and the raw payload."""

    values: Mapping[str, int]
    raw: Mapping[str, Any]
