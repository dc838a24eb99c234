"""The stand-ins against the platforms' documented answers (``tests/platforms/fixtures``).

For every fixture entry with a ``sandbox`` block, a driver brings the stand-in into that case
(a forced fault, a repeated post, an advanced clock, a raw request...) and the answer the
stand-in gives to the entry's key request is held to the documented one: the same status,
the headers the entry names, the body's keys (all of the documented body's, or those the
entry names in ``keys``) with the same JSON types, and equal values where the entry names
them in ``same``. So a stand-in drifting from the platform's shape fails here, whatever the
adapters make of it. Entries the stand-ins cannot produce name why in ``sandbox_gap``;
:func:`test_every_entry_is_driven_or_says_why` keeps that list honest.

The key request is the entry's ``sandbox.exchange`` (1-based), else its first exchange
answered with an error, else its last; the stand-in's answer compared is the first one to a
request with that method and path after the driver's last :meth:`Recorder.clear`.
"""

from __future__ import annotations

import base64
import re
import uuid
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field, replace
from datetime import timedelta
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
import requests

from dissem.compose.types import Media, Part
from dissem.config.models import Channel
from dissem.errors import DissemError
from dissem.platforms.base import MemoryContext, Platform
from dissem.platforms.registry import build_adapter
from dissem.sandbox import Fault, RunningSandbox
from dissem.settings import Settings
from tests.platforms.replay import Entry, Exchange, load_entries
from tests.sandbox.sandbox_fixtures import Clock

ENTRIES = load_entries()
DRIVEN = [e for e in ENTRIES if e.sandbox is not None]

#: a channel per platform: account and credentials (any non-empty token is an account)
ACCOUNTS: dict[str, tuple[str, dict[str, str]]] = {
    "x": (
        "@dissem_news",
        {
            "api_key": "fixture-x-api-key",
            "api_secret": "fixture-x-api-secret",
            "access_token": "fixture-x-access-token",
            "access_token_secret": "fixture-x-access-secret",
        },
    ),
    "mastodon": ("@news@example.social", {"access_token": "fixture-mastodon-token"}),
    "bluesky": ("news.example.org", {"app_password": "fixture-bsky-app-password"}),
    "telegram": ("@dissem_news", {"bot_token": "123456789:fixture-telegram-token"}),
    "facebook": ("100000000000001", {"page_token": "fixture-facebook-page-token"}),
    "instagram": ("17841400000000001", {"access_token": "fixture-instagram-token"}),
    "threads": ("27000000000000001", {"access_token": "fixture-threads-token"}),
    "linkedin": ("urn:li:organization:10000001", {"access_token": "fixture-linkedin-token"}),
}


# --- what the stand-in answered -------------------------------------------------------------
@dataclass
class Seen:
    """One request an adapter (or a driver) made to the sandbox, and the answer."""

    method: str
    path: str  # after /<platform>
    query: dict[str, Any]
    status: int
    headers: Mapping[str, str]
    body: Any


@dataclass
class Recorder:
    """A ``requests`` response hook keeping every answer of the sandbox."""

    seen: list[Seen] = field(default_factory=list)

    def hook(self, response: requests.Response, *args: Any, **kwargs: Any) -> None:
        split = urlsplit(str(response.request.url))
        path = "/" + split.path.lstrip("/").partition("/")[2]  # drop /<platform>
        query = {k: v if len(v) > 1 else v[0] for k, v in parse_qs(split.query).items()}
        try:
            body: Any = response.json()
        except ValueError:
            body = response.text
        self.seen.append(
            Seen(
                str(response.request.method),
                path,
                query,
                response.status_code,
                response.headers,
                body,
            )
        )

    def clear(self) -> None:
        self.seen.clear()

    def session(self) -> requests.Session:
        s = requests.Session()
        s.hooks["response"].append(self.hook)
        return s


@dataclass
class Rig:
    """What a driver works with: the sandbox, its clock, a recorder, adapters."""

    sb: RunningSandbox
    clock: Clock
    entry: Entry
    recorder: Recorder
    config_dir: Path
    built: list[Platform] = field(default_factory=list)

    @property
    def platform(self) -> str:
        return self.entry.platform

    def adapter(self, **settings: Any) -> Platform:
        account, credentials = ACCOUNTS[self.platform]
        channel = Channel(
            name=f"{self.platform}-fixture",
            platform=self.platform,
            account=account,
            timezone="UTC",
            credentials={k: f"FIXTURE_{k.upper()}" for k in credentials},
        )
        environ = {f"FIXTURE_{k.upper()}": v for k, v in credentials.items()}
        config = Settings(
            sandbox_url=self.sb.url, http_timeout=5.0, config_dir=self.config_dir, **settings
        )
        adapter = build_adapter(channel, config, environ=environ, session=self.recorder.session())
        if hasattr(adapter, "pause"):  # container polls wait on the sandbox's clock instead
            adapter.pause = lambda seconds: self.advance(timedelta(seconds=seconds * 30))
        self.built.append(adapter)
        return adapter

    def advance(self, delta: timedelta) -> None:
        self.clock.now += delta

    def part(self, text: str | None = None) -> Part:
        raw = self.entry.get("part") or {}
        text = text if text is not None else f"{raw.get('text', 'fixture')} {uuid.uuid4().hex[:8]}"
        media = tuple(Media(str(m["src"]), str(m.get("alt", ""))) for m in raw.get("media") or [])
        return Part(
            1, 1, text, len(text), 100_000, media=media, options=dict(raw.get("options") or {})
        )

    def call(self, adapter: Platform, part: Part | None = None) -> Any:
        """The entry's call against the stand-in; platform errors are what is compared, so
        they are kept, not raised."""
        try:
            if self.entry.call == "publish":
                return adapter.publish(part or self.part(), MemoryContext(uuid.uuid4().hex))
            if self.entry.call == "lookup":
                since = self.clock.now - timedelta(days=1)
                return adapter.lookup(part or self.part(), MemoryContext("k"), since=since)
            if self.entry.call == "fetch_metrics":
                return adapter.fetch_metrics([str(i) for i in self.entry.get("ids") or []])
            adapter.refresh_credentials()
        except DissemError as exc:
            return exc
        return None

    def publish(self, adapter: Platform, part: Part | None = None) -> Any:
        """A post made to set the scene (whatever the entry's call)."""
        return adapter.publish(part or self.part(), MemoryContext(uuid.uuid4().hex))

    def raw(self, method: str, path: str, **kwargs: Any) -> requests.Response:
        with self.recorder.session() as s:
            return s.request(method, f"{self.sb.url}/{self.platform}{path}", timeout=5, **kwargs)


# --- drivers: bring the stand-in into the entry's case ----------------------------------------
def adapter_call(rig: Rig) -> None:
    """The entry's own call, as it is."""
    rig.call(rig.adapter())


def force_throttle(rig: Rig) -> None:
    rig.sb.faults.force(rig.platform, Fault.THROTTLE)
    rig.call(rig.adapter())


def force_error(rig: Rig) -> None:
    rig.sb.faults.force(rig.platform, Fault.ERROR)
    rig.call(rig.adapter())


def repeat_publish(rig: Rig) -> None:
    """The same text twice: the second answer is compared."""
    adapter, part = rig.adapter(), rig.part()
    rig.call(adapter, part)
    rig.recorder.clear()
    rig.call(adapter, part)


def publish_too_long(rig: Rig) -> None:
    rig.call(rig.adapter(), rig.part("lorem ipsum " * 6000))


def without_token(rig: Rig) -> None:
    """The entry's key request sent without any credentials."""
    request = key_exchange(rig.entry).request
    extra = {"LinkedIn-Version": "202608"} if rig.platform == "linkedin" else {}
    rig.raw(str(request["method"]), str(request["path"]), json=request.get("json"), headers=extra)


def raw_request(rig: Rig) -> None:
    """The entry's key request sent as the fixture has it (with the account's token)."""
    request = key_exchange(rig.entry).request
    token = next(iter(ACCOUNTS[rig.platform][1].values()))
    rig.raw(
        str(request.get("method", "GET")),
        str(request["path"]),
        json=request.get("json"),
        params=request.get("query"),
        headers={"Authorization": f"Bearer {token}"},
    )


def expire_session(rig: Rig) -> None:
    """Log in and post, let the access token expire, post again."""
    adapter = rig.adapter()
    rig.call(adapter)
    rig.advance(timedelta(hours=3))
    rig.recorder.clear()
    rig.call(adapter)


def old_linkedin_version(rig: Rig) -> None:
    rig.call(rig.adapter(linkedin_version="202401"))


def container_processing(rig: Rig) -> None:
    """An image container that takes a minute to process, published by the adapter."""
    rig.sb.state.bucket(rig.platform)["processing_seconds"] = 60
    rig.call(rig.adapter())


def publish_unfinished_container(rig: Rig) -> None:
    """A container still processing, published at once (raw requests)."""
    rig.sb.state.bucket(rig.platform)["processing_seconds"] = 60
    account, credentials = ACCOUNTS[rig.platform]
    auth = {"Authorization": f"Bearer {credentials['access_token']}"}
    media = (rig.entry.get("part") or {}).get("media") or [{"src": "https://cdn.example.org/a.jpg"}]
    made = rig.raw(
        "POST",
        f"/v23.0/{account}/media",
        data={"image_url": media[0]["src"], "caption": "fixture"},
        headers=auth,
    )
    rig.recorder.clear()
    rig.raw(
        "POST",
        f"/v23.0/{account}/media_publish",
        data={"creation_id": made.json()["id"]},
        headers=auth,
    )


def lookup_after_publish(rig: Rig) -> None:
    adapter, part = rig.adapter(), rig.part()
    rig.publish(adapter, part)
    rig.recorder.clear()
    adapter.lookup(part, MemoryContext("k"), since=rig.clock.now - timedelta(hours=1))


def metrics_of_old_post(rig: Rig) -> None:
    """A post 31 days old and a new one, their metrics read together by an adapter whose
    clock lags a month (so it takes both for young): X's refusal of the old one answers."""
    adapter = rig.adapter()
    old = rig.publish(adapter)
    then = rig.clock.now
    rig.advance(timedelta(days=31))
    new = rig.publish(adapter)
    adapter.clock = lambda: then
    rig.recorder.clear()
    adapter.fetch_metrics([old.remote_id, new.remote_id])


def metrics_young_and_old(rig: Rig) -> None:
    """A post 31 days old and a new one, read by an adapter on the sandbox's clock (the old
    one is asked for public metrics in a request of its own)."""
    adapter = rig.adapter()
    adapter.clock = rig.clock
    old = rig.publish(adapter)
    rig.advance(timedelta(days=31))
    new = rig.publish(adapter)
    rig.recorder.clear()
    adapter.fetch_metrics([new.remote_id, old.remote_id])


def daily_cap(rig: Rig) -> None:
    """The account's 24-hour posting cap used up (one post allowed), then a post."""
    bucket = rig.sb.state.bucket(rig.platform)
    bucket["user_24h_limit"] = 1
    try:
        adapter = rig.adapter()
        rig.publish(adapter)
        rig.recorder.clear()
        rig.call(adapter)
    finally:
        bucket.pop("user_24h_limit")


def blocked_page(rig: Rig) -> None:
    """The Page blocked for policy violations (code 368), then a post."""
    bucket = rig.sb.state.bucket(rig.platform)
    bucket["blocked_pages"] = [ACCOUNTS[rig.platform][0]]
    try:
        rig.call(rig.adapter())
    finally:
        bucket.pop("blocked_pages")


def upload_big_blob(rig: Rig) -> None:
    """A blob over the PDS's limit (raw: the adapter refuses one before sending it)."""
    account, credentials = ACCOUNTS["bluesky"]
    login = rig.raw(
        "POST",
        "/xrpc/com.atproto.server.createSession",
        json={"identifier": account, "password": credentials["app_password"]},
    ).json()
    rig.recorder.clear()
    # the PDS's default blob limit, 5 MiB (PDS_BLOB_UPLOAD_LIMIT;
    # bluesky-social/atproto:packages/pds/src/config/config.ts)
    limit = 5 * 1024 * 1024
    png = base64.b64decode(str((rig.entry.get("config_files") or {})["images/poster.png"]))
    rig.raw(
        "POST",
        "/xrpc/com.atproto.repo.uploadBlob",
        data=png + b"\0" * (limit + 1 - len(png)),
        headers={"Authorization": f"Bearer {login['accessJwt']}", "Content-Type": "image/png"},
    )


def container_error(rig: Rig) -> None:
    """A container whose image Meta cannot process (the bucket's ``failing_images``): the
    adapter publishes, the status check answers ERROR with the platform's reason."""
    part = rig.part()
    src = part.media[0].src if part.media else "https://cdn.example.org/rusak.jpg"
    reason = "UNKNOWN" if rig.platform == "threads" else "2207003"
    rig.sb.state.bucket(rig.platform)["failing_images"] = {src: reason}
    rig.call(rig.adapter(), replace(part, media=(Media(src, ""),)))


def publish_too_soon(rig: Rig) -> None:
    """A container the status calls FINISHED that threads_publish cannot find yet (the
    stand-in's ``publish_lag_seconds``), published by the adapter."""
    rig.sb.state.bucket(rig.platform)["publish_lag_seconds"] = 60
    rig.call(rig.adapter())


def metrics_of_published(rig: Rig) -> None:
    """Two posts published, then their metrics read together."""
    adapter = rig.adapter()
    ids = [rig.publish(adapter).remote_id for _ in range(2)]
    rig.recorder.clear()
    adapter.fetch_metrics(ids)


DRIVERS: dict[str, Callable[[Rig], None]] = {
    f.__name__: f
    for f in (
        adapter_call,
        force_throttle,
        force_error,
        repeat_publish,
        publish_too_long,
        without_token,
        raw_request,
        expire_session,
        old_linkedin_version,
        container_processing,
        publish_unfinished_container,
        lookup_after_publish,
        metrics_of_old_post,
        metrics_young_and_old,
        daily_cap,
        blocked_page,
        upload_big_blob,
        container_error,
        publish_too_soon,
        metrics_of_published,
    )
}


# --- comparing ------------------------------------------------------------------------------
def any_id(pattern: str) -> str:
    """The fixture's path pattern with its numeric ids (5+ digits) made wildcards: the
    stand-in numbers its posts and containers its own way."""
    return re.sub(r"\d{5,}", r"\\d+", pattern)


def asks(exchange: Exchange, seen: Seen) -> bool:
    """Whether ``seen`` is the request of ``exchange``: method, path (ids aside) and the
    query fields the fixture names (values compared when they hold no id)."""
    if seen.method != str(exchange.request.get("method", "GET")).upper():
        return False
    if not re.fullmatch(any_id(str(exchange.request["path"])), seen.path):
        return False
    for name, value in (exchange.request.get("query") or {}).items():
        if name not in seen.query:
            return False
        if isinstance(value, str) and not re.search(r"\d{5,}", value) and seen.query[name] != value:
            return False
    return True


def key_exchange(entry: Entry) -> Exchange:
    """The exchange whose answer the stand-in must reproduce (see the module doc)."""
    assert entry.sandbox is not None
    if "exchange" in entry.sandbox:
        return entry.exchanges[int(entry.sandbox["exchange"]) - 1]
    failing = [e for e in entry.exchanges if e.status >= 400]
    return failing[0] if failing else entry.exchanges[-1]


def key_paths(body: Any, prefix: str = "") -> Iterator[str]:
    """Dotted paths of every key of ``body`` (lists: their first item, as ``name.0``)."""
    if isinstance(body, Mapping):
        for key, value in body.items():
            path = f"{prefix}{key}"
            yield path
            yield from key_paths(value, path + ".")
    elif isinstance(body, list) and body:
        yield from key_paths(body[0], prefix + "0.")


_MISSING = object()


def at(body: Any, path: str) -> Any:
    for part in path.split("."):
        if isinstance(body, Mapping) and part in body:
            body = body[part]
        elif isinstance(body, list) and part.isdigit() and int(part) < len(body):
            body = body[int(part)]
        else:
            return _MISSING
    return body


def kind(value: Any) -> str:
    if isinstance(value, bool) or value is None:
        return type(value).__name__
    if isinstance(value, int | float):
        return "number"
    return type(value).__name__


def differences(entry: Entry, exchange: Exchange, seen: Seen) -> list[str]:
    """How the stand-in's answer differs from the documented one."""
    assert entry.sandbox is not None
    out: list[str] = []
    if seen.status != exchange.status:
        out.append(f"status {seen.status}, documented {exchange.status}")
    for name in entry.sandbox.get("headers") or []:
        if name not in seen.headers:
            out.append(f"header {name} missing")
    documented = exchange.response.get("body")
    keys = entry.sandbox.get("keys")
    for path in keys if keys is not None else list(key_paths(documented)):
        want, got = at(documented, path), at(seen.body, path)
        if got is _MISSING:
            out.append(f"body key {path} missing")
        elif want is not _MISSING and kind(want) != kind(got):
            out.append(f"body key {path} is a {kind(got)}, documented a {kind(want)}")
    for path in entry.sandbox.get("same") or []:
        want, got = at(documented, path), at(seen.body, path)
        if want != got:
            shown = "missing" if got is _MISSING else repr(got)
            out.append(f"body {path} is {shown}, documented {want!r}")
    return out


@pytest.mark.parametrize("entry", DRIVEN, ids=lambda e: e.id)
def test_stand_in_answers_as_documented(
    entry: Entry, sb: RunningSandbox, clock: Clock, tmp_path: Path
) -> None:
    assert entry.sandbox is not None
    for name, content in (entry.get("config_files") or {}).items():
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_bytes(base64.b64decode(content))
    rig = Rig(sb, clock, entry, Recorder(), tmp_path)
    try:
        DRIVERS[str(entry.sandbox["drive"])](rig)
    finally:
        for adapter in rig.built:
            adapter.close()
    exchange = key_exchange(entry)
    method, pattern = str(exchange.request.get("method", "GET")), any_id(exchange.request["path"])
    seen = next((s for s in rig.recorder.seen if asks(exchange, s)), None)
    asked = ", ".join(f"{s.method} {s.path} -> {s.status}" for s in rig.recorder.seen)
    assert seen is not None, f"{entry.id}: no {method} {pattern} was made (made: {asked})"
    problems = differences(entry, exchange, seen)
    assert not problems, (
        f"{entry.id} (source: {exchange.source}): the stand-in drifts from the documented "
        f"answer:\n  " + "\n  ".join(problems) + f"\n  stand-in body: {seen.body!r}"
    )


def test_every_entry_is_driven_or_says_why() -> None:
    """Each entry either names a driver that exists or says why the stand-in cannot
    produce its case (the list of such gaps is what ``sandbox_gap`` holds)."""
    for entry in ENTRIES:
        if entry.sandbox is not None:
            assert entry.sandbox.get("drive") in DRIVERS, f"{entry.id}: unknown driver"
        else:
            assert entry.sandbox_gap, entry.id


def test_drift_is_reported() -> None:
    """The comparison itself: a stand-in answer lacking a documented key is a difference."""
    entry = next(e for e in DRIVEN if e.id == "mastodon:rate-limited-429")
    exchange = key_exchange(entry)
    seen = Seen("POST", "/api/v1/statuses", {}, 429, {"X-RateLimit-Reset": "x"}, {"err": "x"})
    assert differences(entry, exchange, seen) == ["body key error missing"]
