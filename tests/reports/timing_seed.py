"""Eight weeks of measured posts before the report week (2026-W48, Asia/Jakarta) for the
"when your audience engages" section: one channel whose audience clearly prefers weekday
evenings (18:00-21:00 local), one with too few posts to say anything.

The posts end eight days before the week, so the week's figures (and the week before's)
of :mod:`report_seed` are untouched. Engagement is fixed, with a little seeded noise: 20
interactions per 1,000 views, 40 on weekday evenings.
"""

from __future__ import annotations

import random
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy.orm import Session, sessionmaker

from dissem.store.db import transaction
from dissem.store.models import ChannelRow, MetricSnapshot, Post, PostState, ReleaseRow
from tests.reports.report_seed import START, TZ

CLEAR = "kbri-masto"  # mastodon: weekday evenings win
THIN = "konsulat-bsky"  # bluesky: five posts
THIN_POSTS = 5
BEST = "weekday-18"
#: local hours the clear channel posts at, one a day, in turn
HOURS = (8, 11, 14, 19, 16, 10, 19, 13)


def _rows(name: str, platform: str) -> ChannelRow:
    config = {"name": name, "platform": platform, "account": f"@{name}", "timezone": TZ}
    return ChannelRow(
        name=name,
        platform=platform,
        account=f"@{name}",
        timezone=TZ,
        config_hash="h",
        config=config,
        updated_at=START,
    )


def _local(day: int, hour: int) -> datetime:
    first = (START - timedelta(days=63)).astimezone(ZoneInfo(TZ))
    return (first + timedelta(days=day)).replace(hour=hour, minute=5)


def seed_timing(factory: sessionmaker[Session]) -> None:
    rng = random.Random(14)
    with transaction(factory) as s:
        s.add_all([_rows(CLEAR, "mastodon"), _rows(THIN, "bluesky")])
        s.add(
            ReleaseRow(
                id="rt", title="Consular hours", url="https://portal.example.go.id/rt",
                language="id", status="approved", priority="normal", source="x",
                content_hash="c", data={}, created_at=START - timedelta(days=70),
                updated_at=START - timedelta(days=70),
            )
        )  # fmt: skip
        s.flush()
        plan = [(CLEAR, "mastodon", _local(d, HOURS[d % len(HOURS)])) for d in range(55)]
        plan += [(THIN, "bluesky", _local(7 * d + 2, 9)) for d in range(THIN_POSTS)]
        for i, (channel, platform, at) in enumerate(plan):
            post = Post(
                release_id="rt", channel=channel, platform=platform, seq=1000 + i,
                state=PostState.PUBLISHED, text="t", payload={}, idempotency_key=f"t-{i}",
                published_at=at, planned_at=at, remote_id=f"t{i}", attempts=1,
                created_at=at, updated_at=at,
            )  # fmt: skip
            s.add(post)
            s.flush()
            evening = at.weekday() < 5 and 18 <= at.hour < 21
            likes = (40 if evening else 20) + rng.randint(-2, 2)
            s.add(
                MetricSnapshot(
                    post_id=post.id,
                    taken_at=at + timedelta(days=1, minutes=3),
                    likes=likes,
                    reposts=0,
                    views=1000,
                    raw={},
                )
            )


def clear_posts_in_best() -> int:
    """How many of the clear channel's posts went out on weekday evenings."""
    return sum(1 for d in range(55) if HOURS[d % len(HOURS)] == 19 and _local(d, 19).weekday() < 5)
