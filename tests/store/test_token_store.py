"""The token store on SQLite and PostgreSQL: renewals under a lock (two stores mint once),
keys that do not fit (unreadable rows fall back to the configured credentials), key
rotation, alerts once per kept token, and the choice of store by DISSEM_TOKEN_KEY."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from cryptography.fernet import Fernet
from sqlalchemy import Engine, select

from dissem.platforms.tokens import KeptToken, MemoryTokenStore, fingerprint
from dissem.settings import Settings
from dissem.store.db import make_engine, make_session_factory
from dissem.store.models import TokenRow
from dissem.store.tokens import DbTokenStore, TokenCipher, open_token_store

NOW = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)
CONFIGURED = KeptToken({"access_token": "configured-token-1f2e"}, origin=fingerprint("c1"))


def minting(prefix: str, calls: list[str]) -> Callable[[KeptToken], KeptToken]:
    """A platform refresh that answers ``prefix-N`` and counts its calls."""

    def mint(held: KeptToken) -> KeptToken:
        calls.append(str(held.get("access_token")))
        return KeptToken(
            {"access_token": f"{prefix}-{len(calls)}-a9c3e1"},
            origin=held.origin,
            expires_at=NOW + timedelta(days=60),
            refreshed_at=NOW,
        )

    return mint


@pytest.fixture
def store_for(db_url: str) -> Iterator[Callable[[str], DbTokenStore]]:
    """A store on its own engine (a worker process of its own) with the given key(s)."""
    engines: list[Engine] = []

    def make(key: str) -> DbTokenStore:
        engine = make_engine(db_url)
        engines.append(engine)
        return DbTokenStore(make_session_factory(engine), TokenCipher(key), clock=lambda: NOW)

    yield make
    for engine in engines:
        engine.dispose()


def key() -> str:
    return Fernet.generate_key().decode()


def test_two_stores_renewing_at_once_mint_once(
    store_for: Callable[[str], DbTokenStore],
) -> None:
    shared = key()
    stores = [store_for(shared), store_for(shared)]
    calls: list[str] = []
    got: list[KeptToken] = []
    start = threading.Barrier(2)

    def renew(store: DbTokenStore) -> None:
        start.wait()
        got.append(store.renew("th", "access_token", CONFIGURED, minting("new", calls)))

    threads = [threading.Thread(target=renew, args=(s,)) for s in stores]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert calls == ["configured-token-1f2e"]  # the platform was asked once
    assert len(got) == 2 and got[0] == got[1] and got[0].version == 1


def test_a_row_the_key_cannot_open_falls_back_to_the_configured_token(
    store_for: Callable[[str], DbTokenStore], caplog: pytest.LogCaptureFixture
) -> None:
    old_key, new_key = key(), key()
    store_for(old_key).renew("th", "access_token", CONFIGURED, minting("old", []))
    changed = store_for(new_key)
    with caplog.at_level(logging.ERROR):
        assert changed.load("th", "access_token", CONFIGURED.origin) is None
        assert changed.load("th", "access_token", CONFIGURED.origin) is None
    said = [r.getMessage() for r in caplog.records if "DISSEM_TOKEN_KEY" in r.getMessage()]
    assert len(said) == 1 and "configured credentials are used" in said[0]
    assert new_key not in caplog.text and old_key not in caplog.text
    # the next renewal starts from the configured token and rewrites the row under the new key
    calls: list[str] = []
    renewed = changed.renew("th", "access_token", CONFIGURED, minting("new", calls))
    assert calls == ["configured-token-1f2e"] and renewed.version == 2
    assert changed.load("th", "access_token", CONFIGURED.origin) == renewed


def test_a_rotated_key_still_opens_rows_of_the_old_one(
    store_for: Callable[[str], DbTokenStore],
) -> None:
    old_key, new_key = key(), key()
    kept = store_for(old_key).renew("th", "access_token", CONFIGURED, minting("old", []))
    assert store_for(f"{new_key},{old_key}").load("th", "access_token", kept.origin) == kept


def test_a_kept_token_of_other_credentials_is_not_taken(
    store_for: Callable[[str], DbTokenStore],
) -> None:
    store = store_for(key())
    store.renew("th", "access_token", CONFIGURED, minting("old", []))
    assert store.load("th", "access_token", fingerprint("someone else's token")) is None


def test_the_near_expiry_of_a_kept_token_is_alerted_once_until_it_is_renewed(
    store_for: Callable[[str], DbTokenStore],
) -> None:
    shared = key()
    store = store_for(shared)
    held = store.renew("th", "access_token", CONFIGURED, minting("one", []))
    assert store.first_alert("th", "access_token", NOW)
    assert not store.first_alert("th", "access_token", NOW)
    assert not store_for(shared).first_alert("th", "access_token", NOW)  # another worker
    store.renew("th", "access_token", held, minting("two", []))
    assert store.first_alert("th", "access_token", NOW)


def test_the_row_holds_ciphertext_and_no_clear_text(
    store_for: Callable[[str], DbTokenStore], db_url: str
) -> None:
    store = store_for(key())
    kept = store.renew("th", "access_token", CONFIGURED, minting("secret", []))
    engine = make_engine(db_url)
    with make_session_factory(engine)() as session:
        row = session.scalars(select(TokenRow)).one()
        values: dict[str, Any] = {c.name: getattr(row, c.name) for c in TokenRow.__table__.c}
    engine.dispose()
    assert str(kept.get("access_token")) not in repr(values)
    assert CONFIGURED.origin not in repr(values)
    assert values["expires_at"] == NOW + timedelta(days=60) and values["version"] == 1


def test_without_a_key_tokens_live_in_memory_and_the_setting_is_named(
    caplog: pytest.LogCaptureFixture,
) -> None:
    factory = make_session_factory(make_engine("sqlite://"))
    with caplog.at_level(logging.WARNING):
        store = open_token_store(Settings(_env_file=None), factory)  # type: ignore[call-arg]
    assert isinstance(store, MemoryTokenStore)
    [warning] = [r for r in caplog.records if r.levelno == logging.WARNING]
    assert "DISSEM_TOKEN_KEY is not set" in warning.getMessage()
    assert "Fernet.generate_key()" in warning.getMessage()


def test_a_key_that_is_no_fernet_key_is_an_error_not_a_crash(
    caplog: pytest.LogCaptureFixture,
) -> None:
    factory = make_session_factory(make_engine("sqlite://"))
    settings = Settings(_env_file=None, token_key="not-a-fernet-key-7c1d")  # type: ignore[call-arg]
    with caplog.at_level(logging.ERROR):
        store = open_token_store(settings, factory)
    assert isinstance(store, MemoryTokenStore)
    assert "DISSEM_TOKEN_KEY is not a Fernet key" in caplog.text
    assert "not-a-fernet-key-7c1d" not in caplog.text
