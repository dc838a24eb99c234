"""Test helpers for the queue: rows made directly in the database, and a fake platform.

``FakeWorld`` stands in for every platform at once: it keeps what was "published" by
idempotency key (so lookups can find it), can be told to fail the next publishes of a text
in given ways, and records every call in order.
"""

from __future__ import annotations

import itertools
import threading
import uuid
from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, ClassVar

import pytest
from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from dissem.compose.types import Part
from dissem.config.models import Channel
from dissem.errors import LookupUnsupported, OutcomeUnknown
from dissem.platforms.base import (
    MetricSample,
    Platform,
    PublishContext,
    RemotePost,
)
from dissem.settings import Settings
from dissem.store.db import make_engine, make_session_factory, transaction
from dissem.store.models import ChannelRow, Post, PostState, ReleaseRow
from dissem.traits import Idempotency, LinkHandling, PlatformTraits
from dissem.worker.dispatch import AdapterPool, DispatchStats, dispatch_once
from dissem.worker.reconcile import ReconcileStats, reconcile_once
from tests.pgdb import BACKENDS, empty_tables, migrated_database

T0 = datetime(2026, 11, 30, 9, 0, tzinfo=UTC)
_seqs = itertools.count(1000)


@pytest.fixture(scope="module", params=BACKENDS)
def queue_db(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Any:
    """One migrated database per test module (SQLite file or PostgreSQL): creating a
    PostgreSQL database per test costs more than the tests; tables are emptied instead."""
    with migrated_database(request.param, tmp_path_factory.mktemp("queue")) as url:
        yield url


@pytest.fixture
def qurl(queue_db: str) -> str:
    """The module's database, emptied."""
    engine = make_engine(queue_db)
    with engine.begin() as conn:
        empty_tables(conn)
    engine.dispose()
    return queue_db


@pytest.fixture
def qengine(qurl: str) -> Any:
    engine = make_engine(qurl)
    yield engine
    engine.dispose()


@pytest.fixture
def qfactory(qengine: Engine) -> sessionmaker[Session]:
    """A session factory on an empty database holding release ``r1``."""
    factory = make_session_factory(qengine)
    add_release(factory)
    return factory


def queue_settings(**overrides: Any) -> Settings:
    """Settings for queue tests: small batches, short backoff, three attempts."""
    values: dict[str, Any] = {
        "max_attempts": 3,
        "backoff_base": 10.0,
        "backoff_max": 100.0,
        "concurrency": 2,
        "claim_batch": 8,
        "lease_seconds": 60.0,
    }
    values.update(overrides)
    return Settings(**values)


def channel_config(name: str, platform: str = "mastodon", **extra: Any) -> dict[str, Any]:
    """A stored channel as sync writes it (a dumped :class:`Channel`)."""
    extra.setdefault("account", f"@{name}")
    channel = Channel.model_validate(
        {"name": name, "platform": platform, "timezone": "UTC", **extra}
    )
    data = channel.model_dump(mode="json")
    data["windows"] = [w.text for w in channel.windows]
    return data


def add_channel(
    factory: sessionmaker[Session],
    name: str,
    platform: str = "mastodon",
    *,
    enabled: bool = True,
    removed: bool = False,
    paused_until: datetime | None = None,
    **extra: Any,
) -> None:
    config = channel_config(name, platform, **extra)
    with transaction(factory) as s:
        s.add(
            ChannelRow(
                name=name,
                platform=platform,
                account=config["account"],
                timezone="UTC",
                enabled=enabled,
                removed=removed,
                config_hash=uuid.uuid4().hex,
                config=config,
                paused_until=paused_until,
                updated_at=T0,
            )
        )


def add_release(factory: sessionmaker[Session], rid: str = "r1") -> str:
    with transaction(factory) as s:
        s.add(
            ReleaseRow(
                id=rid,
                title=f"Release {rid}",
                url=f"https://portal.example/{rid}",
                language="en",
                status="approved",
                priority="normal",
                source=f"config/releases/{rid}.md",
                content_hash=uuid.uuid4().hex,
                data={},
                created_at=T0,
                updated_at=T0,
            )
        )
    return rid


def add_post(
    factory: sessionmaker[Session],
    channel: str,
    *,
    release: str = "r1",
    due_at: datetime | None = T0,
    text: str | None = None,
    part_index: int = 1,
    part_total: int = 1,
    seq: int | None = None,
    state: str = PostState.SCHEDULED,
    platform: str = "mastodon",
    attempts: int = 0,
) -> int:
    # Each post gets its own slot (release, channel, seq, part) unless told otherwise.
    seq = next(_seqs) if seq is None else seq
    text = text or f"{release}/{channel}/{seq}/{part_index} {uuid.uuid4().hex[:6]}"
    part = Part(index=part_index, total=part_total, text=text, length=len(text), limit=500)
    with transaction(factory) as s:
        post = Post(
            release_id=release,
            channel=channel,
            platform=platform,
            seq=seq,
            part_index=part_index,
            part_total=part_total,
            state=state,
            text=text,
            payload=part.to_json(),
            idempotency_key=uuid.uuid4().hex,
            planned_at=due_at,
            due_at=due_at,
            attempts=attempts,
            created_at=T0,
            updated_at=T0,
        )
        s.add(post)
        s.flush()
        return post.id


def add_thread(
    factory: sessionmaker[Session], channel: str, parts: int, *, release: str = "r1", **kw: Any
) -> list[int]:
    seq = kw.pop("seq", None)
    seq = next(_seqs) if seq is None else seq
    return [
        add_post(factory, channel, release=release, part_index=i, part_total=parts, seq=seq, **kw)
        for i in range(1, parts + 1)
    ]


def get_post(factory: sessionmaker[Session], post_id: int) -> Post:
    with factory() as s:
        post = s.get(Post, post_id)
        assert post is not None
        return post


def get_channel(factory: sessionmaker[Session], name: str) -> ChannelRow:
    with factory() as s:
        row = s.get(ChannelRow, name)
        assert row is not None
        return row


class Clock:
    """A controlled clock: ``now()`` returns the current time; ``advance`` moves it."""

    def __init__(self, start: datetime = T0) -> None:
        self.t = start

    def now(self) -> datetime:
        return self.t

    def advance(self, seconds: float) -> datetime:
        self.t += timedelta(seconds=seconds)
        return self.t


#: publish plan step: an exception to raise, "applied" (publish, then raise OutcomeUnknown)
Step = BaseException | str


@dataclass
class Call:
    channel: str
    text: str
    key: str
    reply_to: RemotePost | None
    root: RemotePost | None


@dataclass
class FakeWorld:
    """Every fake platform's server side."""

    posts: dict[str, RemotePost] = field(default_factory=dict)  # idempotency key -> post
    calls: list[Call] = field(default_factory=list)
    plans: dict[str, list[Step]] = field(default_factory=dict)  # text -> next steps
    lookup_error: BaseException | None = None
    lookups: list[tuple[str, datetime]] = field(default_factory=list)
    #: per lookup, the place it was asked to prove: (reply_to, taken)
    places: list[tuple[RemotePost | None, frozenset[str]]] = field(default_factory=list)
    unsupported: set[str] = field(default_factory=set)  # platforms that cannot look up
    on_publish: Callable[[PublishContext], None] | None = None
    lock: threading.Lock = field(default_factory=threading.Lock)
    ids: itertools.count[int] = field(default_factory=lambda: itertools.count(1))

    def plan(self, text: str, steps: Sequence[Step]) -> None:
        self.plans[text] = list(steps)

    def factory(self, channel: Channel) -> Platform:
        return FakeAdapter(channel, {}, queue_settings(), world=self)

    def texts(self, channel: str | None = None) -> list[str]:
        return [c.text for c in self.calls if channel is None or c.channel == channel]


class FakeAdapter(Platform):
    name: ClassVar[str] = "fake"
    traits: ClassVar[PlatformTraits] = PlatformTraits(
        name="fake",
        display_name="Fake",
        text_limit=500,
        threads=True,
        link=LinkHandling.NOT_CLICKABLE,
        idempotency=Idempotency.KEY,
        can_lookup=True,
    )
    required_credentials: ClassVar[tuple[tuple[str, ...], ...]] = ((),)
    default_api_base: ClassVar[str] = "http://fake.invalid"

    def __init__(self, channel: Channel, creds: Any, settings: Settings, *, world: FakeWorld):
        super().__init__(channel, creds, settings)
        self.world = world

    def publish(
        self,
        part: Part,
        ctx: PublishContext,
        *,
        reply_to: RemotePost | None = None,
        root: RemotePost | None = None,
    ) -> RemotePost:
        w = self.world
        with w.lock:
            w.calls.append(Call(self.channel.name, part.text, ctx.idempotency_key, reply_to, root))
            steps = w.plans.get(part.text)
            step = steps.pop(0) if steps else None
        if w.on_publish is not None:
            w.on_publish(ctx)
        if isinstance(step, BaseException):
            raise step
        with w.lock:
            n = next(w.ids)
            remote = RemotePost(f"id{n}", f"https://fake/{n}", {"cid": f"cid{n}"})
            w.posts.setdefault(ctx.idempotency_key, remote)
        if step == "applied":
            raise OutcomeUnknown("connection dropped after the request was sent")
        return remote

    def lookup(
        self,
        part: Part,
        ctx: PublishContext,
        *,
        since: datetime,
        reply_to: RemotePost | None = None,
        taken: Collection[str] = frozenset(),
    ) -> RemotePost | None:
        w = self.world
        w.lookups.append((ctx.idempotency_key, since))
        w.places.append((reply_to, frozenset(taken)))
        if self.channel.platform in w.unsupported:
            raise LookupUnsupported(f"{self.channel.platform} cannot be asked")
        if w.lookup_error is not None:
            raise w.lookup_error
        found = w.posts.get(ctx.idempotency_key)
        return None if found is not None and found.remote_id in taken else found

    def fetch_metrics(self, remote_ids: Sequence[str]) -> dict[str, MetricSample]:
        return {}


class RecordingAlerter:
    """An alerter that keeps what it was asked to send."""

    def __init__(self) -> None:
        self.sent: list[tuple[str, str, dict[str, Any]]] = []

    def send(self, kind: str, message: str, **fields: Any) -> None:
        self.sent.append((kind, message, fields))

    def kinds(self) -> list[str]:
        return [k for k, _, _ in self.sent]


class DispatchRig:
    """A database, a fake world, a clock, an alerter and the dispatch and reconcile calls
    wired together."""

    def __init__(self, factory: sessionmaker[Session], settings: Settings | None = None) -> None:
        self.factory = factory
        self.world = FakeWorld()
        self.clock = Clock()
        self.settings = settings or queue_settings()
        self.alerts = RecordingAlerter()
        self.adapters = AdapterPool(self.settings, self.world.factory)
        self.stop = threading.Event()

    def dispatch(self) -> DispatchStats:
        """One ``dispatch_once`` round at the clock's time, as worker ``w1``."""
        return dispatch_once(
            self.factory,
            self.settings,
            self.clock.now,
            adapters=self.adapters,
            worker_id="w1",
            stop_event=self.stop,
            alerter=self.alerts,
        )

    def reconcile(self) -> ReconcileStats:
        """One ``reconcile_once`` round at the clock's time, as worker ``r1``."""
        return reconcile_once(
            self.factory,
            self.settings,
            self.clock.now(),
            adapters=self.adapters,
            alerter=self.alerts,
            worker_id="r1",
        )

    def text(self, post_id: int) -> str:
        return get_post(self.factory, post_id).text
