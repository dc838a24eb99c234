"""The weekly report as CSV (one row per post of the week) and XLSX (Summary, Channels,
Posts), with the very numbers of the HTML page: all three render one
:class:`~dissem.reports.figures.WeekFigures`.

- An empty cell means "not reported by the platform" or, with an empty ``snapshot_at``,
  "no snapshot yet" (never zero). A thread is one row (``parts`` > 1), as in the HTML.
- CSV headers and values are stable machine names (:data:`CSV_COLUMNS`, platform ids such
  as ``linkedin``); it is written UTF-8 with a byte-order mark so spreadsheet programs read
  non-ASCII text right. Text that a spreadsheet would run as a formula (starting with
  ``= + - @``) is prefixed with ``'``.
- XLSX is for people: headers in the report language, platforms by their proper names
  (``LinkedIn``), a partial week marked on the Summary sheet. Its Timing sheet is the HTML
  heat maps as a table: one row per slot with posts of each channel (or group), its change
  and interval as percentages, the best time marked, the verdict in words on each first
  row. (The CSV stays one row per post: the timing is over months, not the week.) Its
  Feeds sheet, there only when a feed has been polled (as the HTML's Feeds section), is
  each feed's decisions of the week, one column per decision. Text
  cells are always stored as text (openpyxl would otherwise turn ``=...`` into a formula).
  Written in write-only mode (low memory).
"""

from __future__ import annotations

import csv
from collections.abc import Iterator, Mapping
from datetime import datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from openpyxl import Workbook
from openpyxl.cell import WriteOnlyCell
from openpyxl.styles import Font
from openpyxl.worksheet._write_only import WriteOnlyWorksheet

from dissem.feeds import Decision
from dissem.reports.aggregate import PostRow
from dissem.reports.figures import WeekFigures
from dissem.reports.labels import labels, platform_name
from dissem.reports.timing import TimingView, slot_text, status_text
from dissem.store.models import METRIC_COLUMNS

__all__ = [
    "CSV_COLUMNS",
    "FEEDS_SHEET",
    "TIMING_SHEET",
    "post_records",
    "timing_rows",
    "write_csv",
    "write_xlsx",
]

CSV_COLUMNS: tuple[str, ...] = (
    "post_id",
    "published_at",
    "channel",
    "platform",
    "release_id",
    "release_title",
    "text",
    "url",
    "snapshot_at",
    *METRIC_COLUMNS,
    "engagement",
    "on_time",
    "attempts",
    "parts",
)
TIMING_SHEET = "Timing"
#: each feed's decisions of the week; the sheet is there only once a feed has been polled
FEEDS_SHEET = "Feeds"
#: a lift as Excel shows it: +24%, -8%, 0%
_LIFT_FORMAT = "+0%;-0%;0%"
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
_TEXT_COLUMNS = frozenset({"channel", "platform", "release_id", "release_title", "text", "url"})


def _local(when: datetime | None, zone: ZoneInfo) -> datetime | None:
    return None if when is None else when.astimezone(zone).replace(microsecond=0)


def post_records(figures: WeekFigures) -> Iterator[dict[str, Any]]:
    """One dict per post of the week, keyed by :data:`CSV_COLUMNS`; times in the report's
    zone (aware: CSV writes the offset, XLSX the local wall time)."""
    zone = ZoneInfo(figures.timezone)
    for p in figures.posts:
        yield _record(p, zone)


def _record(p: PostRow, zone: ZoneInfo) -> dict[str, Any]:
    return {
        "post_id": p.post_id,
        "published_at": _local(p.published_at, zone),
        "channel": p.channel,
        "platform": p.platform,
        "release_id": p.release_id,
        "release_title": p.release_title,
        "text": p.text,
        "url": p.url,
        "snapshot_at": _local(p.snapshot_at, zone),
        **{m: p.metrics[m] for m in METRIC_COLUMNS},
        "engagement": p.engagement,
        "on_time": p.on_time,
        "attempts": p.attempts,
        "parts": p.parts,
    }


def _csv_cell(key: str, value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "1" if value else "0"
    if isinstance(value, datetime):
        return value.isoformat(sep=" ")
    text = str(value)
    if key in _TEXT_COLUMNS and text.startswith(_FORMULA_START):
        return "'" + text
    return text


def write_csv(figures: WeekFigures, path: Path) -> Path:
    """Writes the posts of the week to ``path``; returns it."""
    with path.open("w", encoding="utf-8-sig", newline="") as fh:
        writer = csv.writer(fh)
        writer.writerow(CSV_COLUMNS)
        for rec in post_records(figures):
            writer.writerow([_csv_cell(k, rec[k]) for k in CSV_COLUMNS])
    return path


def _cells(ws: WriteOnlyWorksheet, values: list[Any], *, bold: bool = False) -> list[Any]:
    """A row for ``ws.append``: plain values where openpyxl does the right thing (fast), a
    cell only where it must not guess (text that looks like a formula, a bold header)."""
    out: list[Any] = []
    for value in values:
        if isinstance(value, datetime):
            value = value.replace(tzinfo=None)  # Excel has no zones: local wall time
        if bold or (isinstance(value, str) and value.startswith("=")):
            cell = WriteOnlyCell(ws, value=value)
            if isinstance(value, str):
                cell.data_type = "s"  # never a formula, whatever the text starts with
            if bold:
                cell.font = Font(bold=True)
            out.append(cell)
        else:
            out.append(value)
    return out


def write_xlsx(figures: WeekFigures, path: Path, lang: str) -> Path:
    """Writes the workbook (sheets Summary, Channels, Posts, Timing, and Feeds once a feed
    has been polled) to ``path``; returns it."""
    lab = labels(lang)
    wb = Workbook(write_only=True)
    s, p = figures.summary, figures.previous
    summary = wb.create_sheet("Summary")
    previous = lab["previous_same_time" if figures.partial else "previous_week"]
    summary.append(_cells(summary, [lab["figure"], lab["this_week"], previous], bold=True))
    summary.append(_cells(summary, [lab["week"], figures.week, None]))
    if figures.as_of is not None:  # "Partial week": figures up to this local time
        as_of = figures.as_of.astimezone(ZoneInfo(figures.timezone)).strftime("%Y-%m-%d %H:%M")
        summary.append(_cells(summary, [lab["partial"], as_of, None]))
    for key, cur, prev in (
        ("posts_published", s.posts, p.posts),
        ("engagement_total", s.engagement, p.engagement),
        ("views_reported", s.views, p.views),
        ("channels_active", s.channels_active, p.channels_active),
        ("on_time_rate", s.on_time_rate, p.on_time_rate),
    ):
        summary.append(_cells(summary, [lab[key], cur, prev]))
    r = figures.reliability
    for key, value in (
        ("on_time", r.on_time),
        ("late", r.late),
        ("retried", r.retried),
        ("failed", r.failed),
        ("needs_review", r.needs_review),
    ):
        summary.append(_cells(summary, [lab[key], value, None]))

    channels = wb.create_sheet("Channels")
    head = [lab["channel"], lab["platform"], lab["posts"], lab["engagement"]]
    channels.append(_cells(channels, head + [lab[m] for m in METRIC_COLUMNS] + [""], bold=True))
    for g in figures.channels:
        note = lab[g.missing] if g.missing else ""
        values = [g.metrics[m] if g.reported else None for m in METRIC_COLUMNS]
        name = platform_name(g.platform)
        channels.append(_cells(channels, [g.name, name, g.posts, g.engagement, *values, note]))

    posts = wb.create_sheet("Posts")
    posts.append(_cells(posts, [_header(lab, k) for k in CSV_COLUMNS], bold=True))
    for rec in post_records(figures):
        rec["platform"] = platform_name(rec["platform"])
        posts.append(_cells(posts, [rec[k] for k in CSV_COLUMNS]))

    timing = wb.create_sheet(TIMING_SHEET)
    head = [lab["channel"], lab["slot"], lab["posts"], lab["lift"], lab["lift_low"]]
    timing.append(_cells(timing, [*head, lab["lift_high"], lab["best_time"], ""], bold=True))
    for row in timing_rows(figures.timing, lang):
        cells = _cells(timing, row)
        for i in (3, 4, 5):  # the change and its interval, as percentages
            if row[i] is not None:
                cell = WriteOnlyCell(timing, value=row[i])
                cell.number_format = _LIFT_FORMAT
                cells[i] = cell
        timing.append(cells)

    if figures.feeds:  # as the HTML's Feeds section: only once a feed has been polled
        feeds = wb.create_sheet(FEEDS_SHEET)
        head = [lab["feed"], *(lab[f"feed_{d}"] for d in Decision.ALL), lab["feed_total"]]
        feeds.append(_cells(feeds, head, bold=True))
        for f in figures.feeds:
            feeds.append(_cells(feeds, [f.name, *(f.decisions[d] for d in Decision.ALL), f.total]))
    wb.save(path)
    return path


def timing_rows(views: list[TimingView], lang: str) -> Iterator[list[Any]]:
    """The Timing sheet's rows: per view, each slot with posts (or one row without any):
    name, slot, posts, change, its interval, "best" on the best slot, the verdict first."""
    lab = labels(lang)
    for view in views:
        name = view.name if view.kind == "channel" else f"{lab['group']} {view.name}"
        verdict = status_text(view, lang)
        best = view.best
        cells = [c for c in view.cells if c.posts]
        if not cells:
            yield [name, None, 0, None, None, None, None, verdict]
            continue
        for i, c in enumerate(cells):
            lift = None if c.lift is None else round(c.lift, 4)
            low = None if c.low is None else round(c.low, 4)
            high = None if c.high is None else round(c.high, 4)
            mark = lab["best"] if best is not None and c.key == best.key else None
            yield [
                name,
                slot_text(c, lang),
                c.posts,
                lift,
                low,
                high,
                mark,
                verdict if i == 0 else None,
            ]


def _header(lab: Mapping[str, str], key: str) -> str:
    names = {
        "release_title": lab["release"],
        "url": lab["link"],
        "release_id": "release_id",
        "published_at": lab["published_at"],
    }
    return names.get(key) or lab.get(key, key)
