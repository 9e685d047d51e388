"""Each tenant's topology (domain/topology.py) kept in memory for impact analysis.

Before every impact analysis the store's topology version is read. The in-memory topology answers
only if it was built at that version; otherwise the answer comes from the store as before, and
the topology is rebuilt:
  - "background" (the default): the rebuild runs beside the server; until it is done, impact
    analysis walks the store (1M columns: 36 s on SQLite, 107 s on Neo4j). A tenant whose topology
    keeps changing is rebuilt at most half the time (each rebuild rests as long as the last took).
  - "inline": the query waits for the rebuild (small graphs, tests).
  - "off": impact analysis always walks the store.
How fresh: a change committed through this process is seen by the next query (the store forgets
the version it remembered). A change committed by another process (a replica, the CLI) is seen
within `max_lag` seconds: the version read is remembered that long, because on a database server
the read is a round trip that costs more than the walk itself. max_lag=0 reads it every query.
Writes that do not change the topology (run states, re-sent OpenLineage events) keep it current,
so in a running deployment rebuilds follow changes to pipelines, not every pipeline run.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from array import array
from collections import OrderedDict

from maestro_graph.domain.errors import BadInput, StoreUnavailable
from maestro_graph.domain.graph import Label, Rel
from maestro_graph.domain.impact import TOPOLOGY_LABELS
from maestro_graph.domain.topology import LABEL_CODES, WAYS, Csr, Topology
from maestro_graph.store.base import GraphStore
from maestro_graph.types import Direction, NodeId, Props, Tenant

log = logging.getLogger(__name__)
MODES = ("background", "inline", "off")
PAGE = 50_000  # nodes per scan_nodes chunk


class TopologyCache:
    def __init__(self, store: GraphStore, mode: str = "background", max_nodes: int = 2_000_000,
                 max_lag: float = 1.0, min_rest: float = 0.0) -> None:
        if mode not in MODES:
            raise BadInput(f"MAESTRO_LINEAGE_INDEX must be one of {', '.join(MODES)}, not {mode!r}", field="lineage_index")
        self.store, self.mode, self.max_nodes, self.max_lag, self.min_rest = store, mode, max_nodes, max_lag, min_rest
        self._topologies: OrderedDict[Tenant, Topology] = OrderedDict()  # least recently used first
        self._too_big: dict[Tenant, int] = {}  # tenant -> the version found over max_nodes
        self._builds: dict[Tenant, asyncio.Task[Topology | None]] = {}
        # tenant -> when the next background build may start: as long after the last one ended as
        # it took, so a tenant whose topology keeps changing is rebuilt at most half the time.
        self._rest_until: dict[Tenant, float] = {}

    async def fresh(self, tenant: Tenant) -> Topology | None:
        """The tenant's topology as of the store's current version, or None: then the caller walks
        the store (and, in background mode, a rebuild has started)."""
        if self.mode == "off":
            return None
        version = await self.store.topology_version(tenant, max_age=self.max_lag)
        for _ in range(3):  # a build already running may have started before our version
            topology = self._topologies.get(tenant)
            if topology is not None and topology.version >= version:
                self._topologies.move_to_end(tenant)
                return topology
            if self._too_big.get(tenant) == version:
                return None
            if self.mode == "background":
                if time.monotonic() >= self._rest_until.get(tenant, 0.0):
                    self._build(tenant)
                return None
            await asyncio.shield(self._build(tenant))
        return None

    async def ensure(self, tenant: Tenant) -> Topology | None:
        """Build the tenant's topology now if it is not current (warm-up, benchmarks)."""
        version = await self.store.topology_version(tenant)
        while (t := self._topologies.get(tenant)) is None or t.version < version:
            if self._too_big.get(tenant) == version or await asyncio.shield(self._build(tenant)) is None:
                return None
        return t

    async def close(self) -> None:
        for task in self._builds.values():
            task.cancel()
        await asyncio.gather(*self._builds.values(), return_exceptions=True)

    def _build(self, tenant: Tenant) -> asyncio.Task[Topology | None]:
        task = self._builds.get(tenant)
        if task is None or task.done():
            task = self._builds[tenant] = asyncio.create_task(self._load(tenant))
        return task

    async def _load(self, tenant: Tenant) -> Topology | None:
        started = time.perf_counter()
        try:
            # The version first: a change committed during the scan bumps it past this one, so a
            # topology that missed the change is never taken for current.
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
        self._topologies.pop(tenant, None)
        while self._topologies and sum(map(len, self._topologies.values())) + len(topology) > self.max_nodes:
            self._topologies.popitem(last=False)  # the least recently used tenant's goes
        self._topologies[tenant] = topology
        log.info("lineage index built", extra={"tenant": tenant, "version": version, "nodes": len(topology),
                                                "seconds": round(took, 2),
                                                "megabytes": round(await asyncio.to_thread(topology.nbytes) / 2**20)})
        return topology

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
        flagged = rel is Rel.FEEDS  # impact analysis crosses a FEEDS edge at dataset level unless it has column lineage
        keys = array("q")
        async for rows in self.store.scan_edges(tenant, rel, with_props=flagged):
            # Tens of milliseconds of Python a chunk at 1M fields: in a thread, so requests
            # served meanwhile wait at most a GIL switch interval, not a whole chunk.
            await asyncio.to_thread(_encode, keys, position, n, rows)
        return await asyncio.to_thread(Csr.from_keys, n, keys, flagged)


def _encode(keys: array, position: dict[NodeId, int], n: int, rows: list[tuple[NodeId, NodeId, Props | None]]) -> None:
    """Append Csr.from_keys's key of each edge between two nodes of the topology."""
    at = position.get
    for src, dst, props in rows:
        s, d = at(src), at(dst)
        if s is not None and d is not None:
            keys.append((s * n + d) * 2 + (props is not None and props.get("column_lineage") is True))


def _nodes(version: int, rows: list[tuple[NodeId, Label, str]]) -> Topology:
    rows.sort(key=lambda r: r[0])
    names: dict[str, str] = {}  # column names repeat a lot: keep one string each
    return Topology(version, [r[0] for r in rows], bytes(LABEL_CODES[r[1]] for r in rows),
                    [names.setdefault(r[2], r[2]) for r in rows])
