"""nodes.name_fold: the casefolded name that name filters compare against

Name filters fold case for every script, on every backend (SQLite's and PostgreSQL's lower()
fold ASCII only under the byte-order collation listings sort by). The value is
maestro_graph.domain.text.fold(name), computed in Python; existing rows are filled here.

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-07
"""

import unicodedata

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None

BATCH = 10_000


def _fold(text: str) -> str:
    # domain.text.fold as of this revision (a migration must not change when the code does)
    if text.isascii():
        return text.lower()
    return unicodedata.normalize("NFKC", unicodedata.normalize("NFKC", text).casefold())


def upgrade() -> None:
    op.add_column("nodes", sa.Column("name_fold", sa.Text))
    conn = op.get_bind()
    nodes = sa.table("nodes", sa.column("tenant"), sa.column("id"), sa.column("name"), sa.column("name_fold"))
    fill = (nodes.update().where(nodes.c.tenant == sa.bindparam("t"), nodes.c.id == sa.bindparam("i"))
            .values(name_fold=sa.bindparam("f")))
    after = ("", "")
    while rows := conn.execute(sa.select(nodes.c.tenant, nodes.c.id, nodes.c.name)
                               .where(sa.tuple_(nodes.c.tenant, nodes.c.id) > sa.tuple_(*after))
                               .order_by(nodes.c.tenant, nodes.c.id).limit(BATCH)).all():
        conn.execute(fill, [{"t": t, "i": i, "f": _fold(name)} for t, i, name in rows])
        after = rows[-1][0], rows[-1][1]


def downgrade() -> None:
    with op.batch_alter_table("nodes") as batch:
        batch.drop_column("name_fold")
