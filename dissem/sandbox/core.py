"""What every platform stand-in is built from: requests, responses, routes, the shared
environment (state, clock, faults) and the :class:`StandIn` base class. The server that
serves them is :mod:`dissem.sandbox.server`.

Each platform is served under ``/<platform>`` followed by its real API paths
(``/mastodon/api/v1/statuses``, ``/x/2/tweets``, ...). ``/`` shows what was published as a
feed; ``/_sandbox/platforms`` and ``/_sandbox/posts`` answer JSON for tools and tests.

Adding one platform's stand-in
------------------------------
Write a module (listed in :data:`STAND_IN_MODULES`) with a ``STAND_INS`` tuple of
:class:`StandIn` subclasses, or register a class with :func:`register_stand_in` (a test
adding a platform does this). The platform's length rules come from its declaration
(:mod:`dissem.traits`), so a stand-in never repeats a limit. A stand-in sets ``name``
(the platform) and declares handlers with :func:`route`; each handler takes a
:class:`Request` and returns a :class:`Response` (build them with :func:`json_response`),
or raises :class:`Reject` carrying the error
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

The server does the rest: fault injection (:mod:`dissem.sandbox.faults`), latency, JSON
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
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from email.message import Message
from typing import Any, ClassVar, TypeVar
from urllib.parse import parse_qs

from dissem.clock import Clock
from dissem.sandbox.faults import FaultPlan
from dissem.sandbox.state import SandboxState
from dissem.traits import traits_for

__all__ = [
    "STAND_IN_MODULES",
    "Clock",
    "Reject",
    "Request",
    "Response",
    "SandboxEnv",
    "StandIn",
    "account_for",
    "json_response",
    "register_stand_in",
    "route",
    "stand_in_platforms",
    "text_fits",
    "unregister_stand_in",
]

log = logging.getLogger(__name__)

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
#: stand-ins registered at run time (:func:`register_stand_in`), by platform name
_registered: dict[str, type[StandIn]] = {}


def register_stand_in(cls: type[StandIn]) -> type[StandIn]:
    """Serves ``cls.name`` with ``cls`` in sandboxes started from now on (a test adding a
    platform); usable as a class decorator."""
    _registered[cls.name] = cls
    return cls


def unregister_stand_in(name: str) -> None:
    """Forgets a stand-in registered with :func:`register_stand_in`."""
    _registered.pop(name, None)


def stand_in_platforms() -> tuple[str, ...]:
    """Every platform a sandbox serves: the shipped stand-ins, then registered ones."""
    return (*STAND_IN_MODULES, *(name for name in _registered if name not in STAND_IN_MODULES))


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

    A declared cap on links (Threads) is left out: that is not a length rule, and a
    stand-in answers it with the platform's own error (Threads:
    ``THREADS_API__LINK_LIMIT_EXCEEDED``).
    """
    from dissem.compose import counting

    if traits_for(platform).max_links is not None:
        return counting.measure(platform, text) <= counting.limit(platform)
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
    for platform, stand_in in _registered.items():
        found[platform] = stand_in(env)
    return found


def account_for(token: str) -> tuple[str, str]:
    """A stable numeric id and user name for a credential, so each token is one account."""
    digest = hashlib.sha256(token.encode("utf-8")).hexdigest()
    return str(int(digest[:12], 16)), f"user_{digest[:6]}"
