"""topology_versions: a number per tenant that changes with what impact analysis follows

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-23
"""

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "topology_versions",
        sa.Column("tenant", sa.String(64), nullable=False),
        sa.Column("version", sa.BigInteger, nullable=False),
        sa.PrimaryKeyConstraint("tenant", name="pk_topology_versions"),
    )


def downgrade() -> None:
    op.drop_table("topology_versions")
