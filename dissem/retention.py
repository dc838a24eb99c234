"""The metrics retention rule, ``DISSEM_METRICS_RETENTION``: its grammar and parser.

Standard library only: :mod:`dissem.settings` checks the rule at start (so a worker never
starts with a rule it cannot apply) and :mod:`dissem.metrics.compact` applies it. The rule
is ``GRAIN@SPANd`` terms with growing spans, then ``final``, e.g. ``hourly@7d,daily@90d,final``;
see :mod:`dissem.metrics.compact` for what each term keeps.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import timedelta

__all__ = ["Retention", "parse_retention"]

_GRAINS: dict[str, timedelta | None] = {
    "all": None,
    "hourly": timedelta(hours=1),
    "daily": timedelta(days=1),
}
_TERM = re.compile(r"^(all|hourly|daily)@(\d+)d$")


@dataclass(frozen=True)
class Retention:
    """Parsed ``DISSEM_METRICS_RETENTION``: (grain or None for all, span) terms, increasing."""

    tiers: tuple[tuple[timedelta | None, timedelta], ...]

    @property
    def first_span(self) -> timedelta:
        return self.tiers[0][1]


def parse_retention(text: str) -> Retention | None:
    """The rule in ``text``; None when empty (compaction off). Raises ValueError (the settings
    check it at start, so a worker never starts with a rule it cannot apply)."""
    terms = [t.strip() for t in text.split(",") if t.strip()]
    if not terms:
        return None
    if terms[-1] != "final" or len(terms) < 2:
        raise ValueError(
            f"DISSEM_METRICS_RETENTION={text!r}: expected GRAIN@SPANd terms ending in final, "
            "e.g. hourly@7d,daily@90d,final"
        )
    tiers: list[tuple[timedelta | None, timedelta]] = []
    for term in terms[:-1]:
        m = _TERM.match(term)
        if m is None:
            raise ValueError(
                f"DISSEM_METRICS_RETENTION: {term!r} is not GRAIN@SPANd (all, hourly or daily)"
            )
        span = timedelta(days=int(m.group(2)))
        if span <= timedelta(0) or (tiers and span <= tiers[-1][1]):
            raise ValueError(f"DISSEM_METRICS_RETENTION: spans must grow: {text!r}")
        tiers.append((_GRAINS[m.group(1)], span))
    return Retention(tuple(tiers))
