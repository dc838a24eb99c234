"""PlatformSession: the environment's proxy and CA settings, read once per host."""

from __future__ import annotations

import http.server
import threading
from collections.abc import Iterator
from typing import ClassVar

import pytest
import requests

from dissem.platforms.http import PlatformSession

URL = "https://api.example.org/v1/statuses"


@pytest.fixture
def env(monkeypatch: pytest.MonkeyPatch) -> pytest.MonkeyPatch:
    for name in ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "NO_PROXY", "REQUESTS_CA_BUNDLE"):
        for variant in (name, name.lower()):
            monkeypatch.delenv(variant, raising=False)
    monkeypatch.delenv("CURL_CA_BUNDLE", raising=False)
    return monkeypatch


def settings(session: requests.Session, url: str = URL, **kw: object) -> dict[str, object]:
    args = {"proxies": {}, "stream": None, "verify": None, "cert": None, **kw}
    return dict(session.merge_environment_settings(url, **args))  # type: ignore[arg-type]


def test_same_answer_as_requests(env: pytest.MonkeyPatch) -> None:
    env.setenv("HTTPS_PROXY", "http://proxy.local:3128")
    env.setenv("NO_PROXY", "internal.example.org")
    env.setenv("REQUESTS_CA_BUNDLE", "/etc/ssl/bundle.pem")
    for url in (URL, "https://internal.example.org/x", "http://plain.example.org/"):
        for verify in (None, True, False, "/mine.pem"):
            ours = settings(PlatformSession(), url, verify=verify)
            theirs = settings(requests.Session(), url, verify=verify)
            assert ours == theirs, (url, verify)
    proxies = settings(PlatformSession())["proxies"]
    assert isinstance(proxies, dict) and proxies["https"] == "http://proxy.local:3128"
    assert "https" not in settings(PlatformSession(), "https://internal.example.org/x")["proxies"]  # type: ignore[operator]


def test_passed_proxies_win_and_no_trust_env_reads_nothing(env: pytest.MonkeyPatch) -> None:
    env.setenv("HTTPS_PROXY", "http://proxy.local:3128")
    mine = {"https": "http://other:8080"}
    assert settings(PlatformSession(), proxies=dict(mine))["proxies"] == mine
    session = PlatformSession()
    session.trust_env = False
    assert settings(session)["proxies"] == {}


def test_environment_is_read_once_per_host(env: pytest.MonkeyPatch) -> None:
    session = PlatformSession()
    assert settings(session)["proxies"] == {}
    env.setenv("HTTPS_PROXY", "http://proxy.local:3128")
    assert settings(session)["proxies"] == {}  # this host: read when first called
    other = "https://media.example.net/a.png"
    assert settings(session, other)["proxies"] == {"https": "http://proxy.local:3128"}
    assert settings(PlatformSession())["proxies"] == {"https": "http://proxy.local:3128"}


class _Proxy(http.server.BaseHTTPRequestHandler):
    """A forward proxy stand-in: answers every request itself, naming the target."""

    seen: ClassVar[list[str]] = []

    def do_GET(self) -> None:
        self.seen.append(self.path)
        body = b"via proxy"
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def proxy() -> Iterator[str]:
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Proxy)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


def test_requests_go_through_the_environments_proxy(env: pytest.MonkeyPatch, proxy: str) -> None:
    env.setenv("HTTP_PROXY", proxy)
    _Proxy.seen.clear()
    with PlatformSession() as session:
        for _ in range(2):
            answer = session.get("http://platform.invalid/api/v1/x", timeout=5)
            assert answer.text == "via proxy"
    assert _Proxy.seen == ["http://platform.invalid/api/v1/x"] * 2
