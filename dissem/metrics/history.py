"""One post's metrics history: every snapshot, oldest first (``dissem metrics POST``)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from dissem.store.models import METRIC_COLUMNS, MetricSnapshot, Post

__all__ = ["PostHistory", "Snapshot", "post_history"]


@dataclass(frozen=True)
class Snapshot:
    """One snapshot; a metric that is None was not reported by the platform."""

    taken_at: datetime
    metrics: dict[str, int | None]


@dataclass(frozen=True)
class PostHistory:
    post_id: int
    channel: str
    platform: str
    release_id: str
    state: str
    remote_url: str | None
    published_at: datetime | None
    next_metrics_at: datetime | None
    snapshots: list[Snapshot]

    @property
    def reported(self) -> list[str]:
        """Metric names reported at least once, in the normalised order."""
        return [m for m in METRIC_COLUMNS if any(s.metrics[m] is not None for s in self.snapshots)]

    def as_json(self) -> dict[str, Any]:
        def iso(when: datetime | None) -> str | None:
            return None if when is None else when.isoformat()

        return {
            "post_id": self.post_id,
            "channel": self.channel,
            "platform": self.platform,
            "release_id": self.release_id,
            "state": self.state,
            "remote_url": self.remote_url,
            "published_at": iso(self.published_at),
            "next_metrics_at": iso(self.next_metrics_at),
            "snapshots": [{"taken_at": iso(s.taken_at), **s.metrics} for s in self.snapshots],
        }


def post_history(session: Session, post_id: int) -> PostHistory | None:
    """The post and all its snapshots, oldest first; None when there is no such post."""
    post = session.get(Post, post_id)
    if post is None:
        return None
    rows = session.scalars(
        select(MetricSnapshot)
        .where(MetricSnapshot.post_id == post_id)
        .order_by(MetricSnapshot.taken_at, MetricSnapshot.id)
    )
    snapshots = [Snapshot(r.taken_at, {m: getattr(r, m) for m in METRIC_COLUMNS}) for r in rows]
    return PostHistory(
        post_id=post.id,
        channel=post.channel,
        platform=post.platform,
        release_id=post.release_id,
        state=post.state,
        remote_url=post.remote_url,
        published_at=post.published_at,
        next_metrics_at=post.next_metrics_at,
        snapshots=snapshots,
    )
