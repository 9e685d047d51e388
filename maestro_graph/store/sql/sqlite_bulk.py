"""SQLite's fast paths: statements sent straight to the sqlite3 driver where SQLAlchemy Core's
would cost the same work many times over. Each does what a Core statement of the PostgreSQL
dialect does (dialects.py); the contract suite runs both.

Writes go as multi-row INSERT ... VALUES statements of up to MAX_ROWS rows (insert): one
statement step, so the driver gives the GIL back once per thousand rows. With executemany the
driver takes the GIL back after every row, and a thread translating the next events meanwhile
holds it, so a large insert crawls beside a busy thread. Rows unpacked from one JSON array by
json_each take one step too, but SQLite parses each row's JSON once per column: bound values
are cheaper.

Reads take their ids as one JSON array (json_each), so the statement text is the same whatever
the number of ids and the driver's prepared statement is reused (an IN list of a new length is
a new statement to compile, every step of every walk); they return all rows as one JSON value:
one statement step and no per-row result objects.
"""

from __future__ import annotations

import functools
import sqlite3
from collections.abc import Iterable, Sequence
from typing import Any

import orjson
from sqlalchemy import Connection

from maestro_graph.domain.graph import Edge, Label, Node, Rel
from maestro_graph.domain.clock import now
from maestro_graph.store.sql.tables import NODE_ROW, json_text, node_row, to_node
from maestro_graph.types import Direction, NodeId, Tenant

INSERT_NODES = f"INSERT INTO nodes ({', '.join(NODE_ROW)}) VALUES %s"
UPSERT_EDGES = (
    "INSERT INTO edges (tenant, rel, src, dst, props, created_at, updated_at) VALUES %s "
    "ON CONFLICT (tenant, rel, src, dst) DO UPDATE SET props = excluded.props, updated_at = excluded.updated_at "
    "WHERE edges.props != excluded.props"  # same props again: a replay writes nothing
)
MAX_ROWS = 1024

# json(props) nests the stored props as JSON, so one parse reads them all.
_NODES_AS_JSON = ("SELECT json_group_array(json_array(id, label, key, json(props), created_at, updated_at)) "
                  "FROM nodes WHERE tenant = ? AND ")
GET_NODES = _NODES_AS_JSON + "id IN (SELECT value FROM json_each(?))"
GET_BY_KEYS = _NODES_AS_JSON + "label = ? AND key IN (SELECT value FROM json_each(?))"
SCAN_EDGES = "SELECT src, dst, %s FROM edges WHERE tenant = ? AND rel = ?"  # the primary key covers it
SCAN_NODES = "SELECT id, label, name FROM nodes WHERE tenant = ? AND label IN (%s)"  # ix_nodes_listing covers it


def insert_nodes(conn: Connection, tenant: Tenant, new: Sequence[Node]) -> None:
    insert(conn, INSERT_NODES, [node_row(n, tenant, dump=True) for n in new])


def upsert_edges(conn: Connection, tenant: Tenant, links: Sequence[Edge]) -> int:
    """Insert new relationships, rewrite those whose props differ; how many were written."""
    stamp = now()
    return insert(conn, UPSERT_EDGES, [(tenant, e.rel._value_, e.src, e.dst, json_text(e.props), stamp, stamp) for e in links])


def insert(conn: Connection, statement: str, rows: Sequence[tuple[Any, ...]]) -> int:
    """Run `statement` (its VALUES list left as %s) over rows; return how many rows it inserted
    or changed. Statements hold a power of two of rows, at most MAX_ROWS: a prepared statement
    takes about 1 KB a row, and the driver caches the last 128 it ran, so a text for every row
    count would pin gigabytes where these few take a few megabytes."""
    width = len(rows[0])
    most = min(MAX_ROWS, conn.connection.driver_connection.getlimit(sqlite3.SQLITE_LIMIT_VARIABLE_NUMBER) // width)
    written, i = 0, 0
    while i < len(rows):
        n = 1 << (min(most, len(rows) - i).bit_length() - 1)  # the largest power of two that fits
        params = tuple(value for row in rows[i : i + n] for value in row)
        written += conn.exec_driver_sql(values_sql(statement, width, n), params).rowcount
        i += n
    return written


@functools.lru_cache(maxsize=64)
def values_sql(statement: str, width: int, rows: int) -> str:
    """`statement` with a VALUES list of `rows` rows of `width` placeholders.

    >>> values_sql("INSERT INTO t VALUES %s", 2, 2)
    'INSERT INTO t VALUES (?,?),(?,?)'
    """
    return statement % ",".join(["(" + ",".join("?" * width) + ")"] * rows)


def nodes_by_id(conn: Connection, tenant: Tenant, ids: Iterable[NodeId]) -> dict[NodeId, Node]:
    rows = orjson.loads(conn.exec_driver_sql(GET_NODES, (tenant, json_ids(ids))).scalar_one())
    return {r[0]: to_node(r) for r in rows}


def nodes_by_key(conn: Connection, tenant: Tenant, label: Label, keys: Iterable[str]) -> dict[str, Node]:
    rows = orjson.loads(conn.exec_driver_sql(GET_BY_KEYS, (tenant, label.value, json_ids(keys))).scalar_one())
    return {r[2]: to_node(r) for r in rows}


def expand(conn: Connection, tenant: Tenant, ids: Sequence[NodeId], rels: Sequence[Rel], direction: Direction,
           with_props: bool) -> list[Edge]:
    start = "src" if direction is Direction.OUT else "dst"
    sql = (f"SELECT rel, src, dst{', props' if with_props else ''} FROM edges "
           f"WHERE tenant = ? AND rel = ? AND {start} IN (SELECT value FROM json_each(?))")
    out: list[Edge] = []
    frontier = json_ids(ids)
    for rel in rels:
        rows = conn.exec_driver_sql(sql, (tenant, rel.value, frontier)).all()
        if with_props:
            out += [Edge(rel, s, d, orjson.loads(p)) for _, s, d, p in rows]
        else:
            out += [Edge(rel, s, d) for _, s, d in rows]
    return out


def json_ids(ids: Iterable[str]) -> str:
    """Ids (or keys), each once, as the one JSON-array parameter SQLite reads with json_each."""
    return orjson.dumps(list(dict.fromkeys(ids))).decode()
