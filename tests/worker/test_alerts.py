"""Alerts: webhook payload, de-duplication, redaction, failures never raise."""

from __future__ import annotations

import json
import logging
import socket
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from dissem.redact import forget_secrets, register_secret
from dissem.worker.alerts import FanOutAlerter, WebhookAlerter


@pytest.fixture
def hook() -> Iterator[tuple[str, list[dict[str, Any]]]]:
    received: list[dict[str, Any]] = []

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers["Content-Length"]))
            received.append(json.loads(body))
            self.send_response(204)
            self.end_headers()

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_port}/hook", received
    server.shutdown()


def test_webhook_gets_redacted_deduplicated_alerts(
    hook: tuple[str, list[dict[str, Any]]],
) -> None:
    url, received = hook
    register_secret("tok-SECRET-123")
    try:
        clock = [0.0]
        alerter = FanOutAlerter([WebhookAlerter(url, 5)], clock=lambda: clock[0])
        alerter.send("auth", "401 with token tok-SECRET-123", channel="hq-x")
        alerter.send("auth", "401 with token tok-SECRET-123", channel="hq-x")  # duplicate
        alerter.send("auth", "401 again", channel="hq-m")  # other channel
        clock[0] = 4000.0
        alerter.send("auth", "401 with token tok-SECRET-123", channel="hq-x")  # after an hour
    finally:
        forget_secrets()
    assert [r["channel"] for r in received] == ["hq-x", "hq-m", "hq-x"]
    assert all("SECRET" not in json.dumps(r) for r in received)
    assert received[0]["kind"] == "auth" and "***" in received[0]["message"]


class _Broken:
    """An alert target that always fails, as an unreachable SMTP server would."""

    def __init__(self) -> None:
        self.calls = 0

    def send(self, kind: str, message: str, **fields: Any) -> None:
        self.calls += 1
        raise RuntimeError("smtp down")


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_failing_target_never_raises(
    hook: tuple[str, list[dict[str, Any]]], caplog: pytest.LogCaptureFixture
) -> None:
    """Failing targets are logged (without the webhook URL) and the others still receive."""
    url, received = hook
    dead = f"http://127.0.0.1:{_closed_port()}/hook-token-XYZ"
    broken = _Broken()
    alerter = FanOutAlerter([broken, WebhookAlerter(dead, 1), WebhookAlerter(url, 5)])
    try:
        with caplog.at_level(logging.ERROR, logger="dissem.worker.alerts"):
            alerter.send("failed", "post 3 failed", post_id=3)  # must not raise
            alerter.send("failed", "post 4 failed", post_id=4)
    finally:
        forget_secrets()
    assert [r["post_id"] for r in received] == ["3", "4"]
    assert broken.calls == 2
    failures = [r.getMessage() for r in caplog.records if r.levelno == logging.ERROR]
    assert (
        failures
        == [
            "alert via _Broken failed: smtp down",
            "alert via WebhookAlerter failed: webhook: cannot deliver (ConnectionError)",
        ]
        * 2
    )
    assert "hook-token-XYZ" not in caplog.text
