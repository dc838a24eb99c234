"""What became of each feed item, as stored (``feed_events.decision``,
``feed_items.decision``): the names, and their counts per feed for the weekly report."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from dissem.store.models import FeedEvent

__all__ = ["Decision", "decision_counts"]


class Decision:
    """What became of an item (``feed_events.decision``, ``feed_items.decision``)."""

    NEW = "new"
    BACKFILL = "backfill"
    SEEN = "seen"  # first run: recorded, not posted
    UPDATED = "updated"
    DUPLICATE = "duplicate"
    TOO_OLD = "too_old"
    OVER_CAP = "over_cap"
    INVALID = "invalid"
    HELD = frozenset({TOO_OLD, OVER_CAP})
    ALL: tuple[str, ...] = (NEW, BACKFILL, SEEN, UPDATED, DUPLICATE, TOO_OLD, OVER_CAP, INVALID)


def decision_counts(session: Session, start: datetime, end: datetime) -> dict[str, dict[str, int]]:
    """``{feed: {decision: count}}`` of the decisions taken from ``start`` to before ``end``
    (the weekly report's feed section)."""
    stmt = (
        select(FeedEvent.feed, FeedEvent.decision, func.count())
        .where(FeedEvent.at >= start, FeedEvent.at < end)
        .group_by(FeedEvent.feed, FeedEvent.decision)
    )
    out: dict[str, dict[str, int]] = {}
    for feed, decision, n in session.execute(stmt):
        out.setdefault(feed, {})[decision] = int(n)
    return out
