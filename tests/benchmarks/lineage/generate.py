"""A realistic lineage graph as OpenLineage events, seeded and repeatable.

Datasets sit in layers (sources first); each derived dataset is written by one job that reads
1-4 upstream datasets picked with preferential attachment (popular tables get more readers:
power-law fan-out) from the 1-3 layers before it, so chains run 10+ hops deep. Each output
column derives from 1-5 input columns (mean ~3: 1M fields give ~3M column edges). A few
datasets read from a later layer, which makes cycles. Columns per dataset: 5-50, mostly ~10.
"""

from __future__ import annotations

import random
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field

NS = "bench://warehouse"
PRODUCER = "https://github.com/maestro-graph/benchmarks"
SCHEMA_URL = "https://openlineage.io/spec/2-0-2/OpenLineage.json#/$defs/RunEvent"
SUBTYPES = ["IDENTITY", "TRANSFORMATION", "AGGREGATION", "JOIN", "FILTER"]


@dataclass
class Dataset:
    name: str
    layer: int
    columns: list[str]
    inputs: list[int] = field(default_factory=list)  # indexes of upstream datasets
    lineage: dict[str, list[tuple[int, str]]] = field(default_factory=dict)  # column -> [(dataset, column)]


def n_columns(rnd: random.Random) -> int:
    # Mostly ~10 columns, a long tail up to 50 (mean ~10).
    return max(5, min(50, int(rnd.lognormvariate(2.2, 0.45))))


def generate(n_datasets: int, seed: int = 42, layers: int = 14, cycle_rate: float = 0.002) -> list[Dataset]:
    rnd = random.Random(seed)
    per_layer = max(1, n_datasets // layers)
    datasets: list[Dataset] = []
    popularity: list[int] = []  # one entry per "vote": preferential attachment by sampling this list
    for i in range(n_datasets):
        layer = min(layers - 1, i // per_layer)
        cols = [f"c{j}" for j in range(n_columns(rnd))]
        ds = Dataset(f"layer{layer:02d}.table{i:07d}", layer, cols)
        if layer > 0:
            lo = max(0, (layer - 3) * per_layer)
            hi = layer * per_layer
            k = min(hi - lo, rnd.choice((1, 1, 2, 2, 2, 3, 3, 4)))
            picks: set[int] = set()
            while len(picks) < k:
                if popularity and rnd.random() < 0.7:
                    cand = popularity[rnd.randrange(len(popularity))]
                    if lo <= cand < hi:
                        picks.add(cand)
                        continue
                picks.add(rnd.randrange(lo, hi))
            if rnd.random() < cycle_rate and i + per_layer < n_datasets:
                picks.add(i + per_layer)  # reads a later layer: lineage cycles exist in real warehouses
            ds.inputs = sorted(picks)
            popularity.extend(ds.inputs)
        datasets.append(ds)
    for ds in datasets:  # column lineage once every dataset's columns are known
        if not ds.inputs:
            continue
        for col in ds.columns:
            n = rnd.choice((1, 2, 3, 3, 3, 4, 5, 6))
            ds.lineage[col] = sorted({(src, rnd.choice(datasets[src].columns)) for src in (rnd.choice(ds.inputs) for _ in range(n))})
    return datasets


def events(datasets: list[Dataset], seed: int = 7) -> Iterator[dict]:
    """Source tables as DatasetEvents with their schema, then one COMPLETE RunEvent per derived table."""
    rnd = random.Random(seed)
    for ds in datasets:
        if not ds.inputs:
            yield {"eventTime": "2026-11-01T00:00:00Z", "producer": PRODUCER, "schemaURL": SCHEMA_URL,
                   "dataset": {"namespace": NS, "name": ds.name,
                               "facets": {"schema": {"fields": [{"name": c, "type": "string"} for c in ds.columns]}}}}
    for ds in datasets:
        if not ds.inputs:
            continue
        fields = {col: {"inputFields": [{"namespace": NS, "name": datasets[s].name, "field": c,
                                         "transformations": [{"type": "DIRECT", "subtype": rnd.choice(SUBTYPES)}]}
                                        for s, c in srcs]} for col, srcs in ds.lineage.items()}
        yield {"eventType": "COMPLETE", "eventTime": "2026-11-01T01:00:00Z", "producer": PRODUCER, "schemaURL": SCHEMA_URL,
               "run": {"runId": str(uuid.UUID(int=rnd.getrandbits(128), version=4))},
               "job": {"namespace": "bench", "name": "build_" + ds.name},
               "inputs": [{"namespace": NS, "name": datasets[s].name} for s in ds.inputs],
               "outputs": [{"namespace": NS, "name": ds.name, "facets": {
                   "schema": {"fields": [{"name": c, "type": "string"} for c in ds.columns]},
                   "columnLineage": {"fields": fields}}}]}


def column_edges(datasets: list[Dataset]) -> Iterator[tuple[str, str]]:
    """(upstream field, downstream field) as 'dataset/column' names: what the floor walks."""
    for ds in datasets:
        for col, srcs in ds.lineage.items():
            for s, c in srcs:
                yield f"{datasets[s].name}/{c}", f"{ds.name}/{col}"


def small_events(n: int, seed: int = 11, prefix: str = "http") -> Iterator[dict]:
    """Standalone events with 10 column-lineage fields each, for the HTTP ingestion rate: each
    writes a new dataset (`prefix` keeps one run's datasets apart from an earlier run's)."""
    rnd = random.Random(seed)
    for i in range(n):
        src, dst = f"{prefix}.src{i % 500:04d}", f"{prefix}.dst{i:06d}"
        cols = [f"c{j}" for j in range(10)]
        yield {"eventType": "COMPLETE", "eventTime": "2026-11-01T02:00:00Z", "producer": PRODUCER, "schemaURL": SCHEMA_URL,
               "run": {"runId": str(uuid.UUID(int=rnd.getrandbits(128), version=4))},
               "job": {"namespace": "bench-http", "name": f"{prefix}.job{i:06d}"},
               "inputs": [{"namespace": NS, "name": src}],
               "outputs": [{"namespace": NS, "name": dst, "facets": {"columnLineage": {"fields": {
                   c: {"inputFields": [{"namespace": NS, "name": src, "field": c,
                                        "transformations": [{"type": "DIRECT", "subtype": "IDENTITY"}]}]} for c in cols}}}}]}


def reruns(evs: list[dict], seed: int = 13) -> Iterator[dict]:
    """The steady state of a warehouse: jobs already known run again, each run a START and a
    COMPLETE event with the lineage it had (only the run is new)."""
    rnd = random.Random(seed)
    for ev in evs:
        run = {"runId": str(uuid.UUID(int=rnd.getrandbits(128), version=4))}
        yield {**ev, "eventType": "START", "eventTime": "2026-11-02T02:00:00Z", "run": run}
        yield {**ev, "eventType": "COMPLETE", "eventTime": "2026-11-02T02:05:00Z", "run": run}
