"""Weekly reports: SQL aggregation, one self-contained HTML page, CSV and XLSX, delivery.

The daemon calls :func:`run_weekly_report` on every tick; ``dissem report`` calls
:func:`generate_report` (and :func:`deliver_report` with ``--send``).
"""

from __future__ import annotations

from dissem.reports.weekly import (
    IsoWeek,
    ReportResult,
    deliver_report,
    generate_report,
    last_complete_week,
    run_weekly_report,
)

__all__ = [
    "IsoWeek",
    "ReportResult",
    "deliver_report",
    "generate_report",
    "last_complete_week",
    "run_weekly_report",
]
