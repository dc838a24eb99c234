"""Fixtures for the platform adapter tests: one in-process sandbox, a controllable clock,
and one :class:`PlatformSpec` per platform.

Adding a platform to the contract suite (``test_contract.py``)
----------------------------------------------------------------
Every platform whose adapter module exists (``registry.available_platforms()``) is tested,
and the suite FAILS for a platform without an entry in :data:`SPECS`. To add one, append a
``PlatformSpec`` to ``SPECS`` below::

    "facebook": PlatformSpec(
        platform="facebook",
        account="1234567890",                  # page id, @channel, handle, org URN...
        credentials={"page_token": "..."},     # names of the adapter's credential set
        duplicate="raises",                    # see PlatformSpec.duplicate
        retry_after=timedelta(minutes=60),     # what the stand-in's throttle signals
    ),

Every credential value must be unique and at least 12 characters (the redaction test looks
for each one in logs and error texts). Set ``media=True`` where the platform needs an image
(Instagram), ``too_long`` where the default over-long text would fit (Facebook), and
``sandbox_id`` when the stand-in stores a different id than the adapter returns.
"""

from __future__ import annotations

import threading
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, Literal

import pytest
import requests

from dissem.compose.types import Media, Part
from dissem.config.models import Channel
from dissem.platforms.base import Platform, RemotePost
from dissem.platforms.registry import build_adapter
from dissem.sandbox import RunningSandbox, start_sandbox
from dissem.settings import Settings


@dataclass(frozen=True)
class PlatformSpec:
    """How the contract suite drives one platform."""

    platform: str
    account: str
    credentials: dict[str, str]
    #: what publishing the same part twice with the same context does:
    #: "raises" Duplicate; "same_id" returns the first post again; "allowed" posts twice
    duplicate: Literal["raises", "same_id", "allowed"]
    #: the wait the stand-in's throttle answer signals
    retry_after: timedelta
    media: bool = False
    too_long: str = "lorem " * 11_000
    #: the id the sandbox's /_sandbox/posts shows for a post the adapter returned
    sandbox_id: Callable[[RemotePost], str] = field(default=lambda post: post.remote_id)
    channel_fields: dict[str, Any] = field(default_factory=dict)

    def env_name(self, credential: str) -> str:
        return f"TEST_{self.platform.upper()}_{credential.upper()}"

    def channel(self, **changes: Any) -> Channel:
        fields: dict[str, Any] = {
            "name": f"{self.platform}-test",
            "platform": self.platform,
            "account": self.account,
            "timezone": "UTC",
            "credentials": {name: self.env_name(name) for name in self.credentials},
            **self.channel_fields,
            **changes,
        }
        return Channel(**fields)

    def environ(self) -> dict[str, str]:
        return {self.env_name(name): value for name, value in self.credentials.items()}

    def part(self, text: str, index: int = 1, total: int = 1) -> Part:
        media = (Media("https://example.org/photo.jpg", "a photo"),) if self.media else ()
        return Part(index=index, total=total, text=text, length=len(text), limit=500, media=media)


SPECS: dict[str, PlatformSpec] = {
    "x": PlatformSpec(
        platform="x",
        account="@dissem_news",
        credentials={
            "api_key": "x-api-key-5f0c2d41",
            "api_secret": "x-api-secret-9a1b7e33",
            "access_token": "x-access-token-77d0c1e2",
            "access_token_secret": "x-access-secret-c3a8f019",
        },
        duplicate="raises",
        retry_after=timedelta(minutes=15),
    ),
    "mastodon": PlatformSpec(
        platform="mastodon",
        account="@news@example.social",
        credentials={"access_token": "mastodon-token-0b7f5c9e2d"},
        duplicate="same_id",
        retry_after=timedelta(minutes=5),
    ),
    "bluesky": PlatformSpec(
        platform="bluesky",
        account="news.example.org",
        credentials={"app_password": "bsky-app-pass-4k2m-9q7r"},
        duplicate="same_id",
        retry_after=timedelta(minutes=5),
    ),
    "telegram": PlatformSpec(
        platform="telegram",
        account="@dissem_news",
        credentials={"bot_token": "123456789:AAE-telegram-secret-token"},
        duplicate="allowed",
        retry_after=timedelta(seconds=7),
        sandbox_id=lambda post: f"@dissem_news/{post.remote_id}",
    ),
    "facebook": PlatformSpec(
        platform="facebook",
        account="100000000000001",
        credentials={"page_token": "fb-page-token-3c9d1e7a"},
        duplicate="raises",  # Graph code 506
        retry_after=timedelta(minutes=10),  # the stand-in's estimated_time_to_regain_access
    ),
    "instagram": PlatformSpec(
        platform="instagram",
        account="17841400000000001",
        credentials={"access_token": "ig-access-token-8b2e4f60"},
        duplicate="same_id",  # the remembered container is already PUBLISHED
        retry_after=timedelta(minutes=10),
        media=True,
        too_long="lorem " * 400,
    ),
    "threads": PlatformSpec(
        platform="threads",
        account="27000000000000001",
        credentials={"access_token": "threads-token-51ad9c3e"},
        duplicate="same_id",
        retry_after=timedelta(minutes=10),
        too_long="lorem " * 100,
    ),
    "linkedin": PlatformSpec(
        platform="linkedin",
        account="urn:li:organization:10000001",
        credentials={"access_token": "linkedin-token-e4f2a9b7"},
        duplicate="raises",  # 422 DUPLICATE_POST
        retry_after=timedelta(hours=1),  # 429 has no headers; see retry_at_after_429
    ),
}


class FakeClock:
    """Wall time plus an offset the test moves forward; the sandbox reads it."""

    def __init__(self) -> None:
        self.offset = timedelta()
        self._lock = threading.Lock()

    def __call__(self) -> datetime:
        with self._lock:
            return datetime.now(UTC) + self.offset

    def advance(self, delta: timedelta) -> None:
        with self._lock:
            self.offset += delta


@pytest.fixture(scope="session")
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture(scope="session")
def sandbox(clock: FakeClock) -> Iterator[RunningSandbox]:
    """One sandbox for the whole session; tests use unique texts, so they do not collide."""
    with start_sandbox(clock=clock) as running:
        yield running


@pytest.fixture(autouse=True)
def _fresh_faults_and_clock(sandbox: RunningSandbox, clock: FakeClock) -> Iterator[None]:
    """Each test starts with no forced faults and the clock at wall time."""
    sandbox.faults.clear()
    clock.offset = timedelta()
    yield
    sandbox.faults.clear()
    clock.offset = timedelta()


@pytest.fixture
def settings(sandbox: RunningSandbox) -> Settings:
    return Settings(sandbox_url=sandbox.url, http_timeout=5.0)


@pytest.fixture
def make_adapter(settings: Settings) -> Iterator[Callable[..., Platform]]:
    """Builds an adapter for a platform from its spec (``spec.channel(**changes)``)."""
    built: list[Platform] = []

    def make(platform: str, *, extra_env: dict[str, str] | None = None, **changes: Any) -> Platform:
        spec = SPECS[platform]
        environ = {**spec.environ(), **(extra_env or {})}
        adapter = build_adapter(spec.channel(**changes), settings, environ=environ)
        built.append(adapter)
        return adapter

    yield make
    for adapter in built:
        adapter.close()


@pytest.fixture
def specs() -> dict[str, PlatformSpec]:
    return SPECS


@pytest.fixture
def unique() -> Callable[[str], str]:
    """Makes a text no other test publishes (X refuses repeated texts)."""
    return lambda label: f"{label} {uuid.uuid4().hex[:10]}"


@pytest.fixture
def published(sandbox: RunningSandbox) -> Callable[[], list[dict[str, Any]]]:
    """Reads what the sandbox says was published, over HTTP like any client."""

    def read() -> list[dict[str, Any]]:
        posts: list[dict[str, Any]] = requests.get(
            f"{sandbox.url}/_sandbox/posts", timeout=5
        ).json()
        return posts

    return read
