"""Lineage: OpenLineage ingestion, lineage graphs and impact analysis.

Walks are breadth-first (domain/walk.py, driven by the store in one call), over ids only; the
nodes reached are loaded in batches at the end (traverse ids first, hydrate in batches). Cycles
never loop (a node is visited once), every result is ordered deterministically, and a cap on the
nodes a walk may reach turns a huge answer into a `truncated` one instead of a timeout.
"""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import AsyncIterator, Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from maestro_graph.auth.principal import Principal
from maestro_graph.domain.errors import BadInput, LimitExceeded, NotFound
from maestro_graph.domain.graph import Edge, Label, Node, Rel
from maestro_graph.domain.keys import natural_key
from maestro_graph.domain.impact import (Impacted, ImpactReport, OfLabel, Reached, Request, WalkFrom, build_report,
                                         edge_order, impact_plan)
from maestro_graph.integrations.openlineage import parse_events, translate
from maestro_graph.services.graph import GraphService
from maestro_graph.services.ingestion import GroupCommit
from maestro_graph.services.topology_cache import TopologyCache
from maestro_graph.store.base import GraphStore
from maestro_graph.types import Direction, Granularity, LineageDirection, NodeId, Tenant

MAX_LINEAGE_DEPTH = 20
MAX_IMPACT_DEPTH = 1000
DEFAULT_LINEAGE_CAP = 5_000
DEFAULT_IMPACT_CAP = 20_000
MAX_CAP = 200_000
ROOT_LABELS = (Label.DATASET, Label.FIELD)
MAX_JOB_SPLITS = 20  # ways a "namespace/name" job name is tried (parent_jobs)


@dataclass(frozen=True)
class LineageGraph:
    root: Node
    nodes: list[tuple[Node, int]]  # node, distance from the root (negative = upstream)
    edges: list[Edge]
    truncated: bool


@dataclass(frozen=True)
class IngestResult:
    events: int
    nodes: int
    relationships: int


class LineageService:
    """Lineage reads, and ingestion: events are validated and translated request by request,
    then stored by group commit (services/ingestion.py)."""

    def __init__(self, store: GraphStore, graph: GraphService | None = None, topology: TopologyCache | None = None) -> None:
        self.store = store
        self.graph = graph or GraphService(store)
        # No cache given, no one to close it: then none that starts background builds.
        self.topology = topology or TopologyCache(store, "off")
        self.commits = GroupCommit(store, self.graph.commits)
        # A breaking schema change carries what it hits, computed as the change is stored.
        self.commits.schemas.impact = lambda tenant, field_id: self.impact(tenant, field_id, None)

    # -- ingestion -----------------------------------------------------------------------------
    async def ingest(self, actor: Principal, body: Any, operation: str = "ingestLineageEvents",
                     large: bool = False) -> IngestResult:
        """Store OpenLineage events (one, or a JSON array) in the actor's tenant: all of them or,
        on any error, none. Editors and admins only; audited with the nodes written.

        `large`: the body is big (the caller knows its size), so validation and translation, pure
        Python over every column of every event, run in a worker thread where they cannot hold
        the event loop other requests share. Small bodies are translated in place: at once, in
        arrival order, so that concurrent requests still meet in one group commit.

        Idempotent: the same event again changes nothing; events of one run in any order end in
        the same run state (a terminal state stands over START/RUNNING)."""
        async with self.graph.commits.operation(actor, operation) as op:
            if large:
                events, t = await asyncio.to_thread(_parse_and_translate, actor.tenant, body)
            else:
                events, t = _parse_and_translate(actor.tenant, body)
            await self.commits.store_translation(actor.tenant, t, op.record(list(t.nodes)), len(events))
            return IngestResult(len(events), len(t.nodes), t.relationships)

    async def ingest_batches(self, actor: Principal, batches: Iterable[list[Any]], operation: str = "ingestLineageEvents",
                             in_flight: int = 3) -> AsyncIterator[IngestResult]:
        """Ingest batches of events in order, each as `ingest` would, keeping up to `in_flight`
        under way: while one is written, the next are translated and prepared, on the other core.
        Yields each batch's result in order. On an error it lets the batches under way finish,
        then raises it: the batches before the failed one are stored, and maybe some after it."""
        under_way: deque[asyncio.Task[IngestResult]] = deque()
        try:
            for batch in batches:
                under_way.append(asyncio.create_task(self.ingest(actor, batch, operation)))
                if len(under_way) >= in_flight:
                    yield await under_way.popleft()
            while under_way:
                yield await under_way.popleft()
        finally:
            if under_way:
                await asyncio.gather(*under_way, return_exceptions=True)

    async def link_inputs(self, actor: Principal, model_version: NodeId, datasets: Sequence[NodeId],
                          features: Sequence[NodeId]) -> None:
        """What a model version was trained on (TRAINED_ON) and which columns it uses (USES_FEATURE)."""
        links = [Edge(Rel.TRAINED_ON, model_version, d) for d in datasets]
        links += [Edge(Rel.USES_FEATURE, model_version, f) for f in features]
        async with self.graph.commits.operation(actor, "linkModelVersionInputs",
                                                ids=[model_version, *datasets, *features]) as op:
            # The version must exist even when there is nothing to link to it.
            await self.graph.require(actor.tenant, [model_version], Label.MODEL_VERSION, field="modelVersionId")
            cs = await self.graph.link_changes(actor.tenant, links)
            await op.commit(cs)

    async def deploy(self, actor: Principal, deployment: NodeId, model_version: NodeId) -> None:
        """A deployment serves a model version (SERVES)."""
        await self.graph.link(actor, [Edge(Rel.SERVES, deployment, model_version)], operation="deployModelVersion")

    # -- reads -----------------------------------------------------------------------------------
    async def _root(self, tenant: Tenant, node_id: NodeId) -> Node:
        node = (await self.store.get_nodes(tenant, [node_id])).get(node_id)
        if node is None:
            raise NotFound(f"no node with id {node_id}", field="id")
        if node.label not in ROOT_LABELS:
            raise BadInput(f"lineage starts from a Dataset or a Field, not a {node.label.value}", field="id")
        return node

    async def _starts(self, tenant: Tenant, root: Node, granularity: Granularity) -> list[NodeId]:
        """Where a walk of this granularity starts: a dataset's fields, or a field's dataset."""
        if granularity is Granularity.FIELD and root.label is Label.DATASET:
            return [nb.node.id for nb in (await self.store.neighbours(tenant, [root.id], Rel.HAS_FIELD, Direction.OUT))[root.id]]
        if granularity is Granularity.DATASET and root.label is Label.FIELD:
            return [nb.node.id for nb in (await self.store.neighbours(tenant, [root.id], Rel.HAS_FIELD, Direction.IN))[root.id]]
        return [root.id]

    async def lineage(self, tenant: Tenant, node_id: NodeId, direction: LineageDirection, depth: int,
                      granularity: Granularity, cap: int = DEFAULT_LINEAGE_CAP) -> LineageGraph:
        """The lineage subgraph around a dataset or field, ready to draw."""
        check_depth(depth, MAX_LINEAGE_DEPTH)
        check_cap(cap)
        root = await self._root(tenant, node_id)
        starts = await self._starts(tenant, root, granularity)
        rel = Rel.DERIVES if granularity is Granularity.FIELD else Rel.FEEDS
        ways = {LineageDirection.DOWNSTREAM: [(Direction.OUT, 1)], LineageDirection.UPSTREAM: [(Direction.IN, -1)],
                LineageDirection.BOTH: [(Direction.IN, -1), (Direction.OUT, 1)]}[direction]
        distance: dict[NodeId, int] = {s: 0 for s in starts}
        edges: dict[tuple[str, str], Edge] = {}
        truncated = False
        for way, sign in ways:
            w = await self.store.walk(tenant, starts, [rel], way, depth, cap, with_props=True)
            truncated |= w.truncated
            for node, hop in w.hops.items():
                if node not in distance or abs(sign * hop.distance) < abs(distance[node]):
                    distance[node] = sign * hop.distance
            edges.update(((e.src, e.dst), e) for e in w.edges)
        nodes = await self.store.get_nodes(tenant, list(distance))
        ordered = sorted(((nodes[i], d) for i, d in distance.items() if i in nodes), key=lambda nd: (nd[1], nd[0].name, nd[0].id))
        return LineageGraph(root, ordered, [edges[k] for k in sorted(edges)], truncated)

    async def parent_jobs(self, tenant: Tenant, jobs: Sequence[str]) -> dict[str, str]:
        """The job each job is part of (PART_OF), both named as lineage edges name them:
        "namespace/name". A name whose namespace or name holds "/" splits more than one way: the
        first split (shortest namespace) that names a stored job is it. Jobs with no parent, or
        not stored, are left out. Two store calls, whatever the number of jobs."""
        candidates: dict[str, list[str]] = {}  # job name -> the keys it may be, in order
        for job in dict.fromkeys(jobs):
            parts = job.split("/")
            candidates[job] = [natural_key(Label.JOB, {"namespace": "/".join(parts[:i]), "name": "/".join(parts[i:])})
                               for i in range(1, min(len(parts), MAX_JOB_SPLITS + 1))]
        keys = list(dict.fromkeys(k for ks in candidates.values() for k in ks))
        found = await self.store.get_by_keys(tenant, Label.JOB, keys) if keys else {}
        of: dict[str, Node] = {}
        for job, ks in candidates.items():
            hit = next((found[k] for k in ks if k in found), None)
            if hit is not None:
                of[job] = hit
        if not of:
            return {}
        parents = await self.store.neighbours(tenant, list({n.id for n in of.values()}), Rel.PART_OF, Direction.OUT)
        out: dict[str, str] = {}
        for job, node in of.items():
            if nbs := parents.get(node.id):  # several parents: the first by name, as Job.parent
                p = nbs[0].node.props
                out[job] = f"{p['namespace']}/{p['name']}"
        return out

    async def impact(self, tenant: Tenant, node_id: NodeId, depth: int | None = None,
                     cap: int = DEFAULT_IMPACT_CAP) -> ImpactReport:
        """What a change to a field or dataset reaches: downstream fields and datasets, then the
        model versions trained on or fed by them, their models and deployments, the projects
        owning any of these, and the people to tell (owners and members of those projects).

        Without `depth` it is the whole downstream closure: no shortest path is longer than the
        nodes the walk may reach, so a depth of `cap` cuts nothing that `cap` itself does not (and
        that cut says `truncated`). Answered from the in-memory topology when it is current
        (services/topology_cache.py), otherwise by walking the store: both carry out the one impact
        plan (domain/impact.py), so both give the same answer."""
        check_cap(cap)
        if depth is None:
            depth = cap
        else:
            check_depth(depth, MAX_IMPACT_DEPTH)
        topology = await self.topology.fresh(tenant)
        if topology is not None and (i := topology.index(node_id)) is not None and topology.label(i) in ROOT_LABELS:
            self.topology.answers += 1
            return topology.impact(i, depth, cap)
        root = await self._root(tenant, node_id)
        # Ids only until the end, one batched store call per request; nodes are loaded once at the
        # end, but for those a step had to look at (and the root).
        loaded: dict[NodeId, Node] = {root.id: root}
        plan = impact_plan(root.id, root.label, depth, cap, _same)
        try:
            request = next(plan)
            while True:
                request = plan.send(await self._answer(tenant, request, loaded))
        except StopIteration as done:
            reached: Reached[NodeId] = done.value
        reach, skip = reached.nodes, reached.starts
        nodes = await self.store.get_nodes(tenant, [i for i in reach if i not in loaded]) | loaded
        if len(nodes) < len(reach) + (root.id not in reach):  # deleted while we walked: drop what went through them
            reach = {i: (d, p) for i, (d, p) in reach.items() if all(n in nodes for n in p)}
        rows = [Impacted(dist, nodes[i].name, i, nodes[i].label, path) for i, (dist, path) in reach.items() if i not in skip]
        report = ImpactReport(Impacted(0, root.name, root.id, root.label, [root.id]), depth, lambda i: nodes[i].label,
                              truncated=reached.truncated, loaded=nodes)
        return build_report(report, rows)

    async def _answer(self, tenant: Tenant, request: Request, loaded: dict[NodeId, Node]) -> Any:
        """What the impact plan asks, from the store."""
        if isinstance(request, WalkFrom):
            w = await self.store.walk(tenant, request.starts, request.rels, request.direction, request.depth, request.cap)
            return w.hops, w.truncated
        if isinstance(request, OfLabel):
            found = await self.store.get_nodes(tenant, request.ids)
            loaded.update(found)
            return [i for i, n in found.items() if n.label is request.label]
        unless = request.unless
        edges = await self.store.expand(tenant, request.ids, request.rels, request.direction, with_props=unless is not None)
        found = [(e.src, e.dst, e.rel) for e in edges if unless is None or e.props.get(unless) is not True]
        found.sort(key=edge_order)
        return found if request.direction is Direction.OUT else [(dst, src, rel) for src, dst, rel in found]


def _same(node_id: NodeId) -> NodeId:
    return node_id


def _parse_and_translate(tenant: Tenant, body: Any) -> tuple[list[Any], Any]:
    events = parse_events(body)
    return events, translate(tenant, events)


def check_depth(depth: int, limit: int) -> None:
    if depth < 1:
        raise BadInput("depth must be at least 1", field="depth")
    if depth > limit:
        raise LimitExceeded(f"depth may be at most {limit}, got {depth}", field="depth", limit=limit)


def check_cap(cap: int) -> None:
    if not 1 <= cap <= MAX_CAP:
        raise LimitExceeded(f"limit must be between 1 and {MAX_CAP}, got {cap}", field="limit", limit=MAX_CAP)
