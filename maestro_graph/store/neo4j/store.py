"""GraphStore on Neo4j 5, through the official async driver.

Storage model (what a Neo4j user browsing the data sees):
  * a node is `(:Node:<Label> {id, tenant, label, key, created_at, updated_at, ...})`; ids are
    unique per tenant, natural keys per (tenant, label) (constraints in migrations/neo4j);
  * its domain props are native properties under their own names; a dict (or a list that
    Neo4j cannot hold as an array) is a JSON string under `<name>__json` (see codec.py);
  * `_name`, `_kind`, `_score`, `_tags` copy `index_values` for listings and their indexes;
  * a relationship has type `Rel.value` and props = its domain props (same rule) plus
    `tenant, created_at, updated_at`; there is at most one per (type, src, dst);
  * every statement matches `{tenant: $tenant}` on every node it touches.

One ChangeSet is one write transaction (retried on transient errors, as the driver retries);
every step is UNWIND statements of at most ROWS_PER_STATEMENT rows each, so a big ChangeSet
is many statements in that one transaction (still all or nothing). What a transaction may hold
is bounded by the server (its transaction memory): a ChangeSet that cannot fit is refused
with LimitExceeded, before it is sent when its size alone tells (see _TxMemory), else when the
server runs out of transaction memory (never retried: it would fail again). All Cypher lives in
cypher.py.
"""

from __future__ import annotations

import asyncio
import logging
import re
import time
import zlib
from collections import defaultdict
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable, Iterator, Mapping, Sequence
from collections.abc import Collection
from contextlib import contextmanager, suppress
from typing import Any

from neo4j import AsyncDriver, AsyncGraphDatabase, AsyncManagedTransaction, AsyncSession, AsyncTransaction
from neo4j.exceptions import (
    ConnectionPoolError,
    ConstraintError,
    DatabaseUnavailable,
    DriverError,
    IncompleteCommit,
    Neo4jError,
    ServiceUnavailable,
    SessionExpired,
)

from maestro_graph.domain import blobs, leases
from maestro_graph.domain.audit import AuditPage, AuditQuery, AuditRecord
from maestro_graph.domain.changes import KeyPair
from maestro_graph.domain.feed import FeedEntry
from maestro_graph.domain.errors import Conflict, LimitExceeded, MaestroError, StoreUnavailable
from maestro_graph.domain.graph import LABEL_OF, REL_OF, ChangeSet, Edge, Label, Neighbour, Node, NodeQuery, Page, Rel
from maestro_graph.domain.graph import NeighbourPage
from maestro_graph.domain.clock import now
from maestro_graph.domain.text import fold
from maestro_graph.domain.walk import Walk, bfs, drive
from maestro_graph.store.apply import Attempt, apply
from maestro_graph.store.neo4j import cypher
from maestro_graph.store.neo4j.codec import EDGE_SYSTEM, decode_props, edge_properties, node_properties, to_edge, to_node
from maestro_graph.store.neo4j.migrate import upgrade
from maestro_graph.store.versions import FeedWatcher, RecentVersions
from maestro_graph.types import Direction, NodeId, Props, Tenant
from maestro_graph.types import Cursor

log = logging.getLogger(__name__)

# Errors that mean "the server cannot be reached right now" rather than "this request is wrong".
UNREACHABLE = (ServiceUnavailable, SessionExpired, ConnectionPoolError, DatabaseUnavailable, OSError)


@contextmanager
def _translated(what: str) -> Iterator[None]:
    """Connection failures -> StoreUnavailable. Domain errors raised in a tx function pass unchanged."""
    try:
        yield
    except IncompleteCommit as err:
        raise StoreUnavailable(
            f"the connection to Neo4j broke while committing ({what}): the write may or may not have been applied"
        ) from err
    except UNREACHABLE as err:
        # The driver's text goes to the log: a client gets a fixed sentence, never a statement.
        log.warning("the neo4j store failed (%s): %s: %s", what, type(err).__name__, err)
        raise StoreUnavailable("the neo4j store is unavailable right now; retry later") from err


async def _records(tx: AsyncManagedTransaction | AsyncTransaction, query: str, **params: Any) -> list[Any]:
    result = await tx.run(query, params)
    return [record async for record in result]


# Rows one write statement UNWINDs at most. The server materialises a statement's whole list
# parameter, and LINK's plan has Eager steps that hold every row at once: a 100,000-row
# statement ran the transaction out of memory where the same rows in slices fit.
ROWS_PER_STATEMENT = 2_000

# Feed entries longer than this are stored zlib-compressed, so that the entry costs its write
# little transaction memory: a 3,000-event batch's 6 MB entry is 2 MB (level 6; level 1 saves
# 0.1 s of that batch's seconds but leaves a tenth more).
_FEED_TEXT_MAX = 64 * 1024
# A compressed entry bigger than this is stored truncated (FeedEntry.summary): about 1,500
# OpenLineage events of 10 columns in one batch (the CLI sends 1,000).
_FEED_PACKED_MAX = 1024 * 1024

# The server's "out of transaction memory" errors: classed transient, so the driver would retry
# them, but the same write needs the same memory and fails again.
MEMORY_CODES = frozenset({
    "Neo.TransientError.General.MemoryPoolOutOfMemoryError",  # a pool (all transactions, or the database's)
    "Neo.TransientError.General.TransactionMemoryLimit",  # db.memory.transaction.max: this transaction alone
    "Neo.TransientError.General.TransactionOutOfMemoryError",
    "Neo.TransientError.General.OutOfMemoryError",  # the JVM heap itself
})
_MEMORY_SETTINGS = ("db.memory.transaction.max", "db.memory.transaction.total.max", "dbms.memory.transaction.total.max")
_UNITS = {"": 1, "B": 1, "KIB": 2**10, "MIB": 2**20, "GIB": 2**30, "TIB": 2**40, "KB": 10**3, "MB": 10**6, "GB": 10**9}
TOO_BIG = ("this request is too big for one Neo4j transaction ({size}); nothing was stored: "
           "send fewer events, or fewer columns per event, per request")


def _out_of_memory(err: BaseException) -> bool:
    return isinstance(err, Neo4jError) and err.code in MEMORY_CODES


def _bytes(value: str) -> int | None:
    """A memory setting's value as SHOW SETTINGS prints it ('716.80MiB', '2.00GiB', '0B'); None
    for 0 (no limit) or a value it cannot read."""
    found = re.fullmatch(r"\s*([0-9.]+)\s*([A-Za-z]*)\s*", value or "")
    unit = found and _UNITS.get(found.group(2).upper())
    return int(float(found.group(1)) * unit) or None if found and unit else None


class _TxMemory:
    """The least transaction memory the server allows one transaction (its per-transaction limit
    and its pools, read once with SHOW SETTINGS; None if no limit is set or it cannot be read),
    and what a ChangeSet takes of it at the least.

    NODE_BYTES and LINK_BYTES are below what Neo4j 5.26's transaction state holds for a written
    node (its ~15 properties and its 5 index entries: about 5.8 KB) and a written relationship
    (about 1.6 KB), and the commit needs more again while that state is still held (COMMIT: at
    least half as much: a write whose state took 420 MiB could not commit in a 717 MiB pool).
    A ChangeSet whose floor is over the limit cannot fit, and is refused before a statement is
    sent; one under it is tried, and the server's own refusal catches the rest."""

    NODE_BYTES = 5_000
    LINK_BYTES = 1_200
    COMMIT = 1.5
    SMALL = 10 * 2**20  # a floor under this fits any server configured with sense: no limit read for it

    def __init__(self) -> None:
        self.limit: int | None = None
        self.read = False

    async def load(self, session: AsyncSession) -> int | None:
        if not self.read:
            try:
                result = await session.run("SHOW SETTINGS YIELD name, value WHERE name IN $names RETURN value",
                                           names=list(_MEMORY_SETTINGS))
                limits = [b for r in [record async for record in result] if (b := _bytes(r["value"])) is not None]
                self.limit = min(limits, default=None)
            except Neo4jError as err:  # not allowed to read settings: the server's refusal is the check
                log.info("neo4j transaction memory limit unknown (%s); big writes are left to the server", err.code)
            self.read = True
        return self.limit

    @classmethod
    def floor(cls, changes: ChangeSet) -> int:
        nodes = len(changes.create) + len(changes.merge) + len(changes.update)
        return int((nodes * cls.NODE_BYTES + len(changes.link) * cls.LINK_BYTES) * cls.COMMIT)


def _size(changes: ChangeSet) -> str:
    nodes = len(changes.create) + len(changes.merge) + len(changes.update)
    return f"{nodes:,} nodes and {len(changes.link):,} relationships"


SCAN_PAGE_NODES = 75_000  # source nodes per scan_edges slice: the 1M-field graph's 16ths
SCAN_BY_TYPE_MAX = 250_000  # relationships of a type read in one list


async def _edge_lists(tx: AsyncTransaction, tenant: Tenant, rel: Rel, with_props: bool) -> AsyncIterator[list[Any]]:
    """scan_edges' rows, a list per query (streamed record by record, rows cost ~100 µs each in
    the driver). A type the whole database holds at most SCAN_BY_TYPE_MAX of: one read by type
    (at 1M fields: 217k FEEDS in 1.7 s, against 14.6 s in slices; 6 TRAINED_ON in 0.03 s against
    9.3 s). Others: slices of about SCAN_PAGE_NODES of the tenant's nodes, so that no list
    outgrows the server's heap, each slice's upper bound read off the id index (not fixed id
    values: minted ids share their time prefix)."""
    typed, params = {"type": rel.value}, {"tenant": tenant, "with_props": with_props}
    if (await (await tx.run(cypher.SCAN_EDGES_COUNT % typed)).single())["n"] <= SCAN_BY_TYPE_MAX:
        yield await _collected(tx, cypher.SCAN_EDGES_OF_TYPE % typed, **params)
        return
    low: NodeId | None = ""
    while low is not None:
        bound = await (await tx.run(cypher.SCAN_EDGES_BOUND, tenant=tenant, low=low, nodes=SCAN_PAGE_NODES)).single()
        high = bound["id"] if bound is not None else None
        yield await _collected(tx, cypher.SCAN_EDGES % typed, low=low, high=high, **params)
        low = high


async def _collected(tx: AsyncManagedTransaction | AsyncTransaction, query: str, **params: Any) -> list[Any]:
    """The `rows` list of a query that returns one record of `collect(...) AS rows`."""
    record = await (await tx.run(query, params)).single()
    return record["rows"] if record is not None else []


async def _keyset_page(tx: AsyncManagedTransaction, page: str, count: str, first: int,
                       **params: Any) -> tuple[list[Any], int, bool]:
    """(at most `first` records of `page`, the `total` of `count`, whether more follow): one more
    record than asked for tells the last."""
    rows = await _records(tx, page, limit=first + 1, **params)
    (counted,) = await _records(tx, count, **params)
    return rows[:first], counted["total"], len(rows) > first


class Neo4jStore:
    backend = "neo4j"

    def __init__(
        self,
        url: str,
        *,
        user: str = "neo4j",
        password: str = "",
        database: str | None = None,
        pool_size: int = 50,
        acquisition_timeout: float = 10.0,
        connection_timeout: float = 5.0,
        retry_time: float = 0.6,
        size_check: bool = True,
    ) -> None:
        """size_check=False leaves every size check to the server (for tests of its refusal)."""
        self.url = url
        self.database = database or None  # None: the server's default database
        self._auth = (user, password)
        self._retry_time = retry_time
        self._config = {
            "max_connection_pool_size": pool_size,
            "connection_acquisition_timeout": acquisition_timeout,
            "connection_timeout": connection_timeout,
            # How long managed transactions (and apply's own loop, _write) retry transient errors
            # (deadlocks, a connection the server dropped) before giving up, and how soon they retry. The driver retries an
            # unreachable server the same way, so this is also how long a request waits before
            # it answers SERVICE_UNAVAILABLE: attempts at 0, 0.1, 0.3 and 0.7 s, then the error
            # (the driver's defaults, 1 s doubling, took 3 s for a server that is down).
            "max_transaction_retry_time": retry_time,
            "initial_retry_delay": 0.1,
            "retry_delay_multiplier": 2.0,
            # "label/type does not exist" is normal on a young graph (a walk over DERIVES before
            # any column lineage): without this the driver logs a warning for every such query.
            "notifications_disabled_classifications": ["UNRECOGNIZED"],
        }
        self._driver: AsyncDriver | None = None
        self._versions = RecentVersions()
        self._memory = _TxMemory() if size_check else None

    # -- lifecycle ---------------------------------------------------------------------------
    async def open(self) -> None:
        # The driver connects lazily and replaces broken connections itself, so the same
        # store keeps working after the server restarts.
        if self._driver is None:
            self._driver = AsyncGraphDatabase.driver(self.url, auth=self._auth, **self._config)

    async def close(self) -> None:
        if self._driver is not None:
            driver, self._driver = self._driver, None
            await driver.close()

    def _session(self) -> AsyncSession:
        assert self._driver is not None, "call open() first"
        # The driver-wide bookmark manager chains every session of this store, so a read
        # (on any cluster member) sees the store's own earlier writes.
        return self._driver.session(
            database=self.database, bookmark_manager=self._driver.execute_query_bookmark_manager
        )

    async def _read(self, what: str, work: Any) -> Any:
        with _translated(what):
            async with self._session() as session:
                return await session.execute_read(work)

    async def migrate(self) -> list[str]:
        with _translated("migrate"):
            async with self._session() as session:
                applied = await upgrade(session)
        if applied:
            log.info("neo4j migrations applied: %s", ", ".join(applied))
        return applied

    async def ping(self) -> None:
        async def work(tx: AsyncManagedTransaction) -> None:
            await _records(tx, cypher.PING)

        await self._read("ping", work)

    # -- writes -------------------------------------------------------------------------------
    async def apply(self, tenant: Tenant, changes: ChangeSet) -> dict[NodeId, Node]:
        def transaction(attempt: Attempt) -> Awaitable[dict[NodeId, Node]]:
            return self._write(lambda tx: attempt(Neo4jWrites(tx, tenant)))

        with _translated("write"):
            try:
                await self._check_size(changes)
                return await apply(self._versions, tenant, changes, transaction)
            except ConstraintError as err:  # a concurrent writer took the key (or id) after our check
                raise Conflict("a node with the same natural key was written concurrently; retry") from err
            except Neo4jError as err:
                if _out_of_memory(err):
                    raise self._too_big(changes, err) from err
                raise

    async def _write(self, work: Callable[[AsyncTransaction], Any]) -> Any:
        """`work` in a write transaction, committed; retried as the driver's execute_write retries
        (transient errors and lost connections, for up to retry_time), except an out-of-memory
        error: the server classes it transient, but the same write fails the same way, so it is
        raised at once, whether a statement or the commit met it."""
        delays = (0.1 * 2**i for i in range(64))
        started: float | None = None
        while True:
            try:
                async with self._session() as session:
                    tx = await session.begin_transaction()
                    try:
                        result = await work(tx)
                        await tx.commit()
                        return result
                    finally:
                        if not tx.closed():
                            with suppress(Neo4jError, DriverError, OSError):  # the error that got us here matters
                                await tx.close()  # rolls back
            except (Neo4jError, DriverError) as err:
                if _out_of_memory(err) or not err.is_retryable():
                    raise
                started = time.monotonic() if started is None else started
                if time.monotonic() - started > self._retry_time:
                    raise
                log.info("a neo4j write failed and is retried: %s: %s", type(err).__name__, err)
                await asyncio.sleep(next(delays))

    async def _check_size(self, changes: ChangeSet) -> None:
        """LimitExceeded, before anything is sent, for a ChangeSet that cannot fit in one transaction."""
        if self._memory is None or _TxMemory.floor(changes) < _TxMemory.SMALL:
            return  # no need to know the limit
        async with self._session() as session:
            limit = await self._memory.load(session)
        if limit is not None and _TxMemory.floor(changes) > limit:
            log.info("a neo4j write was refused: %s need at least %d MiB of transaction memory, the server allows %d MiB",
                     _size(changes), _TxMemory.floor(changes) // 2**20, limit // 2**20)
            raise LimitExceeded(TOO_BIG.format(size=_size(changes)))

    def _too_big(self, changes: ChangeSet, err: Neo4jError) -> MaestroError:
        """What a write the server ran out of transaction memory for answers. The pools are shared
        by every transaction: a small write that finds them full (a big one under way) is told to
        retry later, not to send less."""
        log.warning("a neo4j write ran out of transaction memory (%s): %s: %s", _size(changes), err.code, err.message)
        limit = self._memory.limit if self._memory is not None else None
        small = _TxMemory.floor(changes) * 8 < limit if limit is not None else _TxMemory.floor(changes) < _TxMemory.SMALL
        if small and err.code != "Neo.TransientError.General.TransactionMemoryLimit":
            return StoreUnavailable("the neo4j store is short of transaction memory right now; retry later")
        return LimitExceeded(TOO_BIG.format(size=_size(changes)))

    # -- reads --------------------------------------------------------------------------------
    async def get_nodes(self, tenant: Tenant, ids: Sequence[NodeId]) -> dict[NodeId, Node]:
        async def work(tx: AsyncManagedTransaction) -> dict[NodeId, Node]:
            rows = await _collected(tx, cypher.GET_NODES, tenant=tenant, ids=list(dict.fromkeys(ids)))
            return {(n := to_node(props)).id: n for props in rows}

        return await self._read("get_nodes", work) if ids else {}

    async def get_by_keys(self, tenant: Tenant, label: Label, keys: Sequence[str]) -> dict[str, Node]:
        query = cypher.for_label(cypher.GET_BY_KEYS, label)

        async def work(tx: AsyncManagedTransaction) -> dict[str, Node]:
            rows = await _records(tx, query, tenant=tenant, keys=list(dict.fromkeys(keys)))
            return {(n := to_node(r["props"])).key: n for r in rows}

        return await self._read("get_by_keys", work) if keys else {}

    async def find_nodes(self, tenant: Tenant, query: NodeQuery) -> Page:
        where, params = _find_filters(query)
        match = cypher.for_label(cypher.FIND_MATCH, query.label) + "".join(f"AND {w}\n" for w in where)
        page_match = match + (f"AND {cypher.FIND_AFTER}\n" if query.after is not None else "")
        if query.after is not None:
            params["after_name"], params["after_id"] = query.after

        async def work(tx: AsyncManagedTransaction) -> Page:
            rows, total, more = await _keyset_page(tx, page_match + cypher.FIND_PAGE, match + cypher.FIND_COUNT,
                                                   query.first, tenant=tenant, **params)
            return Page([to_node(r["props"]) for r in rows], total, more)

        return await self._read("find_nodes", work)

    async def neighbours(
        self, tenant: Tenant, ids: Sequence[NodeId], rel: Rel, direction: Direction
    ) -> dict[NodeId, list[Neighbour]]:
        result: dict[NodeId, list[Neighbour]] = {i: [] for i in ids}
        query = cypher.for_rels(cypher.NEIGHBOURS, [rel], direction)

        async def work(tx: AsyncManagedTransaction) -> None:
            for start, edge, props in await _collected(tx, query, tenant=tenant, ids=list(result)):
                other = to_node(props)
                src, dst = (start, other.id) if direction is Direction.OUT else (other.id, start)
                result[start].append(Neighbour(to_edge(rel, src, dst, edge), other))

        if result:
            await self._read("neighbours", work)
        return result

    async def neighbour_pages(
        self, tenant: Tenant, ids: Sequence[NodeId], rel: Rel, direction: Direction, *, first: int,
        after: Cursor | None = None, labels: Collection[Label] = (),
    ) -> dict[NodeId, NeighbourPage]:
        query = cypher.for_rels(cypher.NEIGHBOUR_PAGES, [rel], direction)
        starts = list(dict.fromkeys(ids))
        params = {"tenant": tenant, "ids": starts, "limit": first + 1, "labels": [label.value for label in labels] or None,
                  "after_name": after[0] if after is not None else None, "after_id": after[1] if after is not None else None}

        async def work(tx: AsyncManagedTransaction) -> dict[NodeId, NeighbourPage]:
            pages: dict[NodeId, NeighbourPage] = {}
            for start, total, rows in await _collected(tx, query, **params):
                items = []
                for edge, props in rows:
                    other = to_node(props)
                    src, dst = (start, other.id) if direction is Direction.OUT else (other.id, start)
                    items.append(Neighbour(to_edge(rel, src, dst, edge), other))
                pages[start] = NeighbourPage(items[:first], total, len(items) > first)
            return {i: pages.get(i, NeighbourPage([], 0, False)) for i in starts}

        return await self._read("neighbour_pages", work) if starts else {}

    async def expand(
        self, tenant: Tenant, ids: Sequence[NodeId], rels: Sequence[Rel], direction: Direction, *, with_props: bool = False
    ) -> list[Edge]:
        if not ids or not rels:
            return []

        async def work(tx: AsyncManagedTransaction) -> list[Edge]:
            return await _expand(tx, tenant, ids, rels, direction, with_props)

        return await self._read("expand", work)

    async def walk(
        self, tenant: Tenant, starts: Sequence[NodeId] | Mapping[NodeId, int], rels: Sequence[Rel], direction: Direction,
        depth: int, cap: int, *, with_props: bool = False,
    ) -> Walk:
        ids = list(dict.fromkeys(starts))
        query = cypher.for_rels(cypher.WALK, rels, direction) % {"depth": int(depth)} if rels else ""

        async def work(tx: AsyncManagedTransaction) -> Walk:
            if rels:
                record = await (await tx.run(query, tenant=tenant, starts=ids, limit=cap + 1, with_props=with_props)).single()
                if record is not None and record["found"] <= cap:
                    leaving: dict[NodeId, list[Edge]] = defaultdict(list)
                    for rel, src, dst, edge in record["rows"]:
                        leaving[src if direction is Direction.OUT else dst].append(to_edge(REL_OF[rel], src, dst, edge))
                    return drive(bfs(starts, direction, depth, cap), lambda frontier: [e for n in frontier for e in leaving[n]])
            # More than `cap` nodes within reach: step by step, so the cap cuts where bfs cuts.
            steps = bfs(starts, direction, depth, cap)  # a fresh walk if the driver retries
            try:
                frontier = next(steps)
                while True:
                    found = await _expand(tx, tenant, frontier, rels, direction, with_props) if rels else []
                    frontier = steps.send(found)
            except StopIteration as done:
                return done.value

        return await self._read("walk", work)

    def watch_feed(self, watcher: FeedWatcher) -> Callable[[], None]:
        return self._versions.watch_feed(watcher)

    async def feed_since(self, tenant: Tenant, after: int, limit: int) -> list[FeedEntry]:
        async def work(tx: AsyncManagedTransaction) -> list[FeedEntry]:
            rows = await _records(tx, cypher.FEED_SINCE, tenant=tenant, after=after, limit=limit)
            return [FeedEntry.from_json(r["entry"] if r["entry"] is not None else zlib.decompress(r["entry_z"]))
                    for r in rows]

        return await self._read("feed_since", work)

    async def feed_head(self, tenant: Tenant) -> int:
        async def work(tx: AsyncManagedTransaction) -> int:
            rows = await _records(tx, cypher.FEED_HEAD, tenant=tenant)
            return int(rows[0]["seq"]) if rows else 0

        return await self._read("feed_head", work)

    async def feed_heads(self) -> dict[Tenant, int]:
        async def work(tx: AsyncManagedTransaction) -> dict[Tenant, int]:
            return {r["tenant"]: int(r["seq"]) for r in await _records(tx, cypher.FEED_HEADS)}

        return await self._read("feed_heads", work)

    async def listen_feed(self, wake: Callable[[Tenant, int], None]) -> Callable[[], Awaitable[None]] | None:
        return None  # change-data-capture is Enterprise-only: followers poll feed_heads

    async def trim_feed(self, tenant: Tenant, older_than_at: str | None, keep_last: int | None,
                        batch: int = 1000) -> int:
        if older_than_at is None and keep_last is None:
            return 0
        upto = await self.feed_head(tenant) - keep_last if keep_last is not None else None

        async def work(tx: AsyncTransaction) -> int:
            rows = await _records(tx, cypher.TRIM_FEED, tenant=tenant, before=older_than_at, upto=upto, batch=batch)
            return int(rows[0]["deleted"])

        deleted = 0
        while True:  # batches of their own transactions: writers never wait long behind a trim
            with _translated("trim_feed"):
                n = await self._write(work)
            deleted += n
            if n < batch:
                return deleted

    async def topology_version(self, tenant: Tenant, max_age: float = 0.0) -> int:
        return await self._versions.read(tenant, max_age, lambda: self._topology_version(tenant))

    async def _topology_version(self, tenant: Tenant) -> int:
        async def work(tx: AsyncManagedTransaction) -> int:
            rows = await _records(tx, cypher.TOPOLOGY_VERSION, tenant=tenant)
            return int(rows[0]["version"]) if rows else 0

        return await self._read("topology_version", work)

    async def scan_nodes(self, tenant: Tenant, labels: Sequence[Label], *, chunk: int = 50_000
                         ) -> AsyncIterator[list[tuple[NodeId, Label, str]]]:
        with _translated("scan_nodes"):
            async with self._session() as session:
                tx = await session.begin_transaction()  # explicit: a managed one could retry after rows went out
                try:
                    after: NodeId = ""
                    while rows := await _collected(tx, cypher.SCAN_NODES, tenant=tenant, after=after, limit=chunk,
                                                   labels=[label.value for label in labels]):
                        yield [(i, LABEL_OF[label], name) for i, label, name in rows]
                        if len(rows) < chunk:  # a short page is the last: no query for an empty one
                            break
                        after = rows[-1][0]  # keyset pages of the id index
                finally:
                    await tx.close()

    async def scan_node_props(self, tenant: Tenant, labels: Sequence[Label], *, chunk: int = 10_000
                              ) -> AsyncIterator[list[Node]]:
        if not labels:
            return
        with _translated("scan_node_props"):
            async with self._session() as session:
                tx = await session.begin_transaction()  # explicit: a managed one could retry after rows went out
                try:
                    after: NodeId = ""
                    while rows := await _collected(tx, cypher.SCAN_NODE_PROPS, tenant=tenant, after=after, limit=chunk,
                                                   labels=[label.value for label in labels]):
                        yield [to_node(props) for props in rows]
                        if len(rows) < chunk:  # a short page is the last: no query for an empty one
                            break
                        after = rows[-1]["id"]  # keyset pages of the id index
                finally:
                    await tx.close()

    async def scan_edges(self, tenant: Tenant, rel: Rel, *, with_props: bool = False, chunk: int = 50_000
                         ) -> AsyncIterator[list[tuple[NodeId, NodeId, Props | None]]]:
        with _translated("scan_edges"):
            async with self._session() as session:
                tx = await session.begin_transaction()  # explicit: a managed one could retry after rows went out
                try:
                    async for rows in _edge_lists(tx, tenant, rel, with_props):
                        for i in range(0, len(rows), chunk):
                            yield [(src, dst, decode_props(props, EDGE_SYSTEM) if with_props else None)
                                   for src, dst, props in rows[i:i + chunk]]
                finally:
                    await tx.close()

    async def take_lease(self, name: str, holder: str, seconds: float) -> bool:
        leases.check(name, holder, seconds)

        async def work(tx: AsyncTransaction) -> bool:
            await (await tx.run(cypher.LOCK_LEASE, name=name, holder=holder)).consume()
            return bool(await _records(tx, cypher.TAKE_LEASE, name=name, holder=holder, seconds=float(seconds)))

        with _translated("take_lease"):
            return bool(await self._write(work))

    async def release_lease(self, name: str, holder: str) -> None:
        leases.check(name, holder)

        async def work(tx: AsyncTransaction) -> None:
            await (await tx.run(cypher.RELEASE_LEASE, name=name, holder=holder)).consume()

        with _translated("release_lease"):
            await self._write(work)

    async def put_blob(self, tenant: Tenant, name: str, data: bytes) -> int:
        data = blobs.checked(name, data)

        async def work(tx: AsyncTransaction) -> int:
            return int((await _records(tx, cypher.PUT_BLOB, tenant=tenant, name=name, data=data, at=now()))[0]["version"])

        with _translated("put_blob"):
            try:
                return int(await self._write(work))
            except Neo4jError as err:
                if not _out_of_memory(err):
                    raise
                # Up to 64 MiB fits a server configured with sense: it is short of memory right now.
                log.warning("a neo4j blob put ran out of transaction memory (%d bytes): %s", len(data), err.code)
                raise StoreUnavailable("the neo4j store is short of transaction memory right now; retry later") from err

    async def get_blob(self, tenant: Tenant, name: str) -> tuple[int, bytes] | None:
        blobs.check_name(name)

        async def work(tx: AsyncManagedTransaction) -> tuple[int, bytes] | None:
            rows = await _records(tx, cypher.GET_BLOB, tenant=tenant, name=name)
            return (int(rows[0]["version"]), bytes(rows[0]["data"])) if rows else None

        return await self._read("get_blob", work)

    async def blob_version(self, tenant: Tenant, name: str) -> int:
        blobs.check_name(name)

        async def work(tx: AsyncManagedTransaction) -> int:
            rows = await _records(tx, cypher.BLOB_VERSION, tenant=tenant, name=name)
            return int(rows[0]["version"]) if rows else 0

        return await self._read("blob_version", work)

    async def count_by_label(self, tenant: Tenant) -> dict[Label, int]:
        async def work(tx: AsyncManagedTransaction) -> dict[Label, int]:
            rows = await _records(tx, cypher.COUNT_BY_LABEL, tenant=tenant)
            return {LABEL_OF[r["label"]]: r["total"] for r in rows}

        return await self._read("count_by_label", work)

    async def audit_log(self, tenant: Tenant, query: AuditQuery) -> AuditPage:
        filters = {"actor": cypher.AUDIT_ACTOR, "operation": cypher.AUDIT_OPERATION, "outcome": cypher.AUDIT_OUTCOME,
                   "since": cypher.AUDIT_SINCE, "until": cypher.AUDIT_UNTIL}
        params: dict[str, Any] = {k: getattr(query, k) for k in filters if getattr(query, k) is not None}
        match = cypher.AUDIT_MATCH + "".join(f"AND {filters[k]}\n" for k in params)
        page_match = match + (f"AND {cypher.AUDIT_AFTER}\n" if query.after is not None else "")
        if query.after is not None:
            params["after_at"], params["after_id"] = query.after

        async def work(tx: AsyncManagedTransaction) -> AuditPage:
            rows, total, more = await _keyset_page(tx, page_match + cypher.AUDIT_PAGE, match + cypher.AUDIT_COUNT,
                                                   query.first, tenant=tenant, **params)
            records = [AuditRecord(r["row"]["id"], r["row"]["at"], r["row"]["actor"], r["row"]["operation"],
                                   tuple(r["row"]["ids"] or ()), r["row"]["outcome"]) for r in rows]
            return AuditPage(records, total, more)

        return await self._read("audit_log", work)


async def _expand(
    tx: AsyncManagedTransaction, tenant: Tenant, ids: Sequence[NodeId], rels: Sequence[Rel], direction: Direction,
    with_props: bool,
) -> list[Edge]:
    """One EXPAND statement: the rels of these types at these ids, as stored (src -> dst)."""
    query = cypher.for_rels(cypher.EXPAND, rels, direction)
    rows = await _collected(tx, query, tenant=tenant, ids=list(dict.fromkeys(ids)), with_props=with_props)
    return [to_edge(REL_OF[rel], src, dst, edge) for rel, src, dst, edge in rows]


def _find_filters(query: NodeQuery) -> tuple[list[str], dict[str, Any]]:
    """The WHERE fragments (constants from cypher.py) and parameters of a listing's filters."""
    where: list[str] = []
    params: dict[str, Any] = {}
    if query.text:
        where.append(cypher.FIND_TEXT)
        params["text"] = fold(query.text)
    if query.kinds:
        where.append(cypher.FIND_KINDS)
        params["kinds"] = list(query.kinds)
    if query.tags:
        where.append(cypher.FIND_TAGS)
        params["tags"] = [t.lower() for t in query.tags]
    if query.min_score is not None:
        where.append(cypher.FIND_MIN_SCORE)
        params["min_score"] = float(query.min_score)
    return where, params


def _by_label(pairs: Iterable[tuple[str, str]]) -> dict[Label, list[str]]:
    """(label value, key) pairs grouped as {Label: [keys]}."""
    grouped: dict[Label, list[str]] = defaultdict(list)
    for label, key in pairs:
        grouped[LABEL_OF[label]].append(key)
    return grouped


class Neo4jWrites:
    """The Neo4j store's primitives of the write routine (store/apply.py), in one write
    transaction: UNWIND statements of at most ROWS_PER_STATEMENT rows each."""

    def __init__(self, tx: AsyncTransaction, tenant: Tenant) -> None:
        self.tx, self.tenant = tx, tenant

    async def _query(self, query: str, **params: Any) -> list[Any]:
        return await _records(self.tx, query, tenant=self.tenant, **params)

    async def _sliced(self, query: str, name: str, rows: Sequence[Any], **params: Any) -> list[Any]:
        """`query` UNWINDing `$<name>` over `rows`, ROWS_PER_STATEMENT at a time (same transaction)."""
        found: list[Any] = []
        for i in range(0, len(rows), ROWS_PER_STATEMENT):
            found += await self._query(query, **{name: rows[i:i + ROWS_PER_STATEMENT]}, **params)
        return found

    async def lock_nodes(self, ids: Collection[NodeId]) -> dict[NodeId, Node]:
        rows = await self._sliced(cypher.LOCK_NODES, "ids", list(dict.fromkeys(ids)))
        return {(n := to_node(r["props"])).id: n for r in rows}

    async def taken_keys(self, wanted: Collection[KeyPair]) -> dict[KeyPair, NodeId]:
        taken: dict[KeyPair, NodeId] = {}
        for label, keys in _by_label(wanted).items():  # labels can't be parameters: a statement per label
            for r in await self._sliced(cypher.for_label(cypher.TAKEN_KEYS, label), "keys", keys):
                taken[(label.value, r["key"])] = r["id"]
        return taken

    async def labels_of(self, ids: Sequence[NodeId]) -> dict[NodeId, Label]:
        return {r["id"]: LABEL_OF[r["label"]] for r in await self._sliced(cypher.NODE_LABELS, "ids", ids)}

    async def _write_nodes(self, template: str, nodes: list[Node]) -> None:
        for i in range(0, len(nodes), ROWS_PER_STATEMENT):  # rows built a slice at a time, too
            await self._query(template, rows=[node_properties(n, self.tenant) for n in nodes[i:i + ROWS_PER_STATEMENT]])

    async def insert_nodes(self, new: list[Node]) -> None:
        by_label: dict[Label, list[Node]] = defaultdict(list)
        for node in new:
            by_label[node.label].append(node)
        for label, nodes in by_label.items():  # labels can't be parameters: one statement per label
            await self._write_nodes(cypher.for_label(cypher.CREATE_NODES, label), nodes)

    async def rewrite_nodes(self, changed: list[Node]) -> None:
        await self._write_nodes(cypher.REWRITE_NODES, changed)

    async def delete_nodes(self, ids: list[NodeId]) -> None:
        await self._sliced(cypher.DELETE_NODES, "ids", ids)  # DETACH: relationships go too

    async def upsert_edges(self, links: list[Edge]) -> bool:
        by_rel: dict[Rel, list[dict[str, Any]]] = defaultdict(list)
        for e in links:
            by_rel[e.rel].append({"src": e.src, "dst": e.dst, "props": edge_properties(e)})
        stamp, written = now(), False
        for rel, rows in by_rel.items():  # types can't be parameters: statements per type
            for i in range(0, len(rows), ROWS_PER_STATEMENT):
                result = await self.tx.run(cypher.for_rel(cypher.LINK, rel), tenant=self.tenant,
                                           rows=rows[i:i + ROWS_PER_STATEMENT], stamp=stamp, system=sorted(EDGE_SYSTEM))
                counters = (await result.consume()).counters
                written |= bool(counters.relationships_created or counters.properties_set)
        return written

    async def delete_edges(self, links: list[Edge]) -> None:
        by_rel: dict[Rel, list[dict[str, str]]] = defaultdict(list)
        for e in links:
            by_rel[e.rel].append({"src": e.src, "dst": e.dst})
        for rel, pairs in by_rel.items():
            await self._sliced(cypher.for_rel(cypher.UNLINK, rel), "pairs", pairs)

    async def insert_audit(self, records: list[AuditRecord]) -> None:
        rows = [{"id": r.id, "at": r.at, "actor": r.actor, "operation": r.operation, "ids": list(r.ids),
                 "outcome": r.outcome} for r in records]
        await self._sliced(cypher.WRITE_AUDIT, "rows", rows)

    async def bump_version(self) -> int:
        return int((await self._query(cypher.BUMP_TOPOLOGY))[0]["version"])

    async def append_feed(self, entry: FeedEntry) -> int:
        seq = int((await self._query(cypher.BUMP_FEED_HEAD))[0]["seq"])
        text = entry.with_seq(seq).to_json()
        if len(text) <= _FEED_TEXT_MAX:
            await self._query(cypher.APPEND_FEED, seq=seq, at=entry.at, entry=text)
            return seq
        packed = zlib.compress(text.encode(), 6)
        if len(packed) > _FEED_PACKED_MAX:
            # Committing a property of megabytes costs the server many times its size in
            # transaction memory; a batch as big as the server can just hold would no longer fit.
            await self._query(cypher.APPEND_FEED, seq=seq, at=entry.at, entry=entry.with_seq(seq).summary().to_json())
        else:
            await self._query(cypher.APPEND_FEED_Z, seq=seq, at=entry.at, entry=packed)
        return seq
