"""A tenant's lineage topology in memory, and impact analysis over it.

Impact analysis over the store pays a round trip (or a thread hop) per step and loads every node
it reaches; over 1M columns that is 30-60x what the same walk costs in memory. This snapshot holds
only what impact analysis follows: the nodes of TOPOLOGY_LABELS as small integers (their rank in
id order, so sorting integers sorts ids) with label and name, and each relationship of
TOPOLOGY_RELS as compressed adjacency arrays (CSR): about 170 MB at 1M columns.

`impact` below follows exactly the rules of LineageService.impact over the store, with the same
order everywhere (frontiers by id, relationships by (src, dst, type)), so both give the same
answer, truncation included; tests/contract/test_topology_impact.py holds them to it.
"""

from __future__ import annotations

import sys
from array import array
from bisect import bisect_left
from collections import deque
from collections.abc import Iterable
from dataclasses import dataclass, field

import numpy as np

from maestro_graph.domain.graph import Label, Rel
from maestro_graph.domain.impact import TOPOLOGY_LABELS, Impacted, ImpactReport, build_report
from maestro_graph.types import Direction, NodeId

LABEL_CODES = {label: code for code, label in enumerate(TOPOLOGY_LABELS)}
# The relationships the topology holds, and which ways impact analysis follows each.
WAYS: dict[Rel, tuple[Direction, ...]] = {
    Rel.DERIVES: (Direction.OUT,),
    Rel.HAS_FIELD: (Direction.OUT, Direction.IN),
    Rel.FEEDS: (Direction.OUT,),
    Rel.TRAINED_ON: (Direction.IN,),
    Rel.USES_FEATURE: (Direction.IN,),
    Rel.OWNS: (Direction.IN,),
    Rel.VERSION_OF: (Direction.OUT,),
    Rel.SERVES: (Direction.IN,),
    Rel.MEMBER_OF: (Direction.IN,),
}


@dataclass
class Csr:
    """Adjacency of n nodes: node i's neighbours are targets[offsets[i]:offsets[i + 1]], ascending.
    Both arrays hold C ints: a tenant with 2**31 relationships of one type would not fit in memory."""

    offsets: array
    targets: array
    flags: bytearray | None = None  # one per target (FEEDS: the job reports column lineage from this input)
    # The nodes with any neighbour, when they are few (models and owners sit on few datasets):
    # intersecting with this beats looking at every reached node. None when many have some.
    nonempty: set[int] | None = field(default=None, repr=False, compare=False)

    @classmethod
    def from_keys(cls, n: int, keys: Iterable[int], flagged: bool) -> "Csr":
        """From edge keys (src * n + dst) * 2 + flag, in any order: each node's list ascending.

        >>> c = Csr.from_keys(3, [(2 * 3 + 0) * 2, (0 * 3 + 2) * 2 + 1, (0 * 3 + 1) * 2], True)
        >>> list(c.offsets), list(c.targets), list(c.flags), c.nonempty
        ([0, 2, 2, 3], [1, 2, 0], [0, 1, 0], None)
        """
        # numpy, because these are millions of edges at 1M columns: the same sort and counts in
        # Python loops took 20 of the 53 s an index build took (2.09M nodes, about 5M relationships).
        ordered = np.sort(np.frombuffer(keys, dtype=np.int64) if isinstance(keys, array) else np.fromiter(keys, np.int64))
        sources, targets = np.divmod(ordered >> 1, n)
        offsets = np.zeros(n + 1, dtype=np.int64)
        np.cumsum(np.bincount(sources, minlength=n), out=offsets[1:])
        flags = bytearray((ordered & 1).astype(np.uint8).tobytes()) if flagged else None
        distinct = np.unique(sources)
        return cls(_ints(offsets), _ints(targets), flags,
                   nonempty=set(distinct.tolist()) if _is_few(len(distinct), n) else None)

    def of(self, i: int) -> array:
        return self.targets[self.offsets[i]:self.offsets[i + 1]]

    def reversed(self) -> "Csr":
        """The same edges seen from their targets, each list ascending (a stable sort by target
        keeps the sources, which are in ascending order, in order)."""
        n = len(self.offsets) - 1
        offsets = np.frombuffer(self.offsets, dtype=np.int32)
        targets = np.frombuffer(self.targets, dtype=np.int32)
        sources = np.repeat(np.arange(n, dtype=np.int32), np.diff(offsets))
        counts = np.zeros(n + 1, dtype=np.int64)
        np.cumsum(np.bincount(targets, minlength=n), out=counts[1:])
        few = set(np.unique(targets).tolist()) if _is_few(len(targets), n) else None
        return Csr(_ints(counts), _ints(sources[np.argsort(targets, kind="stable")]), nonempty=few)


def _ints(values: np.ndarray) -> array:
    """A numpy vector as the C ints the walks index (array slices are cheaper to loop over)."""
    out = array("i")
    out.frombytes(values.astype(np.int32).tobytes())
    return out


def _is_few(count: int, n: int) -> bool:
    return count <= n // 16


@dataclass
class Topology:
    """One tenant's topology as of `version` (the store's topology version when reading began)."""

    version: int
    ids: list[NodeId]  # ascending: node i is ids[i]
    labels: bytes  # LABEL_CODES of node i
    names: list[str]
    adjacency: dict[tuple[Rel, Direction], Csr] = field(default_factory=dict)

    def __len__(self) -> int:
        return len(self.ids)

    def nbytes(self) -> int:
        """Memory this topology holds (strings shared between names counted once)."""
        arrays = sum(a.buffer_info()[1] * a.itemsize for csr in self.adjacency.values()
                     for a in (csr.offsets, csr.targets)) + sum(len(csr.flags or b"") for csr in self.adjacency.values())
        names = {id(name): sys.getsizeof(name) for name in self.names}
        return (arrays + sys.getsizeof(self.labels) + sys.getsizeof(self.ids) + sys.getsizeof(self.names)
                + sum(map(sys.getsizeof, self.ids)) + sum(names.values()))

    def index(self, node_id: NodeId) -> int | None:
        i = bisect_left(self.ids, node_id)
        return i if i < len(self.ids) and self.ids[i] == node_id else None

    def label(self, i: int) -> Label:
        return TOPOLOGY_LABELS[self.labels[i]]

    def label_of(self, node_id: NodeId) -> Label:
        i = self.index(node_id)
        if i is None:
            raise KeyError(node_id)
        return self.label(i)

    # -- impact analysis -----------------------------------------------------------------------
    def impact(self, root: int, depth: int, cap: int) -> ImpactReport:
        """LineageService.impact's answer, from a Dataset or Field node of this topology.

        Reached nodes are integers; their paths are lists of ids, each made by copying the
        parent's path (in C) rather than by walking parents back (in Python)."""
        ids = self.ids
        root_label = self.label(root)
        from_dataset = root_label is Label.DATASET
        field_starts = list(self.adjacency[(Rel.HAS_FIELD, Direction.OUT)].of(root)) if from_dataset else [root]
        # node -> (distance, a shortest path of ids); fields and datasets are disjoint, so the two
        # walks fill it without comparing, and later steps keep the first shortest path offered.
        fw, truncated = walk(self.adjacency[(Rel.DERIVES, Direction.OUT)], dict.fromkeys(field_starts, 0), depth, cap)
        reach = self._paths(fw, {})
        if from_dataset:
            dw, cut = walk(self.adjacency[(Rel.FEEDS, Direction.OUT)], {root: 0}, depth, cap)
            truncated |= cut
            reach.update(self._paths(dw, {}))
        held = self._step(reach, list(fw), (Rel.HAS_FIELD,), Direction.IN, cost=0)[Rel.HAS_FIELD]
        if not from_dataset:
            truncated |= self._past_opaque_jobs(reach, held, depth, cap)
        around = self._step(reach, list(reach), (Rel.TRAINED_ON, Rel.USES_FEATURE, Rel.OWNS), Direction.IN)
        versions = around[Rel.TRAINED_ON] + around[Rel.USES_FEATURE]
        owners = around[Rel.OWNS]
        if versions:
            served = self._step(reach, versions, (Rel.VERSION_OF,), Direction.OUT)[Rel.VERSION_OF]
            served += self._step(reach, versions, (Rel.SERVES,), Direction.IN)[Rel.SERVES]
            owners += self._step(reach, versions + served, (Rel.OWNS,), Direction.IN)[Rel.OWNS]
        projects = [i for i in owners if self.label(i) is Label.PROJECT]
        self._step(reach, projects, (Rel.MEMBER_OF, Rel.OWNS), Direction.IN)
        skip = set(field_starts) | ({root} if from_dataset else set())
        names, codes = self.names, self.labels
        rows = [Impacted(dist, names[i], ids[i], TOPOLOGY_LABELS[codes[i]], path)
                for i, (dist, path) in reach.items() if i not in skip]
        report = ImpactReport(Impacted(0, names[root], ids[root], root_label, [ids[root]]), depth, self.label_of,
                              truncated=truncated)
        return build_report(report, rows)

    def _paths(self, hops: dict[int, tuple[int, int]], entries: dict[int, tuple[int, list[NodeId]]]
               ) -> dict[int, tuple[int, list[NodeId]]]:
        """(distance, path) of every node a walk reached, in the order reached (a parent comes
        before its children); a start's path is its entry's, if it has one."""
        ids = self.ids
        out: dict[int, tuple[int, list[NodeId]]] = {}
        for node, (dist, parent) in hops.items():
            if parent == -1:
                out[node] = (dist, entries[node][1] if node in entries else [ids[node]])
            else:
                out[node] = (dist, out[parent][1] + [ids[node]])
        return out

    def _past_opaque_jobs(self, reach: dict[int, tuple[int, list[NodeId]]], datasets: list[int], depth: int,
                          cap: int) -> bool:
        feeds = self.adjacency[(Rel.FEEDS, Direction.OUT)]
        assert feeds.flags is not None
        entries: dict[int, tuple[int, list[NodeId]]] = {}
        for src in sorted(set(datasets)):
            dist = reach[src][0] + 1
            if dist > depth:
                continue
            start = feeds.offsets[src]
            for k, dst in enumerate(feeds.of(src)):
                if not feeds.flags[start + k] and (dst not in entries or dist < entries[dst][0]):
                    entries[dst] = (dist, reach[src][1] + [self.ids[dst]])
        if not entries:
            return False
        w, truncated = walk(feeds, {d: dist for d, (dist, _) in entries.items()}, depth, max(1, cap - len(reach)))
        for node, (dist, path) in self._paths(w, entries).items():
            if node not in reach or dist < reach[node][0]:
                reach[node] = (dist, path)
        return truncated

    def _step(self, reach: dict[int, tuple[int, list[NodeId]]], ids: list[int], rels: tuple[Rel, ...],
              direction: Direction, cost: int = 1) -> dict[Rel, list[int]]:
        """LineageService._step in memory: the same relationships in the same (src, dst, type) order.

        Each relationship found is one integer, (src * n + dst) * len(rels) + rank of its type,
        so the order is a sort of integers and no tuple is made per relationship."""
        fresh: dict[Rel, list[int]] = {rel: [] for rel in rels}
        out = direction is Direction.OUT
        n, width = len(self.ids), len(rels)
        ranked = sorted(rels, key=lambda r: r.value)
        here_ids = set(ids)
        found: list[int] = []
        for rank, rel in enumerate(ranked):
            adj = self.adjacency[(rel, direction)]
            offsets, targets = adj.offsets, adj.targets
            sources = adj.nonempty
            for here in (here_ids & sources if sources is not None else here_ids):
                for there in targets[offsets[here]:offsets[here + 1]]:
                    found.append(((here * n + there) if out else (there * n + here)) * width + rank)
        found.sort()
        ids_ = self.ids
        for key in found:
            pair, rank = divmod(key, width)
            src, dst = divmod(pair, n)
            here, there = (src, dst) if out else (dst, src)
            dist = reach[here][0] + cost
            if there not in reach:
                fresh[ranked[rank]].append(there)
                reach[there] = (dist, reach[here][1] + [ids_[there]])
            elif dist < reach[there][0]:
                reach[there] = (dist, reach[here][1] + [ids_[there]])
        return fresh


def walk(adj: Csr, starts: dict[int, int], depth: int, cap: int) -> tuple[dict[int, tuple[int, int]], bool]:
    """domain.walk.bfs over one adjacency, on integers: {node: (distance, parent or -1)} in the
    order reached, and whether the cap cut the walk. Starts enter at their distance."""
    entering = deque(sorted((d, s) for s, d in starts.items()))
    hops: dict[int, tuple[int, int]] = {}
    truncated = False
    frontier: list[int] = []
    distance = entering[0][0] if entering else depth
    offsets, targets = adj.offsets, adj.targets
    while True:
        while entering and entering[0][0] == distance:
            start = entering.popleft()[1]
            if start not in hops:
                hops[start] = (distance, -1)
                frontier.append(start)
        if distance >= depth or not (frontier or entering):
            return hops, truncated
        frontier.sort()
        nxt: list[int] = []
        step = distance + 1
        for here in frontier:
            for there in targets[offsets[here]:offsets[here + 1]]:
                if there not in hops:
                    if len(hops) >= cap:
                        truncated = True
                        continue
                    hops[there] = (step, here)
                    nxt.append(there)
        frontier = nxt
        distance = step
