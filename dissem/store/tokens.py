"""Renewed tokens kept in the database, encrypted (:class:`DbTokenStore`), and the choice of
store for a worker (:func:`open_token_store`). The adapters' side (what is renewed, when,
and why a store) is :mod:`dissem.platforms.tokens`.

Encryption is ``cryptography``'s Fernet (AES-128-CBC and HMAC-SHA256 over a timestamped,
versioned token: https://github.com/fernet/spec) under ``DISSEM_TOKEN_KEY``. Several keys,
comma-separated, make a ``MultiFernet``: the first encrypts, any decrypts, so a key is
rotated by putting the new one first (rows move to it as their tokens are renewed).

- No key: renewed tokens live in memory only (:class:`MemoryTokenStore`), and the worker
  says so once at start (:data:`NO_KEY_WARNING`).
- A key that is not a Fernet key: the same, with an error naming the setting; the worker
  runs on (exiting would only make its supervisor restart it in a loop).
- A row the key cannot open (the key was changed): logged once, and the channel's
  configured credentials are used; the next renewal overwrites the row under the new key.

A row holds the ciphertext of ``{"secrets", "info", "origin"}`` and, in clear, only what
is not secret: version, expiry, refresh and alert times.

Several workers: :meth:`DbTokenStore.renew` holds a lock on (channel, credential) through
the platform's refresh (a transaction-level advisory lock on PostgreSQL; on SQLite the write
lock that ``BEGIN IMMEDIATE`` takes, so the store needs the write engine), re-reads the row,
and writes the new token with a compare-and-set on ``version``. A second worker waits for
the lock, finds the newer row and takes it without calling the platform, so a single-use
refresh token (X) is spent once. On SQLite other writers wait for the refresh call (at most
``DISSEM_HTTP_TIMEOUT``); renewals are rare (Threads monthly, X every 2 hours).
"""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Callable, Mapping
from dataclasses import replace
from datetime import datetime
from typing import Any

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from sqlalchemy import text, update
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session, sessionmaker

from dissem.errors import TokenKeyInvalid, TokenUnreadable
from dissem.platforms.tokens import (
    KeptToken,
    MemoryTokenStore,
    Mint,
    TokenStore,
    take_or_mint,
    utcnow,
)
from dissem.redact import register_secret
from dissem.settings import Settings
from dissem.store.db import transaction
from dissem.store.locks import lock_key
from dissem.store.models import TokenRow

__all__ = [
    "KEY_HELP",
    "NO_KEY_WARNING",
    "DbTokenStore",
    "TokenCipher",
    "open_token_store",
]

log = logging.getLogger(__name__)

KEY_HELP = (
    'make one with: python -c "from cryptography.fernet import Fernet; '
    'print(Fernet.generate_key().decode())"'
)
NO_KEY_WARNING = (
    "DISSEM_TOKEN_KEY is not set: renewed tokens (Threads long-lived tokens, X OAuth 2.0 "
    "tokens, Bluesky sessions) live in memory only and are lost at restart, and an X OAuth "
    "2.0 channel stops then (its configured refresh token was spent). Set DISSEM_TOKEN_KEY "
    "to a Fernet key to keep them in the database, encrypted; " + KEY_HELP
)


class TokenCipher:
    """Seals and opens token payloads with the key(s) of ``DISSEM_TOKEN_KEY``."""

    def __init__(self, keys: str) -> None:
        parts = [k.strip() for k in keys.split(",") if k.strip()]
        for part in parts:
            register_secret(part)
        try:
            if not parts:
                raise ValueError("empty")
            self._fernet = MultiFernet([Fernet(part.encode("ascii")) for part in parts])
        except (ValueError, UnicodeEncodeError):
            raise TokenKeyInvalid(
                "DISSEM_TOKEN_KEY is not a Fernet key (32 url-safe base64-encoded bytes; "
                f"several are separated by commas): renewed tokens stay in memory; {KEY_HELP}"
            ) from None

    def seal(self, payload: Mapping[str, Any]) -> str:
        return self._fernet.encrypt(json.dumps(payload).encode("utf-8")).decode("ascii")

    def open(self, ciphertext: str) -> dict[str, Any]:
        try:
            data = json.loads(self._fernet.decrypt(ciphertext.encode("ascii")))
        except (InvalidToken, ValueError, UnicodeEncodeError):
            raise TokenUnreadable("cannot be decrypted with DISSEM_TOKEN_KEY") from None
        if not isinstance(data, dict):
            raise TokenUnreadable("holds no token payload")
        return data


class DbTokenStore:
    """Keeps renewed tokens in the ``tokens`` table, encrypted (see the module doc).

    ``session_factory`` must be of the write engine (on SQLite its ``BEGIN IMMEDIATE`` is the
    renewal lock). ``clock`` stamps ``updated_at``.
    """

    persistent = True

    def __init__(
        self,
        session_factory: sessionmaker[Session],
        cipher: TokenCipher,
        *,
        clock: Callable[[], datetime] = utcnow,
    ) -> None:
        self._factory = session_factory
        self._cipher = cipher
        self._clock = clock
        self._locks: dict[tuple[str, str], threading.Lock] = {}
        self._guard = threading.Lock()
        self._unreadable: set[tuple[str, str, int]] = set()

    def load(self, channel: str, name: str, origin: str) -> KeptToken | None:
        with self._factory() as session:
            row = session.get(TokenRow, (channel, name))
            kept = self._decode(row) if row is not None else None
        return kept if kept is not None and kept.origin == origin else None

    def renew(self, channel: str, name: str, held: KeptToken, mint: Mint) -> KeptToken:
        with self._guard:
            local = self._locks.setdefault((channel, name), threading.Lock())
        minted: KeptToken | None = None
        with local:  # threads of this process queue here, not on database connections
            try:
                with transaction(self._factory) as session:
                    self._lock(session, channel, name)
                    row = session.get(TokenRow, (channel, name), populate_existing=True)
                    latest = self._decode(row) if row is not None else None
                    token, fresh = take_or_mint(latest, held, mint)
                    if not fresh:
                        return token
                    stored = row.version if row is not None else 0
                    minted = token = replace(token, version=stored + 1)
                    self._write(session, channel, name, row, token)
                return token
            except SQLAlchemyError as exc:
                if minted is None:
                    raise
                # the platform already answered (an X refresh token is spent): use the new
                # token from memory rather than lose it
                log.error(
                    "channel %r: renewed %s could not be kept in the database (%s); it is "
                    "used from memory until the next renewal",
                    channel,
                    name,
                    type(exc).__name__,
                )
                return minted

    def first_alert(self, channel: str, name: str, now: datetime) -> bool:
        with transaction(self._factory) as session:
            changed = session.execute(
                update(TokenRow)
                .where(
                    TokenRow.channel == channel,
                    TokenRow.name == name,
                    TokenRow.alerted_at.is_(None),
                )
                .values(alerted_at=now)
            ).rowcount  # type: ignore[attr-defined]
        return bool(changed == 1)

    # --- plumbing ---------------------------------------------------------------------
    def _lock(self, session: Session, channel: str, name: str) -> None:
        """Waits for the renewal lock of (channel, name) until the transaction ends."""
        if session.get_bind().dialect.name == "postgresql":
            key = lock_key(f"dissem:token:{channel}:{name}")
            session.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": key})
        # SQLite: the transaction began with BEGIN IMMEDIATE and holds the write lock

    def _write(
        self, session: Session, channel: str, name: str, row: TokenRow | None, token: KeptToken
    ) -> None:
        values: dict[str, Any] = {
            "ciphertext": self._cipher.seal(
                {"secrets": dict(token.secrets), "info": dict(token.info), "origin": token.origin}
            ),
            "version": token.version,
            "expires_at": token.expires_at,
            "refreshed_at": token.refreshed_at,
            "alerted_at": None,
            "updated_at": self._clock(),
        }
        if row is None:
            session.add(TokenRow(channel=channel, name=name, **values))
            session.flush()  # a row inserted meanwhile (no lock held?) fails here, loudly
            return
        changed = session.execute(
            update(TokenRow)
            .where(
                TokenRow.channel == channel,
                TokenRow.name == name,
                TokenRow.version == row.version,
            )
            .values(**values)
            .execution_options(synchronize_session=False)
        ).rowcount  # type: ignore[attr-defined]
        if changed != 1:
            raise RuntimeError(f"token {channel}/{name} changed while locked")

    def _decode(self, row: TokenRow) -> KeptToken | None:
        try:
            payload = self._cipher.open(row.ciphertext)
            secrets = payload.get("secrets")
            info = payload.get("info") or {}
            origin = payload.get("origin")
            if not (
                isinstance(origin, str)
                and isinstance(secrets, dict)
                and isinstance(info, dict)
                and all(isinstance(v, str) for v in (*secrets.values(), *info.values()))
            ):
                raise TokenUnreadable("holds no token payload")
        except TokenUnreadable as exc:
            marker = (row.channel, row.name, row.version)
            with self._guard:
                first = marker not in self._unreadable
                self._unreadable.add(marker)
            if first:
                log.error(
                    "channel %r: the stored %s %s (was DISSEM_TOKEN_KEY changed?); the "
                    "configured credentials are used and the next renewal replaces it",
                    row.channel,
                    row.name,
                    exc,
                )
            return None
        return KeptToken(
            secrets={str(k): v for k, v in secrets.items()},
            info={str(k): v for k, v in info.items()},
            origin=origin,
            expires_at=row.expires_at,
            refreshed_at=row.refreshed_at,
            version=row.version,
        ).register()


def open_token_store(settings: Settings, session_factory: sessionmaker[Session]) -> TokenStore:
    """The store a worker keeps renewed tokens in: the database when ``DISSEM_TOKEN_KEY``
    holds a Fernet key, else memory, said once (a warning without a key, an error with a
    key that is not one)."""
    key = settings.token_key.get_secret_value() if settings.token_key is not None else ""
    if not key.strip():
        log.warning(NO_KEY_WARNING)
        return MemoryTokenStore()
    try:
        cipher = TokenCipher(key)
    except TokenKeyInvalid as exc:
        log.error("%s", exc)
        return MemoryTokenStore()
    return DbTokenStore(session_factory, cipher)
