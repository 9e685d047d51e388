"""The GraphStore protocol. Its docstrings are the contract that tests/contract holds every backend to.

Every method takes the caller's tenant first: no call can see or touch another tenant's nodes.
Every method works on many items at once; none is meant to be called in a loop.
"""

from __future__ import annotations

from collections.abc import Awaitable, AsyncIterator, Callable, Collection, Mapping, Sequence
from typing import Protocol, runtime_checkable

from maestro_graph.domain.audit import AuditPage, AuditQuery
from maestro_graph.domain.feed import FeedEntry
from maestro_graph.domain.graph import ChangeSet, Edge, Label, Neighbour, NeighbourPage, Node, NodeQuery, Page, Rel
from maestro_graph.domain.walk import Walk
from maestro_graph.store.versions import FeedWatcher
from maestro_graph.types import Cursor, Direction, NodeId, Props, Tenant


@runtime_checkable
class GraphStore(Protocol):
    #: a short name for logs and health output: "sqlite", "postgresql", "neo4j"
    backend: str

    async def open(self) -> None:
        """Connect (pools, drivers). Does not create or change the schema."""

    async def close(self) -> None:
        """Release every connection. The store can be opened again."""

    async def migrate(self) -> list[str]:
        """Bring the schema to the newest version; return the versions applied now.

        A second call applies nothing and returns []."""

    async def ping(self) -> None:
        """Return if the store answers a trivial query; raise StoreUnavailable if not."""

    async def apply(self, tenant: Tenant, changes: ChangeSet) -> dict[NodeId, Node]:
        """Apply a ChangeSet atomically: all of it, or (on any error) none of it.

        Returns every created, merged or updated node as now stored.
        `changes.expect` is checked first, on the expected nodes locked until commit, so it is a
        compare-and-set: of concurrent applies expecting what another one changes, one commits
        and the others see its change (and are refused); across store objects and processes too.
        Raises:
          Conflict  — a created node's (label, natural key) is taken in this tenant
                      (by a stored node or by another node of the same ChangeSet); or an
                      expectation is not met (`field` names the prop);
          NotFound  — an updated, deleted or expected id, or a linked endpoint, does not exist
                      in this tenant (nodes created or merged by the same ChangeSet exist;
                      expectations are checked before those are written);
          BadInput  — a link joins labels the graph model does not allow.
        `changes.audit` records are written in the same transaction (an audit-only ChangeSet
        just writes them).
        A ChangeSet that changes the graph appends exactly one entry to the tenant's change feed
        in the same transaction (store/apply.py says which do; see feed_since); an audit-only
        one appends none. A failed apply appends nothing.
        Created nodes keep the id, key and timestamps they carry; merged nodes keep their
        stored created_at and get their props patched; updates bump updated_at.
        """

    async def get_nodes(self, tenant: Tenant, ids: Sequence[NodeId]) -> dict[NodeId, Node]:
        """The nodes with these ids in this tenant; unknown ids are simply absent."""

    async def get_by_keys(self, tenant: Tenant, label: Label, keys: Sequence[str]) -> dict[str, Node]:
        """Nodes of a label by natural key, keyed by that key; unknown keys are absent."""

    async def find_nodes(self, tenant: Tenant, query: NodeQuery) -> Page:
        """One page of a label's nodes that match every filter, ordered by (name, id).

        `after` is the (name, id) of the last node of the previous page; `total` counts
        every match regardless of paging."""

    async def neighbours(
        self,
        tenant: Tenant,
        ids: Sequence[NodeId],
        rel: Rel,
        direction: Direction,
    ) -> dict[NodeId, list[Neighbour]]:
        """For each start id, its `rel` relationships in `direction` with the node at the other
        end, ordered by that node's (name, id). Every start id is a key (maybe with [])."""

    async def neighbour_pages(
        self,
        tenant: Tenant,
        ids: Sequence[NodeId],
        rel: Rel,
        direction: Direction,
        *,
        first: int,
        after: Cursor | None = None,
        labels: Collection[Label] = (),
    ) -> dict[NodeId, NeighbourPage]:
        """For each start id, one page of what `neighbours` gives it, cut in the store: the first
        `first` relationships whose other node comes after `after` in (name, id) order (name as
        domain.graph.node_name gives it), whether more follow, and the total whatever the page.
        With `labels`, only nodes of those labels at the other end count, in the page and the
        total. Every start id is a key. One call for all the ids, whatever their number."""

    async def expand(
        self,
        tenant: Tenant,
        ids: Sequence[NodeId],
        rels: Sequence[Rel],
        direction: Direction,
        *,
        with_props: bool = False,
    ) -> list[Edge]:
        """One step of a breadth-first walk: every relationship of one of `rels` that leaves (OUT)
        or enters (IN) one of `ids`, as stored (src -> dst), in no particular order. Props are {}
        unless `with_props`. No node is loaded: walks fetch ids first and hydrate at the end."""

    async def walk(
        self,
        tenant: Tenant,
        starts: Sequence[NodeId] | Mapping[NodeId, int],
        rels: Sequence[Rel],
        direction: Direction,
        depth: int,
        cap: int,
        *,
        with_props: bool = False,
    ) -> Walk:
        """Breadth-first from `starts` along `rels`, at most `depth` steps and `cap` nodes
        reached, exactly as domain.walk.bfs walks (starts may enter at a distance), inside one
        store call."""

    async def topology_version(self, tenant: Tenant, max_age: float = 0.0) -> int:
        """A number that changes, in the transaction of the change, whenever this tenant's topology
        (what impact analysis follows: domain/impact.py) changes: a relationship of TOPOLOGY_RELS
        written anew or with new props, or unlinked; any node deleted; a node of TOPOLOGY_LABELS
        renamed. 0 for a tenant whose topology never changed. Writes that change none of these
        (run states, re-sent events, new nodes not yet linked) leave it as it is.

        With max_age > 0, a version this store object read less than max_age seconds ago may be
        returned without asking the database, unless this object has since committed a change to
        the tenant's topology (store/versions.py)."""

    def watch_feed(self, watcher: FeedWatcher) -> Callable[[], None]:
        """Call `watcher(entry, stored)` with each feed entry this store object appends, with its
        seq, and the nodes the change wrote as stored, after its commit, on the event loop, in the
        task that applied it (so: quick, and no raising). The process's feed follower
        (services/feed.py) is the one watcher the server registers.
        Returns the function that stops the calls. Entries other store objects or processes
        append are read with feed_since."""

    async def feed_since(self, tenant: Tenant, after: int, limit: int) -> list[FeedEntry]:
        """The tenant's change feed entries with seq > `after`, in seq order, at most `limit`.
        Seqs are 1, 2, 3, ... per tenant without gaps and in commit order: an entry with a
        higher seq was committed after every lower one; entries trimmed away are simply absent
        (the first one returned then has a seq above after + 1)."""

    async def feed_head(self, tenant: Tenant) -> int:
        """The tenant's last appended seq (0 if it never had one); trimming never lowers it."""

    async def feed_heads(self) -> dict[Tenant, int]:
        """Every tenant's last appended seq, in one read: what a follower polls to learn which
        tenants' feeds moved (tenants that never had an entry are absent)."""

    async def listen_feed(self, wake: Callable[[Tenant, int], None]) -> Callable[[], Awaitable[None]] | None:
        """If the backend can push commits to other processes (PostgreSQL: LISTEN/NOTIFY), call
        `wake(tenant, seq)` on the event loop soon after any process commits an entry, and return
        the coroutine function that stops listening; None if it cannot (SQLite, Neo4j Community:
        followers poll feed_heads). A wake-up only says "read the feed": it may be late, doubled
        or lost (a dropped connection is re-established), never the source of truth."""

    async def trim_feed(self, tenant: Tenant, older_than_at: str | None, keep_last: int | None,
                        batch: int = 1000) -> int:
        """Delete the tenant's feed entries whose `at` is before `older_than_at`, and those beyond
        the last `keep_last`, oldest first, in transactions of at most `batch` entries each (so
        writers never wait long behind it); how many it deleted. None: no such bound."""

    def scan_nodes(self, tenant: Tenant, labels: Sequence[Label], *, chunk: int = 50_000
                   ) -> AsyncIterator[list[tuple[NodeId, Label, str]]]:
        """(id, label, name) of this tenant's nodes of `labels`, in lists of at most `chunk`, in
        no particular order, all read in one transaction. `name` is Node.name. With scan_edges,
        what the lineage index is built from (it sorts them): each backend reads in whatever
        order is cheapest for it (SQL: the listing index, which holds all three columns)."""

    def scan_edges(self, tenant: Tenant, rel: Rel, *, with_props: bool = False, chunk: int = 50_000
                   ) -> AsyncIterator[list[tuple[NodeId, NodeId, Props | None]]]:
        """Every `rel` relationship of this tenant as (src, dst, props) tuples, in lists of at
        most `chunk`, in no particular order, all read in one transaction. Props are None unless
        `with_props`. What the lineage index is built from: each backend reads the type in
        whatever order is cheapest for it (the primary key in SQL; in Neo4j, by type when the
        type is small, else slices of the id index), as tuples, not Edges (an Edge costs more to
        make than the row costs to read)."""

    def scan_node_props(self, tenant: Tenant, labels: Sequence[Label], *, chunk: int = 10_000
                        ) -> AsyncIterator[list[Node]]:
        """Every node of `labels` in this tenant as a Node (id, label, key, props, created_at,
        updated_at), in lists of at most `chunk`, in no particular order, all read in one
        transaction (a consistent snapshot). What batch work over a whole tenant reads (the
        meta-model's features): one call however many nodes, where listings stop at 100.
        Each Node equals what get_nodes gives for its id. No labels: nothing.
        SQL reads one statement's snapshot. Neo4j reads committed data (keyset pages by id in
        the one transaction): a node written while the scan runs may or may not be in it, but
        none comes twice and every node there throughout comes once."""

    async def take_lease(self, name: str, holder: str, seconds: float) -> bool:
        """Hold the lease `name` for `seconds` from now if no one holds it, its holder's time ran out,
        or `holder` holds it already (which renews it); whether `holder` holds it now. Atomic across
        processes: two takers of a free lease, one wins.

        Leases are the server's own (one replica at a time watches Kubernetes jobs): not per
        tenant, not graph nodes, not in the feed or the audit log. Time is the database's clock,
        never a replica's (their clocks may differ): a holder that renews well within `seconds`
        keeps it, one that stops renewing loses it `seconds` after its last renewal."""

    async def release_lease(self, name: str, holder: str) -> None:
        """Give the lease up if `holder` holds it (another holder's lease is left alone): any
        holder may take it at once."""

    async def put_blob(self, tenant: Tenant, name: str, data: bytes) -> int:
        """Store `data` under `name` (replacing what was there) in one transaction; the new version:
        1 for the first, then one more than the last, per (tenant, name). Atomic: of two concurrent
        puts of a name, one gets version n + 1 and the other n + 2.

        Blobs are what every server replica must load (the trained meta-model): per tenant, not
        graph nodes, not in the feed or the audit log (the service that writes one audits its own
        operation). A name is 1 to 200 characters (domain/blobs.py); data over 64 MiB is BadInput."""

    async def get_blob(self, tenant: Tenant, name: str) -> tuple[int, bytes] | None:
        """(version, data) of the blob `name`, or None."""

    async def blob_version(self, tenant: Tenant, name: str) -> int:
        """The blob's version (0 if none): a cheap check before loading it again."""

    async def count_by_label(self, tenant: Tenant) -> dict[Label, int]:
        """How many nodes of each label this tenant has (labels with none are absent)."""

    async def audit_log(self, tenant: Tenant, query: AuditQuery) -> AuditPage:
        """One page of this tenant's audit records matching every filter (actor, operation and
        outcome equal; since <= at < until), newest first: ordered by (at, id) descending.

        `after` is the (at, id) of the last record of the previous page; `total` counts every
        match regardless of paging."""
