"""A queue for the status page tests: channels in three time zones (one paused), posts
going out over the coming days (a thread among them), one problem post of each kind, a
release with a hostile title, a feed's state, and a weekly report on disk."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

from sqlalchemy.orm import Session, sessionmaker

from dissem.store.db import transaction
from dissem.store.models import ChannelRow, FeedState, Post, PostState, ReleaseRow

NOW = datetime(2026, 12, 1, 3, 0, tzinfo=UTC)
HOSTILE = "<script>alert('x')</script><img src=https://evil.example/p.png> & \"quotes\""
WEEK = "2026-W48"
REPORT = f"dissem-report-{WEEK}-en.html"


@dataclass
class Seeded:
    failed: int
    review: int
    unconfirmed: int
    hostile_release: str = "hostile"
    paused: str = "hq-bluesky"


def _channel(s: Session, name: str, platform: str, tz: str, **kw: object) -> None:
    s.add(
        ChannelRow(
            name=name,
            platform=platform,
            account=f"@{name}",
            timezone=tz,
            config_hash=uuid.uuid4().hex,
            config={"name": name},
            updated_at=NOW,
            **kw,
        )
    )


def _release(s: Session, rid: str, title: str) -> None:
    s.add(
        ReleaseRow(
            id=rid,
            title=title,
            url=f"https://portal.example/{rid}",
            language="en",
            status="approved",
            priority="normal",
            source=f"config/releases/{rid}.md",
            content_hash=uuid.uuid4().hex,
            data={},
            created_at=NOW,
            updated_at=NOW,
        )
    )


def _post(
    s: Session, release: str, channel: str, platform: str, state: str, due: datetime, **kw: object
) -> int:
    post = Post(
        release_id=release,
        channel=channel,
        platform=platform,
        state=state,
        text=f"{release} on {channel}",
        payload={},
        idempotency_key=uuid.uuid4().hex,
        planned_at=due,
        due_at=due,
        created_at=NOW,
        updated_at=NOW,
        **kw,
    )
    s.add(post)
    s.flush()
    return post.id


def seed_status(factory: sessionmaker[Session], report_dir: Path) -> Seeded:
    with transaction(factory) as s:
        _channel(s, "hq-x", "x", "Asia/Jakarta")
        _channel(s, "embassy-tokyo-x", "x", "Asia/Tokyo")
        _channel(s, "embassy-berlin-x", "x", "Europe/Berlin")
        _channel(
            s,
            "hq-bluesky",
            "bluesky",
            "Asia/Jakarta",
            paused_until=NOW + timedelta(hours=2),
            pause_reason="credentials missing: DISSEM_BLUESKY_HQ_PASSWORD is not set",
        )
        _release(s, "workshop", "Digital diplomacy workshop")
        _release(s, "festival", "インドネシア文化フェスティバル、東京で再び開催")
        _release(s, "hostile", HOSTILE)
        s.flush()
        for i, channel in enumerate(["hq-x", "embassy-tokyo-x", "embassy-berlin-x"]):
            day_ago = NOW - timedelta(days=1)
            _post(s, "workshop", channel, "x", PostState.PUBLISHED, day_ago,
                  published_at=day_ago, remote_url="https://x.com/a/1")  # fmt: skip
            # its evergreen re-share, going out today
            _post(s, "workshop", channel, "x", PostState.SCHEDULED,
                  NOW + timedelta(hours=5 + i), seq=1)  # fmt: skip
        for part in (1, 2, 3):
            _post(s, "festival", "embassy-tokyo-x", "x", PostState.SCHEDULED,
                  NOW + timedelta(days=2), part_index=part, part_total=3)  # fmt: skip
        _post(s, "workshop", "hq-bluesky", "bluesky", PostState.SCHEDULED, NOW + timedelta(hours=1))
        failed = _post(s, "hostile", "hq-x", "x", PostState.FAILED, NOW - timedelta(hours=1),
                       last_error="auth: 401 <b>token revoked</b>")  # fmt: skip
        review = _post(s, "hostile", "embassy-tokyo-x", "x", PostState.NEEDS_REVIEW,
                       NOW - timedelta(hours=1), last_error="lookup ambiguous")  # fmt: skip
        unconfirmed = _post(s, "festival", "hq-x", "x", PostState.UNCONFIRMED,
                            NOW - timedelta(hours=2), last_error="timeout")  # fmt: skip
        s.add(
            FeedState(
                name="portal-berita",
                url="https://portal.example/rss.xml",
                initialized=True,
                updated_at=NOW,
                last_poll_at=NOW - timedelta(minutes=5),
                next_poll_at=NOW + timedelta(minutes=5),
                last_status=200,
                items_seen=3,
                items_new=1,
            )
        )
    folder = report_dir / WEEK
    folder.mkdir(parents=True, exist_ok=True)
    (folder / REPORT).write_text("<!doctype html><title>week</title><p>report</p>", "utf-8")
    (folder / f"dissem-report-{WEEK}-en.csv").write_text("a,b\n", "utf-8")
    return Seeded(failed=failed, review=review, unconfirmed=unconfirmed)
