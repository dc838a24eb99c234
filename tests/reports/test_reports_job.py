"""The daemon's weekly job: once per week, across workers and restarts; delivery."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from email.message import EmailMessage
from http.server import BaseHTTPRequestHandler, HTTPServer
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from dissem.reports import weekly
from dissem.reports.weekly import run_weekly_report
from dissem.settings import Settings
from dissem.store.db import make_engine, make_session_factory, transaction
from dissem.store.models import ReportRun
from tests.reports.report_seed import TZ, seed_week

# Monday 30 Nov 2026 08:00 in Jakarta (UTC+7)
DUE = datetime(2026, 11, 30, 1, 0, tzinfo=UTC)
SMTP_PASSWORD = "smtp-pass-Zq81x"
HOOK_TOKEN = "hooktoken-9f8e7d"


def _settings(tmp_path: Path, **kw: Any) -> Settings:
    base: dict[str, Any] = {
        "timezone": TZ,
        "report_day": "mon",
        "report_time": "08:00",
        "report_dir": tmp_path / "reports",
    }
    base.update(kw)
    return Settings(**base)


def _runs(factory: sessionmaker[Session]) -> list[ReportRun]:
    with transaction(factory) as s:
        return list(s.scalars(select(ReportRun).order_by(ReportRun.week)))


def test_once_per_week_at_the_report_time(
    session_factory: sessionmaker[Session], db_url: str, tmp_path: Path
) -> None:
    seed_week(session_factory)
    settings = _settings(tmp_path)
    assert run_weekly_report(session_factory, settings, DUE - timedelta(minutes=1)) is None
    assert _runs(session_factory) == []
    result = run_weekly_report(session_factory, settings, DUE)
    assert result is not None and result.week == "2026-W48"
    assert result.files["html"].exists() and result.files["xlsx"].exists()
    assert result.files["csv"].parent == tmp_path / "reports" / "2026-W48"
    # later ticks, a restart, another worker: nothing more
    assert run_weekly_report(session_factory, settings, DUE + timedelta(hours=3)) is None
    other = make_engine(db_url)
    try:
        assert (
            run_weekly_report(make_session_factory(other), settings, DUE + timedelta(days=2))
            is None
        )
    finally:
        other.dispose()
    runs = _runs(session_factory)
    assert [r.week for r in runs] == ["2026-W48"]
    assert runs[0].delivered and set(runs[0].files) == {"html", "csv", "xlsx"}
    # the next week comes on the next Monday, not before
    assert run_weekly_report(session_factory, settings, DUE + timedelta(days=6)) is None
    nxt = run_weekly_report(session_factory, settings, DUE + timedelta(days=7))
    assert nxt is not None and nxt.week == "2026-W49"


def test_report_timezone_moves_the_moment(
    session_factory: sessionmaker[Session], tmp_path: Path
) -> None:
    settings = _settings(tmp_path, report_timezone="Europe/Berlin", report_day="tue")
    tuesday_8_berlin = datetime(2026, 12, 1, 7, 0, tzinfo=UTC)
    assert (
        run_weekly_report(session_factory, settings, tuesday_8_berlin - timedelta(seconds=1))
        is None
    )
    result = run_weekly_report(session_factory, settings, tuesday_8_berlin)
    assert result is not None and result.week == "2026-W48"


def test_workers_racing_make_one_report(
    session_factory: sessionmaker[Session], db_url: str, tmp_path: Path
) -> None:
    settings = _settings(tmp_path)
    engines = [make_engine(db_url) for _ in range(3)]
    barrier = threading.Barrier(len(engines))
    results: list[Any] = []

    def worker(factory: sessionmaker[Session]) -> None:
        barrier.wait()
        results.append(run_weekly_report(factory, settings, DUE))

    threads = [threading.Thread(target=worker, args=(make_session_factory(e),)) for e in engines]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    for e in engines:
        e.dispose()
    assert len(results) == 3
    assert len([r for r in results if r is not None]) == 1
    assert len(_runs(session_factory)) == 1


def test_a_stale_claim_is_taken_over_a_fresh_one_is_not(
    session_factory: sessionmaker[Session], tmp_path: Path
) -> None:
    settings = _settings(tmp_path)
    with transaction(session_factory) as s:
        s.add(ReportRun(week="2026-W48", generated_at=DUE - timedelta(minutes=10), files={}))
    assert run_weekly_report(session_factory, settings, DUE) is None  # someone is at it
    later = DUE + timedelta(hours=2)  # ... and died: the claim is stale
    result = run_weekly_report(session_factory, settings, later)
    assert result is not None
    assert _runs(session_factory)[0].generated_at == later


def test_a_failed_generation_leaves_no_claim(
    session_factory: sessionmaker[Session], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    settings = _settings(tmp_path)

    def boom(*_a: Any, **_k: Any) -> Any:
        raise OSError("disk full")

    monkeypatch.setattr(weekly, "generate_report", boom)
    with pytest.raises(OSError, match="disk full"):
        run_weekly_report(session_factory, settings, DUE)
    assert _runs(session_factory) == []
    monkeypatch.undo()
    assert run_weekly_report(session_factory, settings, DUE + timedelta(minutes=1)) is not None


class _FakeSmtp:
    sent: list[EmailMessage]
    calls: list[str]

    def __init__(self, host: str, port: int, timeout: float) -> None:
        self.calls.append(f"connect {host}:{port}")

    def __enter__(self) -> _FakeSmtp:
        return self

    def __exit__(self, *exc: object) -> None:
        self.calls.append("quit")

    def starttls(self) -> None:
        self.calls.append("starttls")

    def login(self, user: str, password: str) -> None:
        assert password == SMTP_PASSWORD
        self.calls.append(f"login {user}")

    def send_message(self, msg: EmailMessage) -> None:
        self.sent.append(msg)


@pytest.fixture
def hook() -> Iterator[tuple[str, list[Any], list[int]]]:
    """A webhook receiver on 127.0.0.1; returns (url, bodies received, [status to answer])."""
    bodies: list[Any] = []
    status = [204]

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            length = int(self.headers["Content-Length"])
            bodies.append(json.loads(self.rfile.read(length)))
            self.send_response(status[0])
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, *args: Any) -> None:
            pass

    server = HTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}/hook?token={HOOK_TOKEN}", bodies, status
    server.shutdown()
    server.server_close()


def test_delivery_by_email_and_webhook_without_secrets(
    session_factory: sessionmaker[Session],
    tmp_path: Path,
    hook: tuple[str, list[Any], list[int]],
) -> None:
    url, bodies, _ = hook
    seed_week(session_factory)
    settings = _settings(
        tmp_path,
        report_email_to="desk@ministry.example, chief@ministry.example",
        smtp_host="mail.example",
        smtp_user="dissem",
        smtp_password=SMTP_PASSWORD,
        report_webhook_url=url,
    )
    _FakeSmtp.sent, _FakeSmtp.calls = [], []
    result = run_weekly_report(session_factory, settings, DUE, smtp_factory=_FakeSmtp)
    assert result is not None and result.delivered == ["email", "webhook"] and not result.errors
    assert _FakeSmtp.calls == ["connect mail.example:587", "starttls", "login dissem", "quit"]
    (msg,) = _FakeSmtp.sent
    assert msg["To"] == "desk@ministry.example, chief@ministry.example"
    assert "2026-W48" in msg["Subject"]
    html_part = msg.get_body(("html",))
    assert html_part is not None and "data-figure" in html_part.get_content()
    names = sorted(p.get_filename() or "" for p in msg.iter_attachments())
    assert names == ["dissem-report-2026-W48-en.csv", "dissem-report-2026-W48-en.xlsx"]
    (body,) = bodies
    assert body["week"] == "2026-W48" and body["posts"] == 5 and body["engagement"] == 93
    assert body["files"] == sorted(p.name for p in result.files.values())
    everything = msg.as_string() + json.dumps(body)
    everything += "".join(p.read_bytes().decode("latin-1") for p in result.files.values())
    assert SMTP_PASSWORD not in everything and HOOK_TOKEN not in everything
    assert _runs(session_factory)[0].delivered


def test_failed_delivery_is_recorded_not_retried(
    session_factory: sessionmaker[Session],
    tmp_path: Path,
    hook: tuple[str, list[Any], list[int]],
) -> None:
    url, bodies, status = hook
    status[0] = 500
    settings = _settings(tmp_path, report_webhook_url=url)
    result = run_weekly_report(session_factory, settings, DUE)
    assert result is not None and result.errors == ["webhook: HTTP 500"]
    (run,) = _runs(session_factory)
    assert not run.delivered and run.delivery_error == "webhook: HTTP 500"
    assert run_weekly_report(session_factory, settings, DUE + timedelta(hours=1)) is None
    assert len(bodies) == 1
    # an SMTP server that cannot be reached: an error naming e-mail, no password in it
    settings = _settings(
        tmp_path,
        report_email_to="a@b.example",
        smtp_host="127.0.0.1",
        smtp_port=1,
        smtp_password=SMTP_PASSWORD,
    )
    result = weekly.generate_report(session_factory, settings, "2026-W48", now=DUE)
    weekly.deliver_report(result, settings)
    assert len(result.errors) == 1 and result.errors[0].startswith("e-mail:")
    assert SMTP_PASSWORD not in result.errors[0]
