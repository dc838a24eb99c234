"""Documented request/response pairs of each platform, and a tiny server that replays them.

Why: the adapters were written against the sandbox stand-ins, and the stand-ins by the same
people, so a wrong idea of a platform can sit in both and every test still passes. The files
in ``tests/platforms/fixtures/<platform>.yaml`` hold what the platforms' own documentation
(or a reference client or server) shows them answering, each entry with the ``source`` it
came from; :class:`ReplayServer` answers an adapter with exactly those bytes, without any
sandbox code in between, and records what the adapter sent so a test can check the request
too (``test_fixtures_replay.py``). ``tests/sandbox/test_sandbox_fixtures.py`` holds the
stand-ins to the same documented shapes.

Fixture file format
-------------------
::

    platform: x
    entries:
      - name: duplicate-content            # unique within the file
        source: https://...                # the doc page, or owner/repo:path
        call: publish                      # publish | lookup | fetch_metrics | refresh_credentials
        part: {text: "hello"}              # publish/lookup: text, media [{src, alt}], options,
                                           #   index, total
        state: {rkey: "..."}               # ctx.state before the call (publish/lookup)
        ids: ["1", "2"]                    # fetch_metrics
        since: "2026-11-30T00:00:00Z"      # lookup
        now: "2026-11-30T12:00:00Z"        # the adapter's clock (cases that depend on the
                                           #   time, e.g. X's 30 days of non-public metrics)
        channel: {account: "..."}          # channel fields for this entry
        exchanges:                         # what the adapter must ask, and the answers
          - source: ...                    # optional; defaults to the entry's
            optional: false                # true: the adapter may skip it
            repeat: false                  # true: it may be asked more than once
            request:
              method: POST
              path: /2/tweets              # a regex, matched in full against the URL path
              query: {ids: "1,2"}          # subsets the adapter's request must contain
              json: {text: "hello"}
              form: {creation_id: "17"}
              multipart: [photo]           # multipart field names that must be present
              headers: {Idempotency-Key: null}   # null: present with any value
            response:
              status: 403
              headers: {x-rate-limit-reset: "1796040000"}
              body: {...}                  # JSON; or body_text: "raw", body_base64: ...
        expect:
          raises: Duplicate                # a class of dissem.errors; or returns: ...
          attrs: {remote_id: null, status: 403}
          retry_at: 1796040000             # RateLimited: epoch seconds or ISO 8601 ...
          retry_in: 600                    # ... or seconds after the call (a few s slack)
          message_contains: duplicate
          returns: {remote_id: "1", url: "https://..."}   # RemotePost fields, None, or
                                           #   {id: {values: {...}}} for fetch_metrics
          credentials: {access_token: "..."}   # refresh_credentials: after the call
        sandbox: {drive: name}             # how tests/sandbox drives the stand-in into it
        sandbox_gap: why the stand-in cannot produce this case (yet)

Each request is answered by the first unused exchange it matches (so the order of requests to
different paths is free, and requests to one path take their exchanges in order); ``{replay}``
in any string becomes the replay server's URL (an image the adapter must download). Every
entry needs a ``source`` (and so does every exchange, inherited from its entry);
entries without one are refused by :func:`load_entries`, so no shape goes in unconfirmed.
"""

from __future__ import annotations

import base64
import email.parser
import email.policy
import json
import re
import threading
from collections.abc import Mapping
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import yaml

FIXTURES = Path(__file__).parent / "fixtures"
CALLS = ("publish", "lookup", "fetch_metrics", "refresh_credentials")
#: the answer to a request the fixture does not expect (a status no platform uses)
UNEXPECTED_STATUS = 599
#: a replay server stops by itself after this long, whatever the test does
MAX_LIFETIME_SECONDS = 60.0
#: and after answering this many requests beyond its exchanges
EXTRA_REQUESTS = 5


@dataclass(frozen=True)
class Exchange:
    """One request the adapter is expected to make and the documented answer to it."""

    source: str
    request: Mapping[str, Any]
    response: Mapping[str, Any]
    #: the adapter may skip it (a best-effort read)
    optional: bool = False
    #: it may be made more than once (a status poll)
    repeat: bool = False

    @property
    def status(self) -> int:
        return int(self.response.get("status", 200))

    def body_bytes(self) -> bytes:
        if "body_base64" in self.response:
            return base64.b64decode(str(self.response["body_base64"]))
        if "body_text" in self.response:
            return str(self.response["body_text"]).encode("utf-8")
        if "body" not in self.response:
            return b""
        return json.dumps(self.response["body"], ensure_ascii=False).encode("utf-8")


@dataclass(frozen=True)
class Entry:
    """One documented case of one platform."""

    platform: str
    name: str
    source: str
    call: str
    exchanges: tuple[Exchange, ...]
    expect: Mapping[str, Any]
    raw: Mapping[str, Any]
    sandbox: Mapping[str, Any] | None = None
    sandbox_gap: str | None = None

    @property
    def id(self) -> str:
        return f"{self.platform}:{self.name}"

    def get(self, key: str, default: Any = None) -> Any:
        return self.raw.get(key, default)

    def at(self, base_url: str) -> Entry:
        """This entry with every ``{replay}`` in its strings replaced by ``base_url`` (for
        URLs the adapter must fetch from the replay server itself)."""
        text = json.dumps(self.raw).replace("{replay}", base_url)
        return _entry(self.platform, json.loads(text), self.id, set())


def load_entries(folder: Path = FIXTURES) -> list[Entry]:
    """Every entry of every ``*.yaml`` file in ``folder``; ValueError naming the first
    malformed entry (no source, unknown call, no exchanges, duplicate name...)."""
    entries: list[Entry] = []
    for path in sorted(folder.glob("*.yaml")):
        document = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
        platform = str(document.get("platform") or path.stem)
        seen: set[str] = set()
        for index, raw in enumerate(document.get("entries") or []):
            where = f"{path.name} entry {index + 1}"
            entries.append(_entry(platform, raw, where, seen))
    return entries


def _entry(platform: str, raw: Any, where: str, seen: set[str]) -> Entry:
    if not isinstance(raw, dict):
        raise ValueError(f"{where}: not a mapping")
    name = str(raw.get("name") or "")
    if not name or name in seen:
        raise ValueError(f"{where}: missing or repeated name {name!r}")
    seen.add(name)
    source = str(raw.get("source") or "").strip()
    if not _is_source(source):
        raise ValueError(f"{where} ({name}): source must be a URL or owner/repo:path")
    call = str(raw.get("call") or "")
    if call not in CALLS:
        raise ValueError(f"{where} ({name}): call must be one of {', '.join(CALLS)}")
    exchanges = []
    for i, ex in enumerate(raw.get("exchanges") or []):
        ex_source = str(ex.get("source") or source).strip()
        if not _is_source(ex_source) or "request" not in ex or "response" not in ex:
            raise ValueError(f"{where} ({name}): exchange {i + 1} needs request, response")
        exchanges.append(
            Exchange(
                ex_source,
                ex["request"],
                ex["response"],
                optional=bool(ex.get("optional")),
                repeat=bool(ex.get("repeat")),
            )
        )
    expect = raw.get("expect")
    if not isinstance(expect, dict) or not ({"raises", "returns", "credentials"} & set(expect)):
        raise ValueError(f"{where} ({name}): expect needs raises, returns or credentials")
    sandbox, gap = raw.get("sandbox"), raw.get("sandbox_gap")
    if sandbox is None and not gap:
        raise ValueError(f"{where} ({name}): give sandbox (how to drive it) or sandbox_gap")
    return Entry(
        platform=platform,
        name=name,
        source=source,
        call=call,
        exchanges=tuple(exchanges),
        expect=expect,
        raw=raw,
        sandbox=sandbox,
        sandbox_gap=str(gap) if gap else None,
    )


_REPO_PATH = re.compile(r"[\w.-]+/[\w.-]+:[\w./@+-]+")


def _is_source(source: str) -> bool:
    return source.startswith("https://") or bool(_REPO_PATH.fullmatch(source))


# --- what the adapter sent -----------------------------------------------------------------
@dataclass
class Recorded:
    """One request the replay server received."""

    method: str
    path: str
    query: dict[str, list[str]]
    headers: dict[str, str]
    body: bytes

    def json(self) -> Any:
        try:
            return json.loads(self.body or b"null")
        except ValueError:
            return None

    def form(self) -> dict[str, str]:
        fields = parse_qs(self.body.decode("utf-8", "replace"), keep_blank_values=True)
        return {k: v[0] for k, v in fields.items()}

    def multipart(self) -> dict[str, bytes]:
        """Field name -> content of a multipart/form-data body ({} otherwise)."""
        content_type = self.headers.get("content-type", "")
        if not content_type.startswith("multipart/"):
            return {}
        head = f"Content-Type: {content_type}\r\n\r\n".encode()
        message = email.parser.BytesParser(policy=email.policy.HTTP).parsebytes(head + self.body)
        out: dict[str, bytes] = {}
        for part in message.iter_parts():
            name = part.get_param("name", header="content-disposition")
            if isinstance(name, str):
                payload = part.get_payload(decode=True)
                out[name] = payload if isinstance(payload, bytes) else b""
        return out


def request_problems(expected: Mapping[str, Any], got: Recorded) -> list[str]:
    """How ``got`` differs from the fixture's request (empty when it matches)."""
    problems: list[str] = []
    method = str(expected.get("method", "GET")).upper()
    if got.method != method:
        problems.append(f"method {got.method}, expected {method}")
    pattern = str(expected.get("path", ""))
    if not re.fullmatch(pattern, got.path):
        problems.append(f"path {got.path!r} does not match {pattern!r}")
    query = {k: v if len(v) > 1 else v[0] for k, v in got.query.items()}
    problems += [f"query {p}" for p in subset_problems(expected.get("query"), query)]
    if "json" in expected:
        problems += [f"json {p}" for p in subset_problems(expected["json"], got.json())]
    if "form" in expected:
        fields = got.multipart() or got.form()
        as_text = {k: v.decode("utf-8", "replace") if isinstance(v, bytes) else v
                   for k, v in fields.items()}  # fmt: skip
        problems += [f"form {p}" for p in subset_problems(expected["form"], as_text)]
    for name in expected.get("multipart") or []:
        if name not in got.multipart():
            problems.append(f"multipart field {name!r} missing")
    headers = {k.lower(): v for k, v in got.headers.items()}
    for name, value in (expected.get("headers") or {}).items():
        have = headers.get(str(name).lower())
        if have is None:
            problems.append(f"header {name} missing")
        elif value is not None and have != str(value):
            problems.append(f"header {name}: {have!r}, expected {value!r}")
    return problems


def subset_problems(expected: Any, got: Any, where: str = "") -> list[str]:
    """Where ``got`` lacks or differs from what ``expected`` holds (mappings recursively as
    subsets; anything else compared for equality). ``None`` expected means "present"."""
    if expected is None:
        return []
    if isinstance(expected, Mapping):
        if not isinstance(got, Mapping):
            return [f"{where or '.'}: {got!r} is not an object"]
        problems: list[str] = []
        for key, value in expected.items():
            path = f"{where}.{key}" if where else str(key)
            if key not in got:
                problems.append(f"{path}: missing")
            else:
                problems += subset_problems(value, got[key], path)
        return problems
    if expected != got:
        return [f"{where or '.'}: {got!r}, expected {expected!r}"]
    return []


# --- the server ------------------------------------------------------------------------------
class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: _Server

    def _serve(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        split = urlsplit(self.path)
        recorded = Recorded(
            method=self.command,
            path=split.path,
            query=parse_qs(split.query, keep_blank_values=True),
            headers={k.lower(): v for k, v in self.headers.items()},
            body=body,
        )
        status, headers, payload = self.server.replay.answer(recorded)
        self.send_response(status)
        for name, value in headers.items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(payload)

    do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = do_HEAD = _serve

    def log_message(self, format: str, *args: Any) -> None:
        pass  # request lines carry tokens (Telegram's /bot<token>/)


class _Server(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, replay: ReplayServer) -> None:
        self.replay = replay
        super().__init__(("127.0.0.1", 0), _Handler)


class ReplayServer:
    """Answers the n-th request with the n-th exchange's response and records every request.

    Bound to 127.0.0.1 on a free port; it stops by itself after :data:`MAX_LIFETIME_SECONDS`
    or :data:`EXTRA_REQUESTS` requests too many, so a test that forgets it cannot leave it
    running. A request beyond the exchanges is answered :data:`UNEXPECTED_STATUS`.
    """

    def __init__(self, exchanges: tuple[Exchange, ...]) -> None:
        self.exchanges = exchanges
        self.received: list[Recorded] = []
        self.url = ""
        self._lock = threading.Lock()
        self._server: _Server | None = None
        self._timer: threading.Timer | None = None
        self._used: set[int] = set()
        self._unmatched: list[Recorded] = []
        self._problems: list[str] = []

    def answer(self, recorded: Recorded) -> tuple[int, dict[str, str], bytes]:
        """The response of the first unused exchange this request matches: in full when one
        does, else the first with the same method and path (its differences are kept for
        :meth:`problems`), else :data:`UNEXPECTED_STATUS`."""
        with self._lock:
            self.received.append(recorded)
            if len(self.received) > len(self.exchanges) + EXTRA_REQUESTS:
                threading.Thread(target=self.stop, daemon=True).start()
            exchange = self._pick(recorded)
        if exchange is None:
            message = (
                f"replay: no exchange of the fixture expects {recorded.method} {recorded.path}"
            )
            return UNEXPECTED_STATUS, {"Content-Type": "text/plain"}, message.encode()
        headers = {str(k): str(v) for k, v in (exchange.response.get("headers") or {}).items()}
        if "body" in exchange.response and not any(k.lower() == "content-type" for k in headers):
            headers["Content-Type"] = "application/json; charset=utf-8"
        return exchange.status, headers, exchange.body_bytes()

    def _pick(self, recorded: Recorded) -> Exchange | None:
        fallback: int | None = None
        for i, exchange in enumerate(self.exchanges):
            if i in self._used and not exchange.repeat:
                continue
            problems = request_problems(exchange.request, recorded)
            if not problems:
                self._use(i, recorded, [])
                return exchange
            if fallback is None and not any(p.startswith(("method", "path")) for p in problems):
                fallback = i
        if fallback is None:
            self._unmatched.append(recorded)
            return None
        self._use(fallback, recorded, request_problems(self.exchanges[fallback].request, recorded))
        return self.exchanges[fallback]

    def _use(self, index: int, recorded: Recorded, problems: list[str]) -> None:
        self._used.add(index)
        for p in problems:
            self._problems.append(f"{recorded.method} {recorded.path}: {p}")

    def start(self) -> ReplayServer:
        server = _Server(self)
        host, port = server.server_address[:2]
        self.url = f"http://{host!s}:{port}"
        self._server = server
        threading.Thread(
            target=server.serve_forever, args=(0.05,), name="replay", daemon=True
        ).start()
        self._timer = threading.Timer(MAX_LIFETIME_SECONDS, self.stop)
        self._timer.daemon = True
        self._timer.start()
        return self

    def stop(self) -> None:
        """Stops serving (idempotent; safe from any thread but the serving one)."""
        with self._lock:
            server, self._server = self._server, None
        if server is None:
            return
        if self._timer is not None:
            self._timer.cancel()
        server.shutdown()
        server.server_close()

    def problems(self) -> list[str]:
        """How the requests received differ from the exchanges: documented requests the
        adapter never made (unless ``optional``), requests no exchange expects, and the
        field differences of requests matched by method and path only."""
        out = list(self._problems)
        for i, exchange in enumerate(self.exchanges):
            if i not in self._used and not exchange.optional:
                want = f"{exchange.request.get('method', 'GET')} {exchange.request.get('path')}"
                out.append(f"expected request never came: {want}")
        out += [f"unexpected request {r.method} {r.path}" for r in self._unmatched]
        return out
