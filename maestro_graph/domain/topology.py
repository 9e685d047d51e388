"""A tenant's lineage topology in memory, and impact analysis over it.

Impact analysis over the store pays a round trip (or a thread hop) per step and loads every node
it reaches; over 1M columns that is 30-60x what the same walk costs in memory. This snapshot holds
only what impact analysis follows: the nodes of TOPOLOGY_LABELS as small integers (their rank in
id order, so sorting integers sorts ids) with label and name, and each relationship of
TOPOLOGY_RELS as compressed adjacency arrays (CSR): about 170 MB at 1M columns.

`impact` below carries out the impact plan (domain/impact.py) that LineageService.impact carries
out over the store, answering its requests in the same order (frontiers by id, relationships by
(src, dst, type)), so both give the same answer, truncation included;
tests/contract/test_topology_impact.py holds them to it.
"""

from __future__ import annotations

import sys
from array import array
from bisect import bisect_left
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from maestro_graph.domain.graph import Label, Rel
from maestro_graph.domain.impact import (FLAGS, FOLLOWED, TOPOLOGY_LABELS, Expand, Impacted, ImpactReport, OfLabel,
                                         Request, WalkFrom, build_report, impact_plan)
from maestro_graph.domain.walk import breadth_first, drive
from maestro_graph.types import Direction, NodeId

LABEL_CODES = {label: code for code, label in enumerate(TOPOLOGY_LABELS)}
# The relationships the topology holds, and which ways impact analysis follows each (IMPACT_PLAN's).
WAYS: dict[Rel, tuple[Direction, ...]] = {
    rel: tuple(d for d in (Direction.OUT, Direction.IN) if (rel, d) in FOLLOWED)
    for rel in sorted({rel for rel, _ in FOLLOWED}, key=lambda r: r.value)}


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
        return cls._of_pairs(n, ordered >> 1, (ordered & 1).astype(np.uint8) if flagged else None)

    @classmethod
    def _of_pairs(cls, n: int, pairs: np.ndarray, flags: np.ndarray | None) -> "Csr":
        """From ascending pair keys src * n + dst, with a flag each or none."""
        sources, targets = np.divmod(pairs, n)
        counts = np.bincount(sources, minlength=n)
        offsets = np.zeros(n + 1, dtype=np.int64)
        np.cumsum(counts, out=offsets[1:])
        return cls(_ints(offsets), _ints(targets), None if flags is None else bytearray(flags.tobytes()),
                   nonempty=_nonempty(counts, n))

    def of(self, i: int) -> array:
        return self.targets[self.offsets[i]:self.offsets[i + 1]]

    def reversed(self) -> "Csr":
        """The same edges seen from their targets, each list ascending (a stable sort by target
        keeps the sources, which are in ascending order, in order)."""
        n = len(self.offsets) - 1
        offsets = np.frombuffer(self.offsets, dtype=np.int32)
        targets = np.frombuffer(self.targets, dtype=np.int32)
        sources = np.repeat(np.arange(n, dtype=np.int32), np.diff(offsets))
        counts = np.bincount(targets, minlength=n)
        starts = np.zeros(n + 1, dtype=np.int64)
        np.cumsum(counts, out=starts[1:])
        return Csr(_ints(starts), _ints(sources[np.argsort(targets, kind="stable")]), nonempty=_nonempty(counts, n))

    def grown(self, renumbered: "Renumbering | None", sources: np.ndarray, targets: np.ndarray,
              flags: np.ndarray | None, gone: np.ndarray | None = None) -> "Csr":
        """This adjacency with nodes inserted (`renumbered`; None: the same nodes) and edges added
        or, where `gone` is set, removed: sources and targets in the new numbering, in (source,
        target) order, distinct, with a flag each if this Csr has flags. An edge already here
        takes its new flag; removing an edge that is not here does nothing.

        In numpy, over whole arrays only in steps about as cheap as a copy; the lists that take
        or lose edges are searched on their own. At 1.85M nodes each adjacency takes tens of ms.

        >>> c = Csr.from_keys(2, [(0 * 2 + 1) * 2], True)  # 0 -> 1; a node goes in before node 1
        >>> r = Renumbering(2, [1])
        >>> g = c.grown(r, np.array([0, 0]), np.array([1, 2]), np.array([1, 1], dtype=np.uint8))
        >>> list(g.offsets), list(g.targets), list(g.flags)
        ([0, 2, 2, 2], [1, 2], [1, 1])
        >>> h = g.grown(None, np.array([0]), np.array([2]), np.array([0], dtype=np.uint8), np.array([True]))
        >>> list(h.offsets), list(h.targets), list(h.flags)
        ([0, 1, 1, 1], [1], [1])
        """
        offsets = np.frombuffer(self.offsets, dtype=np.int32)
        held = np.frombuffer(self.targets, dtype=np.int32)
        n = len(offsets) - 1
        if renumbered is not None:
            held, offsets, n = renumbered.of(held), renumbered.offsets(offsets), renumbered.n
        kept = None if self.flags is None else np.frombuffer(self.flags, dtype=np.uint8)
        assert (kept is None) == (flags is None), "a flagged adjacency takes flags, and only it"
        emptied: list[int] = []
        if gone is not None and gone.any():
            place, known = _found(held, offsets, n, sources[gone], targets[gone])
            held, kept = np.delete(held, place[known]), None if kept is None else np.delete(kept, place[known])
            lost = np.zeros(n + 1, dtype=np.int32)
            np.cumsum(np.bincount(sources[gone][known], minlength=n), out=lost[1:])
            offsets = offsets - lost
            emptied = [i for i in np.unique(sources[gone][known]).tolist() if offsets[i] == offsets[i + 1]]
            sources, targets = sources[~gone], targets[~gone]
            flags = None if flags is None else flags[~gone]
        if len(sources):
            place, known = _found(held, offsets, n, sources, targets)
            fresh = ~known
            if kept is not None and flags is not None:
                kept = kept.copy()
                kept[place[known]] = flags[known]
                kept = np.insert(kept, place[fresh], flags[fresh])
            held = np.insert(held, place[fresh], targets[fresh])
            added = np.zeros(n + 1, dtype=np.int32)
            np.cumsum(np.bincount(sources[fresh], minlength=n), out=added[1:])
            offsets = offsets + added
        nonempty = self.nonempty
        if nonempty is not None:  # kept up to date, not recounted: a pass over every node saved
            nonempty = set(renumbered.of(np.fromiter(nonempty, np.int64, len(nonempty))).tolist()) if renumbered else set(nonempty)
            nonempty.difference_update(emptied)
            nonempty.update(sources.tolist())
            nonempty = nonempty if _is_few(len(nonempty), n) else None
        return Csr(_ints(offsets), _ints(held), None if kept is None else bytearray(kept.tobytes()), nonempty=nonempty)


def _found(held: np.ndarray, offsets: np.ndarray, n: int, sources: np.ndarray, targets: np.ndarray
           ) -> tuple[np.ndarray, np.ndarray]:
    """For edges (in (source, target) order): where each is in `held`, or would go, and whether it
    is there. Only the lists of these sources are searched, gathered as keys source * n + target."""
    touched = np.unique(sources)
    lengths = offsets[touched + 1] - offsets[touched]
    ends = np.cumsum(lengths)
    at = np.repeat(offsets[touched] - (ends - lengths), lengths) + np.arange(ends[-1] if len(ends) else 0)
    keys = np.repeat(touched.astype(np.int64), lengths) * n + held[at]
    wanted = sources.astype(np.int64) * n + targets
    rank = np.searchsorted(keys, wanted)
    known = rank < len(keys)
    known[known] = keys[rank[known]] == wanted[known]
    # Its source's list start, plus the targets before it in that list.
    return offsets[sources] + (rank - np.searchsorted(keys, sources.astype(np.int64) * n)), known


class Renumbering:
    """Nodes inserted among n old ones, in id order: before old node points[k] go how_many[k] new
    ones (points ascending, distinct; a point n appends). Old node i becomes node of(i)."""

    def __init__(self, n_old: int, at: Iterable[int]) -> None:
        points, how_many = np.unique(np.fromiter(at, dtype=np.int64), return_counts=True)
        self.points = points.astype(np.int32)
        self.before = np.zeros(len(points) + 1, dtype=np.int32)  # new nodes before the k-th gap
        np.cumsum(how_many, out=self.before[1:])
        self.n = n_old + int(self.before[-1])
        self._how_many = how_many

    def of(self, old: np.ndarray) -> np.ndarray:
        return old + self.before[np.searchsorted(self.points, old, side="right")]

    def offsets(self, offsets: np.ndarray) -> np.ndarray:
        """Offsets for the new numbering: a new node's list is empty, at the start of the next
        old node's (np.insert puts each value before that position)."""
        at = np.repeat(self.points, self._how_many)
        return np.insert(offsets, at, offsets[at])


def _ints(values: np.ndarray) -> array:
    """A numpy vector as the C ints the walks index (array slices are cheaper to loop over)."""
    out = array("i")
    out.frombytes(memoryview(np.ascontiguousarray(values, dtype=np.int32)).cast("B"))
    return out


def _is_few(count: int, n: int) -> bool:
    return count <= n // 16


def _nonempty(counts: np.ndarray, n: int) -> set[int] | None:
    distinct = np.flatnonzero(counts)
    return set(distinct.tolist()) if _is_few(len(distinct), n) else None


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

    def advanced(self, version: int, nodes: Iterable[tuple[NodeId, Label, str]],
                 edges: Mapping[Rel, Mapping[tuple[NodeId, NodeId], bool | None]]) -> "Topology":
        """This topology as of `version`: `nodes` (of TOPOLOGY_LABELS) added or renamed, and
        `edges` added or given their flag, or removed where the flag is None (rel -> {(src, dst):
        flag}; one with an end outside the topology is left out, as a build leaves it out). This
        one is left as it is, so walks over it are not disturbed.

        New nodes take their place in id order, and the nodes after them move up: every
        adjacency is renumbered, in numpy, in time linear in its size."""
        added: dict[NodeId, tuple[int, str]] = {}
        renamed: dict[int, str] = {}
        for node_id, label, name in nodes:
            i = self.index(node_id)
            if i is None:
                added[node_id] = (LABEL_CODES[label], name)
            elif self.names[i] != name:
                renamed[i] = name
        ids, labels, names, renumbered = self.ids, self.labels, self.names, None
        placed: dict[NodeId, int] = {}
        if added:
            new = sorted(added)
            at = [bisect_left(self.ids, node_id) for node_id in new]
            ids = _spliced(self.ids, at, new)
            labels = bytes(_spliced(bytearray(self.labels), at, [added[i][0] for i in new]))
            names = _spliced(self.names, at, [added[i][1] for i in new])
            renumbered = Renumbering(len(self.ids), at)
            placed = {node_id: a + k for k, (node_id, a) in enumerate(zip(new, at))}
        if renamed:
            names = list(names) if names is self.names else names
            moved = renumbered.of(np.fromiter(renamed, dtype=np.int64)).tolist() if renumbered else list(renamed)
            for i, name in zip(moved, renamed.values()):
                names[i] = name
        topology = Topology(version, ids, labels, names)
        ends = {end for pairs in edges.values() for pair in pairs for end in pair}
        old = {end: i for end in ends if end not in placed and (i := self.index(end)) is not None}
        if renumbered is not None and old:
            old = dict(zip(old, renumbered.of(np.fromiter(old.values(), dtype=np.int64)).tolist()))
        at = {**old, **placed}.get
        n = len(ids)
        found: dict[Rel, tuple[np.ndarray, ...]] = {}  # rel -> sources, targets, flags, removed
        for rel, pairs in edges.items():
            sources = np.fromiter((at(src, -1) for src, _ in pairs), dtype=np.int64, count=len(pairs))
            targets = np.fromiter((at(dst, -1) for _, dst in pairs), dtype=np.int64, count=len(pairs))
            inside = (sources >= 0) & (targets >= 0)
            flags = np.fromiter((flag is True for flag in pairs.values()), dtype=np.uint8, count=len(pairs))
            gone = np.fromiter((flag is None for flag in pairs.values()), dtype=bool, count=len(pairs))
            found[rel] = sources[inside], targets[inside], flags[inside], gone[inside]
        for (rel, direction), csr in self.adjacency.items():
            if rel not in found and renumbered is None:
                topology.adjacency[(rel, direction)] = csr  # untouched: shared, never written
                continue
            sources, targets, flags, gone = found.get(rel, (np.zeros(0, np.int64),) * 3 + (np.zeros(0, bool),))
            if direction is Direction.IN:
                sources, targets = targets, sources
            order = np.argsort(sources * n + targets)  # distinct: edges holds each pair once
            topology.adjacency[(rel, direction)] = csr.grown(
                renumbered, sources[order], targets[order], flags[order] if csr.flags is not None else None, gone[order])
        return topology

    # -- impact analysis -----------------------------------------------------------------------
    def impact(self, root: int, depth: int, cap: int) -> ImpactReport:
        """LineageService.impact's answer, from a Dataset or Field node of this topology: the
        impact plan (domain/impact.py) answered from the adjacency arrays.

        Reached nodes are integers; their paths are lists of ids, each made by copying the
        parent's path (in C) rather than by walking parents back (in Python)."""
        root_label = self.label(root)
        reached = drive(impact_plan(root, root_label, depth, cap, self.ids.__getitem__), self._answer)
        ids, names, codes, skip, row = self.ids, self.names, self.labels, reached.starts, tuple.__new__
        # tuple.__new__ makes the same Impacted without running NamedTuple's __new__ (Python code),
        # which is about 40% of the cost of a row, and there is a row per node reached.
        rows = [row(Impacted, (dist, names[i], ids[i], TOPOLOGY_LABELS[codes[i]], path))
                for i, (dist, path) in reached.nodes.items() if i not in skip]
        report = ImpactReport(Impacted(0, names[root], ids[root], root_label, [ids[root]]), depth, self.label_of,
                              truncated=reached.truncated)
        return build_report(report, rows)

    def _answer(self, request: Request) -> Any:
        if type(request) is Expand:
            return self._expand(request.ids, request.rels, request.direction, request.unless)
        if type(request) is WalkFrom:
            # Grouping a frontier's relationships by the node they leave is their (src, dst) order
            # only going OUT, and only along one type.
            assert len(request.rels) == 1 and request.direction is Direction.OUT, "the topology walks OUT along one type"
            return walk(self.adjacency[(request.rels[0], request.direction)], request.starts, request.depth, request.cap)
        assert type(request) is OfLabel, request
        code, codes = LABEL_CODES[request.label], self.labels
        return [i for i in request.ids if codes[i] == code]

    def _expand(self, ids: list[int], rels: tuple[Rel, ...], direction: Direction, unless: str | None
                ) -> list[tuple[int, int, Rel]]:
        """Expand's answer in memory: the same relationships in the same (src, dst, type) order as
        the store's (`rels` come in type order).

        Each relationship found is one integer, (src * n + dst) * len(rels) + rank of its type,
        so the order is a sort of integers; the (here, there, rel) tuples are made at the end."""
        out = direction is Direction.OUT
        n, width = len(self.ids), len(rels)
        froms = set(ids)
        found: list[int] = []
        for rank, rel in enumerate(rels):
            adj = self.adjacency[(rel, direction)]
            offsets, targets = adj.offsets, adj.targets
            sources = adj.nonempty
            if unless is not None:
                # The flags hold FLAGS[rel], kept for edges as stored (OUT).
                assert out and FLAGS.get(rel) == unless and adj.flags is not None, f"no {unless} flags on {rel.value}"
                flags = adj.flags
                for here in froms if sources is None else froms & sources:
                    at = offsets[here]
                    for k, there in enumerate(targets[at:offsets[here + 1]]):
                        if not flags[at + k]:
                            found.append((here * n + there) * width + rank)
                continue
            for here in froms if sources is None else froms & sources:
                for there in targets[offsets[here]:offsets[here + 1]]:
                    found.append(((here * n + there) if out else (there * n + here)) * width + rank)
        found.sort()
        if width == 1:  # most of what a walk reaches, one type: no rank to take off
            rel = rels[0]
            return [(k // n, k % n, rel) for k in found] if out else [(k % n, k // n, rel) for k in found]
        answer: list[tuple[int, int, Rel]] = []
        for key in found:
            pair, rank = divmod(key, width)
            src, dst = divmod(pair, n)
            answer.append((src, dst, rels[rank]) if out else (dst, src, rels[rank]))
        return answer


def _spliced(items: list | bytearray, at: list[int], new: list) -> list | bytearray:
    """items with new[k] inserted before items[at[k]] (at ascending), in one pass."""
    out = items[:0]
    start = 0
    for position, item in zip(at, new):
        out += items[start:position]
        out.append(item)
        start = position
    out += items[start:]
    return out


def walk(adj: Csr, starts: dict[int, int], depth: int, cap: int) -> tuple[dict[int, tuple[int, int | None]], bool]:
    """domain.walk.breadth_first over one adjacency, on integers: {node: (distance, parent or
    None)} in the order reached, and whether the cap cut the walk. Starts enter at their distance.
    A frontier expands to slices of the adjacency arrays: no relationship object is made."""
    hops: dict[int, tuple[int, int | None]] = {}
    offsets, targets = adj.offsets, adj.targets
    truncated = drive(breadth_first(starts, depth, cap, hops),
                      lambda frontier: zip(frontier, [targets[offsets[here]:offsets[here + 1]] for here in frontier]))
    return hops, truncated
