"""Webhook URLs and the SMTP password are secrets: a failed alert or report delivery names
its kind and status, never the URL, in errors and in every log line (urllib3's DEBUG
request lines included, which print the path alone)."""

from __future__ import annotations

import logging
import socket
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from pydantic import SecretStr

from dissem.errors import AlertFailed, DeliveryError
from dissem.redact import MASK, forget_secrets, redact
from dissem.reports.deliver import post_webhook
from dissem.settings import Settings
from dissem.worker.alerts import FanOutAlerter, WebhookAlerter, build_alerter

TOKEN = "T0AAAA1/B0BBBB2/xoxbSeCrEtWebhookToken"


@pytest.fixture(autouse=True)
def _registry() -> Iterator[None]:
    yield
    forget_secrets()


@pytest.fixture
def refusing_hook() -> Iterator[str]:
    """A webhook URL with a token in its path, on a server that answers 404."""

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def do_POST(self) -> None:
            self.rfile.read(int(self.headers["Content-Length"]))
            self.send_response(404)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}/services/{TOKEN}"
    server.shutdown()
    server.server_close()


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _leaks(text: str) -> bool:
    return any(part in text for part in ("xoxbSeCrEt", "B0BBBB2", "/services/T0"))


def test_a_refused_alert_is_logged_without_the_webhook_url(
    refusing_hook: str, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)  # urllib3 prints the request line at DEBUG
    FanOutAlerter([WebhookAlerter(refusing_hook, 5)]).send("failed", "post 3 failed", post_id=3)
    assert "alert via WebhookAlerter failed: webhook: HTTP 404" in caplog.text
    assert not _leaks(caplog.text), caplog.text


def test_an_unreachable_alert_webhook_is_logged_without_its_url(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)
    url = f"http://127.0.0.1:{_closed_port()}/services/{TOKEN}?key=query-secret-771"
    hook = WebhookAlerter(url, 2)
    with pytest.raises(AlertFailed) as caught:
        hook.send("failed", "post 4 failed")
    assert str(caught.value) == "webhook: cannot deliver (ConnectionError)"
    assert caught.value.__context__ is None and caught.value.__cause__ is None
    FanOutAlerter([hook]).send("failed", "post 5 failed", post_id=5)
    assert "alert via WebhookAlerter failed" in caplog.text
    assert not _leaks(caplog.text) and "query-secret-771" not in caplog.text, caplog.text


def test_a_refused_report_webhook_leaks_nothing_at_debug(
    refusing_hook: str, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    # an earlier test's dissem.logs set-up leaves urllib3's own logger at WARNING
    caplog.set_level(logging.DEBUG, logger="urllib3")
    with pytest.raises(DeliveryError, match="webhook: HTTP 404") as caught:
        post_webhook(refusing_hook, {"week": "2026-W49"}, timeout=5)
    assert "POST" in caplog.text  # urllib3's request line was logged, masked
    assert not _leaks(caplog.text + str(caught.value)), caplog.text


def test_every_webhook_url_and_the_smtp_password_are_secrets_from_the_start() -> None:
    settings = Settings(
        _env_file=None,  # type: ignore[call-arg]
        alert_webhook_url="https://hooks.example/services/alert-token-0001",
        report_webhook_url="https://user:pw-in-url-9@chat.example/hooks/report?token=rep-tok-02",
        smtp_password=SecretStr("smtp-password-3"),
    )
    build_alerter(settings)
    text = (
        "https://hooks.example/services/alert-token-0001 | POST /services/alert-token-0001 | "
        "/hooks/report?token=rep-tok-02 | rep-tok-02 | pw-in-url-9 | smtp-password-3"
    )
    out = redact(text)
    for secret in ("alert-token-0001", "rep-tok-02", "pw-in-url-9", "smtp-password-3"):
        assert secret not in out, out
    assert out.count(MASK) == 6
