"""``dissem sync`` and the daemon's sync job: load the config folder, mirror it into the
database, and bring the posts in line (compose and plan).

The database work is one short transaction; composing happens outside it (a template may
be slow, and the write lock stops every other writer): a pass that lacks compositions is
rolled back, they are made with no transaction open, and the pass runs again (see
:mod:`dissem.worker.planner`)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from dissem.config.loader import load_config
from dissem.config.models import Channel, LoadedConfig, Release
from dissem.errors import ConfigProblem
from dissem.settings import Settings
from dissem.store.db import transaction
from dissem.store.models import ReleaseRow
from dissem.worker.feed_plan import with_feed_releases
from dissem.worker.planner import (
    Compositions,
    PlanChanges,
    expire_posts,
    open_release_ids,
    plan_posts,
    stale_release_ids,
)
from dissem.worker.records import RecordChanges, record_config


@dataclass
class SyncResult:
    config: LoadedConfig
    changes: RecordChanges
    plan: PlanChanges

    @property
    def problems(self) -> list[ConfigProblem]:
        return self.config.problems

    @property
    def changed(self) -> bool:
        return self.changes.changed or self.plan.changed


def sync(
    session_factory: sessionmaker[Session],
    settings: Settings,
    now: datetime,
    *,
    config: LoadedConfig | None = None,
    server_limits: Callable[[Channel], Channel] | None = None,
) -> SyncResult:
    """Loads ``settings.config_dir`` (unless ``config`` is given) and records and plans it.

    Broken files are reported in ``result.problems`` and leave their releases untouched.
    Only releases that are new, edited, evergreen, not yet (fully) planned, or with posts on
    a changed, added or removed channel are re-planned.

    ``server_limits`` (the worker passes
    :func:`dissem.platforms.mastodon.with_server_limits`) gives each enabled channel the
    limits its server states where the config sets none; it is called for every enabled
    channel before the transaction (it may read the network; it must not raise), and
    releases are composed for what it returns. Without it, channels compose as configured.
    """
    if config is None:
        config = load_config(settings.config_dir, timezone=settings.timezone)
    if not config.root.is_dir():
        # A wrong DISSEM_CONFIG_DIR or a checkout half done is a mistake to report (it is in
        # the problems), never the deletion of every release.
        with transaction(session_factory) as session:
            plan = PlanChanges(expired=expire_posts(session, now))
        return SyncResult(config=config, changes=RecordChanges(), plan=plan)
    composing: dict[str, Channel] = {}
    if server_limits is not None:
        composing = {
            name: server_limits(channel)
            for name, channel in config.channels.items()
            if channel.enabled
        }
    compositions = Compositions(now, lambda channel: composing.get(channel.name, channel))
    compositions.missing.update(_new_releases_targets(session_factory, config))
    compositions.make()  # the pass then normally finds all it needs: recorded once
    while True:
        try:
            with transaction(session_factory) as session:
                changes, plan = _record_and_plan(session, config, settings, now, compositions)
                if compositions.missing:
                    raise _Compose
        except _Compose:
            # The pass was rolled back: no transaction is open while composing. Each round
            # makes at least one new composition, so this ends (normally after one round).
            compositions.make()
            continue
        return SyncResult(config=config, changes=changes, plan=plan)


def _new_releases_targets(
    session_factory: sessionmaker[Session], config: LoadedConfig
) -> dict[tuple[str, str], tuple[Release, Channel]]:
    """The approved releases not stored yet, for each of their enabled targets: what the
    pass will ask to compose. Made before it, with no transaction open, the pass does not
    have to be rolled back and run again (recording a config of 10,000 channels twice).
    Only a guess: anything else the pass needs still goes through the second pass."""
    approved = [
        lr.release
        for lr in config.releases
        if lr.release.status == "approved" and lr.release.approved_by
    ]
    if not approved:
        return {}
    with session_factory() as session:
        stored = set(session.scalars(select(ReleaseRow.id)))
    todo: dict[tuple[str, str], tuple[Release, Channel]] = {}
    for rel in approved:
        if rel.id in stored:
            continue
        for name in config.targets_of(rel):
            channel = config.channels[name]
            if channel.enabled:
                todo[(rel.id, name)] = (rel, channel)
    return todo


class _Compose(Exception):
    """Rolls back a planning pass that lacked compositions (see :func:`sync`)."""


def _record_and_plan(
    session: Session,
    config: LoadedConfig,
    settings: Settings,
    now: datetime,
    compositions: Compositions,
) -> tuple[RecordChanges, PlanChanges]:
    """One pass in one transaction: the config recorded, the releases it touched planned."""
    if config.releases_unreadable:  # never "no releases": keep every stored one as is
        config.broken_release_ids |= set(session.scalars(select(ReleaseRow.id)))
    # feed items' releases live in the database: planned with the files', never "deleted"
    config = with_feed_releases(session, config)
    changes = record_config(session, config, now)
    touched = set(changes.releases_added) | set(changes.releases_changed)
    touched |= set(changes.releases_deleted)
    touched |= stale_release_ids(session)
    touched |= {lr.release.id for lr in config.releases if lr.release.priority == "evergreen"}
    if changes.channels_removed:  # their open posts are cancelled
        touched |= open_release_ids(session, set(changes.channels_removed))
    changed_channels = set(changes.channels_changed) | set(changes.channels_added)
    if changed_channels:
        touched |= {
            lr.release.id
            for lr in config.releases
            if changed_channels & set(config.targets_of(lr.release))
        }
    plan = plan_posts(
        session,
        config,
        settings,
        now,
        releases=touched,
        channels_changed=set(changes.channels_changed),
        compositions=compositions,
    )
    return changes, plan
