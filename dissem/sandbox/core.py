"""The sandbox server: one local HTTP server standing in for every platform's API.

Each platform is served under ``/<platform>`` followed by its real API paths
(``/mastodon/api/v1/statuses``, ``/x/2/tweets``, ...). ``/`` shows what was published as a
feed; ``/_sandbox/platforms`` and ``/_sandbox/posts`` answer JSON for tools and tests.

Adding one platform's stand-in
------------------------------
Write a module (listed in :data:`STAND_IN_MODULES`) with a ``STAND_INS`` tuple of
:class:`StandIn` subclasses. A stand-in sets ``name`` (the platform) and declares handlers
with :func:`route`; each handler takes a :class:`Request` and returns a :class:`Response`
(build them with :func:`json_response`), or raises :class:`Reject` carrying the error
response. ``write=True`` marks a route that creates something: forced faults (tests) hit
only those. Override :meth:`StandIn.error`, :meth:`StandIn.throttled` and
:meth:`StandIn.server_error` to answer in the platform's own shapes::

    class Example(StandIn):
        name = "example"

        @route("POST", r"/v1/posts", write=True)
        def create(self, req: Request) -> Response:
            token = self.require_bearer(req)
            body = req.json()
            text = self.require_text(body.get("text"))
            post = self.env.state.add_post(PostRecord(
                platform=self.name, account=token, remote_id=str(self.env.serial(self.name)),
                text=text, created_at=req.now))
            return json_response({"id": post.remote_id}, status=201)

The core does the rest: fault injection (:mod:`dissem.sandbox.faults`), latency, JSON
helpers, HTTP/1.1 keep-alive with TCP_NODELAY (without it every request costs ~40 ms),
error shapes for unknown paths, and the clock (``req.now``; tests inject one).
"""

from __future__ import annotations

import hashlib
import importlib
import importlib.util
import json
import logging
import re
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.message import Message
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, ClassVar, TypeVar
from urllib.parse import parse_qs, urlsplit

from dissem.sandbox.faults import Fault, FaultPlan, parse_faults
from dissem.sandbox.state import SandboxState

__all__ = [
    "STAND_IN_MODULES",
    "Clock",
    "Reject",
    "Request",
    "Response",
    "SandboxApp",
    "SandboxEnv",
    "StandIn",
    "account_for",
    "json_response",
    "route",
    "text_fits",
]

log = logging.getLogger(__name__)

Clock = Callable[[], datetime]

#: platform -> module whose ``STAND_INS`` serves it; a module absent from the installation
#: is skipped (so the server starts while a stand-in is still being written)
STAND_IN_MODULES: dict[str, str] = {
    "x": "dissem.sandbox.x",
    "mastodon": "dissem.sandbox.mastodon",
    "bluesky": "dissem.sandbox.bluesky",
    "facebook": "dissem.sandbox.meta",
    "instagram": "dissem.sandbox.meta",
    "threads": "dissem.sandbox.meta",
    "linkedin": "dissem.sandbox.linkedin",
    "telegram": "dissem.sandbox.telegram",
}


def utc_now() -> datetime:
    return datetime.now(UTC)


@dataclass
class Response:
    """An answer: status, body bytes and headers (``Content-Type`` included)."""

    status: int
    body: bytes = b""
    headers: dict[str, str] = field(default_factory=dict)


def json_response(
    data: Any, status: int = 200, headers: Mapping[str, str] | None = None
) -> Response:
    """A JSON answer (UTF-8, not ASCII-escaped)."""
    body = json.dumps(data, ensure_ascii=False).encode("utf-8")
    return Response(
        status, body, {"Content-Type": "application/json; charset=utf-8", **(headers or {})}
    )


def html_response(html: str, status: int = 200) -> Response:
    return Response(status, html.encode("utf-8"), {"Content-Type": "text/html; charset=utf-8"})


class Reject(Exception):
    """Raised by a handler to answer ``response`` instead (validation and auth failures)."""

    def __init__(self, response: Response) -> None:
        super().__init__(response.status)
        self.response = response


@dataclass
class Request:
    """One request to a stand-in. ``path`` is the part after ``/<platform>``."""

    method: str
    path: str
    query: dict[str, list[str]]
    headers: Message
    body: bytes
    now: datetime
    params: dict[str, str] = field(default_factory=dict)  # named groups of the route
    stand_in: StandIn | None = None

    def header(self, name: str) -> str | None:
        """A header value (case-insensitive), or None."""
        value = self.headers.get(name)
        return None if value is None else str(value)

    def arg(self, name: str) -> str | None:
        """The first query parameter ``name``, or None."""
        values = self.query.get(name)
        return values[0] if values else None

    def json(self) -> dict[str, Any]:
        """The body as a JSON object, or :class:`Reject` with the platform's 400 shape."""
        try:
            data = json.loads(self.body or b"{}")
        except ValueError:
            data = None
        if not isinstance(data, dict):
            raise Reject(self._error(400, "request body is not a JSON object"))
        return data

    def form(self) -> dict[str, Any]:
        """Fields of a JSON or ``application/x-www-form-urlencoded`` body (first values)."""
        content_type = (self.header("Content-Type") or "").split(";")[0].strip().lower()
        if content_type == "application/x-www-form-urlencoded":
            fields = parse_qs(self.body.decode("utf-8", "replace"), keep_blank_values=True)
            return {k: v[0] for k, v in fields.items()}
        if not self.body:
            return {}
        return self.json()

    def bearer(self) -> str | None:
        """The token of ``Authorization: Bearer <token>``; None when absent or empty."""
        auth = self.header("Authorization") or ""
        scheme, _, token = auth.partition(" ")
        token = token.strip()
        return token if scheme.lower() == "bearer" and token else None

    def _error(self, status: int, message: str) -> Response:
        if self.stand_in is not None:
            return self.stand_in.error(status, message)
        return json_response({"error": message}, status)


_H = TypeVar("_H", bound=Callable[..., Response])
_ROUTE_ATTR = "__sandbox_routes__"


def route(method: str, pattern: str, *, write: bool = False) -> Callable[[_H], _H]:
    """Declares a handler for ``method`` and a path regex (full match, named groups go to
    ``req.params``). ``write`` marks requests that create something."""

    def mark(fn: _H) -> _H:
        setattr(fn, _ROUTE_ATTR, [*getattr(fn, _ROUTE_ATTR, []), (method.upper(), pattern, write)])
        return fn

    return mark


@dataclass(frozen=True)
class Route:
    method: str
    pattern: re.Pattern[str]
    write: bool
    handler: str  # method name on the stand-in


class SandboxEnv:
    """What every stand-in shares: state, clock, faults and the server's address."""

    def __init__(self, state: SandboxState, clock: Clock, faults: FaultPlan) -> None:
        self.state = state
        self.clock = clock
        self.faults = faults
        self.base_url = "http://127.0.0.1"

    def platform_url(self, platform: str) -> str:
        return f"{self.base_url}/{platform}"

    def serial(self, platform: str, start: int = 1) -> int:
        """The next number of a per-platform counter (kept in the state, so ids survive a
        restart with ``--state``)."""
        with self.state.lock:
            bucket = self.state.bucket(platform)
            value = int(bucket.get("_serial", start - 1)) + 1
            bucket["_serial"] = value
            self.state.changed()
            return value


class StandIn:
    """Base class of one platform's stand-in (see the module doc for how to write one)."""

    name: ClassVar[str]
    routes: ClassVar[tuple[Route, ...]] = ()

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        found: list[Route] = []
        for attr in dir(cls):
            for method, pattern, write in getattr(getattr(cls, attr, None), _ROUTE_ATTR, []):
                found.append(Route(method, re.compile(pattern), write, attr))
        cls.routes = tuple(found)

    def __init__(self, env: SandboxEnv) -> None:
        self.env = env

    # --- shapes a platform overrides ----------------------------------------------------
    def error(self, status: int, message: str) -> Response:
        """The platform's error body for ``status``."""
        return json_response({"error": message}, status)

    def throttled(self, now: datetime) -> Response:
        """The platform's throttle answer (429 and its reset signal)."""
        return json_response({"error": "rate limited"}, 429, {"Retry-After": "60"})

    def server_error(self) -> Response:
        """The platform's 5xx answer."""
        return self.error(503, "service unavailable")

    # --- helpers for handlers -----------------------------------------------------------
    def require_bearer(self, req: Request) -> str:
        """The bearer token, or :class:`Reject` with the platform's 401."""
        token = req.bearer()
        if token is None:
            raise Reject(self.error(401, "missing or empty access token"))
        return token

    def require_text(self, text: Any, *, allow_empty: bool = False, **rules: Any) -> str:
        """``text`` when it is a string that fits the platform's length rules (``rules`` go
        to :func:`dissem.compose.counting.fits`, e.g. ``spoiler_text``, ``kind``), else a 400
        (or :meth:`too_long`) :class:`Reject`."""
        if not isinstance(text, str) or (not allow_empty and not text.strip()):
            raise Reject(self.error(400, "text is missing or empty"))
        if not text_fits(self.name, text, **rules):
            raise Reject(self.too_long(text))
        return text

    def too_long(self, text: str) -> Response:
        """The platform's answer to an over-long text."""
        return self.error(400, f"text is longer than {self.name} allows")

    def match(self, method: str, path: str) -> tuple[Route, re.Match[str]] | Response:
        """The route for a request, or the platform's 404/405 answer."""
        path_matched = False
        for r in self.routes:
            m = r.pattern.fullmatch(path)
            if m:
                if r.method == method:
                    return r, m
                path_matched = True
        if path_matched:
            return self.error(405, f"method {method} not allowed on {path}")
        return self.error(404, f"no such endpoint: {path}")


def text_fits(platform: str, text: str, **rules: Any) -> bool:
    """Whether ``text`` fits ``platform``'s length rules, counted the platform's way
    (:func:`dissem.compose.counting.fits`; ``rules`` are its keyword options).

    Threads is measured without ``fits``' cap on links: that is not a length rule, and its
    stand-in answers it with Threads' own error (``THREADS_API__LINK_LIMIT_EXCEEDED``).
    """
    from dissem.compose import counting

    if platform == "threads":
        return counting.measure_threads(text) <= counting.limit(platform)
    return counting.fits(platform, text, **rules)


def load_stand_ins(env: SandboxEnv) -> dict[str, StandIn]:
    """One instance of each available stand-in, by platform name."""
    found: dict[str, StandIn] = {}
    for platform, module_name in STAND_IN_MODULES.items():
        if importlib.util.find_spec(module_name) is None:
            log.info("sandbox: %s stand-in %s is not installed", platform, module_name)
            continue
        module = importlib.import_module(module_name)
        for cls in getattr(module, "STAND_INS", ()):
            if cls.name == platform:
                found[platform] = cls(env)
    return found


class SandboxApp:
    """Routes a request to its stand-in, applying faults. Socket-free (the server calls
    :meth:`handle`), so it can be exercised directly."""

    def __init__(self, env: SandboxEnv) -> None:
        self.env = env
        self.stand_ins = load_stand_ins(env)

    def handle(self, method: str, target: str, headers: Message, body: bytes) -> Response | None:
        """The answer to one request; None means close the connection without answering."""
        split = urlsplit(target)
        path = split.path or "/"
        if path == "/":
            from dissem.sandbox.feed_page import render_feed

            return html_response(render_feed(self.env.state.posts(), self.env.clock()))
        if path.startswith("/_sandbox/"):
            return self._internal(method, path)
        _, platform, rest = path.split("/", 2) if path.count("/") >= 2 else ("", path[1:], "")
        stand_in = self.stand_ins.get(platform)
        if stand_in is None:
            return json_response({"error": f"no platform {platform!r} in this sandbox"}, 404)
        found = stand_in.match(method, "/" + rest)
        if isinstance(found, Response):
            return found
        r, m = found
        fault = self.env.faults.decide(platform, write=r.write)
        latency = self.env.faults.rates(platform).latency_ms
        if latency:
            time.sleep(latency / 1000.0)  # the server side may wait; clients never do
        if fault is Fault.ERROR:
            return stand_in.server_error()
        if fault is Fault.THROTTLE:
            return stand_in.throttled(self.env.clock())
        req = Request(
            method=method,
            path="/" + rest,
            query=parse_qs(split.query, keep_blank_values=True),
            headers=headers,
            body=body,
            now=self.env.clock(),
            params={k: v for k, v in m.groupdict().items() if v is not None},
            stand_in=stand_in,
        )
        try:
            response: Response = getattr(stand_in, r.handler)(req)
        except Reject as rejected:
            response = rejected.response
        except Exception:
            log.exception("sandbox: %s %s handler failed", platform, r.handler)
            response = stand_in.error(500, "sandbox handler failed")
        return None if fault is Fault.DROP else response

    def _internal(self, method: str, path: str) -> Response:
        if method != "GET":
            return json_response({"error": "method not allowed"}, 405)
        if path == "/_sandbox/platforms":
            return json_response({name: self.env.platform_url(name) for name in STAND_IN_MODULES})
        if path == "/_sandbox/posts":
            return json_response([p.to_json() for p in self.env.state.posts()])
        if path == "/_sandbox/health":
            return json_response({"ok": True, "platforms": sorted(self.stand_ins)})
        return json_response({"error": f"no such sandbox endpoint: {path}"}, 404)


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive
    disable_nagle_algorithm = True  # TCP_NODELAY: without it, ~40 ms per keep-alive request
    server: _Server

    def _serve(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        response = self.server.app.handle(self.command, self.path, self.headers, body)
        if response is None:  # "drop": applied, but the client never hears back
            self.close_connection = True
            return
        self.send_response(response.status)
        for name, value in response.headers.items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(response.body)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(response.body)

    do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = do_HEAD = _serve

    def log_message(self, format: str, *args: Any) -> None:
        # request lines carry tokens (Telegram's /bot<token>/...): log only the status
        log.debug("sandbox: %s %s", self.command, args[1] if len(args) > 1 else "")


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, address: tuple[str, int], app: SandboxApp) -> None:
        self.app = app
        super().__init__(address, _Handler)


class RunningSandbox:
    """A sandbox serving in a background thread; ``url`` is its root. A context manager."""

    def __init__(self, server: _Server, env: SandboxEnv) -> None:
        self._server = server
        self.env = env
        self.state = env.state
        self.faults = env.faults
        self.url = env.base_url
        self._stop = threading.Event()
        # a short poll interval makes stop() quick (tests start and stop many sandboxes)
        self._thread = threading.Thread(
            target=server.serve_forever, args=(0.05,), name="sandbox", daemon=True
        )
        self._saver = threading.Thread(target=self._save_loop, name="sandbox-save", daemon=True)
        self._thread.start()
        self._saver.start()

    def platform_url(self, platform: str) -> str:
        """``<url>/<platform>``: the ``api_base`` of that platform's adapter."""
        return self.env.platform_url(platform)

    def stop(self) -> None:
        """Stops serving and saves the state file."""
        self._stop.set()
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(5)
        self.state.close()

    def request_stop(self) -> None:
        """Asks :meth:`wait` to return (safe from a signal handler)."""
        self._stop.set()

    def wait(self) -> None:
        """Blocks until :meth:`request_stop` or :meth:`stop` (the CLI)."""
        while not self._stop.wait(0.5):
            pass

    def _save_loop(self) -> None:
        while not self._stop.wait(self.state.save_interval):
            self.state.save()

    def __enter__(self) -> RunningSandbox:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


def start_sandbox(
    port: int = 0,
    *,
    host: str = "127.0.0.1",
    faults: str | FaultPlan | None = None,
    clock: Clock | None = None,
    state_path: Path | None = None,
) -> RunningSandbox:
    """Starts the sandbox in a background thread; ``port=0`` picks a free port.

    ``faults`` is a spec (see :mod:`dissem.sandbox.faults`) or a plan; ``clock`` replaces
    the wall clock for post times and engagement; ``state_path`` keeps state in a JSON file.
    """
    plan = faults if isinstance(faults, FaultPlan) else parse_faults(faults)
    env = SandboxEnv(SandboxState(state_path), clock or utc_now, plan)
    app = SandboxApp(env)
    server = _Server((host, port), app)
    bound_host, bound_port = server.server_address[:2]
    shown = "127.0.0.1" if bound_host in ("0.0.0.0", "") else str(bound_host)
    env.base_url = f"http://{shown}:{bound_port}"
    return RunningSandbox(server, env)


def account_for(token: str) -> tuple[str, str]:
    """A stable numeric id and user name for a credential, so each token is one account."""
    digest = hashlib.sha256(token.encode("utf-8")).hexdigest()
    return str(int(digest[:12], 16)), f"user_{digest[:6]}"
