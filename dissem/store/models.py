"""SQLAlchemy 2.0 typed models: what happened lives here, never in config files.

Times are stored as naive UTC (SQLite has no time zones) and come back as aware UTC through
:class:`UtcDateTime`.

A post's ``state`` is a :class:`~dissem.lifecycle.PostState` (re-exported here); it changes
only as the table in :mod:`dissem.lifecycle` allows (docs/lifecycle.md).
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.engine import Dialect
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column
from sqlalchemy.types import TypeDecorator

from dissem.lifecycle import PostState as PostState  # re-exported: every module imports it here
from dissem.traits import METRIC_NAMES


class UtcDateTime(TypeDecorator[datetime]):
    """Aware UTC datetimes in, aware UTC datetimes out; stored naive UTC."""

    impl = DateTime
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to the database; pass an aware datetime")
        return value.astimezone(UTC).replace(tzinfo=None)

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC)


class PostStateType(TypeDecorator[PostState]):
    """A :class:`~dissem.lifecycle.PostState` stored as its string (the values the column
    always held: no data migration), read back as the enum."""

    impl = String(16)
    cache_ok = True

    def process_bind_param(self, value: str | None, dialect: Dialect) -> str | None:
        # Plain strings pass as they are: expressions built on the column (``state || ''``)
        # bind values that are no state.
        return value.value if isinstance(value, PostState) else value

    def process_result_value(self, value: str | None, dialect: Dialect) -> PostState | None:
        return None if value is None else PostState(value)


class Base(DeclarativeBase):
    type_annotation_map = {datetime: UtcDateTime, dict[str, Any]: JSON}  # noqa: RUF012


class ChannelRow(Base):
    """A channel as last synced from channels.yaml, plus its run state (pauses)."""

    __tablename__ = "channels"

    name: Mapped[str] = mapped_column(String(64), primary_key=True)
    platform: Mapped[str] = mapped_column(String(16))
    account: Mapped[str] = mapped_column(String(255))
    timezone: Mapped[str] = mapped_column(String(64))
    enabled: Mapped[bool] = mapped_column(Boolean, default=True)
    config_hash: Mapped[str] = mapped_column(String(64))
    config: Mapped[dict[str, Any]] = mapped_column(JSON)
    removed: Mapped[bool] = mapped_column(Boolean, default=False)
    paused_until: Mapped[datetime | None] = mapped_column(default=None)
    pause_reason: Mapped[str | None] = mapped_column(Text, default=None)
    updated_at: Mapped[datetime]


class ReleaseRow(Base):
    """A release as last synced; ``revision`` grows with every content change."""

    __tablename__ = "releases"

    id: Mapped[str] = mapped_column(String(128), primary_key=True)
    title: Mapped[str] = mapped_column(Text)
    url: Mapped[str] = mapped_column(Text)
    language: Mapped[str] = mapped_column(String(16))
    status: Mapped[str] = mapped_column(String(16))
    priority: Mapped[str] = mapped_column(String(16))
    not_before: Mapped[datetime | None] = mapped_column(default=None)
    expires: Mapped[datetime | None] = mapped_column(default=None)
    source: Mapped[str] = mapped_column(Text)  # file path (or feed name)
    content_hash: Mapped[str] = mapped_column(String(64))
    revision: Mapped[int] = mapped_column(Integer, default=1)
    deleted: Mapped[bool] = mapped_column(Boolean, default=False)
    data: Mapped[dict[str, Any]] = mapped_column(JSON)
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]


class ReleaseRevision(Base):
    """Every content revision of a release, for audit."""

    __tablename__ = "release_revisions"
    __table_args__ = (UniqueConstraint("release_id", "revision"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    release_id: Mapped[str] = mapped_column(ForeignKey("releases.id"))
    revision: Mapped[int] = mapped_column(Integer)
    content_hash: Mapped[str] = mapped_column(String(64))
    status: Mapped[str] = mapped_column(String(16))
    data: Mapped[dict[str, Any]] = mapped_column(JSON)
    recorded_at: Mapped[datetime]


class Post(Base):
    """One part of one release on one channel (``seq`` counts evergreen re-shares)."""

    __tablename__ = "posts"
    __table_args__ = (
        UniqueConstraint("release_id", "channel", "seq", "part_index", name="uq_post_slot"),
        Index("ix_posts_state_due", "state", "due_at"),
        Index("ix_posts_channel_state_due", "channel", "state", "due_at"),  # (0002; 0005)
        Index("ix_posts_published_at", "published_at"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    release_id: Mapped[str] = mapped_column(ForeignKey("releases.id"))
    channel: Mapped[str] = mapped_column(ForeignKey("channels.name"))
    platform: Mapped[str] = mapped_column(String(16))
    seq: Mapped[int] = mapped_column(Integer, default=0)
    part_index: Mapped[int] = mapped_column(Integer, default=1)
    part_total: Mapped[int] = mapped_column(Integer, default=1)
    release_revision: Mapped[int] = mapped_column(Integer, default=1)
    state: Mapped[PostState] = mapped_column(PostStateType(), default=PostState.PENDING)
    text: Mapped[str] = mapped_column(Text)
    payload: Mapped[dict[str, Any]] = mapped_column(JSON)  # the Part, as JSON
    skip_reason: Mapped[str | None] = mapped_column(Text, default=None)
    idempotency_key: Mapped[str] = mapped_column(String(64), unique=True)
    planned_at: Mapped[datetime | None] = mapped_column(default=None)  # first due time
    due_at: Mapped[datetime | None] = mapped_column(default=None)
    lease_owner: Mapped[str | None] = mapped_column(String(128), default=None)
    lease_expires: Mapped[datetime | None] = mapped_column(default=None)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    remote_id: Mapped[str | None] = mapped_column(String(255), default=None)
    remote_url: Mapped[str | None] = mapped_column(Text, default=None)
    remote_data: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    publish_state: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)  # rkey, container
    published_at: Mapped[datetime | None] = mapped_column(default=None)
    last_error: Mapped[str | None] = mapped_column(Text, default=None)
    next_metrics_at: Mapped[datetime | None] = mapped_column(default=None, index=True)
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]


class Attempt(Base):
    """An audit row per publish try (and per reconcile decision)."""

    __tablename__ = "attempts"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    post_id: Mapped[int] = mapped_column(ForeignKey("posts.id"), index=True)
    worker: Mapped[str] = mapped_column(String(128))
    kind: Mapped[str] = mapped_column(String(16), default="publish")  # publish|reconcile|manual
    started_at: Mapped[datetime]
    finished_at: Mapped[datetime | None] = mapped_column(default=None)
    outcome: Mapped[str] = mapped_column(String(32))
    error: Mapped[str | None] = mapped_column(Text, default=None)
    http_status: Mapped[int | None] = mapped_column(Integer, default=None)


class MetricSnapshot(Base):
    """Engagement of one post at one moment. NULL means "not reported by the platform"."""

    __tablename__ = "metric_snapshots"
    __table_args__ = (Index("ix_metric_snapshots_post_taken", "post_id", "taken_at"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    post_id: Mapped[int] = mapped_column(ForeignKey("posts.id"))
    taken_at: Mapped[datetime] = mapped_column(index=True)
    likes: Mapped[int | None] = mapped_column(Integer, default=None)
    reposts: Mapped[int | None] = mapped_column(Integer, default=None)
    replies: Mapped[int | None] = mapped_column(Integer, default=None)
    quotes: Mapped[int | None] = mapped_column(Integer, default=None)
    bookmarks: Mapped[int | None] = mapped_column(Integer, default=None)
    shares: Mapped[int | None] = mapped_column(Integer, default=None)
    views: Mapped[int | None] = mapped_column(Integer, default=None)
    reach: Mapped[int | None] = mapped_column(Integer, default=None)
    link_clicks: Mapped[int | None] = mapped_column(Integer, default=None)
    raw: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)


class ReportRun(Base):
    """A weekly report that was generated (and whether it was delivered)."""

    __tablename__ = "report_runs"

    week: Mapped[str] = mapped_column(String(8), primary_key=True)  # 2026-W48
    generated_at: Mapped[datetime]
    files: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    delivered: Mapped[bool] = mapped_column(Boolean, default=False)
    delivery_error: Mapped[str | None] = mapped_column(Text, default=None)


class TokenRow(Base):
    """A token dissem renewed for a channel (a Threads long-lived token, an X OAuth 2.0 token
    pair, a Bluesky session), kept for restarts and other workers (0003). ``ciphertext`` is
    the Fernet-encrypted payload (the secrets and the fingerprint of the configured
    credentials they descend from); the plain value is never stored. ``version`` grows with
    every renewal; ``alerted_at`` is set when its near expiry was alerted (once per token).
    See :mod:`dissem.store.tokens`."""

    __tablename__ = "tokens"

    channel: Mapped[str] = mapped_column(String(64), primary_key=True)
    name: Mapped[str] = mapped_column(String(64), primary_key=True)  # the credential renewed
    ciphertext: Mapped[str] = mapped_column(Text)
    version: Mapped[int] = mapped_column(Integer, default=1)
    expires_at: Mapped[datetime | None] = mapped_column(default=None)
    refreshed_at: Mapped[datetime | None] = mapped_column(default=None)
    alerted_at: Mapped[datetime | None] = mapped_column(default=None)
    updated_at: Mapped[datetime]


class FeedState(Base):
    """Poll state of one feed of ``feeds.yaml`` (0004; :mod:`dissem.worker.feed_poll`): the
    validators for conditional GET, when it was and will be read, its failures (backoff and
    alerts) and running counts of what its items became."""

    __tablename__ = "feed_states"

    name: Mapped[str] = mapped_column(String(64), primary_key=True)
    url: Mapped[str] = mapped_column(Text)
    etag: Mapped[str | None] = mapped_column(Text, default=None)
    last_modified: Mapped[str | None] = mapped_column(Text, default=None)
    initialized: Mapped[bool] = mapped_column(Boolean, default=False)  # first run done
    last_poll_at: Mapped[datetime | None] = mapped_column(default=None)
    next_poll_at: Mapped[datetime | None] = mapped_column(default=None, index=True)
    last_status: Mapped[int | None] = mapped_column(Integer, default=None)
    last_error: Mapped[str | None] = mapped_column(Text, default=None)
    failures: Mapped[int] = mapped_column(Integer, default=0)  # in a row
    alerted_at: Mapped[datetime | None] = mapped_column(default=None)
    hub: Mapped[str | None] = mapped_column(Text, default=None)  # WebSub hub it advertises
    items_seen: Mapped[int] = mapped_column(Integer, default=0)
    items_new: Mapped[int] = mapped_column(Integer, default=0)
    items_updated: Mapped[int] = mapped_column(Integer, default=0)
    items_held: Mapped[int] = mapped_column(Integer, default=0)
    errors: Mapped[int] = mapped_column(Integer, default=0)
    updated_at: Mapped[datetime]


class FeedItem(Base):
    """One story read from a feed, known by every key in ``feed_keys``; ``release_id`` is
    the release it became (None: recorded as seen or held, never posted)."""

    __tablename__ = "feed_items"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    feed: Mapped[str] = mapped_column(String(64), index=True)
    guid: Mapped[str] = mapped_column(Text)
    url: Mapped[str] = mapped_column(Text)
    title: Mapped[str] = mapped_column(Text)
    content_hash: Mapped[str] = mapped_column(String(64))
    decision: Mapped[str] = mapped_column(String(32))  # new, seen, too_old, over_cap, ...
    release_id: Mapped[str | None] = mapped_column(ForeignKey("releases.id"), default=None)
    published_at: Mapped[datetime | None] = mapped_column(default=None)
    first_seen_at: Mapped[datetime]
    last_seen_at: Mapped[datetime]


class FeedKey(Base):
    """An identity of a story: ``guid:<folded guid>`` or ``url:<canonical URL>``."""

    __tablename__ = "feed_keys"

    key: Mapped[str] = mapped_column(String(512), primary_key=True)
    item_id: Mapped[int] = mapped_column(ForeignKey("feed_items.id"), index=True)


class FeedEvent(Base):
    """Every decision about a feed item (new, seen on first run, updated, duplicate, too
    old, over the cap, backfill), for ``dissem feeds items`` and the weekly report."""

    __tablename__ = "feed_events"
    __table_args__ = (Index("ix_feed_events_feed_at", "feed", "at"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    feed: Mapped[str] = mapped_column(String(64))
    guid: Mapped[str] = mapped_column(Text)
    decision: Mapped[str] = mapped_column(String(32))
    release_id: Mapped[str | None] = mapped_column(String(128), default=None)
    detail: Mapped[str | None] = mapped_column(Text, default=None)
    at: Mapped[datetime] = mapped_column(index=True)


#: One ``metric_snapshots`` column per normalised metric name, in the same order.
METRIC_COLUMNS: tuple[str, ...] = METRIC_NAMES
