"""Renewed tokens over real HTTP against the sandbox, kept in the database (SQLite and
PostgreSQL): a Threads token and a Bluesky session survive a restart, X OAuth 2.0 tokens are
renewed before their 2 hours and their rotated refresh token is kept, two workers spend a
refresh token once, and the database never holds a token in clear text."""

from __future__ import annotations

import threading
import uuid
from collections.abc import Callable, Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
import requests
from cryptography.fernet import Fernet
from sqlalchemy import Engine, text
from sqlalchemy.engine import make_url

from dissem.compose.types import Part
from dissem.platforms.base import MemoryContext, Platform
from dissem.platforms.bluesky import BlueskyPlatform
from dissem.platforms.threads import ThreadsAccount
from dissem.platforms.x import XPlatform
from dissem.sandbox import RunningSandbox
from dissem.store.db import make_engine, make_session_factory
from dissem.store.tokens import DbTokenStore, TokenCipher

MakeAdapter = Callable[..., Platform]
THREADS_TOKEN = "threads-token-51ad9c3e"
KEY = Fernet.generate_key().decode()


@pytest.fixture
def stores(db_url: str) -> Iterator[Callable[[], DbTokenStore]]:
    """Makes a token store on its own engine: each one is a worker process of its own."""
    engines: list[Engine] = []

    def make() -> DbTokenStore:
        engine = make_engine(db_url)
        engines.append(engine)
        return DbTokenStore(make_session_factory(engine), TokenCipher(KEY))

    yield make
    for engine in engines:
        engine.dispose()


def stored_text(db_url: str) -> str:
    """Everything the database holds of the tokens table, as text: the SQLite file (and its
    write-ahead log) byte for byte, or every PostgreSQL row rendered as text."""
    url = make_url(db_url)
    engine = make_engine(db_url)
    with engine.connect() as conn:
        rows = [str(r) for r in conn.execute(text("SELECT * FROM tokens")).all()]
    engine.dispose()
    assert rows, "no token was stored"
    if url.get_backend_name() == "sqlite":
        path = Path(str(url.database))
        files = [path, path.with_name(path.name + "-wal")]
        return "".join(f.read_bytes().decode("latin-1") for f in files if f.exists())
    return "\n".join(rows)


def part(text_: str) -> Part:
    return Part(index=1, total=1, text=text_, length=len(text_), limit=280)


def bearer_tokens(adapter: Platform) -> list[str]:
    """Records the bearer token of every request the adapter sends from now on."""
    seen: list[str] = []

    def hook(response: requests.Response, *args: Any, **kwargs: Any) -> None:
        auth = str(response.request.headers.get("Authorization", ""))
        if auth.startswith("Bearer "):
            seen.append(auth[len("Bearer ") :])

    adapter.session.hooks["response"].append(hook)
    return seen


# --- Threads ----------------------------------------------------------------------------


def test_a_renewed_threads_token_survives_a_restart_and_is_stored_encrypted(
    make_adapter: MakeAdapter,
    stores: Callable[[], DbTokenStore],
    db_url: str,
    unique: Callable[[str], str],
) -> None:
    first = make_adapter("threads")
    assert isinstance(first, ThreadsAccount)
    first.use_token_store(stores())
    first.refresh_credentials()
    renewed = first.credentials["access_token"]
    assert renewed != THREADS_TOKEN

    # a restart: a new process builds the adapter from the same configuration
    second = make_adapter("threads")
    assert second.credentials["access_token"] == THREADS_TOKEN
    second.use_token_store(stores())
    assert second.credentials["access_token"] == renewed
    sent = bearer_tokens(second)
    second.publish(part(unique("after a restart")), MemoryContext("k"))
    assert sent and set(sent) == {renewed}

    assert renewed not in stored_text(db_url)


def test_new_threads_credentials_win_over_a_token_kept_for_the_old_ones(
    make_adapter: MakeAdapter, stores: Callable[[], DbTokenStore]
) -> None:
    first = make_adapter("threads")
    first.use_token_store(stores())
    first.refresh_credentials()
    # a person sets a new token in the environment: what was kept for the old one is ignored
    replaced = make_adapter("threads", extra_env={"TEST_THREADS_ACCESS_TOKEN": "threads-new-9d"})
    replaced.use_token_store(stores())
    assert replaced.credentials["access_token"] == "threads-new-9d"


def test_threads_renews_a_day_old_token_within_the_window_only(
    make_adapter: MakeAdapter, clock: Any
) -> None:
    th = make_adapter("threads")
    th.clock = clock
    [status] = th.maintain_credentials(clock())  # configured, age unknown: renewed at once
    first = th.credentials["access_token"]
    assert first != THREADS_TOKEN and status.problem is None
    assert status.expires_at is not None
    assert abs(status.expires_at - clock() - timedelta(days=60)) < timedelta(minutes=1)

    clock.advance(timedelta(days=1))  # refreshable now, but 59 days from expiry
    th.maintain_credentials(clock())
    assert th.credentials["access_token"] == first

    clock.advance(timedelta(days=30))  # 29 days left: within DISSEM_TOKEN_REFRESH_DAYS (30)
    [status] = th.maintain_credentials(clock())
    assert th.credentials["access_token"] != first and status.problem is None


# --- X OAuth 2.0 ------------------------------------------------------------------------


def x_oauth2(make_adapter: MakeAdapter, clock: Any, refresh: str) -> XPlatform:
    """An X adapter on an OAuth 2.0 authorization (public client) with refresh token
    ``refresh``, on the test clock."""
    x = make_adapter(
        "x",
        credentials={
            "oauth2_refresh_token": "TEST_X_OAUTH2_REFRESH",
            "oauth2_client_id": "TEST_X_OAUTH2_CLIENT",
        },
        extra_env={"TEST_X_OAUTH2_REFRESH": refresh, "TEST_X_OAUTH2_CLIENT": "x-client-5d1e7"},
    )
    assert isinstance(x, XPlatform) and x.oauth2 is not None
    x.clock = clock
    return x


def oauth2_book(sandbox: RunningSandbox) -> dict[str, dict[str, Any]]:
    with sandbox.state.lock:
        book: dict[str, dict[str, Any]] = sandbox.state.bucket("x")["oauth2"]
        return {kind: dict(entries) for kind, entries in book.items()}


def test_x_oauth2_is_renewed_before_two_hours_and_its_rotated_refresh_token_kept(
    make_adapter: MakeAdapter,
    clock: Any,
    sandbox: RunningSandbox,
    stores: Callable[[], DbTokenStore],
    db_url: str,
    unique: Callable[[str], str],
) -> None:
    configured = f"x-refresh-{uuid.uuid4().hex}"
    x = x_oauth2(make_adapter, clock, configured)
    x.use_token_store(stores())
    x.publish(part(unique("first with OAuth 2.0")), MemoryContext("a"))
    assert x.oauth2 is not None
    first = x.oauth2.token.current
    assert first.version == 1 and first.get("refresh_token") != configured
    assert first.expires_at is not None and first.expires_at - clock() <= timedelta(hours=2)

    clock.advance(timedelta(hours=1, minutes=56))  # 4 minutes before expiry
    sent = bearer_tokens(x)
    x.publish(part(unique("second with OAuth 2.0")), MemoryContext("b"))
    second = x.oauth2.token.current
    assert second.version == 2 and second.get("access_token") != first.get("access_token")
    assert sent == [second.get("access_token")]  # renewed before, never sent expired
    book = oauth2_book(sandbox)
    rotated = second.get("refresh_token")
    assert rotated is not None and rotated != first.get("refresh_token")
    assert book["refresh"][configured]["spent"]
    assert book["refresh"][str(first.get("refresh_token"))]["spent"]
    assert not book["refresh"][rotated]["spent"]

    # a restart takes up the rotated pair and publishes without another renewal
    again = x_oauth2(make_adapter, clock, configured)
    again.use_token_store(stores())
    assert again.oauth2 is not None and again.oauth2.token.current.version == 2
    again.publish(part(unique("after a restart")), MemoryContext("c"))
    assert len(oauth2_book(sandbox)["access"]) == len(book["access"])

    held = stored_text(db_url)
    for secret in (rotated, second.get("access_token"), first.get("refresh_token")):
        assert secret is not None and secret not in held


def test_x_renews_and_sends_again_when_x_refuses_the_token(
    make_adapter: MakeAdapter,
    clock: Any,
    sandbox: RunningSandbox,
    published: Callable[[], list[dict[str, Any]]],
    unique: Callable[[str], str],
) -> None:
    x = x_oauth2(make_adapter, clock, f"x-refresh-{uuid.uuid4().hex}")
    x.publish(part(unique("before the revocation")), MemoryContext("a"))
    assert x.oauth2 is not None
    refused = str(x.oauth2.token.current.get("access_token"))
    with sandbox.state.lock:  # X ends the token early (revoked): it answers 401
        sandbox.state.bucket("x")["oauth2"]["access"][refused]["expires"] = 0
    text_ = unique("after the revocation")
    x.publish(part(text_), MemoryContext("b"))
    assert x.oauth2.token.current.get("access_token") != refused
    assert [p["text"] for p in published()].count(text_) == 1


def test_two_workers_renewing_at_once_spend_the_refresh_token_once(
    make_adapter: MakeAdapter,
    clock: Any,
    sandbox: RunningSandbox,
    stores: Callable[[], DbTokenStore],
    unique: Callable[[str], str],
) -> None:
    configured = f"x-refresh-{uuid.uuid4().hex}"
    workers = [x_oauth2(make_adapter, clock, configured) for _ in range(2)]
    for worker in workers:
        worker.use_token_store(stores())
    start = threading.Barrier(len(workers))
    failures: list[BaseException] = []

    def renew(worker: XPlatform) -> None:
        start.wait()
        try:
            worker.refresh_credentials()
        except BaseException as exc:
            failures.append(exc)

    threads = [threading.Thread(target=renew, args=(w,)) for w in workers]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert failures == []
    book = oauth2_book(sandbox)
    mine = [a for a in book["access"].values() if a["sub"] == configured]
    assert len(mine) == 1  # one grant: the configured refresh token was sent once
    tokens = {w.oauth2.token.current.get("access_token") for w in workers if w.oauth2}
    assert len(tokens) == 1
    for i, worker in enumerate(workers):
        worker.publish(part(unique(f"worker {i}")), MemoryContext(f"k{i}"))


# --- Bluesky ----------------------------------------------------------------------------


def test_a_kept_bluesky_session_spares_a_login_after_a_restart(
    make_adapter: MakeAdapter,
    sandbox: RunningSandbox,
    stores: Callable[[], DbTokenStore],
    db_url: str,
    unique: Callable[[str], str],
) -> None:
    def logins() -> int:
        with sandbox.state.lock:
            count: int = sandbox.state.bucket("bluesky").get("logins", {}).get(HANDLE, 0)
        return count

    before = logins()
    first = make_adapter("bluesky")
    first.use_token_store(stores())
    first.publish(part(unique("first session")), MemoryContext("a"))
    assert logins() == before + 1
    second = make_adapter("bluesky")
    assert isinstance(second, BlueskyPlatform)
    second.use_token_store(stores())
    second.publish(part(unique("same session after a restart")), MemoryContext("b"))
    assert logins() == before + 1
    session = second._auth
    assert session is not None
    held = stored_text(db_url)
    assert session["accessJwt"] not in held and session["refreshJwt"] not in held


HANDLE = "news.example.org"
