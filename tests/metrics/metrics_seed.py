"""Seeding helpers for the metrics tests: channels, a release, published posts, a fake adapter."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session, sessionmaker

from dissem.compose.types import Part
from dissem.config.models import Channel
from dissem.errors import PlatformError
from dissem.platforms.base import (
    MetricSample,
    Platform,
    PublishContext,
    RemotePost,
)
from dissem.settings import Settings
from dissem.store.db import transaction
from dissem.store.models import ChannelRow, Post, PostState, ReleaseRow
from dissem.traits import PlatformTraits, traits_for


def add_channel(
    factory: sessionmaker[Session], name: str, platform: str, now: datetime, **extra: Any
) -> None:
    channel = Channel(name=name, platform=platform, account=f"@{name}", timezone="UTC")
    config = channel.model_dump(mode="json")
    config["windows"] = [w.text for w in channel.windows]
    with transaction(factory) as s:
        s.add(
            ChannelRow(
                name=name,
                platform=platform,
                account=channel.account,
                timezone="UTC",
                config_hash="h",
                config=config,
                updated_at=now,
                **extra,
            )
        )


def add_release(factory: sessionmaker[Session], rid: str, now: datetime, title: str = "T") -> None:
    with transaction(factory) as s:
        s.add(
            ReleaseRow(
                id=rid,
                title=title,
                url=f"https://portal.example/{rid}",
                language="en",
                status="approved",
                priority="normal",
                source=f"config/releases/{rid}.yaml",
                content_hash="c",
                data={},
                created_at=now,
                updated_at=now,
            )
        )


_counter = [0]


def add_post(
    factory: sessionmaker[Session],
    *,
    channel: str,
    platform: str,
    release: str,
    published_at: datetime | None,
    next_metrics_at: datetime | None = None,
    state: str = PostState.PUBLISHED,
    remote_id: str | None = None,
    **extra: Any,
) -> int:
    _counter[0] += 1
    n = _counter[0]
    with transaction(factory) as s:
        post = Post(
            release_id=release,
            channel=channel,
            platform=platform,
            seq=n,
            text=extra.pop("text", f"post {n} on {channel}"),
            payload={},
            idempotency_key=f"k{n}-{channel}-{release}",
            state=state,
            published_at=published_at,
            remote_id=remote_id if remote_id is not None else f"r{n}",
            next_metrics_at=next_metrics_at,
            created_at=published_at or datetime.now().astimezone(),
            updated_at=published_at or datetime.now().astimezone(),
            **extra,
        )
        s.add(post)
        s.flush()
        return post.id


class FakeAdapter(Platform):
    """Reports ``likes = base + calls`` for every id it knows; records every batch it got."""

    name = "x"
    traits = replace(traits_for("x"), metrics=("likes", "reposts", "views"), metrics_batch=3)
    required_credentials = ((),)
    default_api_base = "http://127.0.0.1:9"

    def __init__(
        self,
        channel_name: str,
        *,
        batch: int = 3,
        metrics: Sequence[str] = ("likes", "reposts", "views"),
        error: Exception | None = None,
        unknown: Sequence[str] = (),
    ) -> None:
        channel = Channel(name=channel_name, platform="x", account="@a", timezone="UTC")
        super().__init__(channel, {}, Settings())
        self.traits: PlatformTraits = replace(  # type: ignore[misc]
            traits_for("x"), metrics=tuple(metrics), metrics_batch=batch
        )
        self.batches: list[list[str]] = []
        self.error = error
        self.unknown = set(unknown)

    def publish(
        self,
        part: Part,
        ctx: PublishContext,
        *,
        reply_to: RemotePost | None = None,
        root: RemotePost | None = None,
    ) -> RemotePost:
        raise PlatformError("not used")

    def lookup(self, part: Part, ctx: PublishContext, *, since: datetime) -> RemotePost | None:
        return None

    def fetch_metrics(self, remote_ids: Sequence[str]) -> dict[str, MetricSample]:
        assert len(remote_ids) <= self.traits.metrics_batch
        self.batches.append(list(remote_ids))
        if self.error is not None:
            raise self.error
        n = len(self.batches)
        return {
            rid: MetricSample(
                values={"likes": 10 * n, "reposts": n, "views": 100 * n},
                raw={"id": rid, "public_metrics": {"like_count": 10 * n}},
            )
            for rid in remote_ids
            if rid not in self.unknown
        }
