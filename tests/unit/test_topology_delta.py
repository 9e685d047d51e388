"""Topology.advanced (the lineage index following a commit) gives exactly the topology a rebuild
gives: same ids, labels, names, adjacency arrays and flags, on random graphs and changes."""

from __future__ import annotations

import random

import numpy as np

from maestro_graph.domain.graph import Label, Rel
from maestro_graph.domain.impact import TOPOLOGY_LABELS
from maestro_graph.domain.topology import WAYS, Csr, Topology
from maestro_graph.types import Direction

Edges = dict[Rel, dict[tuple[str, str], bool | None]]  # None: removed


def built(version: int, nodes: dict[str, tuple[Label, str]], edges: Edges) -> Topology:
    """What a rebuild makes of these nodes and edges (services/topology_cache.py reads them so)."""
    ids = sorted(nodes)
    t = Topology(version, ids, bytes(TOPOLOGY_LABELS.index(nodes[i][0]) for i in ids), [nodes[i][1] for i in ids])
    at, n = {node_id: k for k, node_id in enumerate(ids)}, len(ids)
    for rel, ways in WAYS.items():
        keys = [(at[s] * n + at[d]) * 2 + (rel is Rel.FEEDS and flag) for (s, d), flag in edges.get(rel, {}).items()
                if s in at and d in at]
        out = Csr.from_keys(n, keys, rel is Rel.FEEDS)
        for way in ways:
            t.adjacency[(rel, way)] = out if way is Direction.OUT else out.reversed()
    return t


def same(a: Topology, b: Topology) -> None:
    assert (a.version, a.ids, a.labels, a.names) == (b.version, b.ids, b.labels, b.names)
    assert a.adjacency.keys() == b.adjacency.keys()
    for key, x in a.adjacency.items():
        y = b.adjacency[key]
        assert (list(x.offsets), list(x.targets), x.flags) == (list(y.offsets), list(y.targets), y.flags), key
        assert holds_its_nonempty(x) and holds_its_nonempty(y), key


def holds_its_nonempty(c: Csr) -> bool:
    """nonempty is None (look at every node) or exactly the nodes with a neighbour."""
    return c.nonempty is None or c.nonempty == {i for i in range(len(c.offsets) - 1) if c.offsets[i + 1] > c.offsets[i]}


def node_id(rnd: random.Random) -> str:
    return "%032x" % rnd.getrandbits(128)


def test_a_topology_advanced_by_a_change_equals_the_rebuilt_one():
    rels = list(WAYS)
    for seed in range(60):
        rnd = random.Random(seed)
        nodes = {node_id(rnd): (rnd.choice(TOPOLOGY_LABELS), f"n{k}") for k in range(rnd.randint(0, 40))}
        edges: Edges = {rel: {} for rel in rels}
        for _ in range(rnd.randint(0, 120)) if nodes else ():
            edges[rnd.choice(rels)][(rnd.choice(list(nodes)), rnd.choice(list(nodes)))] = rnd.random() < 0.5
        before = built(seed, nodes, edges)

        added = {node_id(rnd): (rnd.choice(TOPOLOGY_LABELS), f"new{k}") for k in range(rnd.randint(0, 15))}
        renamed = {i: (label, name + "-renamed") for i, (label, name) in nodes.items() if rnd.random() < 0.2}
        after_nodes = {**nodes, **added, **renamed}
        change: Edges = {rel: {} for rel in rels}
        ends = list(after_nodes) + ["outside-the-topology"]  # a Job or Run end: left out, as a build leaves it
        for _ in range(rnd.randint(0, 60)):
            change[rnd.choice(rels)][(rnd.choice(ends), rnd.choice(ends))] = rnd.random() < 0.5
        for rel in rels:  # some edges again, some with their flag turned, some removed
            for pair, flag in list(edges[rel].items())[: rnd.randint(0, 8)]:
                change[rel][pair] = rnd.choice((flag, not flag, None))
            if rnd.random() < 0.3 and len(after_nodes) > 1:  # removing what is not there does nothing
                change[rel][(rnd.choice(list(after_nodes)), "outside-the-topology")] = None
                change[rel][tuple(rnd.sample(list(after_nodes), 2))] = None
        after_edges = {rel: {pair: flag for pair, flag in {**edges[rel], **change[rel]}.items() if flag is not None}
                       for rel in rels}

        told = [(i, label, name) for i, (label, name) in {**added, **renamed}.items()]
        told += [(i, *nodes[i]) for i in rnd.sample(list(nodes), min(3, len(nodes)))]  # unchanged nodes again
        same(before.advanced(seed + 1, told, change), built(seed + 1, after_nodes, after_edges))
        same(before, built(seed, nodes, edges))  # the old one untouched: walks over it go on undisturbed


def test_an_empty_change_shares_the_arrays():
    rnd = random.Random(3)
    nodes = {node_id(rnd): (Label.FIELD, f"c{k}") for k in range(5)}
    a, b = list(nodes)[:2]
    before = built(1, nodes, {Rel.DERIVES: {(a, b): False}})
    after = before.advanced(2, [], {})
    assert after.version == 2 and all(after.adjacency[k] is before.adjacency[k] for k in before.adjacency)
    assert np.array_equal(after.adjacency[(Rel.DERIVES, Direction.OUT)].targets, [before.index(b)])


def test_a_removed_relationship_leaves_no_trace_in_the_nodes_with_neighbours():
    rnd = random.Random(5)
    nodes = {node_id(rnd): (Label.DATASET, f"d{k}") for k in range(40)}
    a, b, c = list(nodes)[:3]
    before = built(1, nodes, {Rel.TRAINED_ON: {(a, b): False, (a, c): False}})
    assert before.adjacency[(Rel.TRAINED_ON, Direction.IN)].nonempty == {before.index(b), before.index(c)}
    after = before.advanced(2, [], {Rel.TRAINED_ON: {(a, b): None}})
    same(after, built(2, nodes, {Rel.TRAINED_ON: {(a, c): False}}))
    assert after.adjacency[(Rel.TRAINED_ON, Direction.IN)].nonempty == {after.index(c)}
