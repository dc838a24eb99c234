"""index posts (channel, state, due_at) for claiming

Revision ID: 0002
Revises: 0001

Additive: claiming asks, per channel, for the earliest due scheduled post; with this index
that is one index probe instead of a scan of the channel's whole queue.
"""

from __future__ import annotations

from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("posts", schema=None) as batch_op:
        batch_op.create_index(
            "ix_posts_channel_state_due", ["channel", "state", "due_at"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("posts", schema=None) as batch_op:
        batch_op.drop_index("ix_posts_channel_state_due")
