"""Latency and throughput of two queries on the demo graph, against a real server process per backend:
  nested:    projects -> members -> their projects -> artifacts (~8,100 objects, 33,000 fields);
  dashboard: 20 projects with members, artifacts and metric summaries (a front-end page).

    .venv/bin/python tests/benchmarks/nested_query.py                       # SQLite
    .venv/bin/python tests/benchmarks/nested_query.py --store sqlite --store "$MAESTRO_TEST_PG_URL" \
        --store neo4j://127.0.0.1:7697                                      # several, one run

Each backend: start `maestro-graph serve --demo` on a loopback port, warm up, then
  latency:    N sequential requests, p50/p95/p99;
  throughput: C concurrent clients for a fixed time, requests/s.
Bounded in count and time; only loopback traffic.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import platform
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

NESTED = """{ projects(first: 50) { totalCount edges { node { name
  members(first: 10) { edges { role node { name
    projects(first: 10) { edges { node { name
      artifacts(first: 10) { edges { impactScore node { name type } } } } } } } } } } } } }"""
# What a project dashboard asks for: one page of projects with their people, artifacts and metrics.
DASHBOARD = """{ projects(first: 20) { totalCount edges { node { name successScore
  members(first: 10) { edges { role node { name } } }
  artifacts(first: 10) { edges { impactScore node { name type } } }
  metricsSummary { type latest mean } } } } }"""
QUERIES = {"nested": NESTED, "dashboard": DASHBOARD}
ROOT = Path(__file__).resolve().parents[2]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_server(store: str, data_dir: str, *, tenant: str | None = None, demo: bool = True,
                 env: dict[str, str] | None = None) -> tuple[subprocess.Popen, str]:
    port = free_port()
    env = {**os.environ, "MAESTRO_STORE": store, "MAESTRO_DATA_DIR": data_dir, "MAESTRO_LOG_LEVEL": "WARNING",
           "MAESTRO_TENANT": tenant or f"bench-{int(time.time())}",
           # Measures the query path, not auth: anonymous admin on loopback, no rate limit in the way.
           "MAESTRO_NO_AUTH": "true", "MAESTRO_RATE_LIMIT_PER_MINUTE": "100000000",
           "MAESTRO_MAX_COST": "1000000", **(env or {})}  # NESTED's worst case (~211,000) is over the default 50,000
    exe = str(Path(sys.executable).parent / "maestro-graph")
    proc = subprocess.Popen([exe, "serve", *(["--demo"] if demo else []), "--port", str(port)], env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    url = f"http://127.0.0.1:{port}"
    deadline = time.time() + 180
    while time.time() < deadline:
        if proc.poll() is not None:
            raise SystemExit(f"the server for {store} exited: {proc.stderr.read()[-2000:]}")  # type: ignore[union-attr]
        try:
            if httpx.get(url + "/readyz", timeout=1).status_code == 200:
                return proc, url
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    proc.kill()
    raise SystemExit(f"the server for {store} did not become ready in 180 s")


def pct(values: list[float], p: float) -> float:
    values = sorted(values)
    return values[min(len(values) - 1, int(round(p / 100 * (len(values) - 1))))]


async def run(url: str, query: str, requests: int, concurrency: int, seconds: float) -> dict[str, float]:
    async with httpx.AsyncClient(base_url=url, timeout=30) as client:
        async def one() -> float:
            t = time.perf_counter()
            r = await client.post("/graphql", json={"query": query})
            body = r.json()
            assert r.status_code == 200 and "errors" not in body, body
            assert body["data"]["projects"]["totalCount"] > 0
            return (time.perf_counter() - t) * 1000

        for _ in range(20):
            await one()
        latencies = [await one() for _ in range(requests)]
        done = 0
        stop = time.perf_counter() + seconds

        async def worker() -> None:
            nonlocal done
            while time.perf_counter() < stop:
                await one()
                done += 1

        start = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(concurrency)))
        elapsed = time.perf_counter() - start
    return {"p50": statistics.median(latencies), "p95": pct(latencies, 95), "p99": pct(latencies, 99),
            "rps": done / elapsed}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--store", action="append", help="store URL or 'sqlite' (repeatable; default sqlite)")
    ap.add_argument("--requests", type=int, default=300, help="sequential requests for latency (default 300)")
    ap.add_argument("--concurrency", type=int, default=8, help="clients for throughput (default 8)")
    ap.add_argument("--seconds", type=float, default=10, help="throughput window (default 10)")
    ap.add_argument("--query", action="append", choices=sorted(QUERIES), help="which queries (default both)")
    args = ap.parse_args()
    print(f"machine: {platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}; "
          f"{args.requests} sequential requests, {args.concurrency} clients x {args.seconds:.0f} s", flush=True)
    print(f"{'backend':<12} {'query':<10} {'p50 ms':>8} {'p95 ms':>8} {'p99 ms':>8} {'req/s':>8}", flush=True)
    for store in args.store or ["sqlite"]:
        with tempfile.TemporaryDirectory() as tmp:
            url_store = f"sqlite:///{tmp}/bench.db" if store == "sqlite" else store
            proc, url = start_server(url_store, tmp)
            name = url_store.split(":", 1)[0].split("+")[0]
            try:
                for q in args.query or ["nested", "dashboard"]:
                    r = asyncio.run(run(url, QUERIES[q], args.requests, args.concurrency, args.seconds))
                    print(f"{name:<12} {q:<10} {r['p50']:>8.1f} {r['p95']:>8.1f} {r['p99']:>8.1f} {r['rps']:>8.1f}", flush=True)
            finally:
                proc.terminate()
                proc.wait(20)


if __name__ == "__main__":
    main()
