"""Breadth-first walks, as a pure algorithm that any store can drive.

`bfs` is a generator: it yields the frontier to expand and is sent back the relationships found
there. A store drives it inside one call (one SQLite thread hop, one Neo4j session), so every
backend walks exactly the same way: nodes visited once (cycles never loop), parents chosen in
(src, dst, rel) order (answers are stable), and a cap on nodes reached (then `truncated`).
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Generator, Iterable, Mapping
from dataclasses import dataclass, field

from maestro_graph.domain.graph import Edge
from maestro_graph.types import Direction, NodeId


@dataclass(frozen=True, slots=True)
class Hop:
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


def bfs(starts: Iterable[NodeId] | Mapping[NodeId, int], direction: Direction, depth: int,
        cap: int) -> Generator[list[NodeId], list[Edge], Walk]:
    """Yield each frontier (sorted ids); receive the relationships leaving it; return the Walk.

    `starts` are ids at distance 0, or {id: distance} for starts that enter the walk further out
    (impact analysis enters the dataset graph at several distances): a start joins the frontier
    of its distance unless the walk reached it nearer.

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
    entering = deque(sorted((d, s) for s, d in (starts.items() if isinstance(starts, Mapping) else dict.fromkeys(starts, 0).items())))
    hops: dict[NodeId, Hop] = {}
    walk = Walk(hops)
    out = direction is Direction.OUT
    frontier: list[NodeId] = []
    distance = entering[0][0] if entering else depth
    while True:
        while entering and entering[0][0] == distance:
            start = entering.popleft()[1]
            if start not in hops:
                hops[start] = Hop(distance, None)
                frontier.append(start)
        if distance >= depth or not (frontier or entering):
            return walk
        if frontier:
            frontier.sort()
            step = yield frontier
            step.sort(key=lambda e: (e.src, e.dst, e.rel.value))
            frontier = []
            for e in step:
                here, there = (e.src, e.dst) if out else (e.dst, e.src)
                if there not in hops:
                    if len(hops) >= cap:
                        walk.truncated = True
                        continue
                    hops[there] = Hop(distance + 1, here)
                    frontier.append(there)
                walk.edges.append(e)
        distance += 1


def drive(steps: Generator[list[NodeId], list[Edge], Walk], expand: Callable[[list[NodeId]], list[Edge]]) -> Walk:
    """Run a bfs to its end with a synchronous expand: a store query, or a lookup in relationships
    fetched at once."""
    try:
        frontier = next(steps)
        while True:
            frontier = steps.send(expand(frontier))
    except StopIteration as done:
        return done.value
