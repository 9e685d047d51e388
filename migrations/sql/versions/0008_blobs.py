"""blobs: named binary values per tenant, versioned (GraphStore.put_blob)

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-15
"""

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "blobs",
        sa.Column("tenant", sa.String(64), nullable=False),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("version", sa.BigInteger, nullable=False),  # 1 for the first put, one more for each put after it
        sa.Column("data", sa.LargeBinary, nullable=False),  # BLOB on SQLite, bytea on PostgreSQL
        sa.Column("updated_at", sa.String(32), nullable=False),
        sa.PrimaryKeyConstraint("tenant", "name", name="pk_blobs"),
    )


def downgrade() -> None:
    op.drop_table("blobs")
