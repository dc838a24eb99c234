"""Feed releases in the database, and their posts planned the way a file's are.

A feed item's release is a ``releases`` row like a file's (``source`` is ``feed:<name>``,
``data`` the :class:`~dissem.config.models.Release`), with a revision row per content
change (:mod:`dissem.worker.records` writes both). Its posts are made by the same planner
(:func:`dissem.worker.planner.plan_posts`) with the same rule: compose outside any
transaction, then plan (see the planner's module doc). :func:`stored_feed_releases` gives
sync the feed releases, so the config sync plans them with the file releases (a channel
changed, a draft approved) and never takes them for deleted files.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable
from datetime import datetime
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from dissem.config.models import LoadedConfig, LoadedRelease, Release
from dissem.settings import Settings
from dissem.store.db import transaction
from dissem.store.models import ReleaseRow
from dissem.worker.planner import Compositions, PlanChanges, plan_posts

__all__ = ["plan_feed_releases", "stored_feed_releases", "with_feed_releases"]

SOURCE_PREFIX = "feed:"


def _loaded(row: ReleaseRow) -> LoadedRelease:
    return LoadedRelease(
        release=Release.model_validate(row.data),
        path=Path(row.source),
        content_hash=row.content_hash,
    )


def stored_feed_releases(
    session: Session, ids: Iterable[str] | None = None, *, exclude: Iterable[str] = ()
) -> list[LoadedRelease]:
    """The feed releases kept in the database (``ids`` only, when given), as loaded
    releases; ``exclude`` leaves out ids a file already uses."""
    stmt = select(ReleaseRow).where(
        ReleaseRow.source.like(f"{SOURCE_PREFIX}%"), ReleaseRow.deleted.is_(False)
    )
    if ids is not None:
        stmt = stmt.where(ReleaseRow.id.in_(sorted(set(ids))))
    skip = set(exclude)
    return [
        _loaded(row) for row in session.scalars(stmt.order_by(ReleaseRow.id)) if row.id not in skip
    ]


def with_feed_releases(session: Session, config: LoadedConfig) -> LoadedConfig:
    """``config`` with the stored feed releases added to its file releases (a copy)."""
    files = {lr.release.id for lr in config.releases}
    feeds = stored_feed_releases(session, exclude=files)
    if not feeds:
        return config
    return dataclasses.replace(config, releases=[*config.releases, *feeds])


class _Compose(Exception):
    """Rolls back a planning pass that lacked compositions."""


def plan_feed_releases(
    session_factory: sessionmaker[Session],
    settings: Settings,
    config: LoadedConfig,
    now: datetime,
    ids: Iterable[str],
) -> PlanChanges:
    """Composes and plans the posts of the feed releases ``ids`` (new or changed), as
    :func:`dissem.worker.sync.sync` does for files: a pass that lacks compositions is rolled
    back, they are made with no transaction open, and the pass runs again."""
    wanted = set(ids)
    if not wanted:
        return PlanChanges()
    compositions = Compositions(now)
    while True:
        try:
            with transaction(session_factory) as session:
                releases = stored_feed_releases(session, wanted)
                only = dataclasses.replace(config, releases=releases)
                plan = plan_posts(
                    session, only, settings, now, releases=wanted, compositions=compositions
                )
                if compositions.missing:
                    raise _Compose
        except _Compose:
            compositions.make()
            continue
        return plan
