"""A worker claims at most one post ahead per thread: channels it could not work on soon
stay claimable by idle workers (eight workers on 64 channels left four of them idle while
one held 16 channels for its 4 threads)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from dissem.config.models import Channel
from dissem.platforms.base import Platform
from dissem.store.models import Post, PostState
from dissem.worker.dispatch import AdapterPool
from tests.worker.queue_seed import (
    T0,
    DispatchRig,
    add_channel,
    add_post,
    qengine,
    qfactory,
    queue_db,
    queue_settings,
    qurl,
)

__all__ = ["qengine", "qfactory", "queue_db", "qurl"]  # fixtures used by name

Factory = sessionmaker[Session]


def test_a_worker_holds_at_most_two_posts_per_thread(qfactory: Factory) -> None:
    settings = queue_settings(concurrency=2, claim_batch=32)
    for i in range(12):
        add_channel(qfactory, f"c{i:02d}")
        add_post(qfactory, f"c{i:02d}", due_at=T0)
    rig = DispatchRig(qfactory, settings)
    held: list[int] = []  # posts publishing (claimed, not settled) at each publish call
    make = rig.world.factory

    def counting(channel: Channel) -> Platform:
        adapter = make(channel)
        publish = adapter.publish

        def counted(*args: Any, **kwargs: Any) -> Any:
            with qfactory() as s:
                q = select(func.count()).select_from(Post)
                held.append(s.scalar(q.where(Post.state == PostState.PUBLISHING)) or 0)
            return publish(*args, **kwargs)

        adapter.publish = counted  # type: ignore[method-assign]
        return adapter

    rig.adapters = AdapterPool(settings, counting)
    stats = rig.dispatch()
    assert stats.published == 12
    assert len(held) == 12 and max(held) <= 2 * 2, held  # was 8: 4 a thread
