"""Applying a ChangeSet: the one write routine of every store, over the few primitives in which
the backends differ (Writes).

The order of the steps, what each checks and reads first, when the topology version moves and
what watchers are told are decided here once; domain/changes.py holds the rules of merging and
updating. A backend only reads and writes rows: `Writes`, inside one open write transaction.

The routine is a coroutine. Neo4j's primitives await the driver; the SQL store's are plain
calls on a synchronous Connection (a whole ChangeSet is one thread hop, or one run_sync), so it
drives the same coroutine with run_sync below: it never suspends.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Collection, Coroutine, Sequence
from typing import Any, Protocol, TypeVar

from maestro_graph.domain import changes
from maestro_graph.domain.audit import AuditRecord
from maestro_graph.domain.changes import KeyPair
from maestro_graph.domain.clock import now
from maestro_graph.domain.errors import NotFound
from maestro_graph.domain.feed import EntryBuilder, FeedEntry
from maestro_graph.domain.graph import ChangeSet, Edge, Expect, Label, Node, check_endpoints
from maestro_graph.domain.impact import TOPOLOGY_RELS, renames
from maestro_graph.store.versions import RecentVersions
from maestro_graph.types import NodeId, Props, Tenant

T = TypeVar("T")
Written = dict[NodeId, Node]


class Writes(Protocol):
    """A backend's reads and writes inside one open write transaction, for one tenant. Each takes
    many items at once (never none) and cuts them into statements of the size its database likes."""

    async def lock_nodes(self, ids: Collection[NodeId]) -> dict[NodeId, Node]:
        """The stored nodes among ids, locked against concurrent writers until commit, as they
        are once locked (a writer that held the lock and committed meanwhile: its write is seen).
        SQLite: the write transaction holds the database (BEGIN IMMEDIATE) already; PostgreSQL:
        SELECT ... FOR UPDATE; Neo4j: a property SET (and removed) takes the node's write lock."""

    async def taken_keys(self, wanted: Collection[KeyPair]) -> dict[KeyPair, NodeId]:
        """Which (label, key) pairs are held in this tenant, and by which id."""

    async def labels_of(self, ids: Sequence[NodeId]) -> dict[NodeId, Label]:
        """The labels of the stored nodes among ids."""

    async def insert_nodes(self, nodes: list[Node]) -> None:
        """Store new nodes as they are (a natural key taken meanwhile is the database's unique
        constraint: the backend's error becomes a Conflict)."""

    async def rewrite_nodes(self, nodes: list[Node]) -> None:
        """Replace stored nodes' keys, props and updated_at with these."""

    async def delete_nodes(self, ids: list[NodeId]) -> None:
        """Delete stored nodes and every relationship that starts or ends at one."""

    async def upsert_edges(self, links: list[Edge]) -> bool:
        """Insert new relationships, rewrite those whose props differ (relinking with the same
        props writes nothing); whether any was written."""

    async def delete_edges(self, links: list[Edge]) -> None:
        """Delete these relationships (absent ones are no error)."""

    async def insert_audit(self, records: list[AuditRecord]) -> None:
        """Store audit records."""

    async def bump_version(self) -> int:
        """Add one to the tenant's topology version; the new version."""

    async def append_feed(self, entry: FeedEntry) -> int:
        """Append `entry` (its seq is 0) to the tenant's change feed with the next sequence number
        (the tenant's head plus one, the head row or node locked until commit, so concurrent
        writers of a tenant take 1, 2, 3, ... without gaps); that number."""


class ApplyChangeSet:
    """One ChangeSet inside one open transaction.

    Every ChangeSet that changes the graph (a node created, updated or deleted, a relationship
    linked anew or with new props, or unlinked) appends exactly one entry to the tenant's change
    feed (domain/feed.py), last, in the same transaction: a failed write appends nothing. One that
    changes nothing appends none: an audit-only ChangeSet (a refused operation's record, a minted
    token), merges that bring nothing new, links that all exist with the same props."""

    def __init__(self, writes: Writes, tenant: Tenant) -> None:
        self.writes = writes
        self.tenant = tenant
        self.written: Written = {}
        self.topology_changed = False  # see GraphStore.topology_version
        self.version: int | None = None  # the topology version this change made, if it made one
        self.feed = EntryBuilder()
        self.entry: FeedEntry | None = None  # the feed entry this change appended, with its seq

    async def run(self, cs: ChangeSet) -> Written:
        await self._expect(cs.expect)
        await self._create(cs.create)
        await self._merge(cs.merge)
        await self._update(cs.update)
        await self._delete(cs.delete)
        await self._link(cs.link)
        await self._unlink(cs.unlink)
        if cs.audit:
            await self.writes.insert_audit(cs.audit)
        if self.topology_changed:  # late, so the version's row (or node) is locked only until commit
            self.version = await self.writes.bump_version()
        entry = self.feed.entry(self.tenant, now(), cs.audit, self.version or 0)
        if entry is not None:  # last: the feed's head is the most contended lock of all
            self.entry = entry.with_seq(await self.writes.append_feed(entry))
        return self.written

    async def _expect(self, expect: list[Expect]) -> None:
        """First: the expected nodes are locked until commit (so the props checked are the ones
        this write's steps see, and no other writer changes them before it commits), then
        checked; an unmet expectation raises before anything is written."""
        if not expect:
            return
        current = await self.writes.lock_nodes(list(dict.fromkeys(e.id for e in expect)))
        changes.refuse_unexpected(expect, current)

    async def _create(self, new: list[Node], *, keys_checked: bool = False) -> None:
        if not new:
            return
        wanted = changes.new_keys(new)
        if not keys_checked:
            changes.refuse_taken(await self.writes.taken_keys(wanted))
        await self.writes.insert_nodes(new)
        self.written.update((n.id, n) for n in new)
        self.feed.create(new)

    async def _merge(self, incoming: list[Node]) -> None:
        if not incoming:
            return
        combined = changes.combine(incoming)
        current = await self.writes.lock_nodes(combined)
        plan = changes.plan_merge(combined, current)
        self.topology_changed |= renames(current, {n.id: n for n in plan.changed})
        self.written.update(plan.result)
        if plan.fresh:
            # Merged nodes are identity-keyed and come with the id their key has (found by key, or
            # new: services/identities.py), so their keys are not checked again here; a node
            # another writer gave the same key meanwhile hits the unique constraint: a Conflict.
            await self._create(plan.fresh, keys_checked=True)
        if plan.changed:
            await self.writes.rewrite_nodes(plan.changed)
            self.feed.update(current, plan.changed)

    async def _update(self, patches: list[tuple[NodeId, Props]]) -> None:
        if not patches:
            return
        current = await self.writes.lock_nodes(list(dict.fromkeys(i for i, _ in patches)))
        rewritten, rekeyed = changes.plan_update(patches, current)
        changes.refuse_rekeyed(rekeyed, await self.writes.taken_keys(rekeyed) if rekeyed else {})
        self.topology_changed |= renames(current, rewritten)
        await self.writes.rewrite_nodes(list(rewritten.values()))
        self.written.update(rewritten)
        self.feed.update(current, list(rewritten.values()))

    async def _delete(self, ids: list[NodeId]) -> None:
        if not ids:
            return
        current = await self.writes.lock_nodes(list(dict.fromkeys(ids)))
        missing = [i for i in ids if i not in current]
        if missing:
            raise NotFound(f"no node with id {missing[0]}", field="id")
        self.topology_changed = True
        await self.writes.delete_nodes(list(current))
        self.feed.delete(current)
        for i in current:
            self.written.pop(i, None)

    async def _link(self, links: list[Edge]) -> None:
        if not links:
            return
        ends = {e.src for e in links} | {e.dst for e in links}
        labels = {i: n.label for i, n in self.written.items() if i in ends}
        unknown = [i for i in ends if i not in labels]
        if unknown:
            labels.update(await self.writes.labels_of(unknown))
        if ends - labels.keys():
            for e in links:  # name the first missing end, in link order
                for end in ("src", "dst"):
                    if getattr(e, end) not in labels:
                        raise NotFound(f"no node with id {getattr(e, end)} to link", field=end)
        for rel, src, dst in dict.fromkeys((e.rel, labels[e.src], labels[e.dst]) for e in links):  # each kind once
            check_endpoints(rel, src, dst)
        latest = {(e.rel, e.src, e.dst): e for e in links}  # the same link twice: last props win
        other = [e for e in latest.values() if e.rel not in TOPOLOGY_RELS]
        topology = [e for e in latest.values() if e.rel in TOPOLOGY_RELS]
        # The feed lists the links of a kind (topology or not) of which any was written: the
        # primitive tells whether any of a call's rows was written, not which.
        if other and await self.writes.upsert_edges(other):
            self.feed.link(other)
        # Only a relationship written anew (or with new props) changes the topology: a replayed
        # event writes none, so it leaves the in-memory topology fresh.
        if topology and await self.writes.upsert_edges(topology):
            self.topology_changed = True
            self.feed.link(topology)

    async def _unlink(self, links: list[Edge]) -> None:
        if not links:
            return
        self.topology_changed |= any(e.rel in TOPOLOGY_RELS for e in links)
        await self.writes.delete_edges(links)
        self.feed.unlink(links)  # as asked: the primitive does not tell which existed


Attempt = Callable[[Writes], Coroutine[Any, Any, Written]]


async def apply(versions: RecentVersions, tenant: Tenant, cs: ChangeSet,
                transaction: Callable[[Attempt], Awaitable[Written]]) -> Written:
    """What GraphStore.apply does whatever the backend: `transaction(attempt)` opens a write
    transaction, runs `attempt(writes)` in it and commits (a backend may retry it: each try runs
    a fresh ApplyChangeSet). Then the topology versions are told what happened, and the feed's
    watchers get the entry the change appended (with its seq), if it appended one: the one
    post-commit path (services/feed.py)."""
    if not cs:
        return {}
    attempts: list[ApplyChangeSet] = []

    def attempt(writes: Writes) -> Coroutine[Any, Any, Written]:
        attempts.append(op := ApplyChangeSet(writes, tenant))  # fresh state for each try
        return op.run(cs)

    try:
        written = await transaction(attempt)
    finally:
        if any(op.topology_changed for op in attempts):  # committed, or maybe: forget the version either way
            versions.changed(tenant)
    done = attempts[-1] if attempts else None  # the try that committed
    if done is not None and done.entry is not None:
        versions.appended(done.entry, written)
    return written


def run_sync(coroutine: Coroutine[Any, Any, T]) -> T:
    """Run to its end, in this thread, a coroutine whose awaits all reach plain calls (the SQL
    store's Writes), so that it never suspends."""
    try:
        coroutine.send(None)
    except StopIteration as done:
        return done.value  # type: ignore[no-any-return]
    coroutine.close()
    raise AssertionError("a synchronous Writes suspended: it must not await anything that waits")
