"""The floor: impact analysis computed in memory over the generated graph, with the result set the
server returns (every reached field and dataset, its distance and one shortest path).

Same rules as LineageService.impact, from a field:
  - fields: breadth-first along column lineage (networkx);
  - datasets: each holding a reached field, at that field's distance (the start's own included);
  - a job that names no column of one of its inputs (an "opaque" FEEDS edge) passes any column of
    it on: past such an edge, every dataset downstream is reached at dataset level, at the
    smallest total distance over all the ways in.
Ids here are benchmark names ("layer03.table0000123/c4" and "layer03.table0000123").
"""

from __future__ import annotations

from collections import defaultdict

import networkx as nx

from tests.benchmarks.lineage.generate import Dataset, column_edges


class Floor:
    def __init__(self, datasets: list[Dataset]) -> None:
        self.fields = nx.DiGraph()
        self.fields.add_edges_from(column_edges(datasets))
        # dataset -> [(downstream dataset, whether the job's column lineage names this input)]
        self.feeds: dict[str, list[tuple[str, bool]]] = defaultdict(list)
        for ds in datasets:
            named = {datasets[s].name for srcs in ds.lineage.values() for s, _ in srcs}
            for s in ds.inputs:
                self.feeds[datasets[s].name].append((ds.name, datasets[s].name in named))

    def impact(self, start: str, depth: int) -> tuple[dict[str, list[str]], dict[str, int]]:
        """(reached field -> a shortest path from start, reached dataset -> distance)."""
        paths = nx.single_source_shortest_path(self.fields, start, cutoff=depth)
        held: dict[str, int] = {}
        for f, path in paths.items():
            ds = f.split("/", 1)[0]
            held[ds] = min(held.get(ds, depth), len(path) - 1)
        datasets = dict(held)
        # Past opaque jobs: a breadth-first walk whose starts enter at different distances.
        entries: dict[int, list[str]] = defaultdict(list)
        for ds, dist in held.items():
            for nxt, named in self.feeds.get(ds, ()):
                if not named and dist < depth:
                    entries[dist + 1].append(nxt)
        seen: set[str] = set()
        frontier: list[str] = []
        for dist in range(min(entries, default=depth + 1), depth + 1):
            frontier = [d for d in frontier + entries.get(dist, []) if d not in seen]
            seen.update(frontier)
            for d in frontier:
                datasets[d] = min(datasets.get(d, dist), dist)
            frontier = [nxt for d in frontier for nxt, _ in self.feeds.get(d, ())]
        return {f: p for f, p in paths.items() if f != start}, datasets
