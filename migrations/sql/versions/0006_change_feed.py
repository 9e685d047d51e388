"""change_feed and change_feed_heads: the per-tenant change feed (docs/change-feed.md)

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-07
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import JSONB

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "change_feed",
        sa.Column("tenant", sa.String(64), nullable=False),
        sa.Column("seq", sa.BigInteger, nullable=False),
        sa.Column("at", sa.String(32), nullable=False),
        sa.Column("entry", sa.JSON().with_variant(JSONB(), "postgresql"), nullable=False),
        sa.PrimaryKeyConstraint("tenant", "seq", name="pk_change_feed"),
    )
    op.create_table(
        "change_feed_heads",
        sa.Column("tenant", sa.String(64), nullable=False),
        sa.Column("seq", sa.BigInteger, nullable=False),
        sa.PrimaryKeyConstraint("tenant", name="pk_change_feed_heads"),
    )


def downgrade() -> None:
    op.drop_table("change_feed_heads")
    op.drop_table("change_feed")
