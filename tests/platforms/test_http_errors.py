"""The shared HTTP helper maps transport failures and statuses onto the error tree."""

from __future__ import annotations

import socket
import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
import requests

from dissem.errors import (
    AuthError,
    ContentRejected,
    OutcomeUnknown,
    PlatformError,
    RateLimited,
    TransientError,
)
from dissem.platforms.http import DEFAULT_RETRY_AFTER, call, error_for_response, parse_retry_at

NOW = datetime(2026, 11, 30, 12, 0, tzinfo=UTC)


def response(
    status: int, headers: dict[str, str] | None = None, body: bytes = b""
) -> requests.Response:
    r = requests.Response()
    r.status_code = status
    r.headers.update(headers or {})
    r._content = body
    return r


@pytest.mark.parametrize(
    ("headers", "body", "expected"),
    [
        ({"x-rate-limit-reset": "1796040000"}, b"", datetime.fromtimestamp(1796040000, UTC)),
        ({"RateLimit-Reset": "1796040000"}, b"", datetime.fromtimestamp(1796040000, UTC)),
        ({"X-RateLimit-Reset": "2026-11-30T12:05:00.000Z"}, b"", NOW + timedelta(minutes=5)),
        ({"RateLimit-Reset": "30"}, b"", NOW + timedelta(seconds=30)),
        ({"Retry-After": "120"}, b"", NOW + timedelta(minutes=2)),
        ({"Retry-After": "Mon, 30 Nov 2026 12:10:00 GMT"}, b"", NOW + timedelta(minutes=10)),
        ({}, b'{"ok":false,"parameters":{"retry_after":7}}', NOW + timedelta(seconds=7)),
        ({}, b"", NOW + DEFAULT_RETRY_AFTER),
        ({"X-RateLimit-Reset": "garbage"}, b"not json", NOW + DEFAULT_RETRY_AFTER),
    ],
)
def test_retry_at_from_each_platform_signal(
    headers: dict[str, str], body: bytes, expected: datetime
) -> None:
    assert parse_retry_at(response(429, headers, body), NOW) == expected


@pytest.mark.parametrize(
    ("status", "creates", "kind"),
    [
        (401, True, AuthError),
        (403, False, AuthError),
        (400, True, ContentRejected),
        (422, True, ContentRejected),
        (500, True, OutcomeUnknown),
        (503, False, TransientError),
        (408, True, OutcomeUnknown),
        (429, True, RateLimited),
    ],
)
def test_status_mapping(status: int, creates: bool, kind: type[PlatformError]) -> None:
    error = error_for_response(
        response(status, body=b'{"error":"nope"}'), platform="p", creates=creates, now=NOW
    )
    assert type(error) is kind
    assert error.status == status and error.platform == "p"
    assert "nope" in str(error)


@pytest.fixture
def silent_server() -> Iterator[str]:
    """Accepts a connection, reads the request, then closes without answering (or never
    answers, for timeouts: the second connection is held open)."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen()
    held: list[socket.socket] = []

    def serve() -> None:
        while True:
            try:
                conn, _ = listener.accept()
            except OSError:
                return
            conn.recv(65536)
            if held:  # second and later connections: hold them (read timeout)
                held.append(conn)
            else:
                held.append(conn)
                conn.close()

    threading.Thread(target=serve, daemon=True).start()
    yield f"http://127.0.0.1:{listener.getsockname()[1]}"
    listener.close()
    for conn in held:
        conn.close()


def test_transport_failures(silent_server: str) -> None:
    with requests.Session() as s:
        with pytest.raises(OutcomeUnknown, match="connection lost"):
            call(s, "POST", silent_server + "/a", platform="p", timeout=2, creates=True)
        with pytest.raises(TransientError, match="no answer"):
            call(s, "GET", silent_server + "/b", platform="p", timeout=0.2, creates=False)
        with pytest.raises(OutcomeUnknown, match="no answer"):
            call(s, "POST", silent_server + "/c", platform="p", timeout=0.2, creates=True)
        with pytest.raises(TransientError, match="cannot connect"):
            call(s, "POST", "http://127.0.0.1:9/d", platform="p", timeout=2, creates=True)


def test_classifier_runs_first_and_may_defer() -> None:
    special = ContentRejected("special")
    with requests.Session() as s:
        s.mount("http://fake/", _Fixed(response(422)))
        with pytest.raises(ContentRejected, match="special"):
            call(s, "GET", "http://fake/x", platform="p", timeout=1, classify=lambda r: special)
        with pytest.raises(ContentRejected, match="HTTP 422"):
            call(s, "GET", "http://fake/x", platform="p", timeout=1, classify=lambda r: None)


class _Fixed(requests.adapters.BaseAdapter):
    def __init__(self, answer: requests.Response) -> None:
        super().__init__()
        self.answer = answer

    def send(
        self, request: requests.PreparedRequest, *args: object, **kwargs: object
    ) -> requests.Response:  # type: ignore[override]
        return self.answer

    def close(self) -> None:
        pass
