"""drop ix_posts_channel_state, redundant beside ix_posts_channel_state_due

Revision ID: 0005
Revises: 0004

``ix_posts_channel_state`` (channel, state) is the prefix of ``ix_posts_channel_state_due``
(channel, state, due_at, migration 0002), which serves every lookup it served; keeping both
cost a second index write on every change of a post's state (9 MB at a million posts),
and made PostgreSQL pick the shorter one for the claim where it had to read a channel's
whole queue. The claim reads the head of ``ix_posts_state_due`` (state, due_at) and looks
channels up by their primary key: it needs no new index.
"""

from __future__ import annotations

from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("posts", schema=None) as batch_op:
        batch_op.drop_index("ix_posts_channel_state")


def downgrade() -> None:
    with op.batch_alter_table("posts", schema=None) as batch_op:
        batch_op.create_index("ix_posts_channel_state", ["channel", "state"], unique=False)
