"""GraphStore on SQLAlchemy 2: SQLite embedded, PostgreSQL as a server. One ChangeSet, one transaction.

The same SQL on both; what differs (connections, how a call runs, bulk writes, scans, driver
errors) is the dialect object (dialects.py), and SQLite's fast paths are in sqlite_bulk.py.
Reads and writes go in batches: a call costs a fixed number of statements whatever the number
of ids (big id lists are chunked).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import AsyncIterator, Awaitable, Callable, Collection, Mapping, Sequence
from typing import Any, TypeVar

from sqlalchemy import Connection, Engine, LargeBinary, and_, bindparam, delete, func, insert, or_, select, text, true, tuple_, update
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncEngine

from maestro_graph.domain import blobs, leases
from maestro_graph.domain.audit import AuditPage, AuditQuery, AuditRecord
from maestro_graph.domain.changes import KeyPair
from maestro_graph.domain.clock import now
from maestro_graph.domain.feed import FeedEntry
from maestro_graph.domain.graph import LABEL_OF, ChangeSet, Edge, Label, Neighbour, NeighbourPage, Node, NodeQuery, Page, Rel
from maestro_graph.domain.text import fold
from maestro_graph.domain.walk import Walk, bfs, drive
from maestro_graph.store.apply import Attempt, apply, run_sync
from maestro_graph.store.sql.dialects import Dialect, chunks, dialect_for
from maestro_graph.store.sql.migrate import upgrade
from maestro_graph.store.sql.tables import NODE_COLS, NODE_ROW, audit_log, change_feed, change_feed_heads, edges, node_row, nodes
from maestro_graph.store.sql.tables import blobs as blob_rows
from maestro_graph.store.sql.tables import leases as lease_rows
from maestro_graph.store.sql.tables import to_node
from maestro_graph.store.versions import FeedWatcher, RecentVersions
from maestro_graph.types import Cursor, Direction, NodeId, Props, Tenant

T = TypeVar("T")


def _like_literal(value: str) -> str:
    r"""`value` as a LIKE pattern that matches it literally (escape character: backslash).

    >>> _like_literal("50%_off")
    '50\\%\\_off'
    """
    return value.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


class SqlStore:
    def __init__(self, url: str, *, pool_size: int = 10) -> None:
        self.dialect = dialect_for(url, pool_size)
        self.backend = self.dialect.name
        self.url = self.dialect.url
        self._versions = RecentVersions()
        self._take_lease = text(_TAKE_LEASE % {"now": self.dialect.EPOCH_NOW})

    @property
    def engine(self) -> Engine | AsyncEngine | None:
        """The engine reads run on (None until opened)."""
        return self.dialect.engine

    # -- lifecycle ---------------------------------------------------------------------------
    async def open(self) -> None:
        if self.dialect.engine is None:
            self.dialect.open()

    async def close(self) -> None:
        await self.dialect.close()

    async def _run(self, fn: Callable[[Connection], T], *, write: bool) -> T:
        return await self.dialect.run(fn, write=write)

    async def migrate(self) -> list[str]:
        return await self._run(upgrade, write=True)

    async def ping(self) -> None:
        try:
            await self._run(lambda c: c.execute(select(1)).scalar_one(), write=False)
        except DBAPIError as err:  # whatever the trivial query met, the store is not answering
            raise self.dialect.unavailable(err) from err

    # -- writes -------------------------------------------------------------------------------
    async def apply(self, tenant: Tenant, changes: ChangeSet) -> dict[NodeId, Node]:
        def transaction(attempt: Attempt) -> Awaitable[dict[NodeId, Node]]:
            return self._run(lambda conn: run_sync(attempt(SqlWrites(conn, tenant, self.dialect))), write=True)

        return await apply(self._versions, tenant, changes, transaction)

    # -- reads --------------------------------------------------------------------------------
    async def get_nodes(self, tenant: Tenant, ids: Sequence[NodeId]) -> dict[NodeId, Node]:
        return await self._run(lambda c: self.dialect.nodes_by_id(c, tenant, ids), write=False) if ids else {}

    async def get_by_keys(self, tenant: Tenant, label: Label, keys: Sequence[str]) -> dict[str, Node]:
        return await self._run(lambda c: self.dialect.nodes_by_key(c, tenant, label, keys), write=False) if keys else {}

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
            return Page([to_node(r) for r in rows[: query.first]], total, len(rows) > query.first)

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
                    .where(edges.c.tenant == tenant, edges.c.rel == rel.value, self.dialect.among(start, part))
                    .order_by(nodes.c.name, nodes.c.id)
                ).all()
                for r in rows:
                    result[r[0]].append(Neighbour(Edge(rel, r[1], r[2], r[3]), to_node(r[4:])))
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
                for r in conn.execute(_neighbour_pages_stmt(self.dialect, tenant, part, rel, direction, first, after, labels)):
                    rows[r[0]].append(r)
                for start, found in rows.items():
                    items = [Neighbour(Edge(rel, r[1], r[2], r[3]), to_node(r[4:10])) for r in found if r[11]]
                    pages[start] = NeighbourPage(items[:first], found[0][10], len(items) > first)
            return pages

        return await self._run(q, write=False) if ids else {}

    async def expand(
        self, tenant: Tenant, ids: Sequence[NodeId], rels: Sequence[Rel], direction: Direction, *, with_props: bool = False
    ) -> list[Edge]:
        if not ids:
            return []
        return await self._run(lambda c: self.dialect.expand(c, tenant, ids, rels, direction, with_props), write=False)

    async def walk(
        self, tenant: Tenant, starts: Sequence[NodeId] | Mapping[NodeId, int], rels: Sequence[Rel], direction: Direction,
        depth: int, cap: int, *, with_props: bool = False,
    ) -> Walk:
        return await self._run(lambda conn: drive(bfs(starts, direction, depth, cap), lambda frontier: self.dialect.expand(
            conn, tenant, frontier, rels, direction, with_props)), write=False)

    def watch_feed(self, watcher: FeedWatcher) -> Callable[[], None]:
        return self._versions.watch_feed(watcher)

    async def feed_since(self, tenant: Tenant, after: int, limit: int) -> list[FeedEntry]:
        stmt = (select(change_feed.c.entry).where(change_feed.c.tenant == tenant, change_feed.c.seq > after)
                .order_by(change_feed.c.seq).limit(limit))
        rows = await self._run(lambda c: c.execute(stmt).scalars().all(), write=False)
        return [FeedEntry.from_dict(r) for r in rows]

    async def feed_head(self, tenant: Tenant) -> int:
        stmt = select(change_feed_heads.c.seq).where(change_feed_heads.c.tenant == tenant)
        return int(await self._run(lambda c: c.execute(stmt).scalar() or 0, write=False))

    async def feed_heads(self) -> dict[Tenant, int]:
        stmt = select(change_feed_heads.c.tenant, change_feed_heads.c.seq)
        return await self._run(lambda c: {t: int(seq) for t, seq in c.execute(stmt)}, write=False)

    async def listen_feed(self, wake: Callable[[Tenant, int], None]) -> Callable[[], Awaitable[None]] | None:
        return await self.dialect.listen_feed(wake)

    async def trim_feed(self, tenant: Tenant, older_than_at: str | None, keep_last: int | None,
                        batch: int = 1000) -> int:
        if older_than_at is None and keep_last is None:
            return 0
        bounds = []
        if older_than_at is not None:
            bounds.append(change_feed.c.at < older_than_at)
        if keep_last is not None:
            bounds.append(change_feed.c.seq <= await self.feed_head(tenant) - keep_last)
        # Oldest first, `batch` at a time, each batch its own short write transaction: it takes
        # no lock a writer waits for beyond the rows it deletes (the head row is not touched).
        oldest = (select(change_feed.c.seq).where(change_feed.c.tenant == tenant, or_(*bounds))
                  .order_by(change_feed.c.seq).limit(batch).scalar_subquery())
        stmt = delete(change_feed).where(change_feed.c.tenant == tenant, change_feed.c.seq.in_(oldest))
        deleted = 0
        while True:
            n = await self._run(lambda c: c.execute(stmt).rowcount, write=True)
            deleted += n
            if n < batch:
                return deleted

    async def topology_version(self, tenant: Tenant, max_age: float = 0.0) -> int:
        return await self._versions.read(tenant, max_age, lambda: self._topology_version(tenant))

    async def _topology_version(self, tenant: Tenant) -> int:
        return await self.dialect.topology_version(tenant)

    async def scan_nodes(self, tenant: Tenant, labels: Sequence[Label], *, chunk: int = 50_000
                         ) -> AsyncIterator[list[tuple[NodeId, Label, str]]]:
        async for rows in self.dialect.scan_nodes(tenant, [label.value for label in labels], chunk):
            yield [(i, LABEL_OF[label], name) for i, label, name in rows]

    async def scan_edges(self, tenant: Tenant, rel: Rel, *, with_props: bool = False, chunk: int = 50_000
                         ) -> AsyncIterator[list[tuple[NodeId, NodeId, Props | None]]]:
        async for rows in self.dialect.scan_edges(tenant, rel, with_props, chunk):
            yield rows

    async def scan_node_props(self, tenant: Tenant, labels: Sequence[Label], *, chunk: int = 10_000
                              ) -> AsyncIterator[list[Node]]:
        if not labels:
            return
        stmt = select(*NODE_COLS).where(nodes.c.tenant == tenant, nodes.c.label.in_([label.value for label in labels]))
        async for rows in self.dialect.stream(stmt, chunk):
            yield [to_node(r) for r in rows]

    async def take_lease(self, name: str, holder: str, seconds: float) -> bool:
        leases.check(name, holder, seconds)
        params = {"name": name, "holder": holder, "seconds": float(seconds)}
        return await self._run(lambda c: c.execute(self._take_lease, params).first() is not None, write=True)

    async def release_lease(self, name: str, holder: str) -> None:
        leases.check(name, holder)
        stmt = delete(lease_rows).where(lease_rows.c.name == name, lease_rows.c.holder == holder)
        await self._run(lambda c: c.execute(stmt), write=True)

    async def put_blob(self, tenant: Tenant, name: str, data: bytes) -> int:
        data = blobs.checked(name, data)
        params = {"tenant": tenant, "name": name, "data": data, "at": now()}
        return int(await self._run(lambda c: c.execute(_PUT_BLOB, params).scalar_one(), write=True))

    async def get_blob(self, tenant: Tenant, name: str) -> tuple[int, bytes] | None:
        blobs.check_name(name)
        stmt = select(blob_rows.c.version, blob_rows.c.data).where(blob_rows.c.tenant == tenant, blob_rows.c.name == name)
        row = await self._run(lambda c: c.execute(stmt).first(), write=False)
        return (int(row[0]), bytes(row[1])) if row is not None else None

    async def blob_version(self, tenant: Tenant, name: str) -> int:
        blobs.check_name(name)
        stmt = select(blob_rows.c.version).where(blob_rows.c.tenant == tenant, blob_rows.c.name == name)
        return int(await self._run(lambda c: c.execute(stmt).scalar() or 0, write=False))

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



def _neighbour_pages_stmt(dialect: Dialect, tenant: Tenant, ids: Sequence[NodeId], rel: Rel, direction: Direction,
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
        .where(edges.c.tenant == tenant, edges.c.rel == rel.value, dialect.among(start, ids))
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


class SqlWrites:
    """The SQL store's primitives of the write routine (store/apply.py), in one open transaction.
    Plain calls: run_sync drives the routine through them without an event loop."""

    def __init__(self, conn: Connection, tenant: Tenant, dialect: Dialect) -> None:
        self.conn, self.tenant, self.dialect = conn, tenant, dialect

    async def lock_nodes(self, ids: Collection[NodeId]) -> dict[NodeId, Node]:
        return self.dialect.nodes_by_id(self.conn, self.tenant, ids, lock=True)

    async def taken_keys(self, wanted: Collection[KeyPair]) -> dict[KeyPair, NodeId]:
        """One query per label with `label = ? AND key IN (...)`: a row-value IN over (label, key)
        would only use the index's tenant prefix, i.e. scan the tenant."""
        taken: dict[KeyPair, NodeId] = {}
        by_label: dict[str, list[str]] = defaultdict(list)
        for label, key in wanted:
            by_label[label].append(key)
        for label, keys in by_label.items():
            for part in chunks(keys):
                rows = self.conn.execute(select(nodes.c.key, nodes.c.id).where(
                    nodes.c.tenant == self.tenant, nodes.c.label == label, self.dialect.keys_among(part)))
                taken.update(((label, r.key), r.id) for r in rows)
        return taken

    async def labels_of(self, ids: Sequence[NodeId]) -> dict[NodeId, Label]:
        labels: dict[NodeId, Label] = {}
        for part in chunks(ids):
            rows = self.conn.execute(
                select(nodes.c.id, nodes.c.label).where(nodes.c.tenant == self.tenant, self.dialect.among(nodes.c.id, part)))
            labels.update((r.id, LABEL_OF[r.label]) for r in rows)
        return labels

    async def insert_nodes(self, new: list[Node]) -> None:
        self.dialect.insert_nodes(self.conn, self.tenant, new)

    async def rewrite_nodes(self, changed: list[Node]) -> None:
        rows = [{f"b_{k}": v for k, v in zip(NODE_ROW, node_row(n, self.tenant))} for n in changed]
        stmt = (
            update(nodes)
            .where(nodes.c.tenant == bindparam("b_tenant"), nodes.c.id == bindparam("b_id"))
            .values({c: bindparam(f"b_{c}") for c in ("key", "name", "kind", "score", "tags", "props", "updated_at", "name_fold")})
        )
        self.conn.execute(stmt, rows)

    async def delete_nodes(self, ids: list[NodeId]) -> None:
        every_rel = [r.value for r in Rel]  # leading rel lets both edge indexes serve the delete
        among = self.dialect.among
        for part in chunks(ids):
            self.conn.execute(delete(edges).where(edges.c.tenant == self.tenant, edges.c.rel.in_(every_rel), among(edges.c.src, part)))
            self.conn.execute(delete(edges).where(edges.c.tenant == self.tenant, edges.c.rel.in_(every_rel), among(edges.c.dst, part)))
            self.conn.execute(delete(nodes).where(nodes.c.tenant == self.tenant, among(nodes.c.id, part)))

    async def upsert_edges(self, links: list[Edge]) -> bool:
        return self.dialect.upsert_edges(self.conn, self.tenant, links) > 0

    async def delete_edges(self, links: list[Edge]) -> None:
        stmt = delete(edges).where(
            edges.c.tenant == bindparam("t"), edges.c.rel == bindparam("r"),
            edges.c.src == bindparam("s"), edges.c.dst == bindparam("d"),
        )
        self.conn.execute(stmt, [{"t": self.tenant, "r": e.rel.value, "s": e.src, "d": e.dst} for e in links])

    async def insert_audit(self, records: list[AuditRecord]) -> None:
        self.conn.execute(insert(audit_log), [{"tenant": self.tenant, "id": r.id, "at": r.at, "actor": r.actor,
                                               "operation": r.operation, "ids": list(r.ids), "outcome": r.outcome}
                                              for r in records])

    async def bump_version(self) -> int:
        return int(self.conn.execute(_BUMP_TOPOLOGY, {"tenant": self.tenant}).scalar_one())

    async def append_feed(self, entry: FeedEntry) -> int:
        seq = int(self.conn.execute(_BUMP_FEED, {"tenant": self.tenant}).scalar_one())
        self.conn.execute(insert(change_feed), {"tenant": self.tenant, "seq": seq, "at": entry.at,
                                                "entry": entry.with_seq(seq).to_dict()})
        self.dialect.notify_feed(self.conn, self.tenant, seq)
        return seq


_BUMP_TOPOLOGY = text(
    "INSERT INTO topology_versions (tenant, version) VALUES (:tenant, 1) "
    "ON CONFLICT (tenant) DO UPDATE SET version = topology_versions.version + 1 RETURNING version")

# Take or renew in one statement, so it is atomic on both databases: the row is inserted, or
# rewritten if its holder is the taker or its time ran out, and RETURNING gives a row only then
# (a refused upsert returns none). Concurrent takers of a free lease: one inserts, the others meet
# its row (PostgreSQL waits for its commit; SQLite's writers go one at a time) and are refused.
_TAKE_LEASE = (
    "INSERT INTO leases (name, holder, expires_at) VALUES (:name, :holder, %(now)s + :seconds) "
    "ON CONFLICT (name) DO UPDATE SET holder = excluded.holder, expires_at = excluded.expires_at "
    "WHERE leases.holder = excluded.holder OR leases.expires_at <= %(now)s "
    "RETURNING holder")

# Insert version 1 or bump the stored version, in one statement: the row is locked from the
# conflict to commit, so of two concurrent puts the second sees the first's version and takes the
# next (PostgreSQL waits for the first's commit; SQLite's writers go one at a time).
_PUT_BLOB = text(
    "INSERT INTO blobs (tenant, name, version, data, updated_at) VALUES (:tenant, :name, 1, :data, :at) "
    "ON CONFLICT (tenant, name) DO UPDATE SET version = blobs.version + 1, data = excluded.data, "
    "updated_at = excluded.updated_at RETURNING version").bindparams(bindparam("data", type_=LargeBinary))

# The head row is locked from here to commit: the tenant's next writer waits for this one's
# commit before it takes seq + 1, so seqs follow commit order without gaps.
_BUMP_FEED = text(
    "INSERT INTO change_feed_heads (tenant, seq) VALUES (:tenant, 1) "
    "ON CONFLICT (tenant) DO UPDATE SET seq = change_feed_heads.seq + 1 RETURNING seq")
