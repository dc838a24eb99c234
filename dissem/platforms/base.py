"""The contract every platform adapter implements.

An adapter is one class per platform: the HTTP half of a platform. What the platform *is*
(limits, threads, images, idempotency, lookup, metrics, credentials) is its declaration in
:mod:`dissem.traits`, which the adapter class takes up as :attr:`Platform.traits` by its
``name``. It implements four narrow operations:

- :meth:`Platform.publish` sends one part and returns the remote post, or raises one of the
  errors of :mod:`dissem.errors` (``RateLimited``, ``TransientError``, ``OutcomeUnknown``,
  ``Duplicate``, ``ContentRejected``, ``AuthError``). It never retries by itself and never
  sleeps: retrying is the scheduler's decision.
- :meth:`Platform.lookup` answers "did this post go out?" after an unknown outcome, and
  must *prove* that what it returns is this post, never merely a post like it: by the rkey
  or the container id where the platform keeps one, else by its text **and** its place
  (this account; created at or after ``since``; replying to ``reply_to``, or to nothing for
  a first part or a single post, where the platform has threads) and never a remote post in
  ``taken`` (recorded for another post of the channel). It returns ``None`` when the post
  is not there, raises :class:`~dissem.errors.LookupAmbiguous` when something there may
  be it but cannot be told apart (two posts fit, or the platform does not show what a post
  replies to): a person decides; and raises :class:`~dissem.errors.LookupUnsupported` when
  the platform cannot be asked (Telegram).
- :meth:`Platform.fetch_metrics` reads engagement for a batch of remote ids (at most
  ``traits.metrics_batch``), normalised to :data:`METRIC_NAMES`.
- :meth:`Platform.refresh_credentials` renews short-lived tokens where the platform needs it;
  :meth:`Platform.maintain_credentials` renews those that are due, and
  :meth:`Platform.use_token_store` hands the adapter the store that keeps renewed tokens
  across restarts and workers (see :mod:`dissem.platforms.tokens`).
- :meth:`Platform.permalink` reads a published post's public address where the platform
  must be asked for it (Instagram, Threads); reconcile fills in addresses a publish could
  not read.

Every adapter uses one ``requests.Session`` and a timeout on every call.
"""

from __future__ import annotations

import logging
import os
import zlib
from abc import ABC, abstractmethod
from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, ClassVar, Protocol

import requests

from dissem.compose.types import Part
from dissem.config.models import Channel
from dissem.errors import CredentialsMissing
from dissem.platforms.http import PlatformSession
from dissem.platforms.tokens import TokenStatus, TokenStore
from dissem.platforms.types import ENGAGEMENT_METRICS, MetricSample, RemotePost
from dissem.redact import register_secret
from dissem.settings import Settings
from dissem.traits import (
    METRIC_NAMES,
    PlatformTraits,
    all_platforms,
    traits_for,
)

log = logging.getLogger(__name__)

__all__ = [
    "ENGAGEMENT_METRICS",
    "METRIC_NAMES",
    "MemoryContext",
    "MetricSample",
    "Platform",
    "PublishContext",
    "RemotePost",
    "api_base_for",
    "read_credentials",
]


class PublishContext(Protocol):
    """What an adapter knows about the post it is publishing, and where it keeps state.

    ``remember`` writes a value (rkey, container id) to the database *before* the adapter
    takes the next network step, so that a crash after it can be reconciled.
    """

    @property
    def idempotency_key(self) -> str: ...

    @property
    def state(self) -> Mapping[str, str]: ...

    def remember(self, key: str, value: str) -> None: ...


@dataclass
class MemoryContext:
    """A :class:`PublishContext` kept in memory (tests, benchmarks, preview)."""

    idempotency_key: str
    state: dict[str, str] = field(default_factory=dict)

    def remember(self, key: str, value: str) -> None:
        self.state[key] = value


class Platform(ABC):
    """Base class of the adapters. Subclasses set ``name`` and ``default_api_base`` and the
    methods; the rest comes from the platform's declaration."""

    name: ClassVar[str]
    #: the platform's declaration (:func:`dissem.traits.traits_for` of ``name``), set when
    #: the subclass is defined; a fake adapter of an undeclared platform sets its own
    traits: ClassVar[PlatformTraits]
    #: credential names the channel must map to environment variables (one set must be
    #: complete): the declaration's ``credentials``
    required_credentials: ClassVar[tuple[tuple[str, ...], ...]]
    #: the real API root, used when the channel sets no ``api_base`` and no sandbox is set
    default_api_base: ClassVar[str]
    _derived_creds: ClassVar[bool] = False

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        own = cls.__dict__
        if "traits" in own:
            cls.take_traits(own["traits"])
        elif isinstance(own.get("name"), str) and own["name"] in all_platforms():
            cls.take_traits(traits_for(own["name"]))
        # else: an intermediate class (GraphPlatform), or a platform declared later (the
        # adapter registry hands it its traits when it is registered)

    @classmethod
    def take_traits(cls, traits: PlatformTraits) -> None:
        """Makes ``traits`` this adapter's declaration (and its credential sets, unless the
        class states its own)."""
        cls.traits = traits
        if "required_credentials" not in cls.__dict__ or cls.__dict__.get("_derived_creds"):
            cls.required_credentials = traits.credentials
            cls._derived_creds = True

    def __init__(
        self,
        channel: Channel,
        credentials: Mapping[str, str],
        settings: Settings,
        session: requests.Session | None = None,
    ) -> None:
        self.channel = channel
        self.credentials = dict(credentials)
        for secret in self.credentials.values():  # before any log line or error can hold one
            register_secret(secret)
        self.settings = settings
        self.timeout = settings.http_timeout
        self.session = session or PlatformSession()
        self.api_base = api_base_for(channel, settings, self.name, self.default_api_base)

    @abstractmethod
    def publish(
        self,
        part: Part,
        ctx: PublishContext,
        *,
        reply_to: RemotePost | None = None,
        root: RemotePost | None = None,
    ) -> RemotePost:
        """Send one part; ``reply_to``/``root`` chain a thread. Raises the error tree."""

    @abstractmethod
    def lookup(
        self,
        part: Part,
        ctx: PublishContext,
        *,
        since: datetime,
        reply_to: RemotePost | None = None,
        taken: Collection[str] = frozenset(),
    ) -> RemotePost | None:
        """The remote post that is provably this one (see the module doc), or None when
        there is none since ``since``.

        ``reply_to`` is where the post must be: the previous part of its thread as dispatch
        sent it (None for a first part or a single post, which must reply to nothing);
        ``taken`` holds remote ids already recorded for other posts of the channel, never
        to be returned. Raises :class:`LookupAmbiguous` when it cannot prove which post is
        this one, :class:`LookupUnsupported` when the platform cannot be asked."""

    @abstractmethod
    def fetch_metrics(self, remote_ids: Sequence[str]) -> dict[str, MetricSample]:
        """Metrics for up to ``traits.metrics_batch`` ids; missing ids are left out."""

    def refresh_credentials(self) -> None:  # noqa: B027 - optional hook
        """Renew short-lived tokens; the default does nothing."""

    # --- renewable tokens (optional hooks; see dissem.platforms.tokens) -------------------
    #: the current time for token lifetimes; None is the wall clock (tests, the demo set it)
    clock: Callable[[], datetime] | None = None

    def now(self) -> datetime:
        return self.clock() if self.clock is not None else datetime.now(UTC)

    def use_token_store(self, store: TokenStore) -> None:  # noqa: B027 - optional hook
        """Keeps renewed tokens in ``store`` and takes up those kept there (a restart, another
        worker); the default (no renewable token) does nothing."""

    def maintain_credentials(self, now: datetime) -> list[TokenStatus]:
        """Renews the tokens due by ``now``; how each renewable token stands afterwards (for
        expiry alerts). A refused renewal is reported, not raised. Default: none."""
        return []

    def permalink(self, remote_id: str) -> str | None:
        """The public address of a published post when the platform has to be asked for it,
        None when it cannot be read now; the default asks nothing (the adapters that build
        addresses themselves return them from :meth:`publish`)."""
        return None

    def close(self) -> None:
        self.session.close()


def api_base_for(channel: Channel, settings: Settings, platform: str, default: str) -> str:
    """The sandbox (``DISSEM_SANDBOX_URL``) wins, then the channel's ``api_base``, then the
    real service, so a demo never reaches a real platform."""
    if settings.sandbox_url:
        return f"{settings.sandbox_url.rstrip('/')}/{platform}"
    if channel.api_base:
        return channel.api_base.rstrip("/")
    return default


def read_credentials(
    channel: Channel,
    sets: tuple[tuple[str, ...], ...],
    environ: Mapping[str, str] | None = None,
    *,
    sandbox: bool = False,
) -> dict[str, str]:
    """Reads the channel's secrets from the environment.

    The first complete set of ``sets`` wins. Raises :class:`CredentialsMissing` naming the
    channel and the first missing variable. With ``sandbox`` (``DISSEM_SANDBOX_URL`` is
    set, so every call goes to the local stand-in and none to a real platform), missing
    values are filled with placeholders instead (:func:`sandbox_credentials`).
    """
    env = os.environ if environ is None else environ
    first_missing: tuple[str, str] | None = None
    unset: str | None = None  # the first unset variable of a set the channel maps in full
    for names in sets:
        values: dict[str, str] = {}
        mapped = all(name in channel.credentials for name in names)
        for name in names:
            var = channel.credentials.get(name)
            if var is None:
                first_missing = first_missing or (name, f"<credentials.{name} not mapped>")
                break
            value = env.get(var, "")
            if not value.strip():
                first_missing = first_missing or (name, var)
                if mapped and unset is None:
                    unset = var
                break
            values[name] = value
        else:
            return values
    if sandbox:
        return sandbox_credentials(channel, sets, env)
    assert first_missing is not None
    # name the variable the channel meant (Bluesky mapping only app_password: that one,
    # not "identifier not mapped" of the set it does not use)
    raise CredentialsMissing(channel.name, unset or first_missing[1])


#: channels already told (once per process) that they run on sandbox placeholders
_told_sandbox: set[str] = set()


def sandbox_placeholder(channel: str, name: str) -> str:
    """A stand-in secret, shaped as the platform needs it: a Telegram bot token is
    ``<bot id>:<secret>`` (https://core.telegram.org/bots/api#authorizing-your-bot: "The
    token looks something like 123456:ABC-DEF1234ghIkl-zyx57W2v1u123ew11"), and the
    sandbox, like Telegram, answers 404 to any other shape. Each channel its own value,
    so each channel is its own account in the sandbox."""
    secret = f"sandbox-{channel}-{name}".replace("_", "-")
    if name == "bot_token":
        return f"{zlib.crc32(channel.encode('utf-8')) or 1}:{secret}"
    return secret


def sandbox_credentials(
    channel: Channel, sets: tuple[tuple[str, ...], ...], env: Mapping[str, str]
) -> dict[str, str]:
    """The channel's credentials in sandbox mode: of the first set the channel maps in
    full (else the first set), each value from the environment where it is set, else a
    placeholder; one info line per channel names the variables (never a value)."""
    mapped = [names for names in sets if all(n in channel.credentials for n in names)]
    names = mapped[0] if mapped else sets[0]
    values: dict[str, str] = {}
    filled: list[str] = []
    for name in names:
        var = channel.credentials.get(name)
        value = env.get(var, "") if var else ""
        if not value.strip():
            value = sandbox_placeholder(channel.name, name)
            filled.append(var or f"credentials.{name}")
        values[name] = value
    if channel.name not in _told_sandbox:
        _told_sandbox.add(channel.name)
        log.info(
            "channel %s: %s not set; DISSEM_SANDBOX_URL is set, so sandbox placeholders "
            "stand in (nothing goes to a real platform)",
            channel.name,
            ", ".join(filled),
        )
    return values
