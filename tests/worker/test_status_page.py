"""The status page over plain HTTP on the worker's health port: what it shows (local times,
problems with their commands, paused channels, releases, feeds, reports), escaping of hostile
titles, the Content-Security-Policy header, who may see it (token, basic auth, refused when
bound beyond loopback without either; /healthz stays open), and report links that cannot
leave the report folder. Also ``dissem resume``, the command it names for paused channels."""

from __future__ import annotations

import base64
import http.client
import os
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from sqlalchemy import update
from sqlalchemy.orm import Session, sessionmaker

from dissem.cli import cli
from dissem.settings import Settings, get_settings
from dissem.store.db import make_engine, make_session_factory, transaction
from dissem.store.models import ChannelRow
from dissem.worker.health import HealthServer, WorkerMetrics
from dissem.worker.status_page import CSP, StatusPage, is_loopback
from tests.worker.status_seed import HOSTILE, NOW, REPORT, WEEK, seed_status

Factory = sessionmaker[Session]
Get = Callable[..., tuple[int, dict[str, str], str]]


@pytest.fixture
def serve(session_factory: Factory, db_url: str, tmp_path: Path) -> Iterator[Callable[..., Get]]:
    """Starts a health server (bound to 127.0.0.1 whatever ``health_host`` says) with the
    status page over a read-only engine; returns a GET function."""
    servers: list[HealthServer] = []
    engines: list[Any] = []

    def start(**overrides: Any) -> Get:
        settings = Settings(report_dir=tmp_path / "reports", timezone="Asia/Jakarta", **overrides)
        reader = make_engine(db_url, read_only=True)
        engines.append(reader)
        page = StatusPage(make_session_factory(reader), settings, clock=lambda: NOW)
        server = HealthServer(
            "127.0.0.1", 0, WorkerMetrics(session_factory), lambda: {"status": "ok"},
            page=page.handle,
        )  # fmt: skip
        server.start()
        servers.append(server)

        def get(
            path: str, headers: dict[str, str] | None = None
        ) -> tuple[int, dict[str, str], str]:
            conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=10)
            try:
                conn.request("GET", path, headers=headers or {})
                resp = conn.getresponse()
                body = resp.read().decode("utf-8", "replace")
                return resp.status, {k.lower(): v for k, v in resp.getheaders()}, body
            finally:
                conn.close()

        return get

    yield start
    for server in servers:
        server.stop()
    for engine in engines:
        engine.dispose()


def _basic(user: str, password: str) -> dict[str, str]:
    pair = base64.b64encode(f"{user}:{password}".encode()).decode()
    return {"Authorization": f"Basic {pair}"}


def test_page_shows_the_queue_with_commands_local_times_and_a_csp(
    session_factory: Factory, serve: Callable[..., Get], tmp_path: Path
) -> None:
    seeded = seed_status(session_factory, tmp_path / "reports")
    get = serve()
    code, headers, html = get("/status")
    assert code == 200, html
    assert headers["content-type"].startswith("text/html")
    assert headers["content-security-policy"] == CSP
    assert "default-src 'none'" in CSP and "img-src data:" in CSP
    assert "script" not in CSP
    # the exact commands that resolve each problem, and the paused channel's
    assert f"<code>dissem retry {seeded.failed}</code>" in html
    assert f"<code>dissem mark-published {seeded.review} URL</code>" in html
    assert f"<code>dissem mark-published {seeded.unconfirmed} URL</code>" in html
    assert "<code>dissem resume hq-bluesky</code>" in html
    assert "credentials missing: DISSEM_BLUESKY_HQ_PASSWORD is not set" in html
    assert "resumes Tue 01 Dec 12:00 WIB" in html  # 05:00 UTC in Jakarta
    # what goes out next, each channel in its own time: 08:00, 09:00, 10:00 UTC
    assert "15:00 WIB" in html and "18:00 JST" in html and "11:00 CET" in html
    assert "(thread of 3)" in html and html.count("インドネシア文化フェスティバル") >= 1
    # each release's state across its channels
    assert 'data-release="workshop"' in html and "hq-x: scheduled" in html  # its re-share
    assert "hq-x: unconfirmed" in html and "embassy-tokyo-x: needs review" in html
    # feeds and the latest weekly report, linked through the page
    assert 'data-feed="portal-berita"' in html
    assert f'href="/status/reports/{WEEK}/{REPORT}"' in html
    # no external resource, no script
    assert "<script" not in html.split("<body>")[0] + html.split("</main>")[0].split("<main>")[0]
    assert "http://" not in html.replace("http://127.0.0.1", "")
    # / leads to the page
    assert get("/")[0] == 303


def test_hostile_titles_and_errors_are_escaped(
    session_factory: Factory, serve: Callable[..., Get], tmp_path: Path
) -> None:
    seed_status(session_factory, tmp_path / "reports")
    code, _, html = serve()("/status")
    assert code == 200
    assert HOSTILE not in html and "<script>alert" not in html and "<img src" not in html
    assert "&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt;" in html
    assert "auth: 401 &lt;b&gt;token revoked&lt;/b&gt;" in html


def test_beyond_loopback_the_page_needs_a_secret_and_healthz_stays_open(
    session_factory: Factory, serve: Callable[..., Get], tmp_path: Path
) -> None:
    seed_status(session_factory, tmp_path / "reports")
    get = serve(health_host="0.0.0.0")
    code, _, body = get("/status")
    assert code == 403 and "DISSEM_STATUS_TOKEN" in body
    assert get(f"/status/reports/{WEEK}/{REPORT}")[0] == 403
    assert get("/healthz")[0] == 200
    assert get("/metrics")[0] == 200


def test_token_and_basic_auth(
    session_factory: Factory, serve: Callable[..., Get], tmp_path: Path
) -> None:
    seed_status(session_factory, tmp_path / "reports")
    get = serve(
        health_host="0.0.0.0",
        status_token="tok-3f9a",
        status_user="comms",
        status_password="pässwörd",
    )
    code, headers, body = get("/status")
    assert code == 401 and headers["www-authenticate"].startswith("Basic realm=")
    assert "tok-3f9a" not in body and "pässwörd" not in body
    assert get("/status", {"Authorization": "Bearer wrong"})[0] == 401
    assert get("/status", {"Authorization": "Bearer tok-3f9a"})[0] == 200
    assert get("/status", _basic("anyone", "tok-3f9a"))[0] == 200  # a browser's prompt
    assert get("/status", _basic("comms", "pässwörd"))[0] == 200
    assert get("/status", _basic("comms", "wrong"))[0] == 401
    assert get("/status", _basic("other", "pässwörd"))[0] == 401
    assert get("/status", {"Authorization": "Basic !!!not-base64"})[0] == 401
    assert get("/healthz")[0] == 200


def test_reports_are_served_from_the_report_folder_only(
    session_factory: Factory, serve: Callable[..., Get], tmp_path: Path
) -> None:
    seed_status(session_factory, tmp_path / "reports")
    secret = tmp_path / "secret.html"
    secret.write_text("secret", "utf-8")
    week = tmp_path / "reports" / "2026-W47"
    week.mkdir()
    os.symlink(secret, week / "dissem-report-2026-W47-en.html")
    get = serve()
    code, headers, body = get(f"/status/reports/{WEEK}/{REPORT}")
    assert code == 200 and "report" in body and headers["content-security-policy"] == CSP
    code, headers, _ = get(f"/status/reports/{WEEK}/dissem-report-{WEEK}-en.csv")
    assert code == 200 and headers["content-disposition"].startswith("attachment")
    for path in (
        "/status/reports/../secret.html",
        f"/status/reports/{WEEK}/../../secret.html",
        "/status/reports/%2e%2e/secret.html",
        f"/status/reports/{WEEK}/..%2f..%2fsecret.html",
        "/status/reports/2026-W47/dissem-report-2026-W47-en.html",  # a symlink out
        f"/status/reports/{WEEK}/other.html",
    ):
        code, _, body = get(path)
        assert code == 404 and "secret" not in body, path


def test_loopback_addresses() -> None:
    assert is_loopback("127.0.0.1") and is_loopback("::1") and is_loopback("localhost")
    assert not is_loopback("0.0.0.0") and not is_loopback("") and not is_loopback("10.0.0.5")


def test_worker_serves_the_page_on_its_health_port(tmp_path: Path) -> None:
    from dissem.worker.daemon import Worker

    settings = Settings(
        database_url=f"sqlite:///{tmp_path / 'w.db'}", config_dir=tmp_path, health_port=0
    )
    worker = Worker(settings, clock=lambda: NOW)
    server = worker._start_health()
    assert server is not None
    try:
        conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=10)
        conn.request("GET", "/status")
        resp = conn.getresponse()
        assert resp.status == 200 and b"Nothing needs a person right now" in resp.read()
        assert resp.getheader("Content-Security-Policy") == CSP
    finally:
        server.stop()
        worker.close()


def test_resume_command_lifts_a_pause(
    session_factory: Factory, db_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    seed_status(session_factory, tmp_path / "reports")
    monkeypatch.setenv("DISSEM_DATABASE_URL", db_url)
    get_settings.cache_clear()
    try:
        result = CliRunner().invoke(cli, ["resume", "hq-bluesky"])
        assert result.exit_code == 0, result.output
        assert "resumed (was paused: credentials missing" in result.output
        assert CliRunner().invoke(cli, ["resume", "nope"]).exit_code == 1
    finally:
        get_settings.cache_clear()
    with session_factory() as s:
        row = s.get(ChannelRow, "hq-bluesky")
        assert row is not None and row.paused_until is None
    with transaction(session_factory) as s:
        s.execute(update(ChannelRow).values(paused_until=None))
