"""audit_log: who changed what, when, with what outcome (written in the change's transaction)

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-23
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import JSONB

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

Json = sa.JSON().with_variant(JSONB(), "postgresql")


def upgrade() -> None:
    op.create_table(
        "audit_log",
        sa.Column("tenant", sa.String(64), nullable=False),
        sa.Column("id", sa.String(36), nullable=False),
        sa.Column("at", sa.String(32), nullable=False),
        sa.Column("actor", sa.String(256), nullable=False),
        sa.Column("operation", sa.String(100), nullable=False),
        sa.Column("ids", Json, nullable=False),
        sa.Column("outcome", sa.String(32), nullable=False),
        sa.PrimaryKeyConstraint("tenant", "id", name="pk_audit_log"),
    )
    op.create_index("ix_audit_log_at", "audit_log", ["tenant", "at", "id"])


def downgrade() -> None:
    op.drop_table("audit_log")
