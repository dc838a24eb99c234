"""The status page with a queue far longer than it shows (issue 15: 1,000,000 posts).

It shows each channel's next :data:`PER_CHANNEL` first parts and "N more": the database
hands over only those (as columns, never whole posts with their payloads), and the open
releases are found per release, not by reading every open post's release id.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from sqlalchemy import Engine, event
from sqlalchemy.orm import Session, sessionmaker

from dissem.settings import Settings
from dissem.store.db import transaction
from dissem.store.models import PostState
from dissem.worker.status_page import PER_CHANNEL, StatusPage
from tests.worker.status_seed import NOW, _channel, _post, _release

Factory = sessionmaker[Session]


def test_the_page_reads_only_the_posts_it_shows(
    session_factory: Factory, engine: Engine, tmp_path: Any
) -> None:
    with transaction(session_factory) as s:
        _channel(s, "busy-x", "x", "UTC")
        _release(s, "daily", "Daily briefing")
        s.flush()
        for i in range(PER_CHANNEL + 40):
            _post(s, "daily", "busy-x", "x", PostState.SCHEDULED,
                  NOW + timedelta(hours=1 + i), seq=i)  # fmt: skip
    whole: list[str] = []  # statements reading whole posts (payloads and all)

    def count(conn: Any, cursor: Any, statement: str, params: Any, ctx: Any, many: bool) -> None:
        if "posts.payload" in statement:
            whole.append(statement)

    event.listen(engine, "after_cursor_execute", count)
    try:
        settings = Settings(_env_file=None, report_dir=tmp_path)  # type: ignore[call-arg]
        page = StatusPage(session_factory, settings, clock=lambda: NOW)
        data = page.read(NOW)
    finally:
        event.remove(engine, "after_cursor_execute", count)
    (channel,) = data["timeline"]
    shown = sum(len(day["posts"]) for day in channel["days"])
    assert shown == PER_CHANNEL
    assert channel["more"] == 40
    # whole posts are read for the problems list only (at most MAX_PROBLEMS of them)
    assert len(whole) == 1 and "LIMIT" in whole[0]
    assert [r["id"] for r in data["releases"]] == ["daily"]
