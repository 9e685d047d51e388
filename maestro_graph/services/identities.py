"""The ids of the nodes an ingestion batch names: stored nodes are found by natural key, new
ones get a minted, time-ordered id (domain/ids.py: minted_id says why).

Translation (integrations/openlineage.py) names each node by a provisional id made from its
identity, so that it can link nodes without asking the store. Nodes created before ids were
minted carry their key's uuid5, and every node is found by its key whatever its id, so both
kinds live side by side.
"""

from __future__ import annotations

import asyncio
from collections import OrderedDict, defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from maestro_graph.domain.graph import Edge, Label, Node, Rel
from maestro_graph.domain.ids import minted_id
from maestro_graph.domain.keys import field_key, natural_key
from maestro_graph.domain.props import SPECS
from maestro_graph.runtime import slices
from maestro_graph.store.base import GraphStore
from maestro_graph.types import NodeId, Props, Tenant

# Props that hold another node's id. A field's key holds its dataset's: fields are looked up
# once their datasets are known.
REFS: dict[Label, str] = {Label.FIELD: "dataset_id", Label.RUN: "job_id"}
KEYED_BY_REF = frozenset(label for label, prop in REFS.items() if prop in SPECS[label].key)

UNCACHED = frozenset({Label.RUN})  # a run is read for its state anyway (services/lineage.py folds it)


class KnownIds:
    """Real ids by (tenant, label, key), of nodes this server stored: re-sent and re-run events
    name the same datasets, jobs and fields again, and need no lookup for them. Least recently
    used entries go first. Filled only after a commit. An entry whose node was deleted since
    recreates it under its old id; one whose key another server has since given to another id
    ends in a Conflict, and the caller clears this and resolves again."""

    def __init__(self, size: int = 200_000) -> None:
        self.size = size
        self._ids: OrderedDict[tuple[Tenant, Label, str], NodeId] = OrderedDict()

    def get(self, tenant: Tenant, label: Label, key: str) -> NodeId | None:
        k = (tenant, label, key)
        found = self._ids.get(k)
        if found is not None:
            self._ids.move_to_end(k)
        return found

    def add(self, tenant: Tenant, nodes: Iterable[Node]) -> None:
        for n in nodes:
            if n.label not in UNCACHED:
                self._ids[(tenant, n.label, n.key)] = n.id
        while len(self._ids) > self.size:
            self._ids.popitem(last=False)

    def clear(self) -> None:
        self._ids.clear()


@dataclass
class Resolved:
    ids: dict[NodeId, NodeId] = field(default_factory=dict)  # provisional -> real
    stored: dict[NodeId, Node] = field(default_factory=dict)  # real id -> the node as stored (or being stored), if read
    minted: set[NodeId] = field(default_factory=set)  # real ids made now: nodes new to the store
    keys: dict[NodeId, str] = field(default_factory=dict)  # provisional -> real key, where it holds an id

    def mint(self, provisional: NodeId) -> None:
        self.ids[provisional] = new = minted_id()
        self.minted.add(new)

    def found(self, provisional: NodeId, stored: Node) -> None:
        self.ids[provisional] = stored.id
        self.stored[stored.id] = stored

    def real(self, node_id: NodeId) -> NodeId:
        return self.ids.get(node_id, node_id)

    def props(self, label: Label, props: Props) -> Props:
        """Props with the node ids they hold made real."""
        ref = REFS.get(label)
        return {**props, ref: self.real(props[ref])} if ref in props else props

    def key(self, n: Node) -> str:
        if n.label not in KEYED_BY_REF:
            return n.key
        if (key := self.keys.get(n.id)) is None:
            if n.label is Label.FIELD:
                key = field_key(self.real(n.props["dataset_id"]), n.props["path"])
            else:
                key = natural_key(n.label, self.props(n.label, n.props))
            self.keys[n.id] = key
        return key

    def nodes(self, nodes: Iterable[Node]) -> dict[NodeId, Node]:
        """The nodes under their real ids, with the ids they hold real too (by real id)."""
        out: dict[NodeId, Node] = {}
        ids = self.ids
        for n in nodes:
            real = ids[n.id]
            if n.label in REFS:
                out[real] = Node(real, n.label, self.key(n), self.props(n.label, n.props), n.created_at, n.updated_at)
            else:
                out[real] = Node(real, n.label, n.key, n.props, n.created_at, n.updated_at)
        return out

    def edges(self, links: Iterable[tuple[tuple[Rel, NodeId, NodeId], Props]]) -> list[Edge]:
        """Relationships, as translation names them ((rel, src, dst), props), between real ids."""
        get = self.ids.get
        return [Edge(rel, get(src, src), get(dst, dst), props) for (rel, src, dst), props in links]


async def resolve(store: GraphStore, tenant: Tenant, nodes: dict[NodeId, Node], known: KnownIds,
                  ahead: Mapping[tuple[Label, str], Node] | None = None) -> Resolved:
    """Real ids for these nodes (keyed by provisional id): known ones first, then those of
    `ahead` (nodes a transaction under way is storing, by label and key: stored as far as this
    batch is concerned), then one lookup by key per label, in two rounds (fields after their
    datasets). A field of a new dataset is new."""
    r = Resolved()
    ahead = ahead or {}
    first: dict[Label, list[tuple[NodeId, str]]] = defaultdict(list)
    second: list[Node] = []
    async for part in slices(nodes.values()):
        for n in part:
            if n.label in KEYED_BY_REF:
                second.append(n)
            elif (real := known.get(tenant, n.label, n.key)) is not None:
                r.ids[n.id] = real
            elif (stored := ahead.get((n.label, n.key))) is not None:
                r.found(n.id, stored)
            else:
                first[n.label].append((n.id, n.key))
    await asyncio.gather(*(_find(store, tenant, label, wanted, r) for label, wanted in first.items()))
    later: dict[Label, list[tuple[NodeId, str]]] = defaultdict(list)
    async for part in slices(second):
        for n in part:
            if r.real(n.props[REFS[n.label]]) in r.minted:
                r.mint(n.id)
            elif (real := known.get(tenant, n.label, key := r.key(n))) is not None:
                r.ids[n.id] = real
            elif (stored := ahead.get((n.label, key))) is not None:
                r.found(n.id, stored)
            else:
                later[n.label].append((n.id, key))
    await asyncio.gather(*(_find(store, tenant, label, wanted, r) for label, wanted in later.items()))
    return r


async def _find(store: GraphStore, tenant: Tenant, label: Label, wanted: list[tuple[NodeId, str]], r: Resolved) -> None:
    """Map each provisional id to the stored node with its key, or to a new id."""
    found = await store.get_by_keys(tenant, label, [key for _, key in wanted])
    for provisional, key in wanted:
        stored = found.get(key)
        if stored is None:
            r.mint(provisional)
        else:
            r.found(provisional, stored)
