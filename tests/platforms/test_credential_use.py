"""The credential sets a platform declares are the ones its adapter actually works with.

``Platform.required_credentials`` is read from the declaration, so comparing the two says
nothing. Here the adapter itself is asked, against the sandbox: it is built with every
subset of the credential names it looks at (its constructor and a publish record each name
they read or test for), and publishes one post with each. What it needs is then:

- the smallest subsets it publishes with: these must be the declaration's smallest sets;
- every name it ever looks at: these must be the names the declaration lists;
- each declared set on its own: the adapter publishes with it, reading every name of it.

So a declaration that loses a credential set (or gains one the adapter cannot use) fails
here, whichever set it is.
"""

from __future__ import annotations

import itertools
import uuid
import zlib
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest

from dissem.config.models import Channel
from dissem.errors import CredentialsMissing
from dissem.platforms.base import MemoryContext, Platform
from dissem.platforms.registry import available_platforms, get_platform
from dissem.settings import Settings
from dissem.traits import PlatformTraits, traits_for
from tests.platforms.conftest import PlatformSpec

#: most credential names an adapter may look at (2**10 subsets bound the work)
MAX_NAMES = 10
#: rounds of widening the names looked at (each round can only add names)
MAX_ROUNDS = 4


class Recording(dict[str, str]):
    """A credentials dict that notes every name read or tested for."""

    def __init__(self, values: Iterable[tuple[str, str]], asked: set[str]) -> None:
        super().__init__(values)
        self.asked = asked

    def __getitem__(self, name: str) -> str:
        self.asked.add(name)
        return super().__getitem__(name)

    def get(self, name: str, default: Any = None) -> Any:  # type: ignore[override]
        self.asked.add(name)
        return super().get(name, default)

    def __contains__(self, name: object) -> bool:
        if isinstance(name, str):
            self.asked.add(name)
        return super().__contains__(name)


def probing(cls: type[Platform], asked: set[str]) -> type[Platform]:
    """``cls`` whose ``credentials`` attribute is a :class:`Recording` into ``asked``,
    whatever is assigned to it (``Platform.__init__`` copies the mapping it is given)."""

    class Probe(cls):  # type: ignore[valid-type, misc]
        @property  # type: ignore[override]
        def credentials(self) -> Recording:
            recording: Recording = self.__dict__["_recording"]
            return recording

        @credentials.setter
        def credentials(self, values: dict[str, str]) -> None:
            self.__dict__["_recording"] = Recording(values.items(), asked)

    return Probe


@dataclass
class Attempt:
    works: bool
    asked: set[str] = field(default_factory=set)
    error: str = ""


def value_for(name: str) -> str:
    """A fresh value for credential ``name`` (a refresh token is spent once); a bot token has
    the shape Telegram's stand-in checks (``<bot id>:<secret>``)."""
    secret = f"probe-{name}-{uuid.uuid4().hex[:12]}".replace("_", "-")
    if name == "bot_token":
        return f"{zlib.crc32(secret.encode()) or 1}:{secret}"
    return secret


def attempt(
    platform: str, names: frozenset[str], spec: PlatformSpec, settings: Settings
) -> Attempt:
    """Builds the adapter with exactly ``names`` and publishes one post with it."""
    asked: set[str] = set()
    cls = probing(get_platform(platform), asked)
    adapter: Platform | None = None
    try:
        adapter = cls(
            spec.channel(name=f"{platform}-probe-{uuid.uuid4().hex[:8]}", credentials={}),
            {name: value_for(name) for name in sorted(names)},
            settings,
        )
        text = f"credential probe {uuid.uuid4().hex[:12]}"
        adapter.publish(spec.part(text), MemoryContext(f"key-{uuid.uuid4().hex}"))
    except Exception as exc:  # any refusal: this set does not do
        return Attempt(False, asked, f"{type(exc).__name__}: {exc}")
    finally:
        if adapter is not None:
            adapter.close()
    return Attempt(True, asked)


def subsets(names: frozenset[str]) -> Iterator[frozenset[str]]:
    ordered = sorted(names)
    for size in range(len(ordered) + 1):
        for chosen in itertools.combinations(ordered, size):
            yield frozenset(chosen)


def minimal(sets: Iterable[frozenset[str]]) -> set[frozenset[str]]:
    found = set(sets)
    return {s for s in found if not any(other < s for other in found)}


@dataclass
class Observed:
    """What the adapter needs, found by trying subsets of the names it looks at."""

    looked_at: frozenset[str]
    smallest: set[frozenset[str]]
    tries: int


def observe(platform: str, spec: PlatformSpec, settings: Settings) -> Observed:
    results: dict[frozenset[str], Attempt] = {}
    looked_at: frozenset[str] = frozenset()
    for _ in range(MAX_ROUNDS):
        assert len(looked_at) <= MAX_NAMES, (platform, sorted(looked_at))
        working: list[frozenset[str]] = []
        for names in subsets(looked_at):
            if any(w < names for w in working):
                continue  # a smaller set already does: not a smallest one
            if names not in results:
                results[names] = attempt(platform, names, spec, settings)
            if results[names].works:
                working.append(names)
        seen = looked_at.union(*(r.asked for r in results.values()))
        if seen == looked_at:
            return Observed(looked_at, minimal(working), len(results))
        looked_at = seen
    raise AssertionError(f"{platform}: the names looked at kept growing: {sorted(looked_at)}")


def declared_sets(traits: PlatformTraits) -> set[frozenset[str]]:
    return {frozenset(s) for s in traits.credentials}


PLATFORMS = available_platforms()


@pytest.mark.parametrize("platform", PLATFORMS)
def test_the_declared_credential_sets_are_what_the_adapter_uses(
    platform: str, specs: dict[str, PlatformSpec], settings: Settings
) -> None:
    spec = specs[platform]
    traits = traits_for(platform)
    observed = observe(platform, spec, settings)
    declared = declared_sets(traits)
    assert observed.looked_at == frozenset().union(*declared), (
        f"{platform}: the adapter looks at {sorted(observed.looked_at)}; the declaration "
        f"names {sorted(frozenset().union(*declared))}"
    )
    assert observed.smallest == minimal(declared), (
        f"{platform}: the adapter publishes with at least "
        f"{sorted(sorted(s) for s in observed.smallest)}; the declaration's smallest sets "
        f"are {sorted(sorted(s) for s in minimal(declared))}"
    )
    for names in declared:
        alone = attempt(platform, names, spec, settings)
        assert alone.works, (platform, sorted(names), alone.error)
        assert names <= alone.asked, (platform, sorted(names - alone.asked), "never read")


def test_the_check_fails_when_a_declaration_loses_a_set(
    specs: dict[str, PlatformSpec], settings: Settings
) -> None:
    """Each of X's four sets, left out in turn, is missed (X has the most sets)."""
    if "x" not in PLATFORMS:
        pytest.fail("the X adapter is missing")
    observed = observe("x", specs["x"], settings)
    declared = declared_sets(traits_for("x"))
    assert len(declared) == 4
    for lost in declared:
        rest = declared - {lost}
        union: frozenset[str] = frozenset().union(*rest)
        assert observed.looked_at != union or observed.smallest != minimal(rest), sorted(lost)


def test_x_refuses_an_incomplete_oauth1_set(settings: Settings) -> None:
    """tweepy would sign with an empty token secret, which only the real X refuses."""
    channel = Channel(
        name="x-oauth1",
        platform="x",
        account="@a",
        timezone="UTC",
        credentials={"access_token_secret": "TEST_X_TOKEN_SECRET"},
    )
    three = {"api_key": "k" * 12, "api_secret": "s" * 12, "access_token": "t" * 12}
    with pytest.raises(CredentialsMissing) as caught:
        get_platform("x")(channel, three, settings)
    assert caught.value.variable == "TEST_X_TOKEN_SECRET"
