"""Breadth-first walks, as a pure algorithm that any store, or an index in memory, can drive.

`breadth_first` is the walk itself, over nodes of any kind (ids in a store, small integers in the
in-memory topology): a generator that yields the frontier to expand and is sent back, for each
node of it, the nodes one step on. `bfs` is that walk over a store's relationships. A store drives
it inside one call (one SQLite thread hop, one Neo4j session), the in-memory topology from its
adjacency arrays (domain/topology.py), so every walk is the same: nodes visited once (cycles never
loop), parents chosen in (src, dst, rel) order (answers are stable), and a cap on nodes reached
(then `truncated`).
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Generator, Hashable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import NamedTuple, TypeVar

from maestro_graph.domain.graph import Edge
from maestro_graph.types import Direction, NodeId

N = TypeVar("N", bound=Hashable)
Q = TypeVar("Q")  # what a generator asks
A = TypeVar("A")  # what it is answered
R = TypeVar("R")  # what it returns


class Hop(NamedTuple):
    distance: int
    parent: NodeId | None  # the node one step nearer the start on a shortest path


@dataclass
class Walk:
    hops: dict[NodeId, Hop]  # every node reached, starts included (distance 0), in BFS order
    edges: list[Edge] = field(default_factory=list)  # every relationship followed between reached nodes
    truncated: bool = False

    def path(self, node_id: NodeId) -> list[NodeId]:
        """A shortest path from a start to node_id, both included."""
        out = [node_id]
        while (parent := self.hops[out[-1]].parent) is not None:
            out.append(parent)
        return out[::-1]


def breadth_first(starts: Mapping[N, int], depth: int, cap: int, hops: dict[N, tuple[int, N | None]],
                  left_out: set[N] | None = None) -> Generator[list[N], Iterable[tuple[N, Iterable[N]]], bool]:
    """Yield each frontier (sorted); receive, in the walk's order, (node, the nodes one step on
    from it) for nodes of that frontier; fill `hops` with {node: (distance, parent or None)} in
    the order reached; return whether the cap cut the walk. Into `left_out`, if given, go the
    nodes the cap kept out (the caller empties it when it likes).

    Starts are {node: distance}: a start joins the frontier of its distance unless the walk
    reached it nearer (impact analysis enters the dataset graph at several distances). Of the
    ways to a node, the first one received is its parent.

    >>> hops = {}
    >>> steps = breadth_first({1: 0, 3: 1}, 2, 10, hops)
    >>> next(steps)
    [1]
    >>> steps.send([(1, [2])])
    [2, 3]
    >>> try:
    ...     steps.send([(2, [4]), (3, [4])])
    ... except StopIteration as done:
    ...     print(hops, done.value)
    {1: (0, None), 2: (1, 1), 3: (1, None), 4: (2, 2)} False
    """
    entering = deque(sorted((d, s) for s, d in starts.items()))
    truncated = False
    frontier: list[N] = []
    distance = entering[0][0] if entering else depth
    while True:
        while entering and entering[0][0] == distance:
            start = entering.popleft()[1]
            if start not in hops:
                hops[start] = (distance, None)
                frontier.append(start)
        if distance >= depth or not (frontier or entering):
            return truncated
        if frontier:
            frontier.sort()
            found = yield frontier
            frontier = []
            step = distance + 1
            for here, theres in found:
                for there in theres:
                    if there not in hops:
                        if len(hops) >= cap:
                            truncated = True
                            if left_out is not None:
                                left_out.add(there)
                            continue
                        hops[there] = (step, here)
                        frontier.append(there)
        distance += 1


def bfs(starts: Iterable[NodeId] | Mapping[NodeId, int], direction: Direction, depth: int,
        cap: int) -> Generator[list[NodeId], list[Edge], Walk]:
    """`breadth_first` along stored relationships: yield each frontier (sorted ids); receive the
    relationships leaving it (OUT) or entering it (IN), in any order; return the Walk.

    `starts` are ids at distance 0, or {id: distance} for starts that enter the walk further out.

    >>> from maestro_graph.domain.graph import Rel
    >>> steps = bfs({"a": 0, "c": 1}, Direction.OUT, 2, 10)
    >>> next(steps)
    ['a']
    >>> steps.send([Edge(Rel.FEEDS, "a", "b")])
    ['b', 'c']
    >>> try:
    ...     steps.send([Edge(Rel.FEEDS, "b", "d"), Edge(Rel.FEEDS, "c", "d")])
    ... except StopIteration as done:
    ...     print({n: (h.distance, h.parent) for n, h in done.value.hops.items()})
    {'a': (0, None), 'b': (1, 'a'), 'c': (1, None), 'd': (2, 'b')}
    """
    hops: dict[NodeId, tuple[int, NodeId | None]] = {}
    left_out: set[NodeId] = set()
    walk = Walk({})
    steps = breadth_first(starts if isinstance(starts, Mapping) else dict.fromkeys(starts, 0), depth, cap, hops, left_out)
    out = direction is Direction.OUT
    frontier: list[NodeId] | None
    try:
        frontier = next(steps)
    except StopIteration as done:
        frontier, walk.truncated = None, done.value
    while frontier is not None:
        step = yield frontier
        step.sort(key=lambda e: (e.src, e.dst, e.rel.value))
        left_out.clear()
        try:
            frontier = steps.send([(e.src, (e.dst,)) if out else (e.dst, (e.src,)) for e in step])
        except StopIteration as done:
            frontier, walk.truncated = None, done.value
        # Every relationship to a node reached: all but those the cap left out (a node left out
        # may enter later as a start; a relationship to it was not followed all the same).
        walk.edges += [e for e in step if (e.dst if out else e.src) not in left_out] if left_out else step
    walk.hops = {node: Hop(*hop) for node, hop in hops.items()}
    return walk


def drive(steps: Generator[Q, A, R], expand: Callable[[Q], A]) -> R:
    """Run a walk to its end with a synchronous expand: a store query, a lookup in relationships
    fetched at once, or adjacency arrays in memory. Any generator of requests and answers runs
    so (the impact plan of domain/impact.py, answered from memory)."""
    try:
        frontier = next(steps)
        while True:
            frontier = steps.send(expand(frontier))
    except StopIteration as done:
        return done.value
