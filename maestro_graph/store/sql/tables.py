"""The two tables of the SQL backend: one for nodes, one for relationships.

A property graph in two tables keeps every label on one code path; the columns listings
filter and sort by (name, kind, score, tags) are copied out of `props` so they can be indexed.
The DDL lives in migrations/sql (Alembic); this module is what queries are built from.
"""

from __future__ import annotations

from typing import Any

import orjson
from sqlalchemy import (JSON, BigInteger, Column, Float, Index, LargeBinary, MetaData, PrimaryKeyConstraint, String, Table, Text,
                        UniqueConstraint)
from sqlalchemy.dialects.postgresql import JSONB

from maestro_graph.domain.graph import LABEL_OF, Node
from maestro_graph.domain.props import index_values, search_text
from maestro_graph.types import Tenant

metadata = MetaData()

# Byte order ("C") on PostgreSQL so listings sort exactly as SQLite and Neo4j sort them.
SortText = String(300).with_variant(String(300, collation="C"), "postgresql")
Json = JSON().with_variant(JSONB(), "postgresql")

nodes = Table(
    "nodes",
    metadata,
    Column("tenant", String(64), nullable=False),
    Column("id", String(36), nullable=False),
    Column("label", String(32), nullable=False),
    Column("key", Text, nullable=False),
    Column("name", SortText, nullable=False),
    Column("kind", String(200)),  # a Field's type: up to 200 characters
    Column("score", Float),
    Column("tags", Text, nullable=False, default=""),  # ",a,b," so one LIKE finds a tag
    Column("props", Json, nullable=False),
    Column("created_at", String(32), nullable=False),
    Column("updated_at", String(32), nullable=False),
    Column("name_fold", Text),  # domain.props.search_text: the folded name (and aliases) name filters match (0005)
    PrimaryKeyConstraint("tenant", "id", name="pk_nodes"),
    # On PostgreSQL a unique index on (tenant, label, md5(key)) instead: a key can be longer
    # than a btree entry may be (migrations/sql 0004).
    UniqueConstraint("tenant", "label", "key", name="uq_nodes_natural_key"),
    Index("ix_nodes_listing", "tenant", "label", "name", "id"),
    Index("ix_nodes_kind", "tenant", "label", "kind"),
)

edges = Table(
    "edges",
    metadata,
    Column("tenant", String(64), nullable=False),
    Column("rel", String(32), nullable=False),
    Column("src", String(36), nullable=False),
    Column("dst", String(36), nullable=False),
    Column("props", Json, nullable=False),
    Column("created_at", String(32), nullable=False),
    Column("updated_at", String(32), nullable=False),
    PrimaryKeyConstraint("tenant", "rel", "src", "dst", name="pk_edges"),
    # Outgoing walks use the primary key, incoming ones this index; both lead with rel, so
    # deletes name every relationship type (rel IN ...) to use them too.
    Index("ix_edges_incoming", "tenant", "rel", "dst", "src"),
)

audit_log = Table(
    "audit_log",
    metadata,
    Column("tenant", String(64), nullable=False),
    Column("id", String(36), nullable=False),
    Column("at", String(32), nullable=False),
    Column("actor", String(256), nullable=False),
    Column("operation", String(100), nullable=False),
    Column("ids", Json, nullable=False),
    Column("outcome", String(32), nullable=False),
    PrimaryKeyConstraint("tenant", "id", name="pk_audit_log"),
    Index("ix_audit_log_at", "tenant", "at", "id"),  # newest-first pages, since/until
)

# One row per tenant whose topology (what impact analysis follows) ever changed: bumped in the
# transaction of the change, read before every impact analysis (services/topology_cache.py).
topology_versions = Table(
    "topology_versions",
    metadata,
    Column("tenant", String(64), nullable=False),
    Column("version", BigInteger, nullable=False),
    PrimaryKeyConstraint("tenant", name="pk_topology_versions"),
)

# A node's columns as every write builds them (node_row), and those reads select (to_node).
NODE_ROW = ("tenant", "id", "label", "key", "name", "kind", "score", "tags", "props", "created_at", "updated_at", "name_fold")
NODE_COLS = (nodes.c.id, nodes.c.label, nodes.c.key, nodes.c.props, nodes.c.created_at, nodes.c.updated_at)


def node_row(node: Node, tenant: Tenant, *, dump: bool = False) -> tuple[Any, ...]:
    """A node's column values in NODE_ROW order; props as JSON text when `dump` (SQLite's driver)."""
    name, kind, score, tags = index_values(node.label, node.props)
    return (tenant, node.id, node.label._value_, node.key, name, kind, score, "," + ",".join(tags) + "," if tags else "",
            json_text(node.props) if dump else node.props, node.created_at, node.updated_at, search_text(node.props, name))


def to_node(row: Any) -> Node:
    """A Node from a row in NODE_COLS order."""
    # Plain tuples: unpacking is several times faster than Row attributes.
    node_id, label, key, props, created_at, updated_at = row
    return Node(node_id, LABEL_OF[label], key, props, created_at, updated_at)


def json_text(value: Any) -> str:
    return orjson.dumps(value).decode()


# The change feed (docs/change-feed.md): one row per committed ChangeSet that changed the graph,
# appended in its transaction. `entry` is the documented JSON object (domain/feed.py); `at` is
# copied out of it for trimming by age.
change_feed = Table(
    "change_feed",
    metadata,
    Column("tenant", String(64), nullable=False),
    Column("seq", BigInteger, nullable=False),
    Column("at", String(32), nullable=False),
    Column("entry", Json, nullable=False),
    PrimaryKeyConstraint("tenant", "seq", name="pk_change_feed"),
)

# One row per tenant that ever had a feed entry: its last seq, bumped (and so locked until
# commit) by each appending transaction, so seqs come without gaps in commit order. Trimming
# deletes entries, never this row: seqs never repeat.
change_feed_heads = Table(
    "change_feed_heads",
    metadata,
    Column("tenant", String(64), nullable=False),
    Column("seq", BigInteger, nullable=False),
    PrimaryKeyConstraint("tenant", name="pk_change_feed_heads"),
)

# Leases (GraphStore.take_lease): one row per lease ever taken and not released, its holder and
# when its time runs out, in seconds since the epoch on the database's clock. Not per tenant.
leases = Table(
    "leases",
    metadata,
    Column("name", String(200), nullable=False),
    Column("holder", String(200), nullable=False),
    Column("expires_at", Float, nullable=False),
    PrimaryKeyConstraint("name", name="pk_leases"),
)

# Blobs (GraphStore.put_blob): one row per (tenant, name), its data and its version, which each put
# of the name bumps by one (migrations/sql 0008).
blobs = Table(
    "blobs",
    metadata,
    Column("tenant", String(64), nullable=False),
    Column("name", String(200), nullable=False),
    Column("version", BigInteger, nullable=False),
    Column("data", LargeBinary, nullable=False),
    Column("updated_at", String(32), nullable=False),
    PrimaryKeyConstraint("tenant", "name", name="pk_blobs"),
)
