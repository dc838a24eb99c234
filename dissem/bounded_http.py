"""The HTTP servers dissem runs (the sandbox, the worker's ``/healthz`` and ``/metrics``),
bounded so that no client can exhaust the process.

``http.server`` alone reads whatever body a client announces into memory (a
``Content-Length`` of a terabyte is a ``MemoryError``), waits for a slow client forever,
starts a thread for every connection, and prints a traceback on stderr, outside the log
format, whenever a client goes away mid-answer. :class:`BoundedServer` and
:class:`BoundedHandler` add, per :class:`Limits`:

- at most ``max_connections`` connections at once: one more is answered 503 and closed;
- the request line and headers must be in within ``header_timeout`` seconds of their first
  byte (a client trickling headers is cut off), a body within ``body_timeout``; a
  connection with nothing coming for ``idle_timeout`` seconds (between keep-alive requests
  or mid-request) is closed;
- a body is read only through :meth:`BoundedHandler.read_body`, and only after its length
  was checked: above ``max_body`` the answer is 413 before a byte of it is read; a
  ``Content-Length`` that is no number is 400; a chunked body 411 (length required);
- a malformed request line or header block is answered 400 (414, 431 when too long; 505
  for an unknown HTTP version), always with a status line;
- client disconnects and timeouts are logged at DEBUG through :mod:`logging`, any other
  failure of a connection at ERROR, in the log format; nothing is printed raw.
"""

from __future__ import annotations

import logging
import socket
import sys
import threading
import time
from dataclasses import dataclass
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, BinaryIO

__all__ = ["BoundedHandler", "BoundedServer", "Limits"]

log = logging.getLogger(__name__)

#: what a connection past the limit is told before it is closed
_BUSY = (
    b"HTTP/1.1 503 Service Unavailable\r\nContent-Type: text/plain\r\nContent-Length: 27\r\n"
    b"Retry-After: 1\r\nConnection: close\r\n\r\ntoo many connections; retry"
)
_READ_CHUNK = 64 * 1024


@dataclass(frozen=True)
class Limits:
    """What one server allows a client (see the module doc)."""

    max_body: int
    max_connections: int = 64
    header_timeout: float = 10.0
    idle_timeout: float = 30.0
    body_timeout: float = 60.0


class _TimedReader:
    """The handler's ``rfile``: each read waits on the socket at most as long as the phase
    of the request allows (idle before a request, the header deadline, the body deadline).
    """

    def __init__(self, raw: BinaryIO, sock: socket.socket, limits: Limits) -> None:
        self._raw = raw
        self._sock = sock
        self._limits = limits
        self._deadline: float | None = None  # None: waiting for a request (idle)

    def next_request(self) -> None:
        self._deadline = None

    def body(self) -> None:
        self._deadline = time.monotonic() + self._limits.body_timeout

    def _wait(self) -> None:
        if self._deadline is None:
            self._sock.settimeout(self._limits.idle_timeout)
            return
        left = self._deadline - time.monotonic()
        if left <= 0:
            raise TimeoutError("the client took too long")
        self._sock.settimeout(min(left, self._limits.idle_timeout))

    def readline(self, limit: int = -1) -> bytes:
        self._wait()
        line = self._raw.readline(limit)
        if self._deadline is None and line:  # the request line: the headers' clock starts
            self._deadline = time.monotonic() + self._limits.header_timeout
        return line

    def read(self, size: int = -1) -> bytes:
        if size < 0:
            raise ValueError("bodies are read by length")
        chunks: list[bytes] = []
        while size > 0:
            self._wait()
            chunk = self._raw.read1(min(size, _READ_CHUNK))  # type: ignore[attr-defined]
            if not chunk:
                break
            chunks.append(chunk)
            size -= len(chunk)
        return b"".join(chunks)

    def close(self) -> None:
        self._raw.close()

    @property
    def closed(self) -> bool:
        return bool(self._raw.closed)


class BoundedHandler(BaseHTTPRequestHandler):
    """A request handler within the server's :class:`Limits`; ``do_*`` methods read a body
    with :meth:`read_body` only."""

    protocol_version = "HTTP/1.1"  # keep-alive
    # an answer to a request line of garbage has a status line (HTTP/0.9 answers have none)
    default_request_version = "HTTP/1.0"
    disable_nagle_algorithm = True  # TCP_NODELAY: without it, ~40 ms per keep-alive request
    server: BoundedServer
    _body_length = 0
    _refused = False  # this request was answered with an error before its body

    def setup(self) -> None:
        super().setup()
        self._reader = _TimedReader(self.rfile, self.connection, self.server.limits)  # type: ignore[arg-type]
        self.rfile = self._reader  # type: ignore[assignment]

    def handle_one_request(self) -> None:
        self._reader.next_request()
        self._body_length, self._refused = 0, False
        super().handle_one_request()

    def parse_request(self) -> bool:
        return super().parse_request() and self._check_body()

    def handle_expect_100(self) -> bool:
        # before "100 Continue": a body that will be refused is refused now, unsent
        return self._check_body() and super().handle_expect_100()

    def _check_body(self) -> bool:
        """Refuses a body that is too large, of unknown length or badly announced."""
        if self._refused:
            return False  # already answered (Expect: 100-continue)
        headers = self.headers
        if "chunked" in headers.get("Transfer-Encoding", "").lower():
            return self._refuse(HTTPStatus.LENGTH_REQUIRED, "send the body with a length")
        values = headers.get_all("Content-Length") or []
        if not values:
            return True
        text = values[0].strip()
        if len(set(values)) > 1 or not text.isdigit() or len(text) > 18:
            return self._refuse(HTTPStatus.BAD_REQUEST, "bad Content-Length")
        length = int(text)
        if length > self.server.limits.max_body:
            return self._refuse(
                HTTPStatus.REQUEST_ENTITY_TOO_LARGE,
                f"the body may be at most {self.server.limits.max_body} bytes",
            )
        self._body_length = length
        return True

    def _refuse(self, status: HTTPStatus, why: str) -> bool:
        self._refused = True
        self.send_error(status, why)
        self.close_connection = True  # the body is never read: the connection cannot go on
        return False

    def read_body(self) -> bytes:
        """The request's body (checked against the limits first); b"" when there is none.
        A client that stops sending mid-body ends in a timeout (the connection is closed)."""
        if not self._body_length:
            return b""
        self._reader.body()
        data = self._reader.read(self._body_length)
        if len(data) < self._body_length:
            self.close_connection = True
            raise ConnectionAbortedError("the client sent less than it announced")
        return data

    def send_error(self, code: int, message: str | None = None, explain: str | None = None) -> None:
        if code >= 400 and code != HTTPStatus.NOT_FOUND:
            self.close_connection = True  # what is left of a bad request is not parsed
        super().send_error(code, message, explain)

    def log_message(self, format: str, *args: Any) -> None:
        # request lines may carry tokens (Telegram's /bot<token>/...): the status only
        log.debug("%s: %s %s", self.server.name, self.command, args[1] if len(args) > 1 else "")

    def log_error(self, format: str, *args: Any) -> None:
        log.debug("%s: client %s: %s", self.server.name, self.client_address[0], format % args)


class BoundedServer(ThreadingHTTPServer):
    """A threading HTTP server within :class:`Limits`; ``name`` labels its log lines."""

    daemon_threads = True
    block_on_close = False
    allow_reuse_address = True
    request_queue_size = 64

    def __init__(
        self,
        address: tuple[str, int],
        handler: type[BoundedHandler],
        limits: Limits,
        *,
        name: str = "http",
    ) -> None:
        self.limits = limits
        self.name = name
        self._slots = threading.BoundedSemaphore(limits.max_connections)
        super().__init__(address, handler)

    def process_request(self, request: Any, client_address: Any) -> None:
        if not self._slots.acquire(blocking=False):
            log.debug(
                "%s: %s connections open; one more refused", self.name, self.limits.max_connections
            )
            try:
                request.settimeout(1.0)
                request.sendall(_BUSY)
            except OSError:
                pass
            self.shutdown_request(request)
            return
        try:
            super().process_request(request, client_address)
        except BaseException:
            self._slots.release()
            raise

    def process_request_thread(self, request: Any, client_address: Any) -> None:
        try:
            super().process_request_thread(request, client_address)
        finally:
            self._slots.release()

    def handle_error(self, request: Any, client_address: Any) -> None:
        exc = sys.exc_info()[1]
        who = client_address[0] if isinstance(client_address, tuple) else client_address
        if isinstance(exc, OSError):  # reset, broken pipe, timeout: the client went away
            log.debug("%s: client %s: %s", self.name, who, type(exc).__name__)
        else:
            log.error("%s: a request from %s failed", self.name, who, exc_info=exc)
