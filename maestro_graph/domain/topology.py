"""A tenant's lineage topology in memory, and impact analysis over it.

Impact analysis over the store pays a round trip (or a thread hop) per step and loads every node
it reaches; over 1M columns that is 30-60x what the same walk costs in memory. This snapshot holds
only what impact analysis follows: the nodes of TOPOLOGY_LABELS as small integers (their rank in
id order, so sorting integers sorts ids) with label and name, and each relationship of
TOPOLOGY_RELS as compressed adjacency arrays (CSR), about 280 bytes a node at 1M columns.

`impact` below follows exactly the rules of LineageService.impact over the store, with the same
order everywhere (frontiers by id, relationships by (src, dst, type)), so both give the same
answer, truncation included; tests/contract/test_topology_impact.py holds them to it.
"""

from __future__ import annotations

from array import array
from bisect import bisect_left
from collections import deque
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field

from maestro_graph.domain.graph import Label, Rel
from maestro_graph.domain.impact import TOPOLOGY_LABELS, Impacted, ImpactReport, build_report
from maestro_graph.types import Direction, NodeId

LABEL_CODES = {label: code for code, label in enumerate(TOPOLOGY_LABELS)}
# Where each relationship is read from when the topology is built (the label its edges leave), and
# which ways impact analysis follows it.
SOURCES: dict[Rel, tuple[tuple[Label, ...], tuple[Direction, ...]]] = {
    Rel.DERIVES: ((Label.FIELD,), (Direction.OUT,)),
    Rel.HAS_FIELD: ((Label.DATASET,), (Direction.OUT, Direction.IN)),
    Rel.FEEDS: ((Label.DATASET,), (Direction.OUT,)),
    Rel.TRAINED_ON: ((Label.MODEL_VERSION,), (Direction.IN,)),
    Rel.USES_FEATURE: ((Label.MODEL_VERSION,), (Direction.IN,)),
    Rel.OWNS: ((Label.PERSON, Label.PROJECT), (Direction.IN,)),
    Rel.VERSION_OF: ((Label.MODEL_VERSION,), (Direction.OUT,)),
    Rel.SERVES: ((Label.DEPLOYMENT,), (Direction.IN,)),
    Rel.MEMBER_OF: ((Label.PERSON,), (Direction.IN,)),
}


@dataclass
class Csr:
    """Adjacency of n nodes: node i's neighbours are targets[offsets[i]:offsets[i + 1]], ascending."""

    offsets: array
    targets: array
    flags: bytearray | None = None  # one per target (FEEDS: the job reports column lineage from this input)

    def of(self, i: int) -> array:
        return self.targets[self.offsets[i]:self.offsets[i + 1]]

    def reversed(self) -> "Csr":
        """The same edges seen from their targets (a counting sort: each list stays ascending)."""
        n = len(self.offsets) - 1
        counts = array("q", bytes(8 * (n + 1)))
        for t in self.targets:
            counts[t + 1] += 1
        for i in range(n):
            counts[i + 1] += counts[i]
        fill = array("q", counts)
        targets = array("i", bytes(4 * len(self.targets)))
        for src in range(n):
            for t in self.of(src):
                targets[fill[t]] = src
                fill[t] += 1
        return Csr(counts, targets)


class CsrBuilder:
    """Appends the edges of nodes in ascending order (a node's edges in one call)."""

    def __init__(self, n: int, flagged: bool) -> None:
        self.n, self.offsets, self.targets = n, array("q", [0]), array("i")
        self.flags = bytearray() if flagged else None

    def add(self, src: int, dsts: Sequence[int], flags: Sequence[bool] = ()) -> None:
        """Node src's edges, all of them, after every smaller node's."""
        while len(self.offsets) <= src:
            self.offsets.append(len(self.targets))
        self.targets.extend(dsts)
        if self.flags is not None:
            self.flags.extend(flags)
        self.offsets.append(len(self.targets))

    def done(self) -> Csr:
        while len(self.offsets) <= self.n:
            self.offsets.append(len(self.targets))
        return Csr(self.offsets, self.targets, self.flags)


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

    def index(self, node_id: NodeId) -> int | None:
        i = bisect_left(self.ids, node_id)
        return i if i < len(self.ids) and self.ids[i] == node_id else None

    def label(self, i: int) -> Label:
        return TOPOLOGY_LABELS[self.labels[i]]

    def ref(self, i: int) -> tuple[NodeId, Label, str]:
        return self.ids[i], TOPOLOGY_LABELS[self.labels[i]], self.names[i]

    def ids_of(self, labels: Iterable[Label]) -> list[int]:
        codes = {LABEL_CODES[label] for label in labels}
        return [i for i, c in enumerate(self.labels) if c in codes]

    # -- impact analysis -----------------------------------------------------------------------
    def impact(self, root: int, depth: int, cap: int) -> ImpactReport:
        """LineageService.impact's answer, from a Dataset or Field node of this topology.

        Reached nodes are integers; their paths are lists of ids, each made by copying the
        parent's path (in C) rather than by walking parents back (in Python)."""
        ids = self.ids
        root_label = self.label(root)
        from_dataset = root_label is Label.DATASET
        field_starts = list(self.adjacency[(Rel.HAS_FIELD, Direction.OUT)].of(root)) if from_dataset else [root]
        reach: dict[int, tuple[int, list[NodeId]]] = {}

        def offer(node: int, dist: int, path: list[NodeId]) -> None:
            if node not in reach or dist < reach[node][0]:
                reach[node] = (dist, path)

        fw, truncated = walk(self.adjacency[(Rel.DERIVES, Direction.OUT)], dict.fromkeys(field_starts, 0), depth, cap)
        for f, (dist, path) in self._paths(fw, {}).items():
            offer(f, dist, path)
        if from_dataset:
            dw, cut = walk(self.adjacency[(Rel.FEEDS, Direction.OUT)], {root: 0}, depth, cap)
            truncated |= cut
            for d, (dist, path) in self._paths(dw, {}).items():
                offer(d, dist, path)
        held = self._step(reach, list(fw), (Rel.HAS_FIELD,), Direction.IN, offer, cost=0)[Rel.HAS_FIELD]
        if not from_dataset:
            truncated |= self._past_opaque_jobs(reach, held, depth, cap, offer)
        around = self._step(reach, list(reach), (Rel.TRAINED_ON, Rel.USES_FEATURE, Rel.OWNS), Direction.IN, offer)
        versions = around[Rel.TRAINED_ON] + around[Rel.USES_FEATURE]
        owners = around[Rel.OWNS]
        if versions:
            served = self._step(reach, versions, (Rel.VERSION_OF,), Direction.OUT, offer)[Rel.VERSION_OF]
            served += self._step(reach, versions, (Rel.SERVES,), Direction.IN, offer)[Rel.SERVES]
            owners += self._step(reach, versions + served, (Rel.OWNS,), Direction.IN, offer)[Rel.OWNS]
        projects = [i for i in owners if self.label(i) is Label.PROJECT]
        self._step(reach, projects, (Rel.MEMBER_OF, Rel.OWNS), Direction.IN, offer)
        skip = set(field_starts) | ({root} if from_dataset else set())
        report = ImpactReport(Impacted(ids[root], root_label, self.names[root], 0, [ids[root]]), depth,
                              truncated=truncated, labels={ids[root]: root_label})
        return build_report(report, reach, self.ref, skip)

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

    def _past_opaque_jobs(self, reach: dict[int, tuple[int, list[NodeId]]], datasets: list[int], depth: int, cap: int,
                          offer: Callable[[int, int, list[NodeId]], None]) -> bool:
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
            offer(node, dist, path)
        return truncated

    def _step(self, reach: dict[int, tuple[int, list[NodeId]]], ids: list[int], rels: tuple[Rel, ...],
              direction: Direction, offer: Callable[[int, int, list[NodeId]], None], cost: int = 1) -> dict[Rel, list[int]]:
        """LineageService._step in memory: the same relationships in the same (src, dst, type) order."""
        fresh: dict[Rel, list[int]] = {rel: [] for rel in rels}
        out = direction is Direction.OUT
        found = []
        for rel in rels:
            adj = self.adjacency[(rel, direction)]
            offsets, targets = adj.offsets, adj.targets
            for here in set(ids):
                if offsets[here] != offsets[here + 1]:
                    for there in targets[offsets[here]:offsets[here + 1]]:
                        found.append(((here, there) if out else (there, here), rel.value, rel))
        found.sort(key=lambda f: (f[0], f[1]))
        for (src, dst), _, rel in found:
            here, there = (src, dst) if out else (dst, src)
            if there not in reach:
                fresh[rel].append(there)
            offer(there, reach[here][0] + cost, reach[here][1] + [self.ids[there]])
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
