"""storage holds every value validation allows (PostgreSQL)

A natural key can be longer than a btree entry may be (2,704 bytes: a 1,000-character column
path of 4-byte characters is 4,000), so its uniqueness is held by an index on md5(key); lookups
by key go through that index too (store/sql/dialects.py: Postgres.keys_among). `kind` holds a Field's type,
which validation allows up to 200 characters. SQLite has neither limit: nothing changes there.

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-07
"""

from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    op.execute("ALTER TABLE nodes DROP CONSTRAINT uq_nodes_natural_key")
    op.execute("CREATE UNIQUE INDEX uq_nodes_natural_key ON nodes (tenant, label, md5(key))")
    op.execute("ALTER TABLE nodes ALTER COLUMN kind TYPE varchar(200)")


def downgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    op.execute("ALTER TABLE nodes ALTER COLUMN kind TYPE varchar(100)")
    op.execute("DROP INDEX uq_nodes_natural_key")
    op.execute("ALTER TABLE nodes ADD CONSTRAINT uq_nodes_natural_key UNIQUE (tenant, label, key)")
