"""feeds: poll state, items with their identity keys, and every decision about them

Revision ID: 0004
Revises: 0003

Additive: ``feed_states`` (one row per feed of feeds.yaml: conditional-GET validators, next
poll, failures, counts), ``feed_items`` (a story read from a feed and the release it
became), ``feed_keys`` (its guid and canonical URLs: how a story is known across feeds and
restarts) and ``feed_events`` (each decision, counted by the weekly report).
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import dissem.store.models

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None

_Time = dissem.store.models.UtcDateTime


def upgrade() -> None:
    op.create_table(
        "feed_states",
        sa.Column("name", sa.String(length=64), nullable=False),
        sa.Column("url", sa.Text(), nullable=False),
        sa.Column("etag", sa.Text(), nullable=True),
        sa.Column("last_modified", sa.Text(), nullable=True),
        sa.Column("initialized", sa.Boolean(), nullable=False),
        sa.Column("last_poll_at", _Time(), nullable=True),
        sa.Column("next_poll_at", _Time(), nullable=True),
        sa.Column("last_status", sa.Integer(), nullable=True),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("failures", sa.Integer(), nullable=False),
        sa.Column("alerted_at", _Time(), nullable=True),
        sa.Column("hub", sa.Text(), nullable=True),
        sa.Column("items_seen", sa.Integer(), nullable=False),
        sa.Column("items_new", sa.Integer(), nullable=False),
        sa.Column("items_updated", sa.Integer(), nullable=False),
        sa.Column("items_held", sa.Integer(), nullable=False),
        sa.Column("errors", sa.Integer(), nullable=False),
        sa.Column("updated_at", _Time(), nullable=False),
        sa.PrimaryKeyConstraint("name"),
    )
    op.create_index("ix_feed_states_next_poll_at", "feed_states", ["next_poll_at"])
    op.create_table(
        "feed_items",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("feed", sa.String(length=64), nullable=False),
        sa.Column("guid", sa.Text(), nullable=False),
        sa.Column("url", sa.Text(), nullable=False),
        sa.Column("title", sa.Text(), nullable=False),
        sa.Column("content_hash", sa.String(length=64), nullable=False),
        sa.Column("decision", sa.String(length=32), nullable=False),
        sa.Column("release_id", sa.String(length=128), nullable=True),
        sa.Column("published_at", _Time(), nullable=True),
        sa.Column("first_seen_at", _Time(), nullable=False),
        sa.Column("last_seen_at", _Time(), nullable=False),
        sa.ForeignKeyConstraint(["release_id"], ["releases.id"]),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_feed_items_feed", "feed_items", ["feed"])
    op.create_table(
        "feed_keys",
        sa.Column("key", sa.String(length=512), nullable=False),
        sa.Column("item_id", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(["item_id"], ["feed_items.id"]),
        sa.PrimaryKeyConstraint("key"),
    )
    op.create_index("ix_feed_keys_item_id", "feed_keys", ["item_id"])
    op.create_table(
        "feed_events",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("feed", sa.String(length=64), nullable=False),
        sa.Column("guid", sa.Text(), nullable=False),
        sa.Column("decision", sa.String(length=32), nullable=False),
        sa.Column("release_id", sa.String(length=128), nullable=True),
        sa.Column("detail", sa.Text(), nullable=True),
        sa.Column("at", _Time(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_feed_events_feed_at", "feed_events", ["feed", "at"])
    op.create_index("ix_feed_events_at", "feed_events", ["at"])


def downgrade() -> None:
    op.drop_table("feed_events")
    op.drop_table("feed_keys")
    op.drop_table("feed_items")
    op.drop_table("feed_states")
