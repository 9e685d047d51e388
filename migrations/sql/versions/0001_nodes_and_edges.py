"""nodes and edges: the property graph in two tables

Revision ID: 0001
Revises:
Create Date: 2026-11-23
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import JSONB

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

SortText = sa.String(300).with_variant(sa.String(300, collation="C"), "postgresql")
Json = sa.JSON().with_variant(JSONB(), "postgresql")


def upgrade() -> None:
    op.create_table(
        "nodes",
        sa.Column("tenant", sa.String(64), nullable=False),
        sa.Column("id", sa.String(36), nullable=False),
        sa.Column("label", sa.String(32), nullable=False),
        sa.Column("key", sa.Text, nullable=False),
        sa.Column("name", SortText, nullable=False),
        sa.Column("kind", sa.String(100)),
        sa.Column("score", sa.Float),
        sa.Column("tags", sa.Text, nullable=False),
        sa.Column("props", Json, nullable=False),
        sa.Column("created_at", sa.String(32), nullable=False),
        sa.Column("updated_at", sa.String(32), nullable=False),
        sa.PrimaryKeyConstraint("tenant", "id", name="pk_nodes"),
        sa.UniqueConstraint("tenant", "label", "key", name="uq_nodes_natural_key"),
    )
    op.create_index("ix_nodes_listing", "nodes", ["tenant", "label", "name", "id"])
    op.create_index("ix_nodes_kind", "nodes", ["tenant", "label", "kind"])
    op.create_table(
        "edges",
        sa.Column("tenant", sa.String(64), nullable=False),
        sa.Column("rel", sa.String(32), nullable=False),
        sa.Column("src", sa.String(36), nullable=False),
        sa.Column("dst", sa.String(36), nullable=False),
        sa.Column("props", Json, nullable=False),
        sa.Column("created_at", sa.String(32), nullable=False),
        sa.Column("updated_at", sa.String(32), nullable=False),
        sa.PrimaryKeyConstraint("tenant", "rel", "src", "dst", name="pk_edges"),
    )
    op.create_index("ix_edges_incoming", "edges", ["tenant", "rel", "dst", "src"])


def downgrade() -> None:
    op.drop_table("edges")
    op.drop_table("nodes")
