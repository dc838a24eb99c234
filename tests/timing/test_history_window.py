"""read_histories reads only the snapshots its age window can use, and finds the same ones.

At a year of full-rate history (1,000 channels x 5 posts a day) the weekly report's timing
views read the 120 days before the week: every snapshot of those posts, when only the ones
aged ``Params.age`` to twice that can count, made the report take minutes.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import delete
from sqlalchemy.orm import Session, sessionmaker

from dissem.metrics.schedule import parse_schedule
from dissem.store.db import transaction
from dissem.store.models import ChannelRow, MetricSnapshot, Post, PostState, ReleaseRow
from dissem.timing import history
from dissem.timing.history import read_histories
from dissem.timing.model import Observation, Params

NOW = datetime(2026, 11, 30, 1, 0, tzinfo=UTC)
_US = timedelta(microseconds=1)
GRID = parse_schedule("1h@1d,6h@7d,1d@30d").grid_ages()  # the default collection grid


def _seed_base(factory: sessionmaker[Session]) -> None:
    with transaction(factory) as s:
        for name, platform in (("x_main", "x"), ("bsky", "bluesky")):
            s.add(
                ChannelRow(
                    name=name,
                    platform=platform,
                    account=f"@{name}",
                    timezone="UTC",
                    enabled=True,
                    config_hash="h",
                    config={"name": name},
                    removed=False,
                    updated_at=NOW,
                )
            )
        s.add(
            ReleaseRow(
                id="rel",
                title="T",
                url="https://portal.example/rel",
                language="id",
                status="approved",
                priority="normal",
                source="test",
                content_hash="c",
                revision=1,
                deleted=False,
                data={},
                created_at=NOW,
                updated_at=NOW,
            )
        )


def _add_post(factory: sessionmaker[Session], n: int, published: datetime, silent: set[int]) -> int:
    """A published post on the grid up to NOW; snapshots at grid indexes in ``silent``
    report no engagement (views only)."""
    channel, platform = ("x_main", "x") if n % 2 else ("bsky", "bluesky")
    with transaction(factory) as s:
        post = Post(
            release_id="rel",
            channel=channel,
            platform=platform,
            seq=n,
            text=f"post {n}",
            payload={},
            idempotency_key=f"k{n}",
            state=PostState.PUBLISHED,
            published_at=published,
            remote_id=f"r{n}",
            created_at=published,
            updated_at=published,
        )
        s.add(post)
        s.flush()
        for i, age in enumerate(GRID):
            if published + age > NOW:
                break
            quiet = i in silent
            s.add(
                MetricSnapshot(
                    post_id=post.id,
                    taken_at=published + age,
                    likes=None if quiet else i * (n + 1),
                    reposts=None if quiet else i,
                    views=100 * i,
                    raw={},
                )
            )
        for age in (Params().age - timedelta(microseconds=1), 2 * Params().age + _US):
            if published + age <= NOW:  # engaged, but a microsecond outside the window
                s.add(MetricSnapshot(post_id=post.id, taken_at=published + age, likes=9, raw={}))
        return post.id


class _Counting:
    """Wraps a session: counts the metric snapshot rows its queries return."""

    def __init__(self, session: Session) -> None:
        self.session = session
        self.snapshot_rows = 0

    def __getattr__(self, name: str) -> Any:
        return getattr(self.session, name)

    def execute(self, stmt: Any, *args: Any, **kw: Any) -> Any:
        frozen = self.session.execute(stmt, *args, **kw).freeze()
        if "metric_snapshots" in str(stmt):
            self.snapshot_rows += len(frozen.data)
        return frozen()


def _reference(factory: sessionmaker[Session], params: Params) -> dict[str, list[Observation]]:
    """What the histories hold by definition: per channel, each post's first snapshot aged
    ``params.age`` to twice that which reports engagement."""
    out: dict[str, list[Observation]] = {}
    with factory() as s:
        posts = s.query(Post).filter(Post.published_at >= NOW - history.LOOKBACK).all()
        for post in posts:
            assert post.published_at is not None
            if post.published_at > NOW - params.age:
                continue
            snaps = (
                s.query(MetricSnapshot)
                .filter(MetricSnapshot.post_id == post.id)
                .order_by(MetricSnapshot.taken_at, MetricSnapshot.id)
                .all()
            )
            for snap in snaps:
                age = snap.taken_at - post.published_at
                engaged = [v for v in (snap.likes, snap.reposts) if v is not None]
                if params.age <= age <= 2 * params.age and engaged:
                    obs = Observation(post.published_at, sum(engaged), snap.views)
                    out.setdefault(post.channel, []).append(obs)
                    break
    return {k: sorted(v, key=Observation.order) for k, v in out.items()}


def _histories(factory: sessionmaker[Session]) -> dict[str, list[Observation]]:
    with factory() as s:
        return {h.name: list(h.observations) for h in read_histories(s, NOW) if h.observations}


def test_reads_only_the_snapshots_of_its_age_window(
    session_factory: sessionmaker[Session],
) -> None:
    _seed_base(session_factory)
    # five posts of one afternoon, 40 days ago: each has all 71 grid snapshots
    for n in range(5):
        _add_post(session_factory, n, NOW - timedelta(days=40, hours=n), silent=set())
    with session_factory() as s:
        counting = _Counting(s)
        found = read_histories(counting, NOW)  # type: ignore[arg-type]
    assert sum(len(h.observations) for h in found) == 5
    # one row a post (its snapshot aged 1 day), not the 355 rows of their whole histories
    assert counting.snapshot_rows <= 5, counting.snapshot_rows
    assert _histories(session_factory) == _reference(session_factory, Params())


@settings(
    max_examples=15,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(
    hours=st.lists(st.integers(min_value=0, max_value=130 * 24), min_size=1, max_size=9),
    silent=st.sets(st.integers(min_value=20, max_value=30), max_size=6),
)
def test_same_observations_as_the_definition(
    session_factory: sessionmaker[Session],
    hours: list[int],
    silent: set[int],
) -> None:
    """Posts at any ages (some past the look-back, some under a day), published at any
    microsecond, some day-old snapshots without engagement, engaged ones a microsecond
    outside the window: the histories hold exactly the definition's observations."""
    with transaction(session_factory) as s:
        s.execute(delete(MetricSnapshot))
        s.execute(delete(Post))
        s.execute(delete(ReleaseRow))
        s.execute(delete(ChannelRow))
    _seed_base(session_factory)
    for n, h in enumerate(hours):
        at = NOW - timedelta(hours=h, minutes=7 * n, microseconds=1 + 370_001 * n)
        _add_post(session_factory, n, at, silent)
    assert _histories(session_factory) == _reference(session_factory, Params())
