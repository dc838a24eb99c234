"""One sync in words, for the worker's log and ``dissem sync``: counts with their nouns in
the right number (``1 channel added``, ``4 posts planned``), only what changed; never a
raw ``PlanChanges(...)``."""

from __future__ import annotations

from dissem.worker.planner import PlanChanges
from dissem.worker.records import RecordChanges

__all__ = ["describe_sync", "plural"]

#: RecordChanges field -> (noun, verb)
_RECORDS = (
    ("channels_added", "channel", "added"),
    ("channels_changed", "channel", "changed"),
    ("channels_removed", "channel", "removed"),
    ("releases_added", "release", "added"),
    ("releases_changed", "release", "changed"),
    ("releases_deleted", "release", "deleted"),
)
#: PlanChanges field -> what happened to those posts
_PLAN = (
    ("created", "planned"),
    ("recomposed", "rewritten"),
    ("replanned", "moved"),
    ("held", "held"),
    ("cancelled", "cancelled"),
    ("expired", "expired"),
    ("skipped", "skipped"),
)


def plural(n: int, noun: str) -> str:
    """``1 post``, ``2 posts``, ``0 posts``."""
    return f"{n} {noun}{'' if n == 1 else 's'}"


def describe_sync(changes: RecordChanges, plan: PlanChanges) -> str:
    """``1 release added; 4 posts planned, 1 held`` (``nothing changed`` when nothing did)."""
    pieces = [
        f"{plural(len(getattr(changes, name)), noun)} {verb}"
        for name, noun, verb in _RECORDS
        if getattr(changes, name)
    ]
    config = ", ".join(pieces)
    counts = [(n, verb) for name, verb in _PLAN if (n := getattr(plan, name))]
    # the noun once: "4 posts planned, 1 held"
    posts = ", ".join(
        f"{plural(n, 'post')} {verb}" if i == 0 else f"{n} {verb}"
        for i, (n, verb) in enumerate(counts)
    )
    if plan.errors:
        posts = ", ".join(filter(None, [posts, f"{plural(len(plan.errors), 'error')}"]))
    return "; ".join(filter(None, [config, posts])) or "nothing changed"
