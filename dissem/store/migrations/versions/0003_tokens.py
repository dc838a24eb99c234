"""tokens: renewed tokens, encrypted, for restarts and other workers

Revision ID: 0003
Revises: 0002

Additive: one row per channel and renewed credential (a Threads long-lived token, an X
OAuth 2.0 token pair, a Bluesky session) holding the Fernet ciphertext, never the plain
value. Nothing reads it until DISSEM_TOKEN_KEY is set.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import dissem.store.models

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "tokens",
        sa.Column("channel", sa.String(length=64), nullable=False),
        sa.Column("name", sa.String(length=64), nullable=False),
        sa.Column("ciphertext", sa.Text(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("expires_at", dissem.store.models.UtcDateTime(), nullable=True),
        sa.Column("refreshed_at", dissem.store.models.UtcDateTime(), nullable=True),
        sa.Column("alerted_at", dissem.store.models.UtcDateTime(), nullable=True),
        sa.Column("updated_at", dissem.store.models.UtcDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("channel", "name"),
    )


def downgrade() -> None:
    op.drop_table("tokens")
