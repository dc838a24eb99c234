"""Hostile clients against the two HTTP servers dissem runs: the sandbox and the worker's
``/healthz`` + ``/metrics`` (both on :mod:`dissem.bounded_http`).

A huge or malformed body is answered 413/400 before a byte of it is read; a client trickling
headers, or holding connections open, is cut off; a client that goes away leaves a DEBUG
line in the log and no traceback on stderr. Timeouts are made short for the tests (the
server's limits are parameters), so no test waits long.
"""

from __future__ import annotations

import logging
import socket
import struct
from collections.abc import Callable, Iterator
from dataclasses import replace

import pytest

from dissem.bounded_http import Limits
from dissem.sandbox import server as sandbox_server
from dissem.sandbox import start_sandbox
from dissem.store.db import make_engine, make_session_factory
from dissem.worker import health
from dissem.worker.health import HealthServer, WorkerMetrics

#: short enough for a test, long enough for a loaded machine to send a request line
FAST = {"header_timeout": 1.0, "idle_timeout": 1.0, "body_timeout": 1.0}
Server = tuple[str, int]  # (name, port)


@pytest.fixture(params=["sandbox", "health"])
def server(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> Iterator[Server]:
    """The sandbox or a health server on 127.0.0.1, with short timeouts and 3 connections."""
    if request.param == "sandbox":
        limits = replace(_limits(sandbox_server), max_connections=3, **FAST)
        monkeypatch.setattr(sandbox_server, "LIMITS", limits, raising=False)
        with start_sandbox() as sb:
            yield "sandbox", int(sb.url.rsplit(":", 1)[1])
        return
    limits = replace(_limits(health), max_connections=3, **FAST)
    monkeypatch.setattr(health, "LIMITS", limits, raising=False)
    engine = make_engine("sqlite://")
    srv = HealthServer(
        "127.0.0.1", 0, WorkerMetrics(make_session_factory(engine)), lambda: {"status": "ok"}
    )
    srv.start()
    try:
        yield "health", srv.port
    finally:
        srv.stop()
        engine.dispose()


def _limits(module: object) -> Limits:
    return getattr(module, "LIMITS", Limits(max_body=32 * 1024 * 1024))  # (before: none)


def _path(name: str) -> str:
    return "/_sandbox/health" if name == "sandbox" else "/healthz"


def _connect(port: int) -> socket.socket:
    sock = socket.create_connection(("127.0.0.1", port), timeout=10)
    return sock


def _answer(sock: socket.socket) -> bytes:
    """Everything the server sends until it closes the connection."""
    out = b""
    while chunk := sock.recv(65536):
        out += chunk
    return out


def _status(raw: bytes) -> int:
    return int(raw.split(b" ", 2)[1])


def _still_serves(port: int, name: str) -> None:
    with _connect(port) as sock:
        sock.sendall(f"GET {_path(name)} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n".encode())
        assert _status(_answer(sock)) == 200


def _no_traceback(capfd: pytest.CaptureFixture[str]) -> None:
    err = capfd.readouterr().err
    assert "Traceback" not in err and "Exception occurred" not in err, err


@pytest.mark.parametrize(
    ("headers", "status"),
    [
        ("Content-Length: 1000000000000", 413),  # a terabyte: never read, never allocated
        ("Content-Length: 40000000", 413),  # above the sandbox's 32 MiB
        ("Content-Length: lots", 400),
        ("Content-Length: -5", 400),
        ("Content-Length: 5\r\nContent-Length: 6", 400),
        ("Transfer-Encoding: chunked", 411),
    ],
)
def test_a_body_too_large_or_badly_announced_is_refused_unread(
    server: Server, capfd: pytest.CaptureFixture[str], headers: str, status: int
) -> None:
    name, port = server
    with _connect(port) as sock:
        sock.sendall(f"POST {_path(name)} HTTP/1.1\r\nHost: x\r\n{headers}\r\n\r\n".encode())
        sock.sendall(b"x" * 65536)  # the start of a body the server does not read
        answer = _answer(sock)  # and the connection is closed after the answer
    assert _status(answer) == status, answer[:200]
    _still_serves(port, name)
    _no_traceback(capfd)


def test_expect_continue_with_a_body_too_large_gets_413_not_100(server: Server) -> None:
    name, port = server
    with _connect(port) as sock:
        sock.sendall(
            f"PUT {_path(name)} HTTP/1.1\r\nHost: x\r\nContent-Length: 999999999999\r\n"
            "Expect: 100-continue\r\n\r\n".encode()
        )
        assert _status(_answer(sock)) == 413


@pytest.mark.parametrize(
    ("request_bytes", "status"),
    [
        (b"GARBAGE\r\n\r\n", 400),
        (b"GET / HTTP/1.1 and more\r\n\r\n", 400),
        (b"GET / HTTP/9.9\r\n\r\n", 505),
        (b"GET /" + b"a" * 70000 + b" HTTP/1.1\r\n\r\n", 414),
        (b"GET / HTTP/1.1\r\n" + b"X-A: b\r\n" * 120 + b"\r\n", 431),
    ],
)
def test_a_malformed_request_is_answered_with_a_status_without_a_traceback(
    server: Server, capfd: pytest.CaptureFixture[str], request_bytes: bytes, status: int
) -> None:
    name, port = server
    with _connect(port) as sock:
        sock.sendall(request_bytes)
        answer = _answer(sock)
    assert answer.startswith(b"HTTP/1.1 ") and _status(answer) == status, answer[:100]
    _still_serves(port, name)
    _no_traceback(capfd)


def test_a_client_trickling_its_headers_is_cut_off(server: Server) -> None:
    name, port = server
    with _connect(port) as sock:
        sock.sendall(f"GET {_path(name)} HTTP/1.1\r\nHost: x\r\n".encode())
        # the server waits about a second for the rest (FAST), then closes; before the
        # limits it waited forever and this recv ran into the client's 10 s timeout
        assert _answer(sock) == b""


def test_an_idle_keep_alive_connection_is_closed(server: Server) -> None:
    name, port = server
    with _connect(port) as sock:
        sock.sendall(f"GET {_path(name)} HTTP/1.1\r\nHost: x\r\n\r\n".encode())
        answer = _answer(sock)  # served, then closed once idle for a second
    assert _status(answer) == 200


def test_connections_past_the_limit_are_refused_503(server: Server) -> None:
    _, port = server
    held = [_connect(port) for _ in range(3)]  # the limit (3): each holds a slot, idle
    try:
        with _connect(port) as extra:
            answer = _answer(extra)
        assert _status(answer) == 503 and b"too many connections" in answer
    finally:
        for sock in held:
            sock.close()


def test_a_client_that_goes_away_leaves_a_debug_line_not_a_traceback(
    server: Server, capfd: pytest.CaptureFixture[str], caplog: pytest.LogCaptureFixture
) -> None:
    name, port = server
    caplog.set_level(logging.DEBUG, logger="dissem.bounded_http")
    sock = _connect(port)
    sock.sendall(f"GET {_path(name)} HTTP/1.1\r\nHost: x\r\n".encode())  # headers unfinished
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    sock.close()  # a reset, mid-request
    _still_serves(port, name)
    _wait_for(lambda: any("ConnectionResetError" in r.getMessage() for r in caplog.records))
    _no_traceback(capfd)


def _wait_for(condition: Callable[[], bool]) -> None:
    """Polls ``condition`` (the server's thread logs after the client has gone)."""
    import threading

    done = threading.Event()
    for _ in range(100):
        if condition():
            return
        done.wait(0.05)
    raise AssertionError("the server never logged the disconnect")


def test_limits_are_the_documented_ones() -> None:
    sandbox = sandbox_server.LIMITS
    assert (sandbox.max_body, sandbox.max_connections, sandbox.idle_timeout) == (
        32 * 1024 * 1024,
        1024,
        60.0,
    )
    assert health.LIMITS.max_body == 64 * 1024 and health.LIMITS.max_connections == 16
