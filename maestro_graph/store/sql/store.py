"""GraphStore on SQLAlchemy 2: SQLite embedded, PostgreSQL as a server. One ChangeSet, one transaction.

Every query is a plain synchronous function of a Connection, run in one piece:
  - SQLite: on a worker thread with the sqlite3 driver, so a whole store call (a full ChangeSet
    transaction, or a read) is ONE thread hop; an async driver would hop per cursor operation
    (dozens of hops per ChangeSet).
  - PostgreSQL: through asyncpg with AsyncConnection.run_sync.
Reads and writes go in batches: a call costs a fixed number of statements whatever the number
of ids (big id lists are chunked).
"""

from __future__ import annotations

import asyncio
import functools
import hashlib
import logging
import sqlite3

import orjson
from collections import defaultdict
from collections.abc import AsyncIterator, Callable, Iterable, Iterator, Mapping, Sequence
from collections.abc import Collection
from typing import Any, TypeVar

from sqlalchemy import ARRAY, Connection, Engine, String, and_, any_, bindparam, create_engine, delete, event, func, insert, null, select, text, tuple_, update
from sqlalchemy import or_, true
from sqlalchemy.exc import DBAPIError, IntegrityError, InterfaceError, OperationalError
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

from maestro_graph.domain import changes
from maestro_graph.domain.audit import AuditPage, AuditQuery, AuditRecord
from maestro_graph.domain.errors import Conflict, NotFound, StoreUnavailable
from maestro_graph.domain.graph import LABEL_OF, ChangeSet, Edge, Label, Neighbour, Node, NodeQuery, Page, Rel, check_endpoints
from maestro_graph.domain.graph import NeighbourPage
from maestro_graph.domain.impact import TOPOLOGY_RELS, renames
from maestro_graph.domain.clock import now
from maestro_graph.domain.props import index_values
from maestro_graph.domain.text import fold
from maestro_graph.domain.walk import Walk, bfs, drive
from maestro_graph.store.base import TopologyChange
from maestro_graph.store.sql.migrate import upgrade
from maestro_graph.store.sql.tables import audit_log, edges, nodes, topology_versions
from maestro_graph.store.versions import RecentVersions
from maestro_graph.types import Direction, NodeId, Props, Tenant
from maestro_graph.types import Cursor

log = logging.getLogger(__name__)
CHUNK = 5000  # ids per IN (...) list: under SQLite's and asyncpg's bound-parameter limits
T = TypeVar("T")


def chunks(items: Sequence[Any], size: int = CHUNK) -> Iterator[Sequence[Any]]:
    """Slices of at most `size` items.

    >>> list(chunks([1, 2, 3], 2))
    [[1, 2], [3]]
    """
    for i in range(0, len(items), size):
        yield items[i : i + size]


def _row(node: Node, tenant: Tenant, *, dump: bool = False) -> tuple[Any, ...]:
    """A node's column values in NODE_ROW order; props as JSON text when `dump` (SQLite's driver)."""
    name, kind, score, tags = index_values(node.label, node.props)
    return (tenant, node.id, node.label._value_, node.key, name, kind, score, "," + ",".join(tags) + "," if tags else "",
            _json_dumps(node.props) if dump else node.props, node.created_at, node.updated_at, fold(name))


def _split_search_path(url: str) -> tuple[str, str | None]:
    """A PostgreSQL URL may name the schema to keep the tables in (`?search_path=name`), so two
    deployments (or test runs) can share one database; asyncpg takes it as a server setting.

    >>> _split_search_path("postgresql+asyncpg://h/db?search_path=maestro")
    ('postgresql+asyncpg://h/db', 'maestro')
    """
    from sqlalchemy.engine import make_url

    if not url.startswith("postgres"):
        return url, None
    parsed = make_url(url)
    path = parsed.query.get("search_path")
    if path is None:
        return url, None
    return parsed.difference_update_query(["search_path"]).render_as_string(hide_password=False), str(path)


def _connection_lost(err: BaseException) -> bool:
    """Whether an error means the database could not be reached or the connection broke (the
    request may be retried), not that the request itself was wrong. SQLAlchemy wraps what the
    driver raised; a connection killed mid-request comes as asyncpg's ConnectionDoesNotExistError
    or AdminShutdownError (pg_terminate_backend), a server that is down as OSError."""
    import asyncpg.exceptions as pg

    seen: BaseException | None = err
    while seen is not None:
        if isinstance(seen, DBAPIError) and (seen.connection_invalidated or isinstance(seen, (OperationalError, InterfaceError))):
            return True
        if isinstance(seen, (OSError, TimeoutError, sqlite3.OperationalError, pg.PostgresConnectionError, pg.InterfaceError,
                             pg.OperatorInterventionError, pg.InsufficientResourcesError)):
            return True
        seen = seen.__cause__ or seen.__context__
    return False


def _unavailable(backend: str, err: BaseException) -> StoreUnavailable:
    """StoreUnavailable with a fixed sentence: the driver's own text (which may quote the statement
    and its parameters) goes to the log, never to a client."""
    log.warning("the %s store failed: %s: %s", backend, type(err).__name__, err)
    return StoreUnavailable(f"the {backend} store is unavailable right now; retry later")


def _node(row: Any) -> Node:
    # Rows are plain tuples in NODE_COLS order: unpacking is several times faster than Row attributes.
    node_id, label, key, props, created_at, updated_at = row
    return Node(node_id, LABEL_OF[label], key, props, created_at, updated_at)


def _like_literal(value: str) -> str:
    r"""`value` as a LIKE pattern that matches it literally (escape character: backslash).

    >>> _like_literal("50%_off")
    '50\\%\\_off'
    """
    return value.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def _json_dumps(value: Any) -> str:
    return orjson.dumps(value).decode()


NODE_COLS = (nodes.c.id, nodes.c.label, nodes.c.key, nodes.c.props, nodes.c.created_at, nodes.c.updated_at)


class SqlStore:
    def __init__(self, url: str, *, pool_size: int = 10) -> None:
        self.url, self._search_path = _split_search_path(url)
        self.backend = "sqlite" if url.startswith("sqlite") else "postgresql"
        self._pool_size = pool_size
        self.engine: Engine | AsyncEngine | None = None  # reads
        self._writer: Engine | AsyncEngine | None = None  # writes
        self._loop_reader: Any = None  # SQLite: a connection for single-row reads on the event loop
        self._versions = RecentVersions()

    # -- lifecycle ---------------------------------------------------------------------------
    async def open(self) -> None:
        if self.engine is not None:
            return
        if self.backend == "sqlite":
            url = self.url.replace("sqlite+aiosqlite://", "sqlite://")
            self.engine = create_engine(url, pool_size=self._pool_size, connect_args={"check_same_thread": False},
                                        json_serializer=_json_dumps, json_deserializer=orjson.loads)
            # SQLite has one writer at a time: a one-connection writer pool queues writes here
            # instead of failing with "database is locked", and BEGIN IMMEDIATE takes the lock
            # up front so a read-then-write transaction never has to upgrade it.
            self._writer = create_engine(url, pool_size=1, max_overflow=0, connect_args={"check_same_thread": False},
                                         json_serializer=_json_dumps, json_deserializer=orjson.loads)
            _sqlite_pragmas(self.engine, "BEGIN")
            _sqlite_pragmas(self._writer, "BEGIN IMMEDIATE")
            # Impact analysis reads the topology version on every query. Hopping to a thread for
            # that costs far more than the primary-key read itself. In WAL mode a
            # reader does not wait for writers, so this never holds the loop behind a write.
            self._loop_reader = self.engine.raw_connection()
        else:
            settings = {"search_path": self._search_path} if self._search_path else {}
            self.engine = create_async_engine(
                self.url, pool_size=self._pool_size, max_overflow=self._pool_size, pool_pre_ping=True,
                connect_args={"server_settings": settings} if settings else {},
                json_serializer=_json_dumps, json_deserializer=orjson.loads,
            )
            self._writer = self.engine

    async def close(self) -> None:
        if self._loop_reader is not None:
            self._loop_reader.close()  # back to the pool, before the pool goes
            self._loop_reader = None
        for engine in {self.engine, self._writer} - {None}:
            if isinstance(engine, AsyncEngine):
                await engine.dispose()
            else:
                engine.dispose()  # type: ignore[union-attr]
        self.engine = self._writer = None

    async def _run(self, fn: Callable[[Connection], T], *, write: bool) -> T:
        """Run fn(connection) in one transaction on the read or the write engine."""
        engine = self._writer if write else self.engine
        assert engine is not None, "call open() first"
        try:
            if isinstance(engine, AsyncEngine):
                async with engine.begin() as conn:
                    return await conn.run_sync(fn)

            def in_thread() -> T:
                with engine.begin() as conn:  # type: ignore[union-attr]
                    return fn(conn)

            return await asyncio.to_thread(in_thread)
        except IntegrityError as err:  # a concurrent writer took a key between our check and insert
            raise Conflict("a node with the same natural key was written concurrently; retry") from err
        except Exception as err:
            if _connection_lost(err):
                raise _unavailable(self.backend, err) from err
            raise

    async def migrate(self) -> list[str]:
        return await self._run(upgrade, write=True)

    async def ping(self) -> None:
        try:
            await self._run(lambda c: c.execute(select(1)).scalar_one(), write=False)
        except DBAPIError as err:  # whatever the trivial query met, the store is not answering
            raise _unavailable(self.backend, err) from err

    # -- writes -------------------------------------------------------------------------------
    async def apply(self, tenant: Tenant, changes: ChangeSet) -> dict[NodeId, Node]:
        if not changes:
            return {}
        op: _Apply | None = None

        def work(conn: Connection) -> dict[NodeId, Node]:
            nonlocal op
            op = _Apply(conn, tenant, self.backend)
            return op.run(changes)

        try:
            written = await self._run(work, write=True)
        finally:
            if op is not None and op.topology_changed:  # committed, or maybe: forget the version either way
                self._versions.changed(tenant)
        if op is not None and op.version is not None:
            self._versions.committed(TopologyChange(tenant, op.version, changes, written))
        return written

    # -- reads --------------------------------------------------------------------------------
    async def get_nodes(self, tenant: Tenant, ids: Sequence[NodeId]) -> dict[NodeId, Node]:
        return await self._run(lambda c: _nodes_by_id(c, tenant, ids), write=False) if ids else {}

    async def get_by_keys(self, tenant: Tenant, label: Label, keys: Sequence[str]) -> dict[str, Node]:
        def q(conn: Connection) -> dict[str, Node]:
            if conn.dialect.name == "sqlite":  # one statement text for any number of keys (see _sqlite_expand)
                rows = orjson.loads(conn.exec_driver_sql(_SQLITE_GET_BY_KEYS, (tenant, label.value, _json_ids(keys))).scalar_one())
                return {r[2]: _node(r) for r in rows}
            found: dict[str, Node] = {}
            for part in chunks(list(dict.fromkeys(keys))):
                rows = conn.execute(select(*NODE_COLS).where(
                    nodes.c.tenant == tenant, nodes.c.label == label.value, _keys_among(conn, part))).all()
                found.update((r[2], _node(r)) for r in rows)
            return found

        return await self._run(q, write=False) if keys else {}

    async def find_nodes(self, tenant: Tenant, query: NodeQuery) -> Page:
        where = [nodes.c.tenant == tenant, nodes.c.label == query.label.value]
        if query.text:
            where.append(nodes.c.name_fold.like("%" + _like_literal(fold(query.text)) + "%", escape="\\"))
        if query.kinds:
            where.append(nodes.c.kind.in_(query.kinds))
        for tag in query.tags:  # whole tags: `tags` holds ",a,b," and a tag holds no comma
            where.append(nodes.c.tags.like(f"%,{_like_literal(tag)},%", escape="\\"))
        if query.min_score is not None:
            where.append(nodes.c.score >= query.min_score)
        page_where = list(where)
        if query.after is not None:
            page_where.append(tuple_(nodes.c.name, nodes.c.id) > tuple_(*query.after))

        def q(conn: Connection) -> Page:
            rows = conn.execute(
                select(*NODE_COLS).where(*page_where).order_by(nodes.c.name, nodes.c.id).limit(query.first + 1)
            ).all()
            total = conn.execute(select(func.count()).select_from(nodes).where(*where)).scalar_one()
            return Page([_node(r) for r in rows[: query.first]], total, len(rows) > query.first)

        return await self._run(q, write=False)

    async def neighbours(
        self, tenant: Tenant, ids: Sequence[NodeId], rel: Rel, direction: Direction
    ) -> dict[NodeId, list[Neighbour]]:
        start, other = (edges.c.src, edges.c.dst) if direction is Direction.OUT else (edges.c.dst, edges.c.src)

        def q(conn: Connection) -> dict[NodeId, list[Neighbour]]:
            result: dict[NodeId, list[Neighbour]] = {i: [] for i in ids}
            for part in chunks(list(result)):
                rows = conn.execute(
                    select(start.label("start"), edges.c.src, edges.c.dst, edges.c.props.label("edge_props"), *NODE_COLS)
                    .join(nodes, and_(nodes.c.tenant == edges.c.tenant, nodes.c.id == other))
                    .where(edges.c.tenant == tenant, edges.c.rel == rel.value, _among(conn, start, part))
                    .order_by(nodes.c.name, nodes.c.id)
                ).all()
                for r in rows:
                    result[r[0]].append(Neighbour(Edge(rel, r[1], r[2], r[3]), _node(r[4:])))
            return result

        return await self._run(q, write=False) if ids else {}

    async def neighbour_pages(
        self, tenant: Tenant, ids: Sequence[NodeId], rel: Rel, direction: Direction, *, first: int,
        after: Cursor | None = None, labels: Collection[Label] = (),
    ) -> dict[NodeId, NeighbourPage]:
        def q(conn: Connection) -> dict[NodeId, NeighbourPage]:
            pages: dict[NodeId, NeighbourPage] = {i: NeighbourPage([], 0, False) for i in ids}
            for part in chunks(list(pages)):
                rows: dict[NodeId, list[Any]] = defaultdict(list)
                for r in conn.execute(_neighbour_pages_stmt(conn, tenant, part, rel, direction, first, after, labels)):
                    rows[r[0]].append(r)
                for start, found in rows.items():
                    items = [Neighbour(Edge(rel, r[1], r[2], r[3]), _node(r[4:10])) for r in found if r[11]]
                    pages[start] = NeighbourPage(items[:first], found[0][10], len(items) > first)
            return pages

        return await self._run(q, write=False) if ids else {}

    async def expand(
        self, tenant: Tenant, ids: Sequence[NodeId], rels: Sequence[Rel], direction: Direction, *, with_props: bool = False
    ) -> list[Edge]:
        if not ids:
            return []
        return await self._run(lambda c: _expand(c, tenant, ids, rels, direction, with_props), write=False)

    async def walk(
        self, tenant: Tenant, starts: Sequence[NodeId] | Mapping[NodeId, int], rels: Sequence[Rel], direction: Direction,
        depth: int, cap: int, *, with_props: bool = False,
    ) -> Walk:
        return await self._run(lambda conn: drive(bfs(starts, direction, depth, cap), lambda frontier: _expand(
            conn, tenant, frontier, rels, direction, with_props)), write=False)

    def watch_topology(self, watcher: Callable[[TopologyChange], None]) -> Callable[[], None]:
        return self._versions.watch(watcher)

    async def topology_version(self, tenant: Tenant, max_age: float = 0.0) -> int:
        return await self._versions.read(tenant, max_age, lambda: self._topology_version(tenant))

    async def _topology_version(self, tenant: Tenant) -> int:
        if self._loop_reader is not None:
            try:
                row = self._loop_reader.driver_connection.execute(
                    "SELECT version FROM topology_versions WHERE tenant = ?", (tenant,)).fetchone()
            except sqlite3.Error as err:
                raise _unavailable(self.backend, err) from err
            return int(row[0]) if row else 0

        def q(conn: Connection) -> int:
            found = conn.execute(select(topology_versions.c.version).where(topology_versions.c.tenant == tenant)).scalar()
            return int(found or 0)

        return await self._run(q, write=False)

    async def scan_nodes(self, tenant: Tenant, labels: Sequence[Label], *, chunk: int = 50_000
                         ) -> AsyncIterator[list[tuple[NodeId, Label, str]]]:
        # No order asked: the listing index holds (tenant, label, name, id), so the scan reads
        # that index alone. By id it read each row off the table too: 5.2 s against 1.3 s for
        # 1.26M nodes (warm; 24 s against 9 s cold).
        values = [label.value for label in labels]
        stmt = select(nodes.c.id, nodes.c.label, nodes.c.name).where(nodes.c.tenant == tenant, nodes.c.label.in_(values))
        sql = _SQLITE_SCAN_NODES % ", ".join("?" * len(values))
        async for rows in self._scan(stmt, sql, (tenant, *values), chunk):
            yield [(i, LABEL_OF[label], name) for i, label, name in rows]

    async def scan_edges(self, tenant: Tenant, rel: Rel, *, with_props: bool = False, chunk: int = 50_000
                         ) -> AsyncIterator[list[tuple[NodeId, NodeId, Props | None]]]:
        stmt = select(edges.c.src, edges.c.dst, edges.c.props if with_props else null()).where(
            edges.c.tenant == tenant, edges.c.rel == rel.value)
        sql = _SQLITE_SCAN_EDGES % ("props" if with_props else "NULL")
        async for rows in self._scan(stmt, sql, (tenant, rel.value), chunk):
            if self.backend == "sqlite" and with_props:  # the driver hands JSON columns over as text
                yield [(s, d, orjson.loads(p)) for s, d, p in rows]
            else:
                yield rows

    async def _scan(self, stmt: Any, sqlite_sql: str, params: tuple[Any, ...], chunk: int) -> AsyncIterator[list[Any]]:
        """A statement's rows as tuples, in lists of at most `chunk`, all read in one transaction:
        on PostgreSQL `stmt` through a server-side cursor, on SQLite `sqlite_sql` on the driver."""
        engine = self.engine
        assert engine is not None, "call open() first"
        if isinstance(engine, AsyncEngine):
            try:
                async with engine.connect() as conn:
                    result = await conn.stream(stmt)
                    async for rows in result.partitions(chunk):
                        yield [tuple(r) for r in rows]
            except Exception as err:
                if _connection_lost(err):
                    raise _unavailable(self.backend, err) from err
                raise
            return
        # SQLite: one connection, a thread hop per chunk; the statement reads one snapshot (WAL).
        # The driver's own tuples: SQLAlchemy Rows take three times as long to make.
        conn = await asyncio.to_thread(engine.connect)
        try:
            cursor = await asyncio.to_thread(conn.connection.driver_connection.execute, sqlite_sql, params)
            while rows := await asyncio.to_thread(cursor.fetchmany, chunk):
                yield rows
        except sqlite3.Error as err:
            raise _unavailable(self.backend, err) from err
        finally:
            await asyncio.to_thread(conn.close)

    async def count_by_label(self, tenant: Tenant) -> dict[Label, int]:
        def q(conn: Connection) -> dict[Label, int]:
            rows = conn.execute(select(nodes.c.label, func.count()).where(nodes.c.tenant == tenant).group_by(nodes.c.label))
            return {LABEL_OF[label]: n for label, n in rows}

        return await self._run(q, write=False)

    async def audit_log(self, tenant: Tenant, query: AuditQuery) -> AuditPage:
        where = [audit_log.c.tenant == tenant]
        for column, value in ((audit_log.c.actor, query.actor), (audit_log.c.operation, query.operation),
                              (audit_log.c.outcome, query.outcome)):
            if value is not None:
                where.append(column == value)
        if query.since is not None:
            where.append(audit_log.c.at >= query.since)
        if query.until is not None:
            where.append(audit_log.c.at < query.until)
        page_where = list(where)
        if query.after is not None:
            page_where.append(tuple_(audit_log.c.at, audit_log.c.id) < tuple_(*query.after))

        def q(conn: Connection) -> AuditPage:
            rows = conn.execute(select(*AUDIT_COLS).where(*page_where)
                                .order_by(audit_log.c.at.desc(), audit_log.c.id.desc()).limit(query.first + 1)).all()
            total = conn.execute(select(func.count()).select_from(audit_log).where(*where)).scalar_one()
            records = [AuditRecord(i, at, actor, op, tuple(ids), outcome) for i, at, actor, op, ids, outcome in rows]
            return AuditPage(records[: query.first], total, len(records) > query.first)

        return await self._run(q, write=False)


AUDIT_COLS = (audit_log.c.id, audit_log.c.at, audit_log.c.actor, audit_log.c.operation, audit_log.c.ids, audit_log.c.outcome)


def _audit_row(r: AuditRecord, tenant: Tenant) -> dict[str, Any]:
    return {"tenant": tenant, "id": r.id, "at": r.at, "actor": r.actor, "operation": r.operation,
            "ids": list(r.ids), "outcome": r.outcome}


def _neighbour_pages_stmt(conn: Connection, tenant: Tenant, ids: Sequence[NodeId], rel: Rel, direction: Direction,
                          first: int, after: Cursor | None, labels: Collection[Label]) -> Any:
    """neighbour_pages in one statement: per start id, rows
    (start, src, dst, edge props, *NODE_COLS, total, after, rank), ordered by start and rank.

    The inner query ranks each start's relationships by the other node's (name, id) in two
    partitions, before and after the cursor, and counts them all; it reads names and ids only,
    so the sort carries no props. The outer query keeps the first `first` + 1 after the cursor
    (the extra one says whether more follow) and the first before it (the only row of a start
    whose relationships all lie before the cursor, there for its total), and loads their nodes.
    A window, not LATERAL: the same statement on SQLite and PostgreSQL."""
    start, other = (edges.c.src, edges.c.dst) if direction is Direction.OUT else (edges.c.dst, edges.c.src)
    on = [nodes.c.tenant == edges.c.tenant, nodes.c.id == other]
    if labels:
        on.append(nodes.c.label.in_([label.value for label in labels]))
    is_after = tuple_(nodes.c.name, nodes.c.id) > tuple_(*after) if after is not None else true()
    ranked = (
        select(start.label("start"), edges.c.src, edges.c.dst, edges.c.props.label("edge_props"),
               func.count().over(partition_by=start).label("total"), is_after.label("after"),
               func.row_number().over(partition_by=(start, is_after), order_by=(nodes.c.name, nodes.c.id)).label("rank"))
        .join_from(edges, nodes, and_(*on))
        .where(edges.c.tenant == tenant, edges.c.rel == rel.value, _among(conn, start, ids))
        .subquery("ranked")
    )
    node = nodes.alias("node")
    return (
        select(ranked.c.start, ranked.c.src, ranked.c.dst, ranked.c.edge_props,
               *(node.c[c.name] for c in NODE_COLS), ranked.c.total, ranked.c.after)
        .join_from(ranked, node, and_(node.c.tenant == tenant,
                                      node.c.id == (ranked.c.dst if direction is Direction.OUT else ranked.c.src)))
        .where(or_(and_(ranked.c.after, ranked.c.rank <= first + 1), ranked.c.rank == 1))
        .order_by(ranked.c.start, ranked.c.rank)
    )


def _expand(conn: Connection, tenant: Tenant, ids: Sequence[NodeId], rels: Sequence[Rel], direction: Direction,
            with_props: bool) -> list[Edge]:
    if conn.dialect.name == "sqlite":
        return _sqlite_expand(conn, tenant, ids, rels, direction, with_props)
    start = edges.c.src if direction is Direction.OUT else edges.c.dst
    cols = [edges.c.rel, edges.c.src, edges.c.dst] + ([edges.c.props] if with_props else [])
    rel_of = {r.value: r for r in rels}
    result = conn.execute(select(*cols).where(edges.c.tenant == tenant, _among(conn, edges.c.rel, list(rel_of)),
                                              _among(conn, start, list(dict.fromkeys(ids)))))
    if with_props:
        return [Edge(rel_of[r], s, d, dict(p)) for r, s, d, p in result]
    return [Edge(rel_of[r], s, d) for r, s, d in result]


def _among(conn: Connection, column: Any, values: Sequence[str]) -> Any:
    """`column IN values`. On PostgreSQL, `= ANY(one array parameter)`: an IN list of n parameters
    is a statement of its own per n, and after five runs of one, PostgreSQL may switch to a generic
    plan that checks every row of the tenant against the whole list. Measured on 10k datasets:
    get_nodes of 5,000 ids went from 0.2 s to 21 s from the sixth call on, an expand of 5,000
    ids to 56 s. With an array the values stay an index condition."""
    if conn.dialect.name == "postgresql":
        return column == any_(bindparam(None, list(values), type_=ARRAY(String)))
    return column.in_(values)


def _keys_among(conn: Connection, keys: Sequence[str]) -> Any:
    """`key IN keys`. PostgreSQL holds natural keys unique by md5(key) (a key can be too long for
    a btree entry: migrations/sql 0004), so it finds them by their hashes, then the keys."""
    if conn.dialect.name == "postgresql":
        hashes = [hashlib.md5(k.encode()).hexdigest() for k in keys]
        return and_(_among(conn, func.md5(nodes.c.key), hashes), _among(conn, nodes.c.key, keys))
    return nodes.c.key.in_(keys)


def _sqlite_expand(conn: Connection, tenant: Tenant, ids: Sequence[NodeId], rels: Sequence[Rel], direction: Direction,
                   with_props: bool) -> list[Edge]:
    """_expand for SQLite: the ids go in as one JSON array, so the statement text is the same for
    every frontier and the driver's prepared statement is reused (an IN list of a new length is a
    new statement to compile, every step of every walk)."""
    start = "src" if direction is Direction.OUT else "dst"
    sql = (f"SELECT rel, src, dst{', props' if with_props else ''} FROM edges "
           f"WHERE tenant = ? AND rel = ? AND {start} IN (SELECT value FROM json_each(?))")
    out: list[Edge] = []
    frontier = _json_ids(ids)
    for rel in rels:
        rows = conn.exec_driver_sql(sql, (tenant, rel.value, frontier)).all()
        if with_props:
            out += [Edge(rel, s, d, orjson.loads(p)) for _, s, d, p in rows]
        else:
            out += [Edge(rel, s, d) for _, s, d in rows]
    return out


_SQLITE_SCAN_EDGES = "SELECT src, dst, %s FROM edges WHERE tenant = ? AND rel = ?"  # the primary key covers it
_SQLITE_SCAN_NODES = "SELECT id, label, name FROM nodes WHERE tenant = ? AND label IN (%s)"  # ix_nodes_listing covers it


# All rows as one JSON value: one statement step (see _sqlite_insert on the GIL) and no
# per-row result objects. json(props) nests the stored props as JSON, so one parse reads them all.
_SQLITE_NODES_AS_JSON = ("SELECT json_group_array(json_array(id, label, key, json(props), created_at, updated_at)) "
                         "FROM nodes WHERE tenant = ? AND ")
_SQLITE_GET_NODES = _SQLITE_NODES_AS_JSON + "id IN (SELECT value FROM json_each(?))"
_SQLITE_GET_BY_KEYS = _SQLITE_NODES_AS_JSON + "label = ? AND key IN (SELECT value FROM json_each(?))"


def _nodes_by_id(conn: Connection, tenant: Tenant, ids: Iterable[NodeId], *, lock: bool = False) -> dict[NodeId, Node]:
    """The stored nodes among ids; with `lock`, locked against concurrent writers until commit
    (a SQLite writer holds the database lock from BEGIN IMMEDIATE already)."""
    if conn.dialect.name == "sqlite":  # one statement text for any number of ids (see _sqlite_expand)
        rows = orjson.loads(conn.exec_driver_sql(_SQLITE_GET_NODES, (tenant, _json_ids(ids))).scalar_one())
        return {r[0]: _node(r) for r in rows}
    found: dict[NodeId, Node] = {}
    for part in chunks(list(dict.fromkeys(ids))):
        stmt = select(*NODE_COLS).where(nodes.c.tenant == tenant, _among(conn, nodes.c.id, part))
        found.update((r[0], _node(r)) for r in conn.execute(stmt.with_for_update() if lock else stmt).all())
    return found


def _json_ids(ids: Iterable[NodeId]) -> str:
    """Ids, each once, as the one JSON-array parameter SQLite reads with json_each."""
    return orjson.dumps(list(dict.fromkeys(ids))).decode()


class _Apply:
    """One ChangeSet inside one open transaction."""

    def __init__(self, conn: Connection, tenant: Tenant, backend: str) -> None:
        self.conn, self.tenant, self.backend = conn, tenant, backend
        self.written: dict[NodeId, Node] = {}
        self.topology_changed = False  # see GraphStore.topology_version
        self.version: int | None = None  # the topology version this change made, if it made one

    def run(self, cs: ChangeSet) -> dict[NodeId, Node]:
        self._create(cs.create)
        self._merge(cs.merge)
        self._update(cs.update)
        self._delete(cs.delete)
        self._link(cs.link)
        self._unlink(cs.unlink)
        if cs.audit:
            self.conn.execute(insert(audit_log), [_audit_row(r, self.tenant) for r in cs.audit])
        if self.topology_changed:  # last, so the row lock is held only until commit
            self.version = self.conn.execute(_BUMP_TOPOLOGY, {"tenant": self.tenant}).scalar_one()
        return self.written

    def _locked(self, ids: Iterable[NodeId]) -> dict[NodeId, Node]:
        """Current rows for ids, locked against concurrent writers until commit."""
        return _nodes_by_id(self.conn, self.tenant, ids, lock=True)

    def _taken_keys(self, wanted: dict[tuple[str, str], NodeId]) -> dict[tuple[str, str], NodeId]:
        """Which (label, key) pairs are held in this tenant, and by which id.

        One query per label with `label = ? AND key IN (...)`: a row-value IN over (label, key)
        would only use the index's tenant prefix, i.e. scan the tenant."""
        taken: dict[tuple[str, str], NodeId] = {}
        by_label: dict[str, list[str]] = defaultdict(list)
        for label, key in wanted:
            by_label[label].append(key)
        for label, keys in by_label.items():
            for part in chunks(keys):
                rows = self.conn.execute(select(nodes.c.key, nodes.c.id).where(
                    nodes.c.tenant == self.tenant, nodes.c.label == label, _keys_among(self.conn, part)))
                taken.update(((label, r.key), r.id) for r in rows)
        return taken

    def _create(self, new: list[Node], *, keys_checked: bool = False) -> None:
        if not new:
            return
        wanted = changes.new_keys(new)
        if not keys_checked:
            changes.refuse_taken(self._taken_keys(wanted))
        if self.backend == "sqlite":
            _sqlite_insert(self.conn, _SQLITE_INSERT_NODES, [_row(n, self.tenant, dump=True) for n in new])
        else:
            self.conn.execute(insert(nodes), [dict(zip(NODE_ROW, _row(n, self.tenant))) for n in new])
        self.written.update((n.id, n) for n in new)

    def _merge(self, incoming: list[Node]) -> None:
        if not incoming:
            return
        combined = changes.combine(incoming)
        current = self._locked(combined)
        plan = changes.plan_merge(combined, current)
        self.topology_changed |= renames(current, {n.id: n for n in plan.changed})
        self.written.update(plan.result)
        if plan.fresh:
            # Merged nodes are identity-keyed and come with the id their key has (found by key, or
            # new: services/identities.py), so their keys are not checked again here; a node
            # another writer gave the same key meanwhile hits the unique constraint: a Conflict.
            self._create(plan.fresh, keys_checked=True)
        self._rewrite(plan.changed)

    def _update(self, patches: list[tuple[NodeId, Props]]) -> None:
        if not patches:
            return
        current = self._locked(i for i, _ in patches)
        rewritten, rekeyed = changes.plan_update(patches, current)
        changes.refuse_rekeyed(rekeyed, self._taken_keys(rekeyed))
        self.topology_changed |= renames(current, rewritten)
        self._rewrite(list(rewritten.values()))
        self.written.update(rewritten)

    def _rewrite(self, changed: list[Node]) -> None:
        if not changed:
            return
        rows = [{f"b_{k}": v for k, v in zip(NODE_ROW, _row(n, self.tenant))} for n in changed]
        stmt = (
            update(nodes)
            .where(nodes.c.tenant == bindparam("b_tenant"), nodes.c.id == bindparam("b_id"))
            .values({c: bindparam(f"b_{c}") for c in ("key", "name", "kind", "score", "tags", "props", "updated_at", "name_fold")})
        )
        self.conn.execute(stmt, rows)

    def _delete(self, ids: list[NodeId]) -> None:
        if not ids:
            return
        current = self._locked(ids)
        missing = [i for i in ids if i not in current]
        if missing:
            raise NotFound(f"no node with id {missing[0]}", field="id")
        self.topology_changed = True
        every_rel = [r.value for r in Rel]  # leading rel lets both edge indexes serve the delete
        for part in chunks(list(current)):
            self.conn.execute(delete(edges).where(edges.c.tenant == self.tenant, edges.c.rel.in_(every_rel), _among(self.conn, edges.c.src, part)))
            self.conn.execute(delete(edges).where(edges.c.tenant == self.tenant, edges.c.rel.in_(every_rel), _among(self.conn, edges.c.dst, part)))
            self.conn.execute(delete(nodes).where(nodes.c.tenant == self.tenant, _among(self.conn, nodes.c.id, part)))
        for i in current:
            self.written.pop(i, None)

    def _link(self, links: list[Edge]) -> None:
        if not links:
            return
        ends = {e.src for e in links} | {e.dst for e in links}
        labels = {i: n.label for i, n in self.written.items() if i in ends}
        for part in chunks([i for i in ends if i not in labels]):
            rows = self.conn.execute(
                select(nodes.c.id, nodes.c.label).where(nodes.c.tenant == self.tenant, _among(self.conn, nodes.c.id, part))
            )
            labels.update((r.id, LABEL_OF[r.label]) for r in rows)
        if ends - labels.keys():
            for e in links:  # name the first missing end, in link order
                for end in ("src", "dst"):
                    if getattr(e, end) not in labels:
                        raise NotFound(f"no node with id {getattr(e, end)} to link", field=end)
        for rel, src, dst in dict.fromkeys((e.rel, labels[e.src], labels[e.dst]) for e in links):  # each kind once
            check_endpoints(rel, src, dst)
        latest = {(e.rel, e.src, e.dst): e for e in links}  # the same link twice: last props win
        topology = {k: e for k, e in latest.items() if e.rel in TOPOLOGY_RELS}
        self._upsert_edges([e for k, e in latest.items() if k not in topology])
        # Only a relationship written anew (or with new props) changes the topology: a replayed
        # event writes none, so it leaves the in-memory topology fresh.
        self.topology_changed |= self._upsert_edges(list(topology.values())) > 0

    def _upsert_edges(self, links: list[Edge]) -> int:
        """Insert new relationships, rewrite those whose props differ; return how many were written."""
        if not links:
            return 0
        stamp = now()
        if self.backend == "sqlite":
            tenant = self.tenant
            rows = [(tenant, e.rel._value_, e.src, e.dst, _json_dumps(e.props), stamp, stamp) for e in links]
            return _sqlite_insert(self.conn, _SQLITE_UPSERT_EDGES, rows)
        from sqlalchemy.dialects.postgresql import insert as upsert

        stmt = upsert(edges)
        stmt = stmt.on_conflict_do_update(
            index_elements=["tenant", "rel", "src", "dst"],
            set_={"props": stmt.excluded.props, "updated_at": stmt.excluded.updated_at},
            where=edges.c.props != stmt.excluded.props,  # same props again: a replay writes nothing
        ).returning(edges.c.rel)
        rows = [{"tenant": self.tenant, "rel": e.rel.value, "src": e.src, "dst": e.dst, "props": e.props,
                 "created_at": stamp, "updated_at": stamp} for e in links]
        return len(self.conn.execute(stmt, rows).all())

    def _unlink(self, links: list[Edge]) -> None:
        if not links:
            return
        self.topology_changed |= any(e.rel in TOPOLOGY_RELS for e in links)
        stmt = delete(edges).where(
            edges.c.tenant == bindparam("t"), edges.c.rel == bindparam("r"),
            edges.c.src == bindparam("s"), edges.c.dst == bindparam("d"),
        )
        self.conn.execute(stmt, [{"t": self.tenant, "r": e.rel.value, "s": e.src, "d": e.dst} for e in links])


# SQLite's bulk writes go straight to the driver as multi-row INSERT ... VALUES statements of up
# to 1,024 rows (_sqlite_insert): one statement step, so the driver gives the GIL back once, per
# thousand rows. With executemany the driver takes the GIL back after every row, and a thread
# translating the next events meanwhile holds it, so a large insert crawls beside a busy thread.
# Rows unpacked from one JSON array by json_each take one step too, but SQLite parses each row's
# JSON once per column: bound values are cheaper.
# Same statements as the Core ones above; the contract suite runs both.
NODE_ROW = ("tenant", "id", "label", "key", "name", "kind", "score", "tags", "props", "created_at", "updated_at", "name_fold")
_SQLITE_INSERT_NODES = f"INSERT INTO nodes ({', '.join(NODE_ROW)}) VALUES %s"
_SQLITE_UPSERT_EDGES = (
    "INSERT INTO edges (tenant, rel, src, dst, props, created_at, updated_at) VALUES %s "
    "ON CONFLICT (tenant, rel, src, dst) DO UPDATE SET props = excluded.props, updated_at = excluded.updated_at "
    "WHERE edges.props != excluded.props"  # same props again: a replay writes nothing
)


def _sqlite_insert(conn: Connection, statement: str, rows: Sequence[tuple[Any, ...]]) -> int:
    """Run `statement` (its VALUES list left as %s) over rows; return how many rows it inserted
    or changed. Statements hold a power of two of rows, at most _SQLITE_MAX_ROWS: a prepared
    statement takes about 1 KB a row, and the driver caches the last 128 it ran, so a text for
    every row count would pin gigabytes where these few take a few megabytes."""
    width = len(rows[0])
    most = min(_SQLITE_MAX_ROWS, conn.connection.driver_connection.getlimit(sqlite3.SQLITE_LIMIT_VARIABLE_NUMBER) // width)
    written, i = 0, 0
    while i < len(rows):
        n = 1 << (min(most, len(rows) - i).bit_length() - 1)  # the largest power of two that fits
        params = tuple(value for row in rows[i : i + n] for value in row)
        written += conn.exec_driver_sql(_values_sql(statement, width, n), params).rowcount
        i += n
    return written


_SQLITE_MAX_ROWS = 1024


@functools.lru_cache(maxsize=64)
def _values_sql(statement: str, width: int, rows: int) -> str:
    """`statement` with a VALUES list of `rows` rows of `width` placeholders.

    >>> _values_sql("INSERT INTO t VALUES %s", 2, 2)
    'INSERT INTO t VALUES (?,?),(?,?)'
    """
    return statement % ",".join(["(" + ",".join("?" * width) + ")"] * rows)


_BUMP_TOPOLOGY = text(
    "INSERT INTO topology_versions (tenant, version) VALUES (:tenant, 1) "
    "ON CONFLICT (tenant) DO UPDATE SET version = topology_versions.version + 1 RETURNING version")


def _sqlite_pragmas(engine: Engine, begin: str) -> None:
    # The documented recipe for correct SQLite transactions: let SQLAlchemy emit BEGIN itself.
    @event.listens_for(engine, "connect")
    def _connect(dbapi_conn: Any, _record: Any) -> None:
        dbapi_conn.isolation_level = None
        cur = dbapi_conn.cursor()
        for pragma in ("journal_mode=WAL", "busy_timeout=30000", "synchronous=NORMAL", "foreign_keys=OFF",
                       "cache_size=-262144", "mmap_size=1073741824", "wal_autocheckpoint=10000"):
            cur.execute(f"PRAGMA {pragma}")
        cur.close()

    @event.listens_for(engine, "begin")
    def _begin(conn: Any) -> None:
        conn.exec_driver_sql(begin)
