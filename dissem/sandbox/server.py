"""The sandbox server: routes each request to its platform's stand-in, applies faults,
and serves over HTTP/1.1 keep-alive with TCP_NODELAY in a background thread, within
:data:`LIMITS` (:mod:`dissem.bounded_http`: body size, header and idle time, connections;
a malformed request is answered 400 or 413, never with a traceback).

:func:`start_sandbox` is the in-process entry point (tests, demo, benchmarks);
``dissem sandbox`` runs the same from the command line.
"""

from __future__ import annotations

import logging
import threading
import time
from email.message import Message
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

from dissem.bounded_http import BoundedHandler, BoundedServer, Limits
from dissem.clock import utcnow
from dissem.sandbox.core import (
    Clock,
    Reject,
    Request,
    Response,
    SandboxEnv,
    html_response,
    json_response,
    load_stand_ins,
)
from dissem.sandbox.faults import Fault, FaultPlan, parse_faults
from dissem.sandbox.state import SandboxState

__all__ = ["LIMITS", "RunningSandbox", "SandboxApp", "start_sandbox"]

log = logging.getLogger(__name__)

#: what the sandbox allows a client: bodies up to 32 MiB (the largest upload a stand-in
#: takes is a 10 MB photo or a 5 MB media chunk), idle keep-alive connections for a minute,
#: 1024 connections (benchmarks run several workers of 64 channels, each channel's adapter
#: keeping its own connections alive)
LIMITS = Limits(max_body=32 * 1024 * 1024, max_connections=1024, idle_timeout=60.0)


class SandboxApp:
    """Routes a request to its stand-in, applying faults. Socket-free (the server calls
    :meth:`handle`), so it can be exercised directly."""

    def __init__(self, env: SandboxEnv) -> None:
        self.env = env
        self.stand_ins = load_stand_ins(env)
        from dissem.sandbox.portal import Portal

        self.portal = Portal(env)  # the news portal releases come from (not a platform)

    def handle(self, method: str, target: str, headers: Message, body: bytes) -> Response | None:
        """The answer to one request; None means close the connection without answering."""
        split = urlsplit(target)
        path = split.path or "/"
        if path == "/":
            from dissem.sandbox.feed_page import render_feed

            return html_response(render_feed(self.env.state.posts(), self.env.clock()))
        if path.startswith("/_sandbox/portal/"):
            return self.portal.control(method, path.removeprefix("/_sandbox/portal"), body)
        if path.startswith("/_sandbox/"):
            return self._internal(method, path)
        if path == "/portal" or path.startswith("/portal/"):
            return self.portal.handle(method, path.removeprefix("/portal"), headers, body)
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
            return json_response({name: self.env.platform_url(name) for name in self.stand_ins})
        if path == "/_sandbox/posts":
            return json_response([p.to_json() for p in self.env.state.posts()])
        if path == "/_sandbox/health":
            return json_response({"ok": True, "platforms": sorted(self.stand_ins)})
        if path == "/_sandbox/static/sample.png":  # a reachable image URL for tests and demos
            from dissem.sandbox.uploads import sample_png

            return Response(200, sample_png(), {"Content-Type": "image/png"})
        return json_response({"error": f"no such sandbox endpoint: {path}"}, 404)


class _Handler(BoundedHandler):
    server: _Server

    def _serve(self) -> None:
        body = self.read_body()
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


class _Server(BoundedServer):
    def __init__(self, address: tuple[str, int], app: SandboxApp) -> None:
        self.app = app
        super().__init__(address, _Handler, LIMITS, name="sandbox")


class RunningSandbox:
    """A sandbox serving in a background thread; ``url`` is its root. A context manager."""

    def __init__(self, server: _Server, env: SandboxEnv) -> None:
        self._server = server
        self.env = env
        self.state = env.state
        self.faults = env.faults
        self.portal = server.app.portal
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
    env = SandboxEnv(SandboxState(state_path), clock or utcnow, plan)
    app = SandboxApp(env)
    server = _Server((host, port), app)
    bound_host, bound_port = server.server_address[:2]
    shown = "127.0.0.1" if bound_host in ("0.0.0.0", "") else str(bound_host)
    env.base_url = f"http://{shown}:{bound_port}"
    return RunningSandbox(server, env)
