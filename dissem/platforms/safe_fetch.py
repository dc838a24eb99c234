"""Fetching a URL a release names (its image) without letting it reach what it must not.

A release is written by people, and whoever can put a URL in one (or make a server it names
answer with a redirect) could otherwise make the worker fetch
``http://169.254.169.254/latest/meta-data/...`` (the cloud's credentials for this machine),
an admin page on the local network or a port of this machine (server-side request forgery).
So :func:`fetch`:

- resolves the host itself and checks every address it resolves to (:func:`refusal`), and
  refuses the URL when any of them is loopback, private, link-local (``169.254.0.0/16``,
  ``fe80::/10``), shared (``100.64.0.0/10``), multicast, reserved, unspecified, not global,
  or a cloud metadata address (:data:`METADATA`; an IPv4 address inside IPv6 (mapped,
  6to4, Teredo, NAT64) is judged as itself);
- connects to the address it checked: no second lookup that a DNS server answering
  differently the second time (DNS rebinding) could turn to an internal address;
- follows redirects itself, at most :data:`MAX_REDIRECTS`, each hop checked the same way;
- reads at most ``max_bytes`` and gives up after ``total`` seconds, whatever the server does;
- uses no proxy (the check must see the address actually connected to) and sends no
  credentials: only ``Accept`` (and ``Range`` when asked).

In sandbox mode (``local_only``, with ``DISSEM_SANDBOX_URL`` set) the rule turns round: only
this machine's loopback addresses may be reached, on every hop, so a demo or training run
never leaves the machine. Networks an operator trusts (an intranet image server) can be
passed as ``trusted``; they never widen sandbox mode.

A refusal happens before any connection is attempted; every failure is a
:class:`FetchFailed` whose message names the host at most, never the URL (it may carry a
token).
"""

from __future__ import annotations

import ipaddress
import os
import socket
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urljoin, urlsplit

import certifi
import urllib3
from urllib3.connection import HTTPConnection, HTTPSConnection
from urllib3.connectionpool import HTTPConnectionPool, HTTPSConnectionPool
from urllib3.exceptions import HTTPError as Urllib3Error

from dissem.errors import FetchFailed, FetchRefused

__all__ = [
    "MAX_REDIRECTS",
    "METADATA",
    "Destinations",
    "Resolver",
    "fetch",
    "refusal",
    "system_resolver",
]

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network
#: ``(host, port) -> addresses``; tests pass one that answers without DNS
Resolver = Callable[[str, int], Sequence[str]]

#: redirects one fetch follows at most (each hop is checked)
MAX_REDIRECTS = 5
_REDIRECTS = frozenset({301, 302, 303, 307, 308})
#: cloud metadata services: AWS/GCP/Azure/OpenStack/Oracle OCI (169.254.169.254), AWS ECS
#: task metadata (169.254.170.2), AWS over IPv6 (fd00:ec2::254: "http://[fd00:ec2::254]/
#: latest/meta-data/", docs.aws.amazon.com AWSEC2 "Retrieve instance metadata"; the AWS SDK's
#: metadata_service/endpoint.js), GCP over IPv6 (fd20:ce::254), Oracle OCI over IPv6
#: (fd00:c1::a9fe:a9fe), Alibaba (100.100.100.200: cloud-init doc/rtd/topics/datasources/
#: aliyun.rst), Azure's wire server (168.63.129.16, a public-looking address: WALinuxAgent's
#: fallback endpoint, as coreos/afterburn#145 notes), Oracle Cloud Classic (192.0.0.192).
#: Most are refused as link-local or private anyway; the list makes sure, and names them.
METADATA = frozenset(
    ipaddress.ip_address(a)
    for a in (
        "169.254.169.254",
        "169.254.170.2",
        "fd00:ec2::254",
        "fd20:ce::254",
        "fd00:c1::a9fe:a9fe",
        "100.100.100.200",
        "168.63.129.16",
        "192.0.0.192",
    )
)
_NAT64 = ipaddress.ip_network("64:ff9b::/96")


def system_resolver(host: str, port: int) -> list[str]:
    """The addresses ``host`` resolves to (every one of them is checked)."""
    infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    return list(dict.fromkeys(str(info[4][0]) for info in infos))


@dataclass(frozen=True)
class Destinations:
    """Where a fetch may connect: ``local_only`` (sandbox mode) allows loopback only;
    otherwise public addresses and the ``trusted`` networks."""

    local_only: bool = False
    trusted: tuple[IPNetwork, ...] = ()
    resolver: Resolver = field(default=system_resolver)


def _embedded_ipv4(address: IPAddress) -> ipaddress.IPv4Address | None:
    """The IPv4 address an IPv6 one carries (mapped, 6to4, Teredo client, NAT64)."""
    if not isinstance(address, ipaddress.IPv6Address):
        return None
    if address.ipv4_mapped is not None:
        return address.ipv4_mapped
    if address.sixtofour is not None:
        return address.sixtofour
    if address.teredo is not None:
        return address.teredo[1]
    if address in _NAT64:
        return ipaddress.IPv4Address(int(address) & 0xFFFFFFFF)
    return None


def refusal(address: IPAddress, destinations: Destinations) -> str | None:
    """Why ``address`` may not be connected to, or None when it may."""
    inner = _embedded_ipv4(address)
    if inner is not None:
        why = refusal(inner, destinations)
        return None if why is None else f"{why} (inside {address})"
    if destinations.local_only:
        return None if address.is_loopback else "not on this machine (sandbox mode)"
    if any(address in net for net in destinations.trusted):
        return None
    checks: tuple[tuple[bool, str], ...] = (
        (address in METADATA, "a cloud metadata address"),
        (address.is_unspecified, "an unspecified address"),
        (address.is_loopback, "a loopback address"),
        (address.is_link_local, "a link-local address"),
        (address.is_private, "a private address"),
        (address.is_multicast, "a multicast address"),
        (address.is_reserved, "a reserved address"),
        (not address.is_global, "not a public address"),
    )
    return next((why for hit, why in checks if hit), None)


class _Guard:
    """Resolves a host, checks every address, and names the one to connect to."""

    def __init__(self, destinations: Destinations) -> None:
        self.destinations = destinations

    def address(self, host: str, port: int) -> str:
        try:
            literal = ipaddress.ip_address(host.strip("[]"))
        except ValueError:
            literal = None
        if literal is not None:
            found = [literal]
        else:
            try:
                found = [
                    ipaddress.ip_address(a.split("%", 1)[0])
                    for a in self.destinations.resolver(host, port)
                ]
            except (OSError, UnicodeError) as exc:
                raise FetchFailed(f"cannot resolve {host} ({type(exc).__name__})") from None
            if not found:
                raise FetchFailed(f"cannot resolve {host}")
        for address in found:  # one bad address refuses the host: it may answer with it
            why = refusal(address, self.destinations)
            if why is not None:
                shown = host if literal is not None else f"{host} ({address})"
                raise FetchRefused(f"refused to connect to {shown}: {why}")
        return str(found[0])


class _GuardedConnection(HTTPConnection):
    """Connects to the address :class:`_Guard` checked, never to a second lookup's."""

    guard: _Guard

    def _new_conn(self) -> socket.socket:
        address = self.guard.address(self._dns_host, self.port)
        try:
            sock = socket.create_connection((address, self.port), self.timeout)
        except TimeoutError:
            raise FetchFailed(f"cannot connect to {self.host} (timeout)") from None
        except OSError as exc:
            raise FetchFailed(f"cannot connect to {self.host} ({type(exc).__name__})") from None
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        return sock


class _GuardedHTTPSConnection(_GuardedConnection, HTTPSConnection):
    """TLS over the checked address; the certificate and SNI are the host's name."""


class _GuardedHTTPPool(HTTPConnectionPool):
    ConnectionCls = _GuardedConnection

    def __init__(self, *args: Any, guard: _Guard, **kwargs: Any) -> None:
        self._guard = guard
        super().__init__(*args, **kwargs)

    def _new_conn(self) -> Any:
        conn: Any = super()._new_conn()
        conn.guard = self._guard
        return conn


class _GuardedHTTPSPool(HTTPSConnectionPool):
    ConnectionCls = _GuardedHTTPSConnection

    def __init__(self, *args: Any, guard: _Guard, **kwargs: Any) -> None:
        self._guard = guard
        super().__init__(*args, **kwargs)

    def _new_conn(self) -> Any:
        conn: Any = super()._new_conn()
        conn.guard = self._guard
        return conn


@dataclass
class Answer:
    """The final answer of a fetch (after redirects): status, headers, and its body read
    in chunks within the fetch's time (:meth:`chunks`)."""

    status: int
    headers: Mapping[str, str]
    url: str
    _response: Any
    _deadline: float
    _timeout: float

    def chunks(self, size: int = 64 * 1024) -> Iterator[bytes]:
        while True:
            _set_timeout(self._response, self._deadline, self._timeout)
            try:
                chunk = self._response.read(size)
            except (Urllib3Error, OSError) as exc:
                if time.monotonic() >= self._deadline:
                    raise FetchFailed("it took too long") from None
                raise FetchFailed(f"the answer broke off ({type(exc).__name__})") from None
            if not chunk:
                return
            yield chunk


def _left(deadline: float) -> float:
    left = deadline - time.monotonic()
    if left <= 0:
        raise FetchFailed("it took too long")
    return left


def _set_timeout(response: Any, deadline: float, timeout: float) -> None:
    """Each read waits at most what is left of the fetch's time."""
    sock = getattr(getattr(response, "connection", None), "sock", None)
    if sock is not None:
        sock.settimeout(min(timeout, _left(deadline)))


def _ca_bundle() -> str:
    """The CA bundle requests would use (the same environment variables, else certifi's)."""
    return (
        os.environ.get("REQUESTS_CA_BUNDLE") or os.environ.get("CURL_CA_BUNDLE") or certifi.where()
    )


@contextmanager
def fetch(
    url: str,
    *,
    timeout: float,
    total: float,
    destinations: Destinations,
    headers: Mapping[str, str] | None = None,
) -> Iterator[Answer]:
    """GETs ``url`` within ``destinations`` (see the module doc), following redirects; yields
    the final :class:`Answer` (any status) and closes it afterwards.

    ``timeout`` bounds each connect and read, ``total`` the whole fetch. Raises
    :class:`FetchRefused` before connecting to a forbidden address, :class:`FetchFailed`
    for anything else that keeps it from an answer.
    """
    deadline = time.monotonic() + total
    guard = _Guard(destinations)
    sent = {"Accept-Encoding": "identity", **(headers or {})}
    for _ in range(MAX_REDIRECTS + 1):
        pool, response = _get(url, sent, timeout, deadline, guard)
        try:
            location = response.headers.get("Location")
            if response.status in _REDIRECTS and location:
                url = urljoin(url, location.strip())
                continue
            yield Answer(response.status, response.headers, url, response, deadline, timeout)
            return
        finally:
            response.release_conn()
            pool.close()
    raise FetchFailed(f"more than {MAX_REDIRECTS} redirects")


def _get(
    url: str, headers: Mapping[str, str], timeout: float, deadline: float, guard: _Guard
) -> tuple[HTTPConnectionPool, Any]:
    """One hop: the pool (closed by the caller) and its answer, body unread."""
    try:
        split = urlsplit(url)
        port = split.port
    except ValueError:
        raise FetchFailed("the URL is malformed") from None
    if split.scheme not in ("http", "https") or not split.hostname:
        raise FetchFailed("only http(s) URLs with a host are fetched")
    https = split.scheme == "https"
    wait = min(timeout, _left(deadline))
    kwargs: dict[str, Any] = {
        "port": port or (443 if https else 80),
        "maxsize": 1,
        "retries": False,
        "timeout": urllib3.Timeout(connect=wait, read=wait),
        "guard": guard,
    }
    if https:
        pool: HTTPConnectionPool = _GuardedHTTPSPool(
            split.hostname, cert_reqs="CERT_REQUIRED", ca_certs=_ca_bundle(), **kwargs
        )
    else:
        pool = _GuardedHTTPPool(split.hostname, **kwargs)
    target = (split.path or "/") + (f"?{split.query}" if split.query else "")
    try:
        response = pool.urlopen(
            "GET",
            target,
            headers=dict(headers),
            redirect=False,
            preload_content=False,
            assert_same_host=False,
            release_conn=False,
        )
    except FetchFailed:
        pool.close()
        raise
    except (Urllib3Error, OSError) as exc:  # their texts hold the URL: the class only
        pool.close()
        raise FetchFailed(f"the request failed ({type(exc).__name__})") from None
    return pool, response
