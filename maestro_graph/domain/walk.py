"""Breadth-first walks, as a pure algorithm that any store can drive.

`bfs` is a generator: it yields the frontier to expand and is sent back the relationships found
there. A store drives it inside one call (one SQLite thread hop, one Neo4j session), so every
backend walks exactly the same way: nodes visited once (cycles never loop), parents chosen in
(src, dst, rel) order (answers are stable), and a cap on nodes reached (then `truncated`).
"""

from __future__ import annotations

from collections.abc import Generator, Iterable
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


def bfs(starts: Iterable[NodeId], direction: Direction, depth: int, cap: int) -> Generator[list[NodeId], list[Edge], Walk]:
    """Yield each frontier (sorted ids); receive the relationships leaving it; return the Walk."""
    hops: dict[NodeId, Hop] = {s: Hop(0, None) for s in sorted(set(starts))}
    walk = Walk(hops)
    frontier = list(hops)
    out = direction is Direction.OUT
    for distance in range(1, depth + 1):
        if not frontier:
            break
        step = yield frontier
        step.sort(key=lambda e: (e.src, e.dst, e.rel.value))
        frontier = []
        for e in step:
            here, there = (e.src, e.dst) if out else (e.dst, e.src)
            if there not in hops:
                if len(hops) >= cap:
                    walk.truncated = True
                    continue
                hops[there] = Hop(distance, here)
                frontier.append(there)
            walk.edges.append(e)
        frontier.sort()
    return walk
