"""Every Cypher statement the Neo4j store runs, as named constants and templates.

Values always travel as parameters. Labels and relationship types cannot be parameters, so the
templates take them through `%(label)s`/`%(rel)s`/`%(types)s` slots that only `for_label`,
`for_rel` and `for_rels` fill, and only from the `Label`/`Rel` enums (a whitelist). `%`-style
slots are used because Cypher maps already use braces.

Every node pattern carries `{tenant: $tenant}`, on both ends of a relationship.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

from maestro_graph.domain.graph import Label, Rel
from maestro_graph.types import Direction

_IDENTIFIER = re.compile(r"\A[A-Za-z][A-Za-z0-9_]*\Z")
assert all(_IDENTIFIER.match(x.value) for x in (*Label, *Rel)), "labels and types must be plain identifiers"

# (left, right) arrow pieces around a relationship, seen from the start node `s`.
_ARROWS = {Direction.OUT: ("-", "->"), Direction.IN: ("<-", "-")}


def for_label(template: str, label: Label) -> str:
    if not isinstance(label, Label):
        raise TypeError(f"not a Label: {label!r}")
    return template % {"label": label.value}


def for_rel(template: str, rel: Rel) -> str:
    if not isinstance(rel, Rel):
        raise TypeError(f"not a Rel: {rel!r}")
    return template % {"rel": rel.value}


def for_rels(template: str, rels: Iterable[Rel], direction: Direction) -> str:
    rels = list(rels)
    if not rels or not all(isinstance(r, Rel) for r in rels):
        raise TypeError(f"not a non-empty list of Rel: {rels!r}")
    left, right = _ARROWS[Direction(direction)]
    return template % {"types": "|".join(r.value for r in rels), "left": left, "right": right}


PING = "RETURN 1 AS ok"

# -- node reads: the (tenant, id) constraint on :Node and (tenant, key) per label are the indexes --
# Bulk reads return ONE record holding a list: the async driver spends several event-loop turns
# per record, so 500 rows as 500 records cost ~10x more than as one (measured: 480 neighbours, 86 ms -> 26 ms).
GET_NODES = """
UNWIND $ids AS id
MATCH (n:Node {tenant: $tenant, id: id})
RETURN collect(properties(n)) AS rows
"""

GET_BY_KEYS = """
UNWIND $keys AS key
MATCH (n:%(label)s {tenant: $tenant, key: key})
RETURN properties(n) AS props
"""

# `n.id IS NOT NULL` (always true) lets the planner seek the composite (tenant, id) index.
COUNT_BY_LABEL = """
MATCH (n:Node {tenant: $tenant})
WHERE n.id IS NOT NULL
RETURN n.label AS label, count(*) AS total
"""

# find_nodes: FIND_MATCH + the filters in use, joined by AND, then FIND_PAGE or FIND_COUNT.
# `n._name IS NOT NULL` (always true) lets the planner seek (tenant, _name) and read it in order.
FIND_MATCH = """
MATCH (n:%(label)s)
WHERE n.tenant = $tenant AND n._name IS NOT NULL
"""
# CONTAINS: a plain substring, no wildcards. `_fold` is domain.props.search_text (the folded name,
# and a dataset's aliases' names); a node written before
# it was kept has none until it is written again, and is compared lower-cased meanwhile.
FIND_TEXT = "coalesce(n._fold, toLower(n._name)) CONTAINS $text"
FIND_KINDS = "n._kind IN $kinds"
FIND_TAGS = "all(tag IN $tags WHERE tag IN n._tags)"
FIND_MIN_SCORE = "n._score >= $min_score"
# Keyset: (name, id) > (after_name, after_id), written so the name part is an index range.
FIND_AFTER = "n._name >= $after_name AND (n._name > $after_name OR n.id > $after_id)"
FIND_PAGE = """
RETURN properties(n) AS props
ORDER BY n._name, n.id
LIMIT $limit
"""
FIND_COUNT = "RETURN count(n) AS total"

# -- relationship reads --------------------------------------------------------------------------
NEIGHBOURS = """
UNWIND $ids AS id
MATCH (s:Node {tenant: $tenant, id: id})%(left)s[r:%(types)s]%(right)s(o:Node {tenant: $tenant})
WITH id, r, o ORDER BY o._name, o.id
RETURN collect([id, properties(r), properties(o)]) AS rows
"""

# neighbour_pages: per start id, its total and its page, cut and sorted in the server by the
# other node's (_name, id); a subquery per start id, so LIMIT cuts each start's page. $labels is
# null for every label; $after_name null for the first page. One record holding every page.
NEIGHBOUR_PAGES = """
UNWIND $ids AS id
CALL (id) {
  MATCH (:Node {tenant: $tenant, id: id})%(left)s[r:%(types)s]%(right)s(o:Node {tenant: $tenant})
  WHERE $labels IS NULL OR o.label IN $labels
  RETURN count(r) AS total
}
CALL (id) {
  MATCH (:Node {tenant: $tenant, id: id})%(left)s[r:%(types)s]%(right)s(o:Node {tenant: $tenant})
  WHERE ($labels IS NULL OR o.label IN $labels)
    AND ($after_name IS NULL OR o._name > $after_name OR (o._name = $after_name AND o.id > $after_id))
  WITH r, o ORDER BY o._name, o.id LIMIT $limit
  RETURN collect([properties(r), properties(o)]) AS rows
}
RETURN collect([id, total, rows]) AS rows
"""

EXPAND = """
UNWIND $ids AS id
MATCH (s:Node {tenant: $tenant, id: id})%(left)s[r:%(types)s]%(right)s(o:Node {tenant: $tenant})
RETURN collect([type(r), startNode(r).id, endNode(r).id, CASE WHEN $with_props THEN properties(r) END]) AS rows
"""

# A whole breadth-first walk in one statement: the server's pruning BFS (VarLengthExpand(Pruning,BFS))
# finds every node within `depth` steps, then every relationship leaving the starts and those nodes
# comes back in one list, and the store replays domain.walk.bfs over it (same parents, same order as
# every backend). `found` is cut at $limit: a cut list cannot be replayed exactly, so the store then
# walks step by step. The depth is an int the store formats in (a var-length bound cannot be a parameter).
WALK = """
CALL () {
  UNWIND $starts AS sid
  MATCH (s:Node {tenant: $tenant, id: sid})%(left)s[:%(types)s*1..%%(depth)s]%(right)s(f)
  RETURN DISTINCT f LIMIT $limit
}
WITH collect(f) AS found
CALL () {
  UNWIND $starts AS sid
  MATCH (s:Node {tenant: $tenant, id: sid})
  RETURN collect(s) AS begun
}
CALL (found, begun) {
  UNWIND found + begun AS y
  WITH DISTINCT y AS x
  MATCH (x)%(left)s[r:%(types)s]%(right)s(o:Node {tenant: $tenant})
  RETURN collect([type(r), startNode(r).id, endNode(r).id, CASE WHEN $with_props THEN properties(r) END]) AS rows
}
RETURN rows, size(found) AS found
"""

# -- writes (inside apply's one transaction) -----------------------------------------------------
# Reads the nodes and write-locks them until commit (Neo4j reads take no locks; a write does),
# so a concurrent apply cannot patch the same node between our read and our write.
LOCK_NODES = """
UNWIND $ids AS id
MATCH (n:Node {tenant: $tenant, id: id})
SET n._lock = true
REMOVE n._lock
RETURN properties(n) AS props
"""

NODE_LABELS = """
UNWIND $ids AS id
MATCH (n:Node {tenant: $tenant, id: id})
RETURN n.id AS id, n.label AS label
"""

TAKEN_KEYS = """
UNWIND $keys AS key
MATCH (n:%(label)s {tenant: $tenant, key: key})
RETURN n.key AS key, n.id AS id
"""

# Rows carry every property (system, index copies, domain), built by codec.node_properties.
CREATE_NODES = """
UNWIND $rows AS row
CREATE (n:Node:%(label)s)
SET n = row
"""

# `SET n = row` replaces every property: a prop gone from the row (None in a patch, or a
# value that moved between native and `__json` form) is removed with it.
REWRITE_NODES = """
UNWIND $rows AS row
MATCH (n:Node {tenant: $tenant, id: row.id})
SET n = row
"""

DELETE_NODES = """
UNWIND $ids AS id
MATCH (n:Node {tenant: $tenant, id: id})
DETACH DELETE n
"""

# One relationship per (type, src, dst). A new one gets row.props; an existing one is rewritten
# only if its domain props differ, so relinking with the same props writes nothing.
LINK = """
UNWIND $rows AS row
MATCH (s:Node {tenant: $tenant, id: row.src})
MATCH (d:Node {tenant: $tenant, id: row.dst})
MERGE (s)-[r:%(rel)s]->(d)
ON CREATE SET r = row.props, r.tenant = $tenant, r.created_at = $stamp, r.updated_at = $stamp
WITH r, row, r.created_at AS created_at
WHERE any(k IN keys(r) + keys(row.props)
          WHERE NOT k IN $system AND NOT coalesce(r[k] = row.props[k], false))
SET r = row.props
SET r += {tenant: $tenant, created_at: created_at, updated_at: $stamp}
"""

UNLINK = """
UNWIND $pairs AS pair
MATCH (:Node {tenant: $tenant, id: pair.src})-[r:%(rel)s]->(:Node {tenant: $tenant, id: pair.dst})
DELETE r
"""

# Read before every impact analysis: 0 for a tenant whose topology never changed.
TOPOLOGY_VERSION = "MATCH (v:_MaestroTopology {tenant: $tenant}) RETURN v.version AS version"

BUMP_TOPOLOGY = """
MERGE (v:_MaestroTopology {tenant: $tenant})
SET v.version = coalesce(v.version, 0) + 1
RETURN v.version AS version
"""

# A keyset page of (id, label, name) in id order. Ordered by the whole (tenant, id) index key,
# the index gives the order; by id alone the planner sorted every page: 1.41M nodes in 10 s, not 52.
SCAN_NODES = """
MATCH (n:Node {tenant: $tenant})
WHERE n.id > $after AND n.label IN $labels
WITH n ORDER BY n.tenant, n.id LIMIT $limit
RETURN collect([n.id, n.label, n._name]) AS rows
"""

# scan_node_props: a keyset page of whole nodes in id order, as SCAN_NODES reads (id, label, name).
SCAN_NODE_PROPS = """
MATCH (n:Node {tenant: $tenant})
WHERE n.id > $after AND n.label IN $labels
WITH n ORDER BY n.tenant, n.id LIMIT $limit
RETURN collect(properties(n)) AS rows
"""

# scan_edges (store.py: _edge_lists says when each is used). Every query returns its rows as one
# list: the driver takes ~100 us a record when they stream one by one. The type is formatted in.
# How many relationships of a type the database holds, every tenant's: read off the count store.
SCAN_EDGES_COUNT = """
MATCH ()-[r:%(type)s]->()
RETURN count(r) AS n
"""

# A type with few relationships: read them by type, not by visiting the tenant's nodes.
SCAN_EDGES_OF_TYPE = """
MATCH (s:Node)-[r:%(type)s]->(o:Node)
WHERE s.tenant = $tenant AND o.tenant = $tenant
RETURN collect([s.id, o.id, CASE WHEN $with_props THEN properties(r) END]) AS rows
"""

# The relationships of one type leaving the tenant's nodes with ids in [low, high), as one list;
# SCAN_EDGES_BOUND finds `high`: the id $nodes nodes on from `low`, read off the (tenant, id) index.
SCAN_EDGES = """
MATCH (s:Node {tenant: $tenant})
WHERE s.id >= $low AND ($high IS NULL OR s.id < $high)
MATCH (s)-[r:%(type)s]->(o:Node {tenant: $tenant})
RETURN collect([s.id, o.id, CASE WHEN $with_props THEN properties(r) END]) AS rows
"""

SCAN_EDGES_BOUND = """
MATCH (s:Node)
WHERE s.tenant = $tenant AND s.id > $low
WITH s.id AS id ORDER BY s.tenant, id
SKIP $nodes LIMIT 1
RETURN id
"""  # ordered by the whole index key, the index gives the order: 0.1 s (by id alone: a sort, 0.5 s)

# -- migrations ----------------------------------------------------------------------------------
RECORDED_MIGRATIONS = "MATCH (m:_MaestroMigration) RETURN m.version AS version"

# MERGE (with the version's uniqueness constraint) so two migrating processes record a version
# once; `created` tells this call whether it was the one that did.
RECORD_MIGRATION = """
MERGE (m:_MaestroMigration {version: $version})
ON CREATE SET m.applied_at = $applied_at
RETURN m.applied_at = $applied_at AS created
"""

AWAIT_INDEXES = "CALL db.awaitIndexes($seconds)"

# -- audit log: (:_AuditEntry) nodes, never :Node, so no graph read can reach them --
WRITE_AUDIT = """
UNWIND $rows AS row
CREATE (a:_AuditEntry)
SET a = row, a.tenant = $tenant
"""

# AUDIT_MATCH + the filters in use (AND-joined), then AUDIT_PAGE or AUDIT_COUNT.
AUDIT_MATCH = """
MATCH (a:_AuditEntry {tenant: $tenant})
WHERE a.at IS NOT NULL
"""
AUDIT_ACTOR = "a.actor = $actor"
AUDIT_OPERATION = "a.operation = $operation"
AUDIT_OUTCOME = "a.outcome = $outcome"
AUDIT_SINCE = "a.at >= $since"
AUDIT_UNTIL = "a.at < $until"
AUDIT_AFTER = "(a.at < $after_at OR (a.at = $after_at AND a.id < $after_id))"
AUDIT_PAGE = """
RETURN a {.id, .at, .actor, .operation, .ids, .outcome} AS row
ORDER BY a.at DESC, a.id DESC
LIMIT $limit
"""
AUDIT_COUNT = "RETURN count(a) AS total"

# The change feed (migrations/neo4j 0004, docs/change-feed.md). The head's SET write-locks it
# until commit: the tenant's next writer takes seq + 1 only after this one committed.
BUMP_FEED_HEAD = """
MERGE (h:_FeedHead {tenant: $tenant})
SET h.seq = coalesce(h.seq, 0) + 1
RETURN h.seq AS seq
"""

# `entry` is the JSON text; a big one (bulk ingestion's) is `entry_z` instead: the same JSON,
# zlib-compressed, a third of the transaction memory (store.py: _FEED_TEXT_MAX).
APPEND_FEED = "CREATE (:_FeedEntry {tenant: $tenant, seq: $seq, at: $at, entry: $entry})"
APPEND_FEED_Z = "CREATE (:_FeedEntry {tenant: $tenant, seq: $seq, at: $at, entry_z: $entry})"

FEED_SINCE = """
MATCH (f:_FeedEntry {tenant: $tenant}) WHERE f.seq > $after
RETURN f.entry AS entry, f.entry_z AS entry_z ORDER BY f.seq LIMIT $limit
"""

FEED_HEAD = "MATCH (h:_FeedHead {tenant: $tenant}) RETURN h.seq AS seq"
FEED_HEADS = "MATCH (h:_FeedHead) RETURN h.tenant AS tenant, h.seq AS seq"

# One batch of trimming, oldest first; $before / $upto null: no such bound.
TRIM_FEED = """
MATCH (f:_FeedEntry {tenant: $tenant}) WHERE f.seq > 0
  AND (($before IS NOT NULL AND f.at < $before) OR ($upto IS NOT NULL AND f.seq <= $upto))
WITH f ORDER BY f.seq LIMIT $batch
DELETE f
RETURN count(*) AS deleted
"""

# -- leases (migrations/neo4j 0005): (:_MaestroLease {name, holder, expires_at}), not per tenant --
# Take or renew, two statements in one transaction. The first MERGEs the lease (the name's
# uniqueness constraint makes concurrent MERGEs of a new name create one node) and write-locks it
# until commit, whoever holds it; the second, reading it under that lock, rewrites it only if the
# taker holds it or its time ran out, and returns a row only then. Time: the server's clock,
# seconds since the epoch.
LOCK_LEASE = """
MERGE (l:_MaestroLease {name: $name})
ON CREATE SET l.holder = $holder, l.expires_at = 0.0
SET l._lock = true
REMOVE l._lock
"""

TAKE_LEASE = """
MATCH (l:_MaestroLease {name: $name})
WITH l, timestamp() / 1000.0 AS now
WHERE l.holder = $holder OR l.expires_at <= now
SET l.holder = $holder, l.expires_at = now + $seconds
RETURN l.holder AS holder
"""

RELEASE_LEASE = """
MATCH (l:_MaestroLease {name: $name})
WHERE l.holder = $holder
DELETE l
"""

# -- blobs (migrations/neo4j 0006): (:_MaestroBlob {tenant, name, version, data, updated_at}) --
# MERGE (with the (tenant, name) uniqueness constraint) creates one node for concurrent first
# puts; `SET b.version = b.version + 1` reads the version under the write lock it takes, so
# concurrent puts get versions one after the other (as BUMP_FEED_HEAD's seq).
PUT_BLOB = """
MERGE (b:_MaestroBlob {tenant: $tenant, name: $name})
SET b.version = coalesce(b.version, 0) + 1, b.data = $data, b.updated_at = $at
RETURN b.version AS version
"""

GET_BLOB = "MATCH (b:_MaestroBlob {tenant: $tenant, name: $name}) RETURN b.version AS version, b.data AS data"

BLOB_VERSION = "MATCH (b:_MaestroBlob {tenant: $tenant, name: $name}) RETURN b.version AS version"
