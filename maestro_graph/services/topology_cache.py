"""Each tenant's topology (domain/topology.py) kept in memory for impact analysis.

Before every impact analysis the store's topology version is read. The in-memory topology answers
only if it is at that version; otherwise the answer comes from the store as before, and the
topology is brought up to date, in one of two ways:
  - Taking changes in. Every change feed entry that changed the topology carries the version it
    made (FeedEntry.topology); the process's feed follower (services/feed.py) hands this cache
    the entries of the tenants it holds, this process's own commits at once and other processes'
    (replicas, `maestro-graph ingest`) as it reads them. Those changes wait here until a query
    needs them, or until they hold len(topology) // 4 nodes and relationships, and are then taken
    in together (Topology.advanced): a pass over the topology's arrays, whatever their number,
    plus a little Python for each new relationship. A query waits for a take-in expected to take
    at most QUICK seconds (read-your-writes at in-memory speed); else the store answers while it
    runs. Take-ins rest as long as the last took, so they use at most half a core.
  - Rebuilding from the store, when the changes do not follow on from the topology's version
    even after reading the feed: the feed trimmed past it, an entry too big to hold its changes
    (truncated), a node deleted, or a tenant first asked about. "background" (the default) rebuilds beside the server, because a rebuild reads
    the tenant's whole topology and a big one takes many seconds; until it is done, impact
    analysis walks the store, and each rebuild rests as long as the last took. "inline" waits
    for it (small graphs, tests).
"off" always walks the store.
How fresh: a change committed through this process is seen by the next query (the store forgets
the version it remembered). A change committed by another process is seen within `max_lag`
seconds: the version read is remembered that long, because on a database server the read is a
round trip that costs more than the walk itself. max_lag=0 reads it every query. A query that
finds a version the waiting changes do not reach reads the feed first (FeedFollower.catch_up).
Writes that do not change the topology (run states, re-sent OpenLineage events) keep it current.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import sys
import time
from array import array
from collections import OrderedDict, defaultdict
from dataclasses import dataclass

from maestro_graph.domain.errors import BadInput, StoreUnavailable
from maestro_graph.domain.graph import Label, Rel
from maestro_graph.domain.impact import FLAGS, TOPOLOGY_LABELS
from maestro_graph.domain.topology import LABEL_CODES, WAYS, Csr, Topology
from collections.abc import Mapping

from maestro_graph.domain.feed import FeedEntry
from maestro_graph.domain.graph import Node
from maestro_graph.services.feed import FeedFollower
from maestro_graph.store.base import GraphStore
from maestro_graph.types import Direction, NodeId, Props, Tenant

log = logging.getLogger(__name__)
MODES = ("background", "inline", "off")
PAGE = 50_000  # nodes per scan_nodes chunk
GRACE = 0.05  # seconds a background rebuild waits for a report of this process's own commit
QUICK = 0.25  # seconds: a query waits for a take-in expected to be this quick, else walks the store
MAX_WAITING = 2_000_000  # nodes and relationships noted for a topology being built; past that, it rebuilds again


class TopologyCache:
    def __init__(self, store: GraphStore, mode: str = "background", max_nodes: int = 2_000_000,
                 max_lag: float = 1.0, min_rest: float = 0.0, feed: FeedFollower | None = None) -> None:
        if mode not in MODES:
            raise BadInput(f"MAESTRO_LINEAGE_INDEX must be one of {', '.join(MODES)}, not {mode!r}", field="lineage_index")
        self.store, self.mode, self.max_nodes, self.max_lag, self.min_rest = store, mode, max_nodes, max_lag, min_rest
        self._topologies: OrderedDict[Tenant, Topology] = OrderedDict()  # least recently used first
        self._too_big: dict[Tenant, int] = {}  # tenant -> the version found over max_nodes
        self._builds: dict[Tenant, asyncio.Task[Topology | None]] = {}
        # tenant -> when the next background build may start: as long after the last one ended as
        # it took, so a tenant whose topology keeps changing is rebuilt at most half the time.
        self._rest_until: dict[Tenant, float] = {}
        # tenant -> version -> what a change committed here did, not yet taken in (None: one a
        # topology cannot take in); and how many nodes and relationships those hold in all.
        self._waiting: dict[Tenant, dict[int, Delta | None]] = {}
        self._waiting_size: dict[Tenant, int] = {}
        self._following: dict[Tenant, asyncio.Task[None]] = {}
        self.builds = self.take_ins = self.answers = 0  # since start: rebuilds, take-ins, impacts answered in memory
        self.took_in: dict[Tenant, float] = {}  # tenant -> how long its last take-in took (s)
        self._follow_rest_until: dict[Tenant, float] = {}  # take-ins, like builds, rest as long as the last took
        # Without a follower of its own (tests, benchmarks) it takes this store object's commits,
        # and reads other processes' when a query finds it behind.
        self.feed = feed if feed is not None else FeedFollower(store)
        self._owns_feed = feed is None
        self._unwatch = self.feed.consume(self._committed) if mode != "off" else None

    async def fresh(self, tenant: Tenant) -> Topology | None:
        """The tenant's topology as of the store's current version, or None: then the caller walks
        the store (and, in background mode, the topology is being brought up to date)."""
        if self.mode == "off":
            return None
        version = await self.store.topology_version(tenant, max_age=self.max_lag)
        caught_up = False
        for _ in range(4):  # a build already running may have started before our version
            topology = self._topologies.get(tenant)
            if topology is not None and topology.version >= version:
                self._topologies.move_to_end(tenant)
                return topology
            following = self._follow(tenant)
            if following is not None:  # the changes are waiting here
                if self.mode == "inline" or self._quick(tenant):
                    await asyncio.shield(following)
                    continue
                return None  # taken in beside the server; the store answers meanwhile
            if self._too_big.get(tenant) == version:
                return None
            if topology is not None and not caught_up:
                caught_up = True  # another process's commits: read them from the feed, once
                if await self._catch_up(tenant):
                    continue
            if self.mode == "background":
                if time.monotonic() >= self._rest_until.get(tenant, 0.0):
                    self._build(tenant, grace=GRACE)
                return None
            await asyncio.shield(self._build(tenant))
        return None

    async def ensure(self, tenant: Tenant) -> Topology | None:
        """Build the tenant's topology now if it is not current (warm-up, benchmarks)."""
        version = await self.store.topology_version(tenant)
        while (t := self._topologies.get(tenant)) is None or t.version < version:
            if (following := self._follow(tenant)) is not None:
                await asyncio.shield(following)
                continue
            if self._too_big.get(tenant) == version or await asyncio.shield(self._build(tenant)) is None:
                return None
        return t

    def status(self) -> dict[str, object]:
        """What /readyz shows of the index: its mode, how often it was rebuilt, took changes in
        and answered, and how many nodes it holds (over all tenants)."""
        return {"mode": self.mode, "builds": self.builds, "take_ins": self.take_ins, "answers": self.answers,
                "nodes": sum(map(len, self._topologies.values()))}

    async def _catch_up(self, tenant: Tenant) -> bool:
        """Read the tenant's feed past what was handed over; whether changes that follow on from
        its topology are now waiting."""
        try:
            await self.feed.catch_up(tenant)
        except StoreUnavailable:
            return False
        held = self._topologies.get(tenant)
        return held is not None and self._waiting.get(tenant, {}).get(held.version + 1) is not None

    async def close(self) -> None:
        if self._unwatch is not None:
            self._unwatch()
        if self._owns_feed:
            await self.feed.close()
        tasks = [*self._builds.values(), *self._following.values()]
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)

    def _build(self, tenant: Tenant, grace: float = 0.0) -> asyncio.Task[Topology | None]:
        task = self._builds.get(tenant)
        if task is None or task.done():
            task = self._builds[tenant] = asyncio.create_task(self._load(tenant, grace))
        return task

    async def _load(self, tenant: Tenant, grace: float = 0.0) -> Topology | None:
        if grace:
            # The version read may be a commit of this process whose report has not reached
            # _committed yet (the store reports once its coroutine resumes): give it that long,
            # and take it in rather than rebuild.
            await asyncio.sleep(grace)
            if self._follow(tenant) is not None:
                return self._topologies.get(tenant)
        started = time.perf_counter()
        try:
            # The version first: a change committed during the scan bumps it past this one, so a
            # topology that missed the change is never taken for current.
            # Followed first: every entry past the version read below is then handed over.
            await self.feed.follow(tenant)
            version = await self.store.topology_version(tenant)
            topology = await self._read(tenant, version)
        except StoreUnavailable as err:
            log.warning("lineage index not built: the store failed", extra={"tenant": tenant, "error": str(err)})
            return None
        finally:
            took = time.perf_counter() - started
            self._rest_until[tenant] = time.monotonic() + max(took, self.min_rest)
        if topology is None:
            self._too_big[tenant] = version
            log.warning("lineage index not built: the tenant has more nodes than MAESTRO_LINEAGE_INDEX_MAX_NODES",
                        extra={"tenant": tenant, "max_nodes": self.max_nodes})
            return None
        self._keep(tenant, topology)
        self.builds += 1
        log.info("lineage index built", extra={"tenant": tenant, "version": version, "nodes": len(topology),
                                                "seconds": round(took, 2),
                                                "megabytes": round(await asyncio.to_thread(topology.nbytes) / 2**20)})
        held = self._topologies.get(tenant)
        self._forget(tenant, held.version if held else version)
        return held

    def _keep(self, tenant: Tenant, topology: Topology) -> None:
        """Hold this topology for the tenant, unless the one held is newer (a rebuild and the
        changes followed meanwhile may finish in either order)."""
        held = self._topologies.pop(tenant, None)
        if held is not None and held.version > topology.version:
            topology = held
        while self._topologies and sum(map(len, self._topologies.values())) + len(topology) > self.max_nodes:
            self._topologies.popitem(last=False)  # the least recently used tenant's goes
        if len(topology) > self.max_nodes:  # grown past the limit by what it took in
            self._too_big[tenant] = topology.version
            self._forget(tenant, sys.maxsize)
            return
        self._topologies[tenant] = topology

    async def _read(self, tenant: Tenant, version: int) -> Topology | None:
        rows: list[tuple[NodeId, Label, str]] = []
        async with contextlib.aclosing(self.store.scan_nodes(tenant, TOPOLOGY_LABELS, chunk=PAGE)) as chunks:
            async for chunk in chunks:
                rows += chunk
                if len(rows) > self.max_nodes:
                    return None
        topology = await asyncio.to_thread(_nodes, version, rows)
        del rows
        position = await asyncio.to_thread(lambda: {node_id: i for i, node_id in enumerate(topology.ids)})
        for rel, ways in WAYS.items():
            out = await self._edges(tenant, position, rel, len(topology))
            if Direction.OUT in ways:
                topology.adjacency[(rel, Direction.OUT)] = out
            if Direction.IN in ways:
                topology.adjacency[(rel, Direction.IN)] = await asyncio.to_thread(out.reversed)
        return topology

    async def _edges(self, tenant: Tenant, position: dict[NodeId, int], rel: Rel, n: int) -> Csr:
        """Every `rel` relationship between two nodes of the topology, from one scan of the type."""
        flag = FLAGS.get(rel)  # the property impact analysis reads (FEEDS: column_lineage), kept as a flag
        keys = array("q")
        async for rows in self.store.scan_edges(tenant, rel, with_props=flag is not None):
            # Encoding a chunk is pure Python over every row of it: in a thread, so requests
            # served meanwhile wait at most a GIL switch interval, not a whole chunk.
            await asyncio.to_thread(_encode, keys, position, n, rows, flag)
        return await asyncio.to_thread(Csr.from_keys, n, keys, flag is not None)

    # -- taking in this process's commits --------------------------------------------------------
    # A take-in costs about a copy of the topology whatever the number of changes, so changes wait
    # and go in together: at most once for every len(topology) // 4 nodes and relationships
    # committed, following costs a constant per item written, amortized (plus what queries ask).
    def _committed(self, entry: FeedEntry, stored: Mapping[NodeId, Node] | None) -> None:
        if not entry.topology:
            return  # the topology is as it was
        tenant = entry.tenant
        held = self._topologies.get(tenant)
        if held is None and not (tenant in self._builds and not self._builds[tenant].done()):
            return  # no topology to keep current
        waiting = self._waiting.setdefault(tenant, {})
        waiting[entry.topology] = delta = Delta.of(entry, stored)
        size = self._waiting_size[tenant] = self._waiting_size.get(tenant, 0) + (len(delta) if delta else 0)
        if held is None:
            if size > MAX_WAITING:
                self._forget(tenant, entry.topology)  # a gap: the next rebuild catches up
        elif size >= max(1, len(held) // 4):
            self._follow(tenant)

    def _follow(self, tenant: Tenant) -> asyncio.Task[None] | None:
        """The task taking in the changes that follow on from the tenant's topology, started if
        there are some; None if there are none."""
        task = self._following.get(tenant)
        if task is not None and not task.done():
            return task
        held = self._topologies.get(tenant)
        if held is None or self._waiting.get(tenant, {}).get(held.version + 1) is None:
            return None
        rest = self._follow_rest_until.get(tenant, 0.0) - time.monotonic() if self.mode == "background" else 0.0
        task = self._following[tenant] = asyncio.create_task(self._take_in(tenant, rest))
        return task

    def _quick(self, tenant: Tenant) -> bool:
        """Whether the tenant's next take-in should take at most QUICK: as long as its last, or
        at first 1 µs a node of its topology, about what a take-in costs for each node it passes."""
        return self.took_in.get(tenant, len(self._topologies[tenant]) * 1e-6) <= QUICK

    def _pop_run(self, tenant: Tenant, version: int) -> list[Delta]:
        """Take out the waiting changes that follow on from `version` without a gap."""
        waiting = self._waiting.get(tenant, {})
        run: list[Delta] = []
        while (delta := waiting.pop(version + len(run) + 1, None)) is not None:  # a missing one and a None both stop it
            run.append(delta)
        self._forget(tenant, version)
        return run

    def _forget(self, tenant: Tenant, version: int) -> None:
        """Drop the waiting changes up to `version`: a topology at it holds them."""
        waiting = self._waiting.get(tenant, {})
        for v in [v for v in waiting if v <= version]:
            del waiting[v]
        self._waiting_size[tenant] = sum(len(d) for d in waiting.values() if d is not None)

    async def _take_in(self, tenant: Tenant, rest: float) -> None:
        if rest > 0:
            await asyncio.sleep(rest)
        started = time.perf_counter()
        try:
            await self._advance(tenant)
        finally:
            self.took_in[tenant] = took = time.perf_counter() - started
            self._follow_rest_until[tenant] = time.monotonic() + took

    async def _advance(self, tenant: Tenant) -> None:
        """Bring the topology through the waiting changes that follow on from it, in one step."""
        started = time.perf_counter()
        topology = self._topologies.get(tenant)
        if topology is None:
            return
        run = self._pop_run(tenant, topology.version)
        if not run:  # a rebuild got there first
            return
        # In a worker thread: a commit of 300,000 columns is as many tuples to sort out.
        nodes, edges, unknown = await asyncio.to_thread(_merged, run, topology)
        try:
            found = await self.store.get_nodes(tenant, list(unknown)) if unknown else {}
        except StoreUnavailable:
            return  # the version stays behind: the next query rebuilds
        nodes.update((i, (n.label, n.name)) for i, n in found.items() if n.label in LABEL_CODES)
        try:
            advanced = await asyncio.to_thread(topology.advanced, topology.version + len(run),
                                               [(i, label, name) for i, (label, name) in nodes.items()], edges)
        except Exception:  # noqa: BLE001 - a fault here must not fail impact queries: they rebuild
            log.exception("lineage index could not take changes in; it will be rebuilt", extra={"tenant": tenant})
            return
        self._keep(tenant, advanced)
        self.take_ins += 1
        log.debug("lineage index took changes in", extra={
            "tenant": tenant, "version": advanced.version, "changes": len(run), "nodes": len(advanced),
            "milliseconds": round((time.perf_counter() - started) * 1000, 1)})


def _merged(run: list["Delta"], topology: Topology) -> tuple[dict[NodeId, tuple[Label, str]],
                                                             dict[Rel, dict[tuple[NodeId, NodeId], bool | None]], set[NodeId]]:
    """The nodes and relationships of a run of changes (the later change wins), and the nodes to
    read from the store: ends that neither they nor the topology hold (created by a change that
    did not touch the topology: a dataset before its first lineage), and nodes another process
    created or renamed (its entries name them without their names)."""
    nodes: dict[NodeId, tuple[Label, str]] = {}
    edges: dict[Rel, dict[tuple[NodeId, NodeId], bool | None]] = defaultdict(dict)
    unnamed: set[NodeId] = set()
    for delta in run:
        known, unknown_names = delta.nodes
        nodes.update((i, (label, name)) for i, label, name in known)
        unnamed.difference_update(i for i, _, _ in known)
        unnamed.update(unknown_names)  # a later change's node is read as it is now
        for rel, src, dst, flag in delta.edges:
            edges[rel][(src, dst)] = flag
    unknown = {end for pairs in edges.values() for pair, flag in pairs.items() if flag is not None
               for end in pair if end not in nodes and topology.index(end) is None}
    return nodes, edges, unknown | unnamed


@dataclass(frozen=True)
class Delta:
    """What one committed change did to a topology, in what a topology holds: nodes of
    TOPOLOGY_LABELS (id, label, name) and relationships of TOPOLOGY_RELS (rel, src, dst, flag)."""

    entry: FeedEntry
    stored: Mapping[NodeId, Node] | None  # the nodes as written, when this process committed it
    size: int  # nodes and relationships it adds, counted when it is committed

    @classmethod
    def of(cls, entry: FeedEntry, stored: Mapping[NodeId, Node] | None) -> "Delta | None":
        """None for a change a topology cannot take in: one that deletes nodes, or whose entry
        was kept without its changes. Its tuples are built when it is taken in, off the event
        loop: the feed's callback only counts."""
        if entry.deleted or entry.truncated:
            return None
        size = sum(len(ids) for by in (entry.created, entry.updated) for label, ids in by.items() if label in LABEL_NAMES)
        size += sum(len(dsts) for by in (entry.linked, entry.unlinked) for rel, by_src in by.items() if rel in WAY_NAMES
                    for dsts in by_src.values())
        return cls(entry, stored, size)

    @property
    def nodes(self) -> tuple[list[tuple[NodeId, Label, str]], list[NodeId]]:
        """The nodes of TOPOLOGY_LABELS it created or changed, with their names when known here,
        and the ids of those whose names must be read from the store."""
        known: list[tuple[NodeId, Label, str]] = []
        unknown: list[NodeId] = []
        stored = self.stored or {}
        for by in (self.entry.created, self.entry.updated):
            for label, ids in by.items():
                if label not in LABEL_NAMES:
                    continue
                for i in ids:
                    n = stored.get(i)
                    if n is None:
                        unknown.append(i)
                    else:
                        known.append((i, n.label, n.name))
        return known, unknown

    @property
    def edges(self) -> list[tuple[Rel, NodeId, NodeId, bool | None]]:
        """In the order applied; None: removed. The flag: the property impact analysis reads on
        this type is true (FLAGS: FEEDS from an input its job reports column lineage for). Stores
        link, then unlink: an edge both linked and unlinked by one change is gone."""
        flagged = {(rel, src, dst) for rel, by_src in self.entry.flagged.items()
                   for src, dsts in by_src.items() for dst in dsts}
        edges: list[tuple[Rel, NodeId, NodeId, bool | None]] = []
        for by, linked in ((self.entry.linked, True), (self.entry.unlinked, False)):
            for name, by_src in by.items():
                rel = WAY_NAMES.get(name)
                if rel is None:
                    continue
                for src, dsts in by_src.items():
                    edges += [(rel, src, dst, ((name, src, dst) in flagged) if linked else None) for dst in dsts]
        return edges

    def __len__(self) -> int:
        return self.size


LABEL_NAMES = frozenset(label.value for label in LABEL_CODES)
WAY_NAMES = {rel.value: rel for rel in WAYS}


def _encode(keys: array, position: dict[NodeId, int], n: int, rows: list[tuple[NodeId, NodeId, Props | None]],
            flag: str | None) -> None:
    """Append Csr.from_keys's key of each edge between two nodes of the topology (flagged when
    its property `flag` is true)."""
    at = position.get
    for src, dst, props in rows:
        s, d = at(src), at(dst)
        if s is not None and d is not None:
            keys.append((s * n + d) * 2 + (props is not None and flag is not None and props.get(flag) is True))


def _nodes(version: int, rows: list[tuple[NodeId, Label, str]]) -> Topology:
    rows.sort(key=lambda r: r[0])
    names: dict[str, str] = {}  # column names repeat a lot: keep one string each
    return Topology(version, [r[0] for r in rows], bytes(LABEL_CODES[r[1]] for r in rows),
                    [names.setdefault(r[2], r[2]) for r in rows])
