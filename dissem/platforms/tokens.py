"""Tokens an adapter renews by itself, and where it keeps them.

Some credentials do not last: a Threads long-lived token expires 60 days after it was made
or last refreshed; an X OAuth 2.0 user token after 2 hours, and its refresh token is spent
by the refresh that replaces it; a Bluesky session's access token after 2 hours, its
refresh token rotating too. An adapter renews them (:class:`RenewableToken`), and the
renewed token must outlive the process, or the channel dies at the next restart with an
expired or spent configured credential. A :class:`TokenStore` keeps them:

- :class:`MemoryTokenStore`: this process only (an adapter's default, and a worker's when
  ``DISSEM_TOKEN_KEY`` is not set);
- :class:`dissem.store.tokens.DbTokenStore`: encrypted in the database, shared by every
  worker and every restart.

A kept token remembers its *origin*, a fingerprint of the configured credentials it was
renewed from (:func:`fingerprint`, stored inside the encrypted payload), and is taken up
only while those are unchanged: a person who sets new credentials overrides what was kept.

:meth:`TokenStore.renew` runs the platform's refresh under a lock on (channel, credential),
after re-reading what is kept: when another worker or thread renewed it meanwhile, that
token is taken and no refresh is sent, so a single-use refresh token is spent once.
Every token read or minted is registered with :mod:`dissem.redact` before it is used.
"""

from __future__ import annotations

import hashlib
import logging
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from typing import Protocol

from dissem.clock import utcnow
from dissem.errors import PlatformError
from dissem.redact import redact, register_secret

__all__ = [
    "RENEW_RETRY",
    "KeptToken",
    "MemoryTokenStore",
    "Mint",
    "RenewableToken",
    "TokenStatus",
    "TokenStore",
    "fingerprint",
    "take_or_mint",
    "utcnow",
]

log = logging.getLogger(__name__)

#: how long a failed renewal waits before the next try (maintenance rounds only; an X
#: token that is about to expire is renewed on use whatever this says)
RENEW_RETRY = timedelta(hours=1)


@dataclass(frozen=True)
class KeptToken:
    """A renewable credential as in use: its secret parts (``secrets``: the token, and a
    refresh token where the platform has one), what goes with them and is no secret
    (``info``: a session's account id and handle), where it came from, and its lifetime.
    ``version`` counts renewals in the store; 0 is the configured credential. The secrets
    never appear in ``repr``."""

    secrets: Mapping[str, str] = field(repr=False)
    origin: str
    expires_at: datetime | None = None
    refreshed_at: datetime | None = None
    version: int = 0
    info: Mapping[str, str] = field(default_factory=dict)

    def get(self, key: str) -> str | None:
        return self.secrets.get(key, self.info.get(key))

    def expires_within(self, now: datetime, margin: timedelta) -> bool:
        """True when the expiry is known and less than ``margin`` away (or past)."""
        return self.expires_at is not None and self.expires_at - now <= margin

    def register(self) -> KeptToken:
        """Registers every secret part for redaction; returns self."""
        for value in self.secrets.values():
            register_secret(value)
        return self


#: the platform's refresh: from the token in use to its successor (raises the error tree)
Mint = Callable[[KeptToken], KeptToken]


def fingerprint(*values: str) -> str:
    """A fingerprint of the configured credentials a renewed token descends from (SHA-256;
    kept only inside the encrypted payload)."""
    digest = hashlib.sha256()
    for value in values:
        digest.update(value.encode("utf-8"))
        digest.update(b"\0")
    return digest.hexdigest()


@dataclass(frozen=True)
class TokenStatus:
    """One renewable credential after a maintenance round: when it expires (None: unknown or
    never) and, when it was not renewed although due, why (``problem``)."""

    name: str
    expires_at: datetime | None
    problem: str | None = None


class TokenStore(Protocol):
    """Where renewed tokens are kept (see the module doc)."""

    @property
    def persistent(self) -> bool:
        """True when kept tokens survive the process (the database)."""
        ...

    def load(self, channel: str, name: str, origin: str) -> KeptToken | None:
        """The kept token of ``channel``'s credential ``name`` renewed from the configured
        credentials ``origin``; None when there is none (or it cannot be read)."""
        ...

    def renew(self, channel: str, name: str, held: KeptToken, mint: Mint) -> KeptToken:
        """Renews ``held`` with ``mint`` under the lock of (channel, name) and keeps the
        result; returns a newer kept token instead, without calling ``mint``, when another
        worker renewed it meanwhile. ``mint``'s errors propagate; nothing is kept then."""
        ...

    def first_alert(self, channel: str, name: str, now: datetime) -> bool:
        """True once per kept token (until it is renewed): whether to alert that it expires."""
        ...


def take_or_mint(latest: KeptToken | None, held: KeptToken, mint: Mint) -> tuple[KeptToken, bool]:
    """What :meth:`TokenStore.renew` does once it holds the lock and has re-read ``latest``:
    take ``latest`` when it descends from the same configured credentials and is newer than
    ``held`` (renewed elsewhere), else mint from ``held``. Returns (token, minted); a minted
    token carries ``held``'s origin and the next version."""
    if latest is not None and latest.origin == held.origin and latest.version > held.version:
        return latest, False
    minted = mint(held).register()
    version = (latest.version if latest is not None else 0) + 1
    return replace(minted, origin=held.origin, version=max(version, held.version + 1)), True


class MemoryTokenStore:
    """Keeps renewed tokens in this process only."""

    persistent = False

    def __init__(self) -> None:
        self._kept: dict[tuple[str, str], KeptToken] = {}
        self._alerted: set[tuple[str, str, int]] = set()
        self._locks: dict[tuple[str, str], threading.Lock] = {}
        self._guard = threading.Lock()

    def load(self, channel: str, name: str, origin: str) -> KeptToken | None:
        kept = self._kept.get((channel, name))
        return kept if kept is not None and kept.origin == origin else None

    def renew(self, channel: str, name: str, held: KeptToken, mint: Mint) -> KeptToken:
        key = (channel, name)
        with self._guard:
            lock = self._locks.setdefault(key, threading.Lock())
        with lock:
            token, minted = take_or_mint(self._kept.get(key), held, mint)
            if minted:
                self._kept[key] = token
            return token

    def first_alert(self, channel: str, name: str, now: datetime) -> bool:
        kept = self._kept.get((channel, name))
        marker = (channel, name, kept.version if kept is not None else 0)
        with self._guard:
            if marker in self._alerted:
                return False
            self._alerted.add(marker)
            return True


class RenewableToken:
    """One renewable credential of one channel's adapter: the token in use, the store that
    keeps its renewals, and the platform's refresh (``mint``). Thread-safe: threads that
    find it due together renew it once.

    ``configured`` is the credential from the environment (version 0). A failed renewal is
    remembered (:attr:`problem`) and, in maintenance rounds, not retried before ``retry``
    (default :data:`RENEW_RETRY`) has passed.
    """

    def __init__(
        self,
        channel: str,
        name: str,
        configured: KeptToken,
        mint: Mint,
        *,
        retry: timedelta = RENEW_RETRY,
    ) -> None:
        self.channel = channel
        self.retry = retry
        self.name = name
        self.current = configured.register()
        self._mint = mint
        self.store: TokenStore = MemoryTokenStore()
        self._lock = threading.Lock()
        self.problem: str | None = None
        self.retry_at: datetime | None = None

    def use_store(self, store: TokenStore) -> None:
        """Keeps renewals in ``store`` and takes up the token kept there, if any."""
        self.store = store
        self.reload()

    def reload(self) -> None:
        """Takes up a token another worker kept, when it is newer than the one in use."""
        kept = self.store.load(self.channel, self.name, self.current.origin)
        if kept is not None and kept.version > self.current.version:
            self.current = kept.register()

    def renew(self, now: datetime) -> KeptToken:
        """Renews the token (or takes a newer one from the store); raises the error tree
        when the platform refuses, keeping the token in use."""
        held = self.current
        with self._lock:
            if self.current is not held:  # another thread renewed it while we waited
                return self.current
            try:
                token = self.store.renew(self.channel, self.name, held, self._mint)
            except PlatformError as exc:
                self.problem = redact(str(exc))
                self.retry_at = now + self.retry
                raise
            self.current = token.register()
            self.problem = None
            self.retry_at = None
            if not self.store.persistent:
                log.info(
                    "channel %r: %s renewed; kept in memory only (DISSEM_TOKEN_KEY is not set)",
                    self.channel,
                    self.name,
                )
            return token

    def waiting(self, now: datetime) -> bool:
        """True while a failed renewal waits for its retry time."""
        return self.retry_at is not None and now < self.retry_at

    def status(self) -> TokenStatus:
        return TokenStatus(self.name, self.current.expires_at, self.problem)
