"""Every adapter against its platform's documented answers (``fixtures/<platform>.yaml``).

Each fixture entry is replayed by :class:`replay.ReplayServer`, a bare ``http.server`` that
knows nothing of the sandbox: the adapter is pointed at it through the channel's
``api_base`` (no ``DISSEM_SANDBOX_URL``), makes its requests, and gets the documented bytes
back. The test then checks both directions: the requests the adapter made (method, path,
key fields) and what it made of the answers (the error class and its attributes, or the
post, metrics or token it returned). See ``replay.py`` for the fixture format.
"""

from __future__ import annotations

import base64
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

import dissem.errors
from dissem.compose.types import Media, Part
from dissem.platforms.base import MemoryContext, MetricSample, Platform, RemotePost
from dissem.platforms.registry import build_adapter
from dissem.settings import Settings
from tests.platforms.replay import Entry, ReplayServer, load_entries

ENTRIES = load_entries()
#: slack around "now" for answers read relative to the call (Graph's regain minutes...)
SLACK = timedelta(seconds=5)


def part_of(raw: Mapping[str, Any]) -> Part:
    text = str(raw.get("text", ""))
    media = tuple(Media(str(m["src"]), str(m.get("alt", ""))) for m in raw.get("media") or [])
    return Part(
        index=int(raw.get("index", 1)),
        total=int(raw.get("total", 1)),
        text=text,
        length=len(text),
        limit=int(raw.get("limit", 100_000)),
        link=raw.get("link"),
        media=media,
        options=dict(raw.get("options") or {}),
    )


def remote_of(raw: Mapping[str, Any] | None) -> RemotePost | None:
    if raw is None:
        return None
    data = {str(k): str(v) for k, v in (raw.get("data") or {}).items()}
    return RemotePost(remote_id=str(raw["remote_id"]), url=raw.get("url"), data=data)


def run(adapter: Platform, entry: Entry) -> Any:
    """Makes the entry's call; returns what the adapter returned."""
    ctx = MemoryContext(
        idempotency_key=str(entry.get("idempotency_key", "dissem-fixture-key")),
        state={str(k): str(v) for k, v in (entry.get("state") or {}).items()},
    )
    if entry.call == "publish":
        return adapter.publish(
            part_of(entry.get("part") or {}),
            ctx,
            reply_to=remote_of(entry.get("reply_to")),
            root=remote_of(entry.get("root")),
        )
    if entry.call == "lookup":
        since = datetime.fromisoformat(str(entry.get("since", "2026-11-30T00:00:00+00:00")))
        return adapter.lookup(part_of(entry.get("part") or {}), ctx, since=since)
    if entry.call == "fetch_metrics":
        return adapter.fetch_metrics([str(i) for i in entry.get("ids") or []])
    adapter.refresh_credentials()
    return None


def as_datetime(value: Any) -> datetime:
    if isinstance(value, int | float):
        return datetime.fromtimestamp(value, UTC)
    return datetime.fromisoformat(str(value).replace("Z", "+00:00"))


def outcome_problems(
    entry: Entry,
    result: Any,
    error: Exception | None,
    adapter: Platform,
    window: tuple[datetime, datetime],
) -> list[str]:
    """How the adapter's outcome differs from the entry's ``expect``."""
    expect = entry.expect
    problems: list[str] = []
    if "raises" in expect:
        wanted = getattr(dissem.errors, str(expect["raises"]), None)
        if wanted is None:
            return [f"dissem.errors has no {expect['raises']} (the error class expected)"]
        if error is None:
            return [f"returned {result!r}, expected {wanted.__name__}"]
        if not isinstance(error, wanted):
            return [f"raised {type(error).__name__}: {error}, expected {wanted.__name__}"]
        for name, value in (expect.get("attrs") or {}).items():
            if getattr(error, name, "<absent>") != value:
                problems.append(f"{name}={getattr(error, name, '<absent>')!r}, expected {value!r}")
        if "message_contains" in expect and str(expect["message_contains"]) not in str(error):
            problems.append(f"message {str(error)!r} lacks {expect['message_contains']!r}")
        retry_at = getattr(error, "retry_at", None)
        if "retry_at" in expect and retry_at != as_datetime(expect["retry_at"]):
            problems.append(f"retry_at {retry_at}, expected {as_datetime(expect['retry_at'])}")
        if "retry_in" in expect:
            wait = timedelta(seconds=float(expect["retry_in"]))
            low, high = window[0] + wait - SLACK, window[1] + wait + SLACK
            if retry_at is None or not low <= retry_at <= high:
                problems.append(f"retry_at {retry_at}, expected about now + {wait}")
        return problems
    if error is not None:
        return [f"raised {type(error).__name__}: {error}"]
    if "returns" in expect:
        problems += returned_problems(expect["returns"], result)
    for name, value in (expect.get("credentials") or {}).items():
        if adapter.credentials.get(name) != value:
            problems.append(f"credential {name} not replaced by {value!r}")
    return problems


def returned_problems(expected: Any, result: Any) -> list[str]:
    if expected is None:
        return [] if result is None else [f"returned {result!r}, expected None"]
    if isinstance(result, RemotePost):
        got = {"remote_id": result.remote_id, "url": result.url, "data": dict(result.data)}
        return [
            f"{k}={got.get(k)!r}, expected {v!r}" for k, v in expected.items() if got.get(k) != v
        ]
    if isinstance(result, dict):  # fetch_metrics
        problems = []
        if set(result) != set(expected):
            problems.append(f"metrics for {sorted(result)}, expected {sorted(expected)}")
        for remote_id, want in expected.items():
            sample = result.get(remote_id)
            if isinstance(sample, MetricSample) and dict(sample.values) != want.get("values"):
                problems.append(f"{remote_id}: {dict(sample.values)}, expected {want['values']}")
        return problems
    return [f"returned {result!r}, expected {expected!r}"]


def config_folder(entry: Entry, root: Path) -> Path:
    """A config folder holding the entry's ``config_files`` (path -> base64 content)."""
    for name, content in (entry.get("config_files") or {}).items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(base64.b64decode(content))
    return root


@pytest.mark.parametrize("entry", ENTRIES, ids=lambda e: e.id)
def test_adapter_meets_documented_answers(
    entry: Entry, specs: dict[str, Any], tmp_path: Path
) -> None:
    spec = specs[entry.platform]
    server = ReplayServer(()).start()
    entry = entry.at(server.url)
    server.exchanges = entry.exchanges
    adapter: Platform | None = None
    try:
        settings = Settings(
            sandbox_url=None, http_timeout=5.0, config_dir=config_folder(entry, tmp_path)
        )
        channel = spec.channel(api_base=server.url, **(entry.get("channel") or {}))
        environ = {**spec.environ(), **(entry.get("environ") or {})}
        adapter = build_adapter(channel, settings, environ=environ)
        if hasattr(adapter, "pause"):  # container status polls: no wall-clock waits here
            adapter.pause = lambda seconds: None
        if entry.get("now") is not None:
            fixed = as_datetime(entry.get("now"))
            adapter.clock = lambda: fixed
        result: Any = None
        error: Exception | None = None
        start = datetime.now(UTC)
        try:
            result = run(adapter, entry)
        except Exception as exc:  # compared with the expectation below
            error = exc
        window = (start, datetime.now(UTC))
    finally:
        if adapter is not None:
            adapter.close()
        server.stop()
    problems = [f"request: {p}" for p in server.problems()]
    problems += [f"outcome: {p}" for p in outcome_problems(entry, result, error, adapter, window)]
    assert not problems, f"{entry.id} (source: {entry.source}):\n  " + "\n  ".join(problems)


def test_every_platform_has_fixtures(specs: dict[str, Any]) -> None:
    """Each platform of the contract suite has documented cases."""
    covered = {e.platform for e in ENTRIES}
    assert set(specs) <= covered, f"no fixtures for {sorted(set(specs) - covered)}"


def test_unexpected_request_is_reported() -> None:
    """The harness itself: a request the fixture does not list is answered 599 and named."""
    import requests

    entry = ENTRIES[0]
    server = ReplayServer(entry.exchanges[:0]).start()
    try:
        answer = requests.get(f"{server.url}/nowhere", timeout=5)
    finally:
        server.stop()
    assert answer.status_code == 599
    assert server.problems() == ["unexpected request GET /nowhere"]


def test_requests_are_matched_by_method_and_path() -> None:
    """The harness itself: a request matched by path but not by its fields is answered and
    its differences named; an exchange never asked for is named."""
    import requests

    entry = next(e for e in ENTRIES if e.id == "x:duplicate-content")
    server = ReplayServer(entry.exchanges).start()
    try:
        answer = requests.post(f"{server.url}/2/tweets", json={"text": "other"}, timeout=5)
    finally:
        server.stop()
    assert answer.status_code == 403
    assert server.problems() == [
        "POST /2/tweets: json text: 'other', expected 'Kemlu: press briefing at 10:00'"
    ]
