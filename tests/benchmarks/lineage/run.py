"""Lineage benchmark: ingestion rate and lineage/impact latency per backend, beside the same
impact analysis computed in memory (tests/benchmarks/lineage/floor.py), which is the floor.

    .venv/bin/python -m tests.benchmarks.lineage.run --datasets 10000                    # SQLite
    .venv/bin/python -m tests.benchmarks.lineage.run --datasets 100000 \
        --store sqlite --store neo4j://127.0.0.1:7697 --neo4j-password maestro-test-pw  # 1M fields

Per backend, in one run:
  bulk ingestion   every generated event through LineageService.ingest_batches, as `maestro-graph ingest`
                   sends them: batches of --batch, three under way (events/s);
                   with --loaded, --http-events events of the HTTP step's kind instead, new
                   datasets then re-runs, into the loaded graph
  HTTP ingestion   --http-events standalone events (10 column-lineage fields each, each writing a
                   new dataset into the loaded graph's tenant) POSTed one per request by
                   --http-clients clients to a real server process; then half those jobs
                   running again, a START and a COMPLETE event per run: the steady state (events/s)
  index            building the in-memory topology impact analysis answers from (s, MB it holds);
                   then, events ingested into the held index (the bulk step's with --loaded, else
                   --http-events / 3 more): how many take-ins kept it current, and how long the
                   last one (the catch-up a query would wait for, or walk the store during) took
  lineage/impact   FIELD-granularity downstream lineage and impact analysis at depth 3, 10, 20
                   from --queries seeded start columns: p50/p95 ms, beside the floor. Impact is
                   timed twice: from the in-memory topology (what the server answers from once
                   it is built, checking the store's topology version as the server does) and
                   by walking the store (what it answers from while the topology is being built).
  GraphQL          impactAnalysis at depth 10 over HTTP from a real server process (its own
                   index built first), node ids of the reached fields and datasets: p50/p95 ms,
                   and beside it a node(id) request (one store read: any request's fixed cost)
With --ingest-only, the two ingestion steps alone, then their rates (tests/benchmarks/feed_cost.py
compares two commits on them).
Every answer is checked against the floor: the same nodes at the same distances, and every impact
path a real shortest path. Loopback only; bounded counts. With --tenant and --loaded, a second run
measures queries on a graph an earlier run loaded (a 1M-field load takes long on some backends).
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
from typing import TypeVar

import aiohttp
import networkx as nx
import orjson

from maestro_graph.auth.principal import system
from maestro_graph.domain.graph import Label
from maestro_graph.domain.keys import natural_key
from maestro_graph.services import Services
from maestro_graph.domain.impact import ImpactReport
from maestro_graph.services.lineage import MAX_CAP, LineageGraph
from maestro_graph.runtime import tune_gc
from maestro_graph.services.topology_cache import TopologyCache
from maestro_graph.settings import BULK_BATCH, Settings
from maestro_graph.store.base import GraphStore
from maestro_graph.store.factory import create_store
from maestro_graph.types import Granularity, LineageDirection
from tests.benchmarks.lineage.floor import Floor
from tests.benchmarks.lineage.generate import NS, events, generate, reruns, small_events
from resolvers.relay import to_global_id
from tests.benchmarks.nested_query import start_server

T = TypeVar("T")

DEPTHS = (3, 10, 20)


class Names:
    """Node ids by the generator's names ("table/column" for a column) and names by id, read
    from the store: ids are minted when a node is first stored, so they cannot be computed."""

    def __init__(self, store: GraphStore, tenant: str) -> None:
        self.store, self.tenant = store, tenant
        self.of: dict[str, str] = {}  # id -> name

    async def field_ids(self, names: list[str]) -> dict[str, str]:
        tables = {n.split("/")[0] for n in names}
        found = await self.store.get_by_keys(self.tenant, Label.DATASET, [_key(Label.DATASET, namespace=NS, name=t) for t in tables])
        table_ids = {t: found[_key(Label.DATASET, namespace=NS, name=t)].id for t in tables}
        keys = {n: _key(Label.FIELD, dataset_id=table_ids[n.split("/")[0]], path=n.split("/")[1]) for n in names}
        fields = await self.store.get_by_keys(self.tenant, Label.FIELD, list(keys.values()))
        return {n: fields[k].id for n, k in keys.items()}

    async def load(self, ids: set[str]) -> None:
        """Learn the names of these nodes (columns and tables)."""
        nodes = await self.store.get_nodes(self.tenant, [i for i in ids if i not in self.of])
        tables = await self.store.get_nodes(self.tenant, list({n.props["dataset_id"] for n in nodes.values() if n.label is Label.FIELD}))
        self.of.update((i, t.name) for i, t in tables.items())
        self.of.update((i, n.name if n.label is Label.DATASET else f"{tables[n.props['dataset_id']].name}/{n.props['path']}")
                       for i, n in nodes.items())


def _key(label: Label, **props: str) -> str:
    return natural_key(label, props)


def pct(values: list[float], p: float) -> float:
    values = sorted(values)
    return values[min(len(values) - 1, int(round(p / 100 * (len(values) - 1))))]


def progress(msg: str) -> None:
    print(f"  [{time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)


async def bulk_ingest(services: Services, tenant: str, evs: list[dict], batch: int) -> float:
    """Batches through LineageService.ingest_batches, as `maestro-graph ingest` sends them (events/s)."""
    start = time.perf_counter()
    done = 0
    batches = (evs[i:i + batch] for i in range(0, len(evs), batch))
    async for result in services.lineage.ingest_batches(system(tenant, "benchmark"), batches):
        done += result.events
        if (done // batch) % 20 == 1:
            progress(f"bulk: {done:,}/{len(evs):,} events, {done / (time.perf_counter() - start):,.0f} events/s")
    return len(evs) / (time.perf_counter() - start)


async def http_ingest(url: str, evs: list[dict], clients: int) -> float:
    """POST each event in its own request from `clients` concurrent connections (events/s).
    aiohttp, not httpx, drives the load: on this 2-core machine httpx's AsyncClient tops out at
    about 270 requests/s against /healthz with 16 clients, aiohttp at about 3,900, so with httpx
    the figure was the client's limit, not the server's."""
    bodies = iter([orjson.dumps(ev) for ev in evs])
    headers = {"content-type": "application/json"}
    async with aiohttp.ClientSession(url, connector=aiohttp.TCPConnector(limit=clients),
                                     timeout=aiohttp.ClientTimeout(total=60)) as session:
        async def worker() -> None:
            for body in bodies:
                async with session.post("/api/v1/lineage", data=body, headers=headers) as r:
                    text = await r.text()
                    assert r.status == 201, text

        start = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(clients)))
        return len(evs) / (time.perf_counter() - start)


GQL_IMPACT = """query($id: ID!) { impactAnalysis(id: $id, depth: 10) {
  truncated totals { fields datasets } fields { distance node { id } } datasets { distance node { id } } } }"""
GQL_NODE = "query($id: ID!) { node(id: $id) { id } }"


async def graphql_impact(url: str, ids: dict[str, str], starts: list[str], repeat: int) -> tuple[list[float], list[float]]:
    """impactAnalysis at depth 10 over HTTP, the reached fields and datasets with their node ids:
    what a front-end pays, GraphQL execution and node reads included (ms per request). Beside it,
    interleaved, the same column's `node(id) { id }`: one store read, what any request costs over
    HTTP. Sent by aiohttp, not httpx: httpx's client costs milliseconds of this machine's CPU a
    request (see http_ingest), which the server would be charged for."""
    out: list[float] = []
    fixed: list[float] = []
    headers = {"content-type": "application/json"}
    async with aiohttp.ClientSession(url, timeout=aiohttp.ClientTimeout(total=600)) as session:
        async def ask(query: str, name: str) -> None:
            body = orjson.dumps({"query": query, "variables": {"id": to_global_id(Label.FIELD, ids[name])}})
            async with session.post("/graphql", data=body, headers=headers) as r:
                answer = orjson.loads(await r.read())
                assert r.status == 200 and "errors" not in answer, str(answer)[:500]

        await ask(GQL_IMPACT, starts[0])  # the server builds its lineage index (inline) on this one
        for _ in range(repeat):
            for name in starts:
                for query, times in ((GQL_IMPACT, out), (GQL_NODE, fixed)):
                    t = time.perf_counter()
                    await ask(query, name)
                    times.append((time.perf_counter() - t) * 1000)
    return out, fixed


async def queries(services: Services, walked: Services, tenant: str, floor: Floor, starts: list[str], repeat: int,
                  names: Names) -> dict[str, dict[int, list[float]]]:
    """Each kind of query timed in its own pass over the starts, so that one kind's aftermath (a
    database server still busy after a heavy walk, on a 2-core machine) is not charged to
    another. The in-memory ones (floor, impact from the topology) run `repeat` passes."""
    out: dict[str, dict[int, list[float]]] = {"lineage": {}, "impact": {}, "walk": {}, "floor": {}, "bfs": {}}
    mismatches = truncated = 0

    async def timed(key: str, depth: int, call: Callable[[str], Awaitable[T]]) -> list[T]:
        answers = []
        for name in starts:
            t = time.perf_counter()
            answers.append(await call(name))
            out[key][depth].append((time.perf_counter() - t) * 1000)
        return answers

    async def in_memory(result: T) -> T:
        return result

    ids = await names.field_ids(starts)

    for depth in DEPTHS:
        for key in out:
            out[key][depth] = []
        for _ in range(repeat):
            bfs = await timed("bfs", depth, lambda n: in_memory(nx.single_source_shortest_path_length(floor.fields, n, cutoff=depth)))
            fl = await timed("floor", depth, lambda n: in_memory(floor.impact(n, depth)))
        for _ in range(repeat):
            rs = await timed("impact", depth, lambda n: services.lineage.impact(tenant, ids[n], depth, MAX_CAP))
        gs = await timed("lineage", depth, lambda n: services.lineage.lineage(
            tenant, ids[n], LineageDirection.DOWNSTREAM, depth, Granularity.FIELD, MAX_CAP))
        ws = await timed("walk", depth, lambda n: walked.lineage.impact(tenant, ids[n], depth, MAX_CAP))
        for reached, (paths, datasets), g, r, rw in zip(bfs, fl, gs, rs, ws):
            truncated += g.truncated or r.truncated or rw.truncated
            if g.truncated or r.truncated or rw.truncated:
                continue
            await names.load({n.id for n, _ in g.nodes} | {i.id for i in [*r.fields, *r.datasets, *rw.fields, *rw.datasets]})
            if not (same_answers(names.of, floor, g, r, reached, paths, datasets)
                    and same_answers(names.of, floor, g, rw, reached, paths, datasets)):
                mismatches += 1
        progress(f"depth {depth}: median reached {statistics.median(len(p) for p, _ in fl):,.0f} columns")
    if mismatches:
        raise SystemExit(f"{mismatches} answers differ from the in-memory floor: the benchmark is not comparing like with like")
    out["truncated"] = {0: [float(truncated)]}
    return out


def same_answers(names: dict[str, str], floor: Floor, g: LineageGraph, r: ImpactReport, reached: dict[str, int],
                 paths: dict[str, list[str]], datasets: dict[str, int]) -> bool:
    """The server's answers against the floor's, by name: the same nodes at the same distances,
    and every impact path a real shortest path of the generated graph."""
    if {(names[n.id], d) for n, d in g.nodes} != set(reached.items()):
        return False
    if {(names[i.id], i.distance) for i in r.fields} != {(f, len(p) - 1) for f, p in paths.items()}:
        return False
    if {(names[i.id], i.distance) for i in r.datasets} != set(datasets.items()):
        return False
    for i in r.fields:
        hops = [names[node] for node in i.path]
        if len(hops) - 1 != i.distance or not all(floor.fields.has_edge(a, b) for a, b in zip(hops, hops[1:])):
            return False
    return True


async def bench_backend(store_url: str, args: argparse.Namespace, evs: list[dict], floor: Floor, starts: list[str]) -> dict:
    tenant = args.tenant or f"bench-{int(time.time())}"
    with tempfile.TemporaryDirectory() as tmp:
        url = f"sqlite:///{tmp}/lineage.db" if store_url == "sqlite" else store_url
        settings = Settings(data_dir=Path(tmp), store_url=url, neo4j_password=args.neo4j_password)
        store = create_store(settings)
        await store.open()
        await store.migrate()
        services = Services.build(store, topology=TopologyCache(store, "background", max_nodes=10_000_000))
        walked = Services.build(store, topology=TopologyCache(store, "off"))
        bulk: float | tuple[float, float] = float("nan")
        if not args.loaded:
            progress(f"{store.backend}: bulk ingestion of {len(evs):,} events")
            bulk = await bulk_ingest(services, tenant, evs, args.batch)
        if args.ingest_only:
            await store.close()
            return {"backend": store.backend, "bulk": bulk, "http": await http_step(url, tmp, tenant, args, store.backend)}
        progress(f"{store.backend}: building the in-memory topology")
        t = time.perf_counter()
        topology = await services.lineage.topology.ensure(tenant)
        assert topology is not None, "the topology was not built: see the log"
        # What the topology holds, not RSS: RSS also counts SQLite's page cache and memory map.
        index = (time.perf_counter() - t, topology.nbytes() / 2**20)
        progress(f"{store.backend}: topology of {len(topology):,} nodes in {index[0]:.1f} s, {index[1]:,.0f} MB; queries")
        names = Names(store, tenant)
        q = await queries(services, walked, tenant, floor, starts, args.repeat, names)
        ids = await names.field_ids(starts)
        # From here on the index is held: what this process commits is noted and taken in.
        cache = services.lineage.topology
        builds, take_ins = cache.builds, cache.take_ins
        if args.loaded:  # bulk ingestion into the loaded graph, of the HTTP step's kind of events
            fresh = list(small_events(args.http_events, prefix=f"bulk{int(time.time())}"))
            progress(f"{store.backend}: bulk ingestion of {len(fresh):,} events writing new datasets, then re-runs")
            bulk = (await bulk_ingest(services, tenant, fresh, args.batch),
                    await bulk_ingest(services, tenant, list(reruns(fresh[: len(fresh) // 2])), args.batch))
            changed = len(fresh) + len(fresh) // 2 * 2
        else:
            changed = args.http_events // 3
            progress(f"{store.backend}: {changed:,} events more, for the index to take in")
            await bulk_ingest(services, tenant, list(small_events(changed, prefix=f"follow{int(time.time())}")), args.batch)
        t = time.perf_counter()
        topology = await cache.ensure(tenant)
        assert topology is not None and cache.builds == builds, "the index was rebuilt, not kept current: see the log"
        follow = (changed, cache.take_ins - take_ins, time.perf_counter() - t, cache.took_in.get(tenant, 0.0), len(topology))
        progress(f"{store.backend}: index took {changed:,} events in: {follow[1]} take-ins, the last {follow[3]:.2f} s")
        await store.close()
        os.environ["MAESTRO_NEO4J_PASSWORD"] = args.neo4j_password
        progress(f"{store.backend}: impactAnalysis over HTTP (the server builds its own index first)")
        proc, server = start_server(url, tmp, tenant=tenant, demo=False, env={"MAESTRO_LINEAGE_INDEX": "inline"})
        try:
            gql = await graphql_impact(server, ids, starts, args.repeat)
        finally:
            proc.terminate()
            proc.wait(30)
        http = await http_step(url, tmp, tenant, args, store.backend)
    return {"backend": store.backend, "bulk": bulk, "http": http, "index": index, "q": q, "gql": gql, "follow": follow}


async def http_step(url: str, tmp: str, tenant: str, args: argparse.Namespace, backend: str) -> tuple[float, float]:
    """HTTP ingestion into the tenant from a server process of its own: events writing new
    datasets, then half those jobs running again (events/s each)."""
    fresh = list(small_events(args.http_events, prefix=f"http{int(time.time())}"))
    again = list(reruns(fresh[: args.http_events // 2]))
    progress(f"{backend}: HTTP ingestion of {len(fresh):,} events writing new datasets, "
             f"then {len(again):,} events of those jobs running again")
    proc, server = start_server(url, tmp, tenant=tenant)
    try:
        return await http_ingest(server, fresh, args.http_clients), await http_ingest(server, again, args.http_clients)
    finally:
        proc.terminate()
        proc.wait(30)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--datasets", type=int, default=10_000, help="datasets to generate (100000 gives ~1M fields)")
    ap.add_argument("--store", action="append", help="'sqlite' or a store URL (repeatable; default sqlite)")
    ap.add_argument("--neo4j-password", default=os.environ.get("MAESTRO_NEO4J_PASSWORD", ""))
    ap.add_argument("--queries", type=int, default=30, help="start columns per depth (default 30)")
    ap.add_argument("--repeat", type=int, default=3, help="passes over the starts for the in-memory timings (default 3)")
    ap.add_argument("--batch", type=int, default=BULK_BATCH, help=f"events per bulk ingestion call (default {BULK_BATCH})")
    ap.add_argument("--http-events", type=int, default=3000, help="events POSTed over HTTP (default 3000)")
    ap.add_argument("--http-clients", type=int, default=16, help="concurrent HTTP clients (default 16)")
    ap.add_argument("--tenant", help="tenant to load into (default: a new one per run)")
    ap.add_argument("--loaded", action="store_true",
                    help="the stores already hold this graph under --tenant (from a run with the same --datasets): "
                         "skip bulk ingestion and measure queries")
    ap.add_argument("--ingest-only", action="store_true",
                    help="run the bulk and HTTP ingestion steps only, print their rates and exit")
    args = ap.parse_args()
    if args.ingest_only and args.loaded:
        ap.error("--ingest-only measures ingestion into a new tenant: it cannot be combined with --loaded")

    t = time.perf_counter()
    datasets = generate(args.datasets)
    evs = list(events(datasets))
    if args.ingest_only:
        ingest_only(args, evs)
        return
    floor = Floor(datasets)
    graph = floor.fields
    n_fields = sum(len(d.columns) for d in datasets)
    progress(f"generated {len(datasets):,} datasets, {n_fields:,} fields, {graph.number_of_edges():,} column edges, "
             f"{len(evs):,} events in {time.perf_counter() - t:.0f} s")
    import random
    rnd = random.Random(3)
    early = [n for n in graph.nodes if n.startswith(("layer00.", "layer01.", "layer02.")) and graph.out_degree(n) > 0]
    starts = sorted(rnd.sample(sorted(early), min(args.queries, len(early))))
    # The floor's graph and the generated events are millions of Python objects that a server
    # does not hold: frozen, the collector stops walking them on every full collection (which
    # halved bulk ingestion at 1M fields: 183 ev/s here, 333 in a process of its own). Then the
    # collector is tuned as `maestro-graph serve` tunes it, so bulk figures match a server's.
    tune_gc()

    results = [asyncio.run(bench_backend(s, args, evs, floor, starts)) for s in args.store or ["sqlite"]]

    print(f"\nmachine: {platform.machine()}, {os.cpu_count()} cores, {os.sysconf('SC_PAGE_SIZE') * os.sysconf('SC_PHYS_PAGES') // 2**30} GiB, "
          f"Python {platform.python_version()}")
    print(f"graph: {len(datasets):,} datasets, {n_fields:,} fields, {graph.number_of_edges():,} column edges; "
          f"{len(starts)} start columns per depth")
    print("\nlatencies p50/p95 ms; impact = from the in-memory topology, walk = impact walking the store, "
          "x = impact p50 / floor p50")
    for r in results:
        q = r["q"]
        bulk = (f"bulk into the loaded graph {r['bulk'][0]:,.0f} ev/s (new datasets), {r['bulk'][1]:,.0f} ev/s (re-runs)"
                if isinstance(r["bulk"], tuple) else f"bulk {r['bulk']:,.0f} ev/s")
        print(f"\n{r['backend']}: {bulk}, HTTP {r['http'][0]:,.0f} ev/s (new datasets), {r['http'][1]:,.0f} ev/s (re-runs), topology built in "
              f"{r['index'][0]:.1f} s ({r['index'][1]:,.0f} MB), truncated answers: {int(q['truncated'][0][0])}")
        print(f"{'depth':>7}{'lineage':>18}{'impact':>18}{'walk':>18}{'floor':>18}{'x':>7}")
        for d in DEPTHS:
            cells = "".join(f"{statistics.median(q[k][d]):>10,.2f}/{pct(q[k][d], 95):<7,.2f}"
                            for k in ("lineage", "impact", "walk", "floor"))
            ratio = statistics.median(q["impact"][d]) / max(statistics.median(q["floor"][d]), 1e-6)
            print(f"{d:>7}{cells}{ratio:>6,.1f}x")
        gql, fixed = r["gql"]
        print(f"impactAnalysis over HTTP, depth 10, fields and datasets with node ids: "
              f"{statistics.median(gql):,.1f}/{pct(gql, 95):,.1f} ms "
              f"({statistics.median(gql) / max(statistics.median(q['floor'][10]), 1e-6):.1f}x the floor); "
              f"a node(id) request beside it: {statistics.median(fixed):,.1f}/{pct(fixed, 95):,.1f} ms")
        n_events, take_ins, waited, last, nodes = r["follow"]
        print(f"index kept current through {n_events:,} events ingested after it was built, without a rebuild: "
              f"{take_ins} take-in{'' if take_ins == 1 else 's'}; the last took {last:.2f} s ({nodes:,} nodes), {waited:.2f} s after ingestion ended")
    bfs = results[0]["q"]["bfs"]
    print("\nfloor: impact's result set in memory (tests/benchmarks/lineage/floor.py); networkx BFS distances alone take "
          + ", ".join(f"{statistics.median(bfs[d]):.2f} ms at d{d}" for d in DEPTHS))


def ingest_only(args: argparse.Namespace, evs: list[dict]) -> None:
    """The ingestion steps alone, then one line of rates per backend (unrounded enough for
    tests/benchmarks/feed_cost.py to compare runs)."""
    progress(f"generated {len(evs):,} events")
    tune_gc()  # as main() does below, so that the rates match a full run's
    results = [asyncio.run(bench_backend(s, args, evs, Floor([]), [])) for s in args.store or ["sqlite"]]
    for r in results:
        print(f"{r['backend']}: bulk {r['bulk']:.1f} ev/s ({len(evs)} events), HTTP {r['http'][0]:.1f} ev/s (new datasets), "
              f"{r['http'][1]:.1f} ev/s (re-runs)")


if __name__ == "__main__":
    main()
