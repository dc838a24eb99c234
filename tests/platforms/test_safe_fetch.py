"""Image URLs never reach this machine's, the local network's or the cloud's internal
addresses (issue 10, finding 6): every hop is checked after resolution and before
connecting, the connection goes to the checked address, size and time are capped, and in
sandbox mode nothing leaves the machine.

No test sends anything off this machine, not even a SYN: an audit hook watches every
``socket.connect`` of the process during these tests, records it, and blocks any to an
address that is not loopback. Names are resolved by a resolver hook (no DNS); the servers
are local ones.
"""

from __future__ import annotations

import ipaddress
import logging
import sys
import threading
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest

from dissem.compose.types import Media, Part
from dissem.platforms.base import MemoryContext
from dissem.platforms.registry import build_adapter
from dissem.sandbox import RunningSandbox
from dissem.sandbox.uploads import png
from dissem.settings import Settings

PNG = png(8, 8)


class _Connects:
    """Every ``socket.connect`` while active; one to a non-loopback address is blocked."""

    def __init__(self) -> None:
        self.active = False
        self.seen: list[str] = []
        self.blocked: list[str] = []

    def __call__(self, event: str, args: tuple[Any, ...]) -> None:
        if event != "socket.connect" or not self.active:
            return
        address = args[1]
        host = str(address[0]) if isinstance(address, tuple) else str(address)
        self.seen.append(host)
        try:
            loopback = ipaddress.ip_address(host.split("%", 1)[0]).is_loopback
        except ValueError:
            loopback = False
        if not loopback:
            self.blocked.append(host)
            raise ConnectionRefusedError(f"test: connecting to {host} is not allowed")


_CONNECTS = _Connects()
sys.addaudithook(_CONNECTS)  # hooks cannot be removed: it acts only while a test asks


@pytest.fixture
def connects() -> Iterator[_Connects]:
    _CONNECTS.active, _CONNECTS.seen, _CONNECTS.blocked = True, [], []
    yield _CONNECTS
    _CONNECTS.active = False


class ImageServer:
    """A local server: ``/img.png`` an image, ``/to?u=URL`` a redirect to URL, ``/loop`` a
    redirect to itself, ``/huge`` an endless image, ``/declared`` a too large one."""

    def __init__(self) -> None:
        self.requests: list[tuple[str, str]] = []  # (path, Host header)
        outer = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_GET(self) -> None:
                outer.requests.append((self.path, self.headers.get("Host", "")))
                split = urlsplit(self.path)
                if split.path == "/img.png":
                    self._send(200, PNG, {"Content-Type": "image/png"})
                elif split.path == "/to":
                    target = parse_qs(split.query)["u"][0]
                    self._send(302, b"", {"Location": target})
                elif split.path == "/loop":
                    self._send(302, b"", {"Location": "/loop"})
                elif split.path == "/declared":
                    self._send(200, b"", {"Content-Type": "image/png"}, length=10**9)
                elif split.path == "/huge":
                    self.send_response(200)
                    self.send_header("Content-Type", "image/png")
                    self.send_header("Connection", "close")
                    self.end_headers()
                    try:
                        for _ in range(10_000):
                            self.wfile.write(b"\0" * 65536)
                    except OSError:
                        pass
                else:
                    self._send(404, b"", {})

            def _send(
                self, status: int, body: bytes, headers: dict[str, str], length: int | None = None
            ) -> None:
                self.send_response(status)
                for k, v in headers.items():
                    self.send_header(k, v)
                self.send_header("Content-Length", str(len(body) if length is None else length))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.port = self.server.server_port
        self.url = f"http://127.0.0.1:{self.port}"
        threading.Thread(target=self.server.serve_forever, args=(0.05,), daemon=True).start()

    def redirect(self, target: str) -> str:
        return f"{self.url}/to?u={target}"

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def images() -> Iterator[ImageServer]:
    server = ImageServer()
    yield server
    server.stop()


def part(src: str, text: str) -> Part:
    return Part(
        index=1, total=1, text=text, length=len(text), limit=500, media=(Media(src, "alt"),)
    )


def publish_with_image(
    sandbox: RunningSandbox,
    spec: Any,  # a conftest PlatformSpec (the specs fixture)
    tmp_path: Path,
    src: str,
    *,
    sandbox_mode: bool,
) -> tuple[list[dict[str, Any]], str]:
    """Publishes a Mastodon status with the image ``src`` through the real adapter, in
    sandbox mode or not (the adapter then talks to the sandbox by its ``api_base``);
    returns the sandbox's posts of that text and the text."""
    settings = Settings(
        sandbox_url=sandbox.url if sandbox_mode else None, http_timeout=5.0, config_dir=tmp_path
    )
    channel = spec.channel(name="img-guard", api_base=sandbox.platform_url("mastodon"))
    adapter = build_adapter(channel, settings, environ=spec.environ())
    text = f"guarded image {src[-24:]} {id(tmp_path)}"
    try:
        adapter.publish(part(src, text), MemoryContext(f"k-{id(src)}"))
    finally:
        adapter.close()
    posts = [p for p in sandbox.state.posts() if p.text == text]
    return [p.to_json() for p in posts], text


# --- through an adapter: the API every platform uses (load_release_image) -------------------


def test_outside_sandbox_mode_an_image_on_this_machine_is_not_fetched(
    sandbox: RunningSandbox,
    images: ImageServer,
    connects: _Connects,
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
    specs: dict[str, Any],
) -> None:
    with caplog.at_level(logging.WARNING, logger="dissem.platforms.media"):
        posts, _ = publish_with_image(
            sandbox, specs["mastodon"], tmp_path, f"{images.url}/img.png", sandbox_mode=False
        )
    assert images.requests == []  # never asked: 127.0.0.1 is this machine
    assert len(posts) == 1 and not posts[0]["media"]  # the text went out without it
    assert "a loopback address" in caplog.text and "not attached" in caplog.text


def test_in_sandbox_mode_a_redirect_off_the_machine_is_refused_before_connecting(
    sandbox: RunningSandbox,
    images: ImageServer,
    connects: _Connects,
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
    specs: dict[str, Any],
) -> None:
    src = images.redirect("http://169.254.169.254/latest/meta-data/iam/security-credentials/")
    with caplog.at_level(logging.WARNING, logger="dissem.platforms.media"):
        posts, _ = publish_with_image(sandbox, specs["mastodon"], tmp_path, src, sandbox_mode=True)
    assert [path for path, _ in images.requests] == [urlsplit(src).path + "?" + urlsplit(src).query]
    assert connects.blocked == []  # refused before any connect to it was tried
    assert "169.254.169.254" not in connects.seen
    assert len(posts) == 1 and not posts[0]["media"]
    assert "not on this machine (sandbox mode)" in caplog.text


# --- the fetch itself ---------------------------------------------------------------------


def resolver(table: dict[str, list[str]]) -> Callable[[str, int], list[str]]:
    def resolve(host: str, port: int) -> list[str]:
        if host not in table:
            raise OSError(f"test resolver: no {host}")
        return table[host]

    return resolve


NAMES = {
    "intranet.example": ["10.1.2.3"],
    "meta.example": ["169.254.169.254"],
    "mixed.example": ["93.184.216.34", "192.168.0.7"],
    "shared.example": ["100.100.100.200"],
    "v6-local.example": ["fd00:ec2::254"],
    "mapped.example": ["::ffff:10.0.0.1"],
    "loopback.example": ["127.0.0.1"],
    "cdn.example": ["93.184.216.34"],
}


@pytest.mark.parametrize(
    ("url", "says"),
    [
        ("http://127.0.0.1:{port}/img.png", "a loopback address"),
        ("http://[::1]:{port}/img.png", "a loopback address"),
        ("http://10.0.0.8/img.png", "a private address"),
        ("http://169.254.169.254/latest/meta-data/", "a cloud metadata address"),
        ("http://[::ffff:169.254.169.254]/latest/", "a cloud metadata address"),
        ("http://0.0.0.0:{port}/img.png", "an unspecified address"),
        ("http://intranet.example/a.png", "intranet.example (10.1.2.3): a private address"),
        ("http://meta.example/a.png", "a cloud metadata address"),
        ("http://mixed.example/a.png", "mixed.example (192.168.0.7): a private address"),
        ("http://shared.example/a.png", "a cloud metadata address"),
        ("http://v6-local.example/a.png", "a cloud metadata address"),
        ("http://mapped.example/a.png", "a private address (inside ::ffff:a00:1)"),
        ("http://loopback.example:{port}/img.png", "a loopback address"),
    ],
)
def test_internal_addresses_are_refused_before_any_connection(
    images: ImageServer, connects: _Connects, url: str, says: str
) -> None:
    from dissem.errors import ImageUnavailable
    from dissem.platforms.media import load_image
    from dissem.platforms.safe_fetch import Destinations

    with pytest.raises(ImageUnavailable) as caught:
        load_image(
            url.format(port=images.port),
            config_dir=Path("."),
            timeout=2,
            destinations=Destinations(resolver=resolver(NAMES)),
        )
    assert "refused to connect to" in str(caught.value) and says in str(caught.value)
    assert connects.seen == [] and images.requests == []


def test_every_redirect_hop_is_checked(images: ImageServer, connects: _Connects) -> None:
    """Outside sandbox mode, with the test server's address trusted (as an operator may
    trust an intranet image server): a redirect to an internal address is refused."""
    from dissem.errors import ImageUnavailable
    from dissem.platforms.media import load_image
    from dissem.platforms.safe_fetch import Destinations

    here = Destinations(trusted=(ipaddress.ip_network("127.0.0.1/32"),), resolver=resolver(NAMES))
    image = load_image(f"{images.url}/img.png", config_dir=Path("."), timeout=2, destinations=here)
    assert image.data == PNG  # the trusted hop itself is fine
    for target, says in (
        ("http://169.254.169.254/latest/meta-data/", "a cloud metadata address"),
        ("http://intranet.example/x.png", "a private address"),
        (f"http://127.0.0.2:{images.port}/img.png", "a loopback address"),
        ("ftp://cdn.example/x.png", "only http"),
    ):
        with pytest.raises(ImageUnavailable, match=says):
            load_image(images.redirect(target), config_dir=Path("."), timeout=2, destinations=here)
    assert set(connects.seen) == {"127.0.0.1"} and connects.blocked == []


def test_sandbox_mode_reaches_loopback_only(images: ImageServer, connects: _Connects) -> None:
    from dissem.errors import ImageUnavailable
    from dissem.platforms.media import load_image
    from dissem.platforms.safe_fetch import Destinations

    local = Destinations(local_only=True, resolver=resolver(NAMES))
    # a name resolved once, by the hook: the connection goes to that checked address (a
    # second, real lookup of this name would fail), and the Host header keeps the name
    image = load_image(
        f"http://loopback.example:{images.port}/img.png",
        config_dir=Path("."),
        timeout=2,
        destinations=local,
    )
    assert image.data == PNG and images.requests[-1][1] == f"loopback.example:{images.port}"
    for url in ("http://cdn.example/a.png", images.redirect("http://cdn.example/a.png")):
        with pytest.raises(ImageUnavailable, match=r"cdn.example \(93.184.216.34\): not on"):
            load_image(url, config_dir=Path("."), timeout=2, destinations=local)
    assert connects.blocked == [] and set(connects.seen) == {"127.0.0.1"}


def test_redirects_are_bounded_and_sizes_capped(images: ImageServer, connects: _Connects) -> None:
    from dissem.errors import ImageUnavailable
    from dissem.platforms.media import load_image
    from dissem.platforms.safe_fetch import MAX_REDIRECTS, Destinations

    local = Destinations(local_only=True)
    with pytest.raises(ImageUnavailable, match=f"more than {MAX_REDIRECTS} redirects"):
        load_image(f"{images.url}/loop", config_dir=Path("."), timeout=2, destinations=local)
    assert len(images.requests) == MAX_REDIRECTS + 1
    with pytest.raises(ImageUnavailable, match="above the limit of 1,000 bytes"):
        load_image(
            f"{images.url}/declared",
            config_dir=Path("."),
            timeout=2,
            max_bytes=1000,
            destinations=local,
        )
    with pytest.raises(ImageUnavailable, match="larger than the limit of 100,000 bytes"):
        load_image(
            f"{images.url}/huge",
            config_dir=Path("."),
            timeout=2,
            max_bytes=100_000,
            destinations=local,
        )


def test_a_fetch_ends_within_its_total_time(connects: _Connects) -> None:
    """A server that trickles its answer is given up on when the fetch's total time is
    spent, not after each (short) read."""
    import socket
    import time

    from dissem.errors import FetchFailed
    from dissem.platforms.safe_fetch import Destinations, fetch

    listener = socket.create_server(("127.0.0.1", 0))
    port = listener.getsockname()[1]
    stop = threading.Event()

    def trickle() -> None:
        conn, _ = listener.accept()
        with conn:
            conn.recv(65536)
            conn.sendall(
                b"HTTP/1.1 200 OK\r\nContent-Type: image/png\r\nContent-Length: 999\r\n\r\n"
            )
            while not stop.wait(0.05):
                try:
                    conn.sendall(b"x")
                except OSError:
                    return

    thread = threading.Thread(target=trickle, daemon=True)
    thread.start()
    started = time.monotonic()
    try:
        with (
            pytest.raises(FetchFailed, match="took too long"),
            fetch(
                f"http://127.0.0.1:{port}/slow.png",
                timeout=1.0,
                total=0.5,
                destinations=Destinations(local_only=True),
            ) as answer,
        ):
            for _ in answer.chunks(1):
                pass
    finally:
        stop.set()
        listener.close()
        thread.join(5)
    assert time.monotonic() - started < 3


@pytest.mark.parametrize(
    ("address", "local_only", "refused"),
    [
        ("93.184.216.34", False, None),
        ("2606:2800:220:1:248:1893:25c8:1946", False, None),
        ("127.0.0.1", False, "a loopback address"),
        ("169.254.1.1", False, "a link-local address"),
        ("fe80::1", False, "a link-local address"),
        ("172.16.5.4", False, "a private address"),
        ("100.64.0.1", False, "not a public address"),
        ("224.0.0.1", False, "a multicast address"),
        ("240.0.0.1", False, "a private address"),
        ("168.63.129.16", False, "a cloud metadata address"),
        ("2002:a9fe:a9fe::1", False, "a cloud metadata address (inside 2002:a9fe:a9fe::1)"),
        ("64:ff9b::a00:1", False, "a private address (inside 64:ff9b::a00:1)"),
        ("127.0.0.1", True, None),
        ("::1", True, None),
        ("93.184.216.34", True, "not on this machine (sandbox mode)"),
        ("10.0.0.1", True, "not on this machine (sandbox mode)"),
    ],
)
def test_which_addresses_may_be_reached(
    address: str, local_only: bool, refused: str | None
) -> None:
    from dissem.platforms.safe_fetch import Destinations, refusal

    assert refusal(ipaddress.ip_address(address), Destinations(local_only=local_only)) == refused


def test_the_facebook_stand_in_follows_no_redirect_off_the_machine(
    sandbox: RunningSandbox, images: ImageServer, connects: _Connects
) -> None:
    """Graph downloads a photo ``url``; the stand-in does so for a URL on this machine, and
    a redirect from there (to the metadata address) is not followed: the photo is refused
    as no image (code 100), and no connection off the machine is tried."""
    import requests

    url = f"{sandbox.url}/facebook/v23.0/42/photos"
    form = {"access_token": "fb-raw-token", "caption": "a photo"}
    ok = requests.post(url, data={**form, "url": f"{images.url}/img.png"}, timeout=5)
    assert ok.status_code == 200, ok.text
    metadata = images.redirect("http://169.254.169.254/latest/meta-data/")
    refused = requests.post(url, data={**form, "url": metadata}, timeout=5)
    assert refused.status_code == 400 and refused.json()["error"]["code"] == 100
    assert connects.blocked == [] and "169.254.169.254" not in connects.seen
