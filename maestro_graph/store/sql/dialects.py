"""What the SQL store does differently on SQLite and on PostgreSQL: how it connects and runs a
store call, how it finds many ids or keys at once, its bulk writes, its scans, which driver
errors mean the database is out of reach. SqlStore (store.py) holds one of these; everything
else in it is the same SQL on both.

Every query is a plain synchronous function of a Connection, run in one piece:
  - SQLite: on a worker thread with the sqlite3 driver, so a whole store call (a full ChangeSet
    transaction, or a read) is ONE thread hop; an async driver would hop per cursor operation
    (dozens of hops per ChangeSet).
  - PostgreSQL: through asyncpg with AsyncConnection.run_sync.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import logging
import sqlite3
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any, ClassVar, TypeVar

import orjson
from sqlalchemy import ARRAY, Connection, Engine, String, and_, any_, bindparam, create_engine, event, func, insert, null, select, text
from sqlalchemy.exc import DBAPIError, IntegrityError, InterfaceError, OperationalError
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

from maestro_graph.domain.clock import now
from maestro_graph.domain.errors import Conflict, StoreUnavailable
from maestro_graph.domain.graph import Edge, Label, Node, Rel
from maestro_graph.store.sql import sqlite_bulk
from maestro_graph.store.sql.tables import NODE_COLS, NODE_ROW, edges, json_text, node_row, nodes, to_node, topology_versions
from maestro_graph.types import Direction, NodeId, Tenant

log = logging.getLogger(__name__)
CHUNK = 5000  # ids per IN (...) list: under SQLite's and asyncpg's bound-parameter limits
T = TypeVar("T")
ScanRow = tuple[Any, ...]


def chunks(items: Sequence[Any], size: int = CHUNK) -> Iterator[Sequence[Any]]:
    """Slices of at most `size` items.

    >>> list(chunks([1, 2, 3], 2))
    [[1, 2], [3]]
    """
    for i in range(0, len(items), size):
        yield items[i : i + size]


class Dialect:
    """The parts of the SQL store that differ by database. `engine` runs reads (and is what
    statement counters listen to); writes may go through an engine of their own."""

    name: ClassVar[str]
    #: SQL for the database's clock, in seconds since the epoch (a double); one value per statement
    EPOCH_NOW: ClassVar[str]
    #: driver errors (besides SQLAlchemy's own) that mean the connection broke or the server is out of reach
    LOST: ClassVar[tuple[type[BaseException], ...]] = (OSError, TimeoutError)

    def __init__(self, url: str, pool_size: int) -> None:
        self.url, self.pool_size = url, pool_size
        self.engine: Engine | AsyncEngine | None = None

    # -- connections and running -----------------------------------------------------------
    def open(self) -> None:
        raise NotImplementedError

    async def close(self) -> None:
        raise NotImplementedError

    async def _run(self, fn: Callable[[Connection], T], write: bool) -> T:
        raise NotImplementedError

    async def run(self, fn: Callable[[Connection], T], *, write: bool) -> T:
        """Run fn(connection) in one transaction on the read or the write engine."""
        assert self.engine is not None, "call open() first"
        try:
            with self.reaching():
                return await self._run(fn, write)
        except IntegrityError as err:  # a concurrent writer took a key between our check and insert
            raise Conflict("a node with the same natural key was written concurrently; retry") from err

    @contextmanager
    def reaching(self) -> Iterator[None]:
        """A broken connection or a database out of reach becomes StoreUnavailable; other errors pass."""
        try:
            yield
        except Exception as err:
            if self.connection_lost(err):
                raise self.unavailable(err) from err
            raise

    def connection_lost(self, err: BaseException) -> bool:
        """Whether an error means the database could not be reached or the connection broke (the
        request may be retried), not that the request itself was wrong. SQLAlchemy wraps what the
        driver raised, so the whole chain of causes is looked at."""
        seen: BaseException | None = err
        while seen is not None:
            if isinstance(seen, DBAPIError) and (seen.connection_invalidated or isinstance(seen, (OperationalError, InterfaceError))):
                return True
            if isinstance(seen, self.LOST):
                return True
            seen = seen.__cause__ or seen.__context__
        return False

    def notify_feed(self, conn: Connection, tenant: Tenant, seq: int) -> None:
        """Tell other processes, at commit, that the tenant's feed reached `seq` (if the database
        can: PostgreSQL's NOTIFY)."""

    async def listen_feed(self, wake: Callable[[Tenant, int], None]) -> Callable[[], Awaitable[None]] | None:
        """GraphStore.listen_feed: None, unless the database can push (PostgreSQL)."""
        return None

    def unavailable(self, err: BaseException) -> StoreUnavailable:
        """StoreUnavailable with a fixed sentence: the driver's own text (which may quote the statement
        and its parameters) goes to the log, never to a client."""
        log.warning("the %s store failed: %s: %s", self.name, type(err).__name__, err)
        return StoreUnavailable(f"the {self.name} store is unavailable right now; retry later")

    async def topology_version(self, tenant: Tenant) -> int:
        def q(conn: Connection) -> int:
            found = conn.execute(select(topology_versions.c.version).where(topology_versions.c.tenant == tenant)).scalar()
            return int(found or 0)

        return await self.run(q, write=False)

    def scan_nodes(self, tenant: Tenant, labels: Sequence[str], chunk: int) -> AsyncIterator[list[ScanRow]]:
        """(id, label, name) rows of the tenant's nodes of `labels`, in lists of at most `chunk`,
        all read in one transaction. No order: the listing index holds (tenant, label, name, id),
        so the scan reads that index alone (by id it read each row off the table too)."""
        raise NotImplementedError

    def scan_edges(self, tenant: Tenant, rel: Rel, with_props: bool, chunk: int) -> AsyncIterator[list[ScanRow]]:
        """(src, dst, props or None) rows of the tenant's `rel` relationships, as scan_nodes."""
        raise NotImplementedError

    def stream(self, stmt: Any, chunk: int) -> AsyncIterator[list[ScanRow]]:
        """The rows of a Core select, as SQLAlchemy makes them (JSON and binary columns decoded),
        in lists of at most `chunk`: one statement in one transaction, so one snapshot, read a
        chunk at a time instead of all at once."""
        raise NotImplementedError

    # -- statements --------------------------------------------------------------------------
    def among(self, column: Any, values: Sequence[str]) -> Any:
        """`column IN values`."""
        return column.in_(values)

    def keys_among(self, keys: Sequence[str]) -> Any:
        """`key IN keys`."""
        return nodes.c.key.in_(keys)

    def nodes_by_id(self, conn: Connection, tenant: Tenant, ids: Iterable[NodeId], *, lock: bool = False) -> dict[NodeId, Node]:
        """The stored nodes among ids; with `lock`, locked against concurrent writers until commit."""
        raise NotImplementedError

    def nodes_by_key(self, conn: Connection, tenant: Tenant, label: Label, keys: Iterable[str]) -> dict[str, Node]:
        raise NotImplementedError

    def expand(self, conn: Connection, tenant: Tenant, ids: Sequence[NodeId], rels: Sequence[Rel], direction: Direction,
               with_props: bool) -> list[Edge]:
        """GraphStore.expand in an open transaction."""
        raise NotImplementedError

    def insert_nodes(self, conn: Connection, tenant: Tenant, new: Sequence[Node]) -> None:
        raise NotImplementedError

    def upsert_edges(self, conn: Connection, tenant: Tenant, links: Sequence[Edge]) -> int:
        """Insert new relationships, rewrite those whose props differ; return how many were written."""
        raise NotImplementedError


class Sqlite(Dialect):
    name = "sqlite"
    # unixepoch('subsec') needs SQLite 3.42; julianday('now') has milliseconds on any version,
    # and 'now' is one value for the whole statement.
    EPOCH_NOW = "((julianday('now') - 2440587.5) * 86400.0)"
    LOST = (OSError, TimeoutError, sqlite3.OperationalError)

    def __init__(self, url: str, pool_size: int) -> None:
        super().__init__(url.replace("sqlite+aiosqlite://", "sqlite://"), pool_size)
        self._writer: Engine | None = None
        self._loop_reader: Any = None  # a connection for single-row reads on the event loop

    def open(self) -> None:
        args = {"connect_args": {"check_same_thread": False}, "json_serializer": json_text, "json_deserializer": orjson.loads}
        self.engine = create_engine(self.url, pool_size=self.pool_size, **args)
        # SQLite has one writer at a time: a one-connection writer pool queues writes here
        # instead of failing with "database is locked", and BEGIN IMMEDIATE takes the lock
        # up front so a read-then-write transaction never has to upgrade it.
        self._writer = create_engine(self.url, pool_size=1, max_overflow=0, **args)
        _pragmas(self.engine, "BEGIN")
        _pragmas(self._writer, "BEGIN IMMEDIATE")
        # Impact analysis reads the topology version on every query. Hopping to a thread for
        # that costs far more than the primary-key read itself. In WAL mode a
        # reader does not wait for writers, so this never holds the loop behind a write.
        self._loop_reader = self.engine.raw_connection()

    async def close(self) -> None:
        if self._loop_reader is not None:
            self._loop_reader.close()  # back to the pool, before the pool goes
            self._loop_reader = None
        for engine in (self.engine, self._writer):
            if engine is not None:
                engine.dispose()  # type: ignore[union-attr]
        self.engine = self._writer = None

    async def _run(self, fn: Callable[[Connection], T], write: bool) -> T:
        engine = self._writer if write else self.engine

        def in_thread() -> T:
            with engine.begin() as conn:  # type: ignore[union-attr]
                return fn(conn)

        return await asyncio.to_thread(in_thread)

    async def topology_version(self, tenant: Tenant) -> int:
        try:
            row = self._loop_reader.driver_connection.execute(
                "SELECT version FROM topology_versions WHERE tenant = ?", (tenant,)).fetchone()
        except sqlite3.Error as err:
            raise self.unavailable(err) from err
        return int(row[0]) if row else 0

    def scan_nodes(self, tenant: Tenant, labels: Sequence[str], chunk: int) -> AsyncIterator[list[ScanRow]]:
        return self._scan(sqlite_bulk.SCAN_NODES % ", ".join("?" * len(labels)), (tenant, *labels), chunk)

    async def scan_edges(self, tenant: Tenant, rel: Rel, with_props: bool, chunk: int) -> AsyncIterator[list[ScanRow]]:
        async for rows in self._scan(sqlite_bulk.SCAN_EDGES % ("props" if with_props else "NULL"), (tenant, rel.value), chunk):
            if with_props:  # the driver hands JSON columns over as text
                yield [(s, d, orjson.loads(p)) for s, d, p in rows]
            else:
                yield rows

    async def _scan(self, sql: str, params: tuple[Any, ...], chunk: int) -> AsyncIterator[list[ScanRow]]:
        """One connection, a thread hop per chunk; the statement reads one snapshot (WAL).
        The driver's own tuples: SQLAlchemy Rows take three times as long to make."""
        assert isinstance(self.engine, Engine), "call open() first"
        conn = await asyncio.to_thread(self.engine.connect)
        try:
            cursor = await asyncio.to_thread(conn.connection.driver_connection.execute, sql, params)
            while rows := await asyncio.to_thread(cursor.fetchmany, chunk):
                yield rows
        except sqlite3.Error as err:
            raise self.unavailable(err) from err
        finally:
            await asyncio.to_thread(conn.close)

    async def stream(self, stmt: Any, chunk: int) -> AsyncIterator[list[ScanRow]]:
        """One connection, a thread hop per chunk; the statement reads one snapshot (WAL)."""
        assert isinstance(self.engine, Engine), "call open() first"
        with self.reaching():
            conn = await asyncio.to_thread(self.engine.connect)
            try:
                result = await asyncio.to_thread(conn.execute, stmt)
                while rows := await asyncio.to_thread(result.fetchmany, chunk):
                    yield [tuple(r) for r in rows]
            finally:
                await asyncio.to_thread(conn.close)  # rolls the read transaction back

    # A SQLite writer holds the database lock from BEGIN IMMEDIATE already: `lock` asks nothing more.
    def nodes_by_id(self, conn: Connection, tenant: Tenant, ids: Iterable[NodeId], *, lock: bool = False) -> dict[NodeId, Node]:
        return sqlite_bulk.nodes_by_id(conn, tenant, ids)

    def nodes_by_key(self, conn: Connection, tenant: Tenant, label: Label, keys: Iterable[str]) -> dict[str, Node]:
        return sqlite_bulk.nodes_by_key(conn, tenant, label, keys)

    def expand(self, conn: Connection, tenant: Tenant, ids: Sequence[NodeId], rels: Sequence[Rel], direction: Direction,
               with_props: bool) -> list[Edge]:
        return sqlite_bulk.expand(conn, tenant, ids, rels, direction, with_props)

    def insert_nodes(self, conn: Connection, tenant: Tenant, new: Sequence[Node]) -> None:
        sqlite_bulk.insert_nodes(conn, tenant, new)

    def upsert_edges(self, conn: Connection, tenant: Tenant, links: Sequence[Edge]) -> int:
        return sqlite_bulk.upsert_edges(conn, tenant, links)


def _pragmas(engine: Engine, begin: str) -> None:
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


class Postgres(Dialect):
    name = "postgresql"
    # statement_timestamp(): one value for the statement (now() would be the transaction's start).
    EPOCH_NOW = "CAST(EXTRACT(EPOCH FROM statement_timestamp()) AS DOUBLE PRECISION)"

    def __init__(self, url: str, pool_size: int) -> None:
        import asyncpg.exceptions as pg

        url, self.search_path = split_search_path(url)
        super().__init__(url, pool_size)
        # A connection killed mid-request comes as asyncpg's ConnectionDoesNotExistError or
        # AdminShutdownError (pg_terminate_backend), a server that is down as OSError.
        self.LOST = (OSError, TimeoutError, pg.PostgresConnectionError, pg.InterfaceError,  # type: ignore[misc]
                     pg.OperatorInterventionError, pg.InsufficientResourcesError)

    def open(self) -> None:
        settings = {"search_path": self.search_path} if self.search_path else {}
        self.engine = create_async_engine(
            self.url, pool_size=self.pool_size, max_overflow=self.pool_size, pool_pre_ping=True,
            connect_args={"server_settings": settings} if settings else {},
            json_serializer=json_text, json_deserializer=orjson.loads,
        )

    async def close(self) -> None:
        if self.engine is not None:
            await self.engine.dispose()  # type: ignore[misc]
        self.engine = None

    async def _run(self, fn: Callable[[Connection], T], write: bool) -> T:
        async with self.engine.begin() as conn:  # type: ignore[union-attr]
            return await conn.run_sync(fn)

    def notify_feed(self, conn: Connection, tenant: Tenant, seq: int) -> None:
        # Delivered at commit, never for a rolled-back transaction; within one transaction
        # PostgreSQL folds identical payloads.
        conn.execute(_NOTIFY, {"payload": f"{seq} {tenant}"})

    async def listen_feed(self, wake: Callable[[Tenant, int], None]) -> Callable[[], Awaitable[None]] | None:
        listener = FeedListener(self.url, wake)
        await listener.start()
        return listener.stop

    def scan_nodes(self, tenant: Tenant, labels: Sequence[str], chunk: int) -> AsyncIterator[list[ScanRow]]:
        return self.stream(select(nodes.c.id, nodes.c.label, nodes.c.name).where(
            nodes.c.tenant == tenant, nodes.c.label.in_(labels)), chunk)

    def scan_edges(self, tenant: Tenant, rel: Rel, with_props: bool, chunk: int) -> AsyncIterator[list[ScanRow]]:
        return self.stream(select(edges.c.src, edges.c.dst, edges.c.props if with_props else null()).where(
            edges.c.tenant == tenant, edges.c.rel == rel.value), chunk)

    async def stream(self, stmt: Any, chunk: int) -> AsyncIterator[list[ScanRow]]:
        """Through a server-side cursor."""
        assert isinstance(self.engine, AsyncEngine), "call open() first"
        with self.reaching():
            async with self.engine.connect() as conn:
                result = await conn.stream(stmt)
                async for rows in result.partitions(chunk):
                    yield [tuple(r) for r in rows]

    def among(self, column: Any, values: Sequence[str]) -> Any:
        """`column = ANY(one array parameter)`: an IN list of n parameters is a statement of its own
        per n, and after five runs of one, PostgreSQL may switch to a generic plan that checks
        every row of the tenant against the whole list (get_nodes of 5,000 ids went from 0.2 s to
        21 s from the sixth call on). With an array the values stay an index condition."""
        return column == any_(bindparam(None, list(values), type_=ARRAY(String)))

    def keys_among(self, keys: Sequence[str]) -> Any:
        """PostgreSQL holds natural keys unique by md5(key) (a key can be too long for a btree
        entry: migrations/sql 0004), so it finds them by their hashes, then the keys."""
        hashes = [hashlib.md5(k.encode()).hexdigest() for k in keys]
        return and_(self.among(func.md5(nodes.c.key), hashes), self.among(nodes.c.key, keys))

    def nodes_by_id(self, conn: Connection, tenant: Tenant, ids: Iterable[NodeId], *, lock: bool = False) -> dict[NodeId, Node]:
        found: dict[NodeId, Node] = {}
        for part in chunks(list(dict.fromkeys(ids))):
            stmt = select(*NODE_COLS).where(nodes.c.tenant == tenant, self.among(nodes.c.id, part))
            found.update((r[0], to_node(r)) for r in conn.execute(stmt.with_for_update() if lock else stmt).all())
        return found

    def nodes_by_key(self, conn: Connection, tenant: Tenant, label: Label, keys: Iterable[str]) -> dict[str, Node]:
        found: dict[str, Node] = {}
        for part in chunks(list(dict.fromkeys(keys))):
            rows = conn.execute(select(*NODE_COLS).where(
                nodes.c.tenant == tenant, nodes.c.label == label.value, self.keys_among(part))).all()
            found.update((r[2], to_node(r)) for r in rows)
        return found

    def expand(self, conn: Connection, tenant: Tenant, ids: Sequence[NodeId], rels: Sequence[Rel], direction: Direction,
               with_props: bool) -> list[Edge]:
        start = edges.c.src if direction is Direction.OUT else edges.c.dst
        cols = [edges.c.rel, edges.c.src, edges.c.dst] + ([edges.c.props] if with_props else [])
        rel_of = {r.value: r for r in rels}
        result = conn.execute(select(*cols).where(edges.c.tenant == tenant, self.among(edges.c.rel, list(rel_of)),
                                                  self.among(start, list(dict.fromkeys(ids)))))
        if with_props:
            return [Edge(rel_of[r], s, d, dict(p)) for r, s, d, p in result]
        return [Edge(rel_of[r], s, d) for r, s, d in result]

    def insert_nodes(self, conn: Connection, tenant: Tenant, new: Sequence[Node]) -> None:
        conn.execute(insert(nodes), [dict(zip(NODE_ROW, node_row(n, tenant))) for n in new])

    def upsert_edges(self, conn: Connection, tenant: Tenant, links: Sequence[Edge]) -> int:
        from sqlalchemy.dialects.postgresql import insert as upsert

        stamp = now()
        stmt = upsert(edges)
        stmt = stmt.on_conflict_do_update(
            index_elements=["tenant", "rel", "src", "dst"],
            set_={"props": stmt.excluded.props, "updated_at": stmt.excluded.updated_at},
            where=edges.c.props != stmt.excluded.props,  # same props again: a replay writes nothing
        ).returning(edges.c.rel)
        rows = [{"tenant": tenant, "rel": e.rel.value, "src": e.src, "dst": e.dst, "props": e.props,
                 "created_at": stamp, "updated_at": stamp} for e in links]
        return len(conn.execute(stmt, rows).all())


def split_search_path(url: str) -> tuple[str, str | None]:
    """A PostgreSQL URL may name the schema to keep the tables in (`?search_path=name`), so two
    deployments (or test runs) can share one database; asyncpg takes it as a server setting.

    >>> split_search_path("postgresql+asyncpg://h/db?search_path=maestro")
    ('postgresql+asyncpg://h/db', 'maestro')
    """
    from sqlalchemy.engine import make_url

    parsed = make_url(url)
    path = parsed.query.get("search_path")
    if path is None:
        return url, None
    return parsed.difference_update_query(["search_path"]).render_as_string(hide_password=False), str(path)


def dialect_for(url: str, pool_size: int) -> Dialect:
    return Sqlite(url, pool_size) if url.startswith("sqlite") else Postgres(url, pool_size)


FEED_CHANNEL = "maestro_feed"
_NOTIFY = text(f"SELECT pg_notify('{FEED_CHANNEL}', :payload)")


class FeedListener:
    """One asyncpg connection of its own LISTENing on the feed channel (a pooled connection would
    be handed to others). A dropped connection is re-opened with backoff; meanwhile followers
    poll, so a wake-up lost is only a later delivery."""

    def __init__(self, url: str, wake: Callable[[Tenant, int], None]) -> None:
        from sqlalchemy.engine import make_url

        parsed = make_url(url)
        self.dsn = parsed.set(drivername="postgresql").render_as_string(hide_password=False)
        self.wake = wake
        self._task: asyncio.Task[None] | None = None
        self._stopped = asyncio.Event()

    async def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="maestro-feed-listen")

    async def stop(self) -> None:
        self._stopped.set()
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._task

    def _notified(self, _conn: Any, _pid: int, _channel: str, payload: str) -> None:
        seq, _, tenant = payload.partition(" ")
        with contextlib.suppress(ValueError):
            self.wake(tenant, int(seq))

    async def _run(self) -> None:
        import asyncpg

        backoff = 0.5
        while not self._stopped.is_set():
            lost = asyncio.Event()
            try:
                conn = await asyncpg.connect(self.dsn, timeout=10)
            except Exception as err:  # noqa: BLE001 - down for now: poll meanwhile, retry later
                log.warning("cannot LISTEN for feed wake-ups (followers poll meanwhile): %s", type(err).__name__)
                await asyncio.sleep(backoff)
                backoff = min(backoff * 2, 30.0)
                continue
            try:
                conn.add_termination_listener(lambda _c: lost.set())
                await conn.add_listener(FEED_CHANNEL, self._notified)
                backoff = 0.5
                await lost.wait()
                log.warning("the feed LISTEN connection closed; re-opening it")
            finally:
                with contextlib.suppress(Exception):
                    await conn.close(timeout=2)
