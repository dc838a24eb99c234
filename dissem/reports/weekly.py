"""The weekly report: ISO weeks, generating the files, and the once-a-week daemon job.

- :class:`IsoWeek` parses ``2026-W48``; a week runs from Monday 00:00 to the next Monday
  00:00 in ``Settings.timezone``.
- :func:`generate_report` aggregates one week and writes HTML, CSV and XLSX into a folder
  (default ``Settings.report_dir/<week>/``), each file written whole or not at all, named
  ``dissem-report-<week>-<lang>.<format>`` so a report in another language never replaces
  one already there. A week not over at ``now`` is marked partial.
- :func:`deliver_report` sends it by e-mail and/or webhook when those are configured.
- :func:`run_weekly_report` is what the daemon calls on every tick: it generates the last
  complete week once ``report_day``/``report_time`` (in ``report_timezone`` or
  ``timezone``) has come, exactly once per week across workers and restarts (a
  :class:`~dissem.store.models.ReportRun` row, inserted before the work, is the claim).
"""

from __future__ import annotations

import logging
import os
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import requests
from sqlalchemy import delete, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from dissem.config.models import DAY_NAMES
from dissem.errors import DeliveryError
from dissem.reports.deliver import SmtpClient, post_webhook, recipients, send_email
from dissem.reports.figures import WeekFigures, build_week_figures, summary_dict
from dissem.reports.html import render_html
from dissem.reports.labels import labels
from dissem.reports.tables import write_csv, write_xlsx
from dissem.settings import Settings
from dissem.store.db import transaction
from dissem.store.models import ReportRun

__all__ = [
    "FORMATS",
    "IsoWeek",
    "ReportResult",
    "deliver_report",
    "generate_report",
    "last_complete_week",
    "parse_formats",
    "report_file_name",
    "run_weekly_report",
]

log = logging.getLogger(__name__)

FORMATS: tuple[str, ...] = ("html", "csv", "xlsx")
#: a claim row without files older than this belongs to a worker that died mid-report
STALE_CLAIM = timedelta(hours=1)
_WEEK_RE = re.compile(r"^\s*(\d{4})-?[Ww](\d{1,2})\s*$")


@dataclass(frozen=True, order=True)
class IsoWeek:
    """An ISO 8601 week (Monday first)."""

    year: int
    week: int

    def __post_init__(self) -> None:
        date.fromisocalendar(self.year, self.week, 1)  # raises ValueError for a bad week

    @classmethod
    def parse(cls, text: str) -> IsoWeek:
        """``2026-W48`` (also ``2026W48``, ``2026-w48``); raises ``ValueError`` with a hint."""
        m = _WEEK_RE.match(text)
        if not m:
            raise ValueError(f"{text!r} is not an ISO week; write e.g. 2026-W48")
        try:
            return cls(int(m.group(1)), int(m.group(2)))
        except ValueError:
            raise ValueError(f"{text!r}: year {m.group(1)} has no week {m.group(2)}") from None

    @classmethod
    def containing(cls, day: date) -> IsoWeek:
        iso = day.isocalendar()
        return cls(iso.year, iso.week)

    def __str__(self) -> str:
        return f"{self.year}-W{self.week:02d}"

    def monday(self) -> date:
        return date.fromisocalendar(self.year, self.week, 1)

    def previous(self) -> IsoWeek:
        return IsoWeek.containing(self.monday() - timedelta(days=7))

    def bounds(self, timezone: str) -> tuple[datetime, datetime]:
        """``[start, end)`` of the week in ``timezone``, as aware UTC datetimes."""
        zone = ZoneInfo(timezone)
        start = datetime.combine(self.monday(), time(0), tzinfo=zone)
        end = datetime.combine(self.monday() + timedelta(days=7), time(0), tzinfo=zone)
        return start.astimezone(UTC), end.astimezone(UTC)


def last_complete_week(now: datetime, timezone: str) -> IsoWeek:
    """The latest week that has fully ended at ``now`` in ``timezone``."""
    return IsoWeek.containing(now.astimezone(ZoneInfo(timezone)).date()).previous()


def parse_formats(text: str) -> tuple[str, ...]:
    """``"html,csv"`` -> ``("html", "csv")``; raises ``ValueError`` for an unknown format."""
    chosen = tuple(dict.fromkeys(f.strip().lower() for f in text.split(",") if f.strip()))
    unknown = [f for f in chosen if f not in FORMATS]
    if unknown or not chosen:
        raise ValueError(f"unknown report format {', '.join(unknown) or '(none)'}; use {FORMATS}")
    return chosen


@dataclass
class ReportResult:
    """A generated report: its files by format, its summary, and how delivery went."""

    week: str
    out_dir: Path
    files: dict[str, Path]
    summary: dict[str, Any]
    html: str = field(repr=False, default="")
    delivered: list[str] = field(default_factory=list)  # "email", "webhook"
    errors: list[str] = field(default_factory=list)


def _write_atomically(path: Path, write: Callable[[Path], object]) -> Path:
    tmp = path.with_name(f".{path.name}.tmp")
    write(tmp)
    os.replace(tmp, path)
    return path


def generate_report(
    session_factory: sessionmaker[Session],
    settings: Settings,
    week: IsoWeek | str | None = None,
    *,
    now: datetime,
    out_dir: Path | None = None,
    formats: str | tuple[str, ...] | None = None,
    lang: str | None = None,
) -> ReportResult:
    """Aggregates ``week`` (default: the last complete one at ``now``) and writes the files.

    Raises ``ValueError`` for a bad week, format or language.
    """
    if week is None:
        week = last_complete_week(now, settings.timezone)
    elif isinstance(week, str):
        week = IsoWeek.parse(week)
    if formats is None:
        fmts = parse_formats(settings.report_formats)
    else:
        fmts = parse_formats(formats if isinstance(formats, str) else ",".join(formats))
    lang = lang or settings.report_lang
    labels(lang)  # validates the language before any work
    start, end = week.bounds(settings.timezone)
    with transaction(session_factory) as session:
        figures = build_week_figures(session, str(week), start, end, settings.timezone, now=now)
    folder = out_dir if out_dir is not None else settings.report_dir / str(week)
    folder.mkdir(parents=True, exist_ok=True)
    html = render_html(figures, lang, now)
    files = _write_files(figures, html, folder, fmts, lang)
    return ReportResult(str(week), folder, files, summary_dict(figures), html=html)


def report_file_name(week: str, lang: str, fmt: str) -> str:
    """``dissem-report-2026-W48-id.html``: the language is part of the name."""
    return f"dissem-report-{week}-{lang}.{fmt}"


def _write_files(
    figures: WeekFigures, html: str, folder: Path, fmts: tuple[str, ...], lang: str
) -> dict[str, Path]:
    files: dict[str, Path] = {}
    for fmt in fmts:
        path = folder / report_file_name(figures.week, lang, fmt)
        if fmt == "html":
            files[fmt] = _write_atomically(path, lambda p: p.write_text(html, encoding="utf-8"))
        elif fmt == "csv":
            files[fmt] = _write_atomically(path, lambda p: write_csv(figures, p))
        else:
            files[fmt] = _write_atomically(path, lambda p: write_xlsx(figures, p, lang))
    return files


def deliver_report(
    result: ReportResult,
    settings: Settings,
    *,
    smtp_factory: Callable[[str, int, float], SmtpClient] | None = None,
    http: requests.Session | None = None,
) -> ReportResult:
    """Sends the report where configured (``report_email_to``, ``report_webhook_url``).

    One failing way does not stop the other; failures land in ``result.errors``.
    """
    lab = labels(settings.report_lang)
    to = recipients(settings.report_email_to)
    if to:
        try:
            attachments = [p for f, p in result.files.items() if f != "html"]
            subject = f"{lab['title']} {result.week}"
            send_email(settings, to, subject, result.html, attachments, smtp_factory=smtp_factory)
            result.delivered.append("email")
        except DeliveryError as exc:
            result.errors.append(str(exc))
    if settings.report_webhook_url:
        body = {**result.summary, "files": sorted(p.name for p in result.files.values())}
        try:
            post_webhook(
                settings.report_webhook_url, body, timeout=settings.http_timeout, session=http
            )
            result.delivered.append("webhook")
        except DeliveryError as exc:
            result.errors.append(str(exc))
    return result


def report_due_at(now: datetime, settings: Settings) -> datetime:
    """This week's report moment (``report_day`` at ``report_time`` in the report zone)."""
    zone = ZoneInfo(settings.report_timezone or settings.timezone)
    local = now.astimezone(zone)
    hour, minute = (int(x) for x in settings.report_time.split(":"))
    monday = local.date() - timedelta(days=local.weekday())
    day = monday + timedelta(days=DAY_NAMES.index(settings.report_day))
    return datetime.combine(day, time(hour, minute), tzinfo=zone).astimezone(UTC)


def run_weekly_report(
    session_factory: sessionmaker[Session],
    settings: Settings,
    now: datetime,
    *,
    smtp_factory: Callable[[str, int, float], SmtpClient] | None = None,
    http: requests.Session | None = None,
) -> ReportResult | None:
    """Generates and delivers the last complete week's report once its moment has come.

    Returns None when it is not time yet or the week's report exists (or another worker is
    making it). A failure while generating removes the claim, so a later tick tries again;
    a failed delivery is recorded in ``ReportRun.delivery_error`` and not retried (no
    duplicate e-mails).
    """
    if now < report_due_at(now, settings):
        return None
    week = str(last_complete_week(now, settings.timezone))
    if not _claim(session_factory, week, now):
        return None
    try:
        result = generate_report(session_factory, settings, week, now=now)
    except Exception:
        with transaction(session_factory) as session:
            session.execute(delete(ReportRun).where(ReportRun.week == week))
        raise
    deliver_report(result, settings, smtp_factory=smtp_factory, http=http)
    with transaction(session_factory) as session:
        session.execute(
            update(ReportRun)
            .where(ReportRun.week == week)
            .values(
                files={f: str(p) for f, p in result.files.items()},
                delivered=not result.errors,
                delivery_error="; ".join(result.errors) or None,
            )
        )
    log.info("weekly report %s written to %s", week, result.out_dir)
    return result


def _claim(session_factory: sessionmaker[Session], week: str, now: datetime) -> bool:
    try:
        with transaction(session_factory) as session:
            session.add(ReportRun(week=week, generated_at=now, files={}, delivered=False))
        return True
    except IntegrityError:
        pass
    with transaction(session_factory) as session:
        run = session.scalar(select(ReportRun).where(ReportRun.week == week))
        if run is None or run.files or run.generated_at > now - STALE_CLAIM:
            return False
        taken = session.execute(
            update(ReportRun)
            .where(ReportRun.week == week, ReportRun.generated_at == run.generated_at)
            .values(generated_at=now)
            .execution_options(synchronize_session=False)
        )
        return bool(getattr(taken, "rowcount", 0))
