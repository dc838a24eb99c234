"""A bounded conditional GET of a feed or an article page.

A feed is someone else's server: it may answer a gigabyte, redirect forever, send one byte
a second, or compress a bomb. :func:`fetch` therefore, per :class:`FetchLimits`:

- connects and reads with ``timeout`` seconds per step, and gives up the whole fetch after
  ``deadline`` seconds whatever the server does (checked between reads, and each read waits
  at most what is left);
- reads at most ``max_bytes`` of body (streamed, stops as soon as it is over: a
  ``Content-Length`` above it is refused before reading), also after decompression
  (``gzip``/``deflate`` are inflated with a bound, never whole);
- follows at most ``max_redirects`` redirects (a loop ends there);
- sends ``If-None-Match`` / ``If-Modified-Since`` from the last answer (conditional GET,
  RFC 9110 section 13.1), so an unchanged feed is a 304 with no body;
- with ``destinations`` (:class:`dissem.platforms.safe_fetch.Destinations`), resolves the
  host itself, refuses it when any address is internal (:func:`~dissem.platforms.safe_fetch.
  refusal`: loopback, private, link-local, cloud metadata...; in sandbox mode anything but
  loopback), on every hop, before connecting, and connects to the address it checked (no
  second lookup for DNS rebinding to turn).

It uses :mod:`http.client` directly: ``read1`` returns what has arrived, so a trickling
server cannot hold a read past the deadline (``urllib3``'s ``read(amt)`` waits for ``amt``).
Every failure is a :class:`FeedFetchError` that names the host, never the full URL.
"""

from __future__ import annotations

import contextlib
import http.client
import ipaddress
import socket
import ssl
import threading
import time
import zlib
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from email.utils import parsedate_to_datetime
from urllib.parse import urljoin, urlsplit

import certifi

from dissem import __version__
from dissem.errors import FeedFetchError
from dissem.platforms.safe_fetch import Destinations, refusal

__all__ = ["FetchLimits", "Fetched", "fetch", "retry_after"]

USER_AGENT = f"dissem/{__version__} (feed reader; +https://github.com/)"
_REDIRECTS = frozenset({301, 302, 303, 307, 308})
_CHUNK = 64 * 1024


@dataclass(frozen=True)
class FetchLimits:
    """What one fetch may take (see the module doc)."""

    max_bytes: int = 10 * 1024 * 1024
    timeout: float = 10.0
    deadline: float = 30.0
    max_redirects: int = 5


@dataclass
class Fetched:
    """An HTTP answer: any status (a 304 has an empty body)."""

    url: str  # after redirects
    status: int
    headers: dict[str, str] = field(default_factory=dict)  # lower-case names
    body: bytes = b""

    @property
    def etag(self) -> str | None:
        return self.headers.get("etag")

    @property
    def last_modified(self) -> str | None:
        return self.headers.get("last-modified")


def retry_after(value: str | None, now: datetime) -> timedelta | None:
    """A ``Retry-After`` header (seconds or an HTTP date, RFC 9110 section 10.2.3) as a
    wait from ``now``; None when absent or unreadable."""
    if not value:
        return None
    text = value.strip()
    if text.isdigit():
        return timedelta(seconds=min(int(text), 10**7))
    try:
        when = parsedate_to_datetime(text)
    except (TypeError, ValueError, IndexError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(when - now, timedelta(0))


def _host(url: str) -> str:
    try:
        return urlsplit(url).hostname or "?"
    except ValueError:
        return "?"


class _Deadline:
    def __init__(self, seconds: float, where: str) -> None:
        self.end = time.monotonic() + seconds
        self.seconds = seconds
        self.where = where

    def left(self, step: float) -> float:
        remaining = self.end - time.monotonic()
        if remaining <= 0:
            raise FeedFetchError(self.where, f"no complete answer within {self.seconds:g} s")
        return min(step, remaining)


def fetch(
    url: str,
    limits: FetchLimits,
    *,
    etag: str | None = None,
    last_modified: str | None = None,
    accept: str = "application/rss+xml, application/atom+xml, application/xml;q=0.9, */*;q=0.5",
    destinations: Destinations | None = None,
) -> Fetched:
    """GETs ``url`` within ``limits`` (see the module doc). Raises :class:`FeedFetchError`."""
    headers = {"User-Agent": USER_AGENT, "Accept": accept, "Accept-Encoding": "gzip, deflate"}
    if etag:
        headers["If-None-Match"] = etag
    if last_modified:
        headers["If-Modified-Since"] = last_modified
    deadline = _Deadline(limits.deadline, _host(url))
    current = url
    for _hop in range(limits.max_redirects + 1):
        deadline.where = _host(current)
        answer = _get_once(current, headers, limits, deadline, destinations)
        if answer.status in _REDIRECTS and "location" in answer.headers:
            current = urljoin(current, answer.headers["location"])
            continue
        return answer
    raise FeedFetchError(_host(url), f"more than {limits.max_redirects} redirects")


def _get_once(
    url: str,
    headers: Mapping[str, str],
    limits: FetchLimits,
    deadline: _Deadline,
    destinations: Destinations | None,
) -> Fetched:
    where = deadline.where
    try:
        parts = urlsplit(url)
        host, port = parts.hostname, parts.port
    except ValueError as e:
        raise FeedFetchError(where, f"not a URL ({e})") from None
    if parts.scheme not in ("http", "https") or not host:
        raise FeedFetchError(where, "not an http(s) URL")
    address = None
    if destinations is not None:
        address = _checked_address(host, port or _PORTS[parts.scheme], destinations, where)
    conn: http.client.HTTPConnection
    step = deadline.left(limits.timeout)
    if parts.scheme == "https":
        context = ssl.create_default_context(cafile=certifi.where())
        conn = _PinnedHTTPS(host, port, timeout=step, context=context)
    else:
        conn = _Pinned(host, port, timeout=step)
    conn.address = address
    path = parts.path or "/"
    if parts.query:
        path += "?" + parts.query
    # A server trickling its status line and headers is bounded by the deadline too: the
    # watchdog shuts the socket when the deadline passes, whatever read is waiting.
    watchdog = threading.Timer(max(deadline.end - time.monotonic(), 0.0), _shut, (conn,))
    watchdog.daemon = True
    watchdog.start()
    try:
        conn.request("GET", path, headers=dict(headers))
        if conn.sock is not None:
            conn.sock.settimeout(deadline.left(limits.timeout))
        response = conn.getresponse()
        answer = Fetched(
            url=url,
            status=response.status,
            headers={k.lower(): v for k, v in response.getheaders()},
        )
        if answer.status in _REDIRECTS or answer.status == 304:
            return answer
        answer.body = _read_body(response, conn, answer.headers, limits, deadline)
        return answer
    except FeedFetchError:
        raise
    except (OSError, http.client.HTTPException) as e:
        if time.monotonic() >= deadline.end:
            raise FeedFetchError(
                where, f"no complete answer within {deadline.seconds:g} s"
            ) from None
        if isinstance(e, TimeoutError):
            raise FeedFetchError(where, f"timed out (no data for {limits.timeout:g} s)") from None
        raise FeedFetchError(where, f"connection failed ({type(e).__name__}: {e})") from None
    finally:
        watchdog.cancel()
        conn.close()


_PORTS = {"http": 80, "https": 443}


def _checked_address(host: str, port: int, destinations: Destinations, where: str) -> str:
    """The address to connect to: every address ``host`` resolves to is checked (any
    refused: the fetch is refused); the first is used."""
    try:
        addresses = list(destinations.resolver(host, port))
    except OSError as e:
        raise FeedFetchError(where, f"cannot resolve ({e})") from None
    if not addresses:
        raise FeedFetchError(where, "resolves to no address")
    for text in addresses:
        why = refusal(ipaddress.ip_address(text.split("%")[0]), destinations)
        if why is not None:
            raise FeedFetchError(where, f"refused: {text} is {why}")
    return addresses[0]


class _Pinned(http.client.HTTPConnection):
    """Connects to the checked ``address`` (when set), not to a second lookup of the host."""

    address: str | None = None

    def connect(self) -> None:
        if self.address is None:
            super().connect()
            return
        self.sock = socket.create_connection((self.address, self.port), self.timeout)


class _PinnedHTTPS(http.client.HTTPSConnection):
    address: str | None = None

    def connect(self) -> None:
        if self.address is None:
            super().connect()
            return
        raw = socket.create_connection((self.address, self.port), self.timeout)
        self.sock = self._context.wrap_socket(raw, server_hostname=self.host)  # type: ignore[attr-defined]


def _shut(conn: http.client.HTTPConnection) -> None:
    sock = conn.sock
    if sock is not None:
        with contextlib.suppress(OSError):
            sock.shutdown(socket.SHUT_RDWR)


def _read_body(
    response: http.client.HTTPResponse,
    conn: http.client.HTTPConnection,
    headers: Mapping[str, str],
    limits: FetchLimits,
    deadline: _Deadline,
) -> bytes:
    where = deadline.where
    announced = headers.get("content-length", "")
    if announced.strip().isdigit() and int(announced) > limits.max_bytes:
        raise FeedFetchError(
            where, f"answer of {int(announced)} bytes is over the limit of {limits.max_bytes}"
        )
    encoding = headers.get("content-encoding", "identity").strip().lower()
    inflate: zlib._Decompress | None = None
    if encoding in ("gzip", "x-gzip"):
        inflate = zlib.decompressobj(wbits=47)
    elif encoding == "deflate":
        inflate = zlib.decompressobj()
    elif encoding not in ("", "identity"):
        raise FeedFetchError(where, f"unsupported content encoding {encoding[:20]!r}")
    out = bytearray()
    received = 0
    while True:
        if conn.sock is not None:
            conn.sock.settimeout(deadline.left(limits.timeout))
        else:
            deadline.left(limits.timeout)
        chunk = response.read1(_CHUNK)
        if not chunk:
            break
        received += len(chunk)
        if received > limits.max_bytes:
            raise FeedFetchError(where, f"answer over the limit of {limits.max_bytes} bytes")
        if inflate is None:
            out += chunk
        else:
            try:
                out += inflate.decompress(chunk, limits.max_bytes + 1 - len(out))
            except zlib.error as e:
                raise FeedFetchError(where, f"bad {encoding} body ({e})") from None
            if inflate.unconsumed_tail:
                raise FeedFetchError(
                    where, f"answer inflates to over the limit of {limits.max_bytes} bytes"
                )
        if len(out) > limits.max_bytes:
            raise FeedFetchError(where, f"answer over the limit of {limits.max_bytes} bytes")
    deadline.left(limits.timeout)  # an end of data the watchdog caused is no answer
    return bytes(out)
