"""A wide dataset's first page of columns: `fields(first: 20)` of a 5,000-column dataset.

    .venv/bin/python -m tests.benchmarks.relationship_paging                  # SQLite, 5,000 columns
    .venv/bin/python -m tests.benchmarks.relationship_paging --columns 2000 --requests 100

Times, on one SQLite file in a temporary directory:
  graphql:      the query through the app in process (ASGI, no sockets), sequential requests;
  store, whole: what a relationship page cost when connections sliced in Python: every
                neighbour loaded (GraphStore.neighbours), then the first 20 kept;
  store, paged: GraphStore.neighbour_pages(first=20): the page cut in the store.
Run on a checkout without neighbour_pages, it times the first two only. Bounded: --requests
(at most 500) of each, after 10 warm-up calls; nothing listens on a socket.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import platform
import statistics
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import httpx

from maestro_graph.app import create_app
from maestro_graph.domain.graph import ChangeSet, Edge, Label, Rel
from maestro_graph.services.graph import GraphService
from maestro_graph.settings import Settings
from maestro_graph.store.factory import create_store
from maestro_graph.types import Direction
from resolvers.relay import to_global_id

QUERY = """query($id: ID!) { node(id: $id) { ... on Dataset { fields(first: 20) {
  totalCount pageInfo { hasNextPage endCursor } edges { cursor node { id name path type } } } } } }"""
TENANT = "bench"


def pct(values: list[float], p: float) -> float:
    values = sorted(values)
    return values[min(len(values) - 1, int(round(p / 100 * (len(values) - 1))))]


async def timed(call: Callable[[], Awaitable[Any]], requests: int) -> dict[str, float]:
    for _ in range(10):
        await call()
    ms = []
    for _ in range(requests):
        t = time.perf_counter()
        await call()
        ms.append((time.perf_counter() - t) * 1000)
    return {"p50": statistics.median(ms), "p95": pct(ms, 95), "mean": statistics.fmean(ms)}


async def run(columns: int, requests: int, tmp: Path) -> list[tuple[str, dict[str, float]]]:
    settings = Settings(data_dir=tmp, store_url=f"sqlite:///{tmp / 'bench.db'}", no_auth=True, tenant=TENANT,
                        rate_limit_per_minute=100_000_000, graphiql=False)
    store = create_store(settings)
    await store.open()
    await store.migrate()
    try:
        g = GraphService(store)
        ds = g.build(TENANT, Label.DATASET, {"namespace": "pg://warehouse", "name": "wide"})
        fields = [g.build(TENANT, Label.FIELD, {"dataset_id": ds.id, "path": f"col_{i:05d}", "type": "double"})
                  for i in range(columns)]
        await store.apply(TENANT, ChangeSet(create=[ds, *fields], link=[Edge(Rel.HAS_FIELD, ds.id, f.id) for f in fields]))

        app = create_app(settings, store=store)
        client = httpx.AsyncClient(transport=httpx.ASGITransport(app=app, client=("127.0.0.1", 50000)),
                                   base_url="http://127.0.0.1")
        body = {"query": QUERY, "variables": {"id": to_global_id(Label.DATASET, ds.id)}}

        async def graphql() -> None:
            r = await client.post("/graphql", json=body)
            conn = r.json()["data"]["node"]["fields"]
            assert conn["totalCount"] == columns and len(conn["edges"]) == 20, r.text

        async def whole() -> None:
            nbs = (await store.neighbours(TENANT, [ds.id], Rel.HAS_FIELD, Direction.OUT))[ds.id]
            assert len(nbs[:20]) == 20 and len(nbs) == columns

        async def paged() -> None:
            page = (await store.neighbour_pages(TENANT, [ds.id], Rel.HAS_FIELD, Direction.OUT, first=20))[ds.id]
            assert len(page.items) == 20 and page.total == columns

        out = [("graphql fields(first: 20)", await timed(graphql, requests)),
               ("store, whole + slice", await timed(whole, requests))]
        if hasattr(store, "neighbour_pages"):
            out.append(("store, paged", await timed(paged, requests)))
        await client.aclose()
        return out
    finally:
        await store.close()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--columns", type=int, default=5000, help="columns of the dataset (default 5,000)")
    ap.add_argument("--requests", type=int, default=200, help="timed calls of each kind (default 200, at most 500)")
    args = ap.parse_args()
    requests = max(1, min(args.requests, 500))
    print(f"machine: {platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}, "
          f"SQLite; {args.columns} columns, {requests} calls each", flush=True)
    with tempfile.TemporaryDirectory() as tmp:
        results = asyncio.run(run(args.columns, requests, Path(tmp)))
    print(f"{'what':<28} {'p50 ms':>8} {'p95 ms':>8} {'mean ms':>8}")
    for name, r in results:
        print(f"{name:<28} {r['p50']:>8.2f} {r['p95']:>8.2f} {r['mean']:>8.2f}", flush=True)


if __name__ == "__main__":
    sys.exit(main())
