"""A mixed load on one server process (issue #28): what a busy deployment sees, not one query alone.

    .venv/bin/python tests/benchmarks/mixed_load.py [--clients 10,50,200] [--seconds 15]
    git worktree add --detach /tmp/before <commit>          # before/after, on the same machine minutes:
    .venv/bin/python tests/benchmarks/mixed_load.py --compare /tmp/before [--rounds 2]

One `maestro-graph serve --demo` on SQLite (a temporary data dir), authentication, limits and the
JSON access log on (to a file), the rate limit raised past what one token sends here. Each client
loops, picking at random (seeded) what to send next:
  60% reads:   a dashboard page (10 projects, members, artifacts) or one project with its members
               and artifacts (half each);
  10% impact:  impactAnalysis at depth 10 from a column of a source table of the demo's lineage;
  15% writes:  recordProjectMetrics (one commits_per_week value) on a random project;
  15% events:  one OpenLineage COMPLETE event on POST /api/v1/lineage: a job (one of 20) reading
               shop.orders into its own dataset, with column lineage; each a new run.
Each point: N clients for S seconds (bounded: N <= 500, S <= 120), after a 2 s warm-up at that
count. Reported: requests/s, p50/p99 in ms, errors (non-2xx or GraphQL errors), and the CPU the
server process and this load generator used, as a share of one core over the point: the
generator (aiohttp, one event loop) must stay well below the server, else it is the bottleneck.
With --compare, a second server imports Maestro from another tree, and each point alternates
between the two in blocks, so a drift of the machine falls on both. Loopback only.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import random
import secrets
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
import uuid
from pathlib import Path

import aiohttp

BIN = Path(sys.executable).parent
TICK = os.sysconf("SC_CLK_TCK")

DASHBOARD = """{ projects(first: 10) { totalCount edges { node { name successScore
  members(first: 5) { edges { role node { name } } }
  artifacts(first: 5) { edges { impactScore node { name type } } } } } } }"""
PROJECT = """query($id: ID!) { node(id: $id) { ... on Project { name status
  members(first: 10) { edges { role node { name } } }
  artifacts(first: 10) { edges { impactScore node { name type } } } } } }"""
IMPACT = """query($id: ID!) { impactAnalysis(id: $id, depth: 10) {
  totals { fields datasets modelVersions models deployments projects people }
  fields { distance node { name } } models { node { name } } people { node { name } } } }"""
WRITE = """mutation($p: ID!, $v: Float!) { recordProjectMetrics(projectId: $p, metrics: [{type: COMMITS_PER_WEEK, value: $v}]) { id } }"""
SETUP = """{ projects(first: 100) { edges { node { id } } }
  datasets(first: 20, filter: {text: "shop."}) { edges { node { name fields(first: 20) { edges { node { id } } } } } } }"""
NS = "postgres://prod-db:5432"


def ol_event(job: int) -> dict:
    fields = {c: {"inputFields": [{"namespace": NS, "name": "shop.orders", "field": c,
                                   "transformations": [{"type": "DIRECT", "subtype": "IDENTITY"}]}]}
              for c in ("order_id", "amount")}
    return {"eventType": "COMPLETE", "eventTime": "2026-11-01T10:05:00Z", "producer": "https://example.com/mixed-load",
            "schemaURL": "https://openlineage.io/spec/2-0-2/OpenLineage.json#/$defs/RunEvent",
            "run": {"runId": str(uuid.uuid4())}, "job": {"namespace": "mixed", "name": f"mixed_job_{job}"},
            "inputs": [{"namespace": NS, "name": "shop.orders"}],
            "outputs": [{"namespace": "s3://mixed", "name": f"mixed.out_{job}", "facets": {"columnLineage": {"fields": fields}}}]}


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICK


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def pct(values: list[float], p: float) -> float:
    values = sorted(values)
    return values[min(len(values) - 1, int(round(p / 100 * (len(values) - 1))))] if values else float("nan")


class Load:
    def __init__(self, base: str, token: str, projects: list[str], columns: list[str]) -> None:
        self.graphql, self.lineage = base + "/graphql", base + "/api/v1/lineage"
        self.headers = {"authorization": f"Bearer {token}", "content-type": "application/json"}
        self.projects, self.columns = projects, columns
        self.latencies: list[float] = []
        self.errors: dict[str, int] = {}
        self.kinds: dict[str, list[float]] = {}  # latencies by kind of request

    def pick(self, rnd: random.Random) -> tuple[str, str, bytes]:
        r = rnd.random()
        if r < 0.30:
            return "read", self.graphql, json.dumps({"query": DASHBOARD}).encode()
        if r < 0.60:
            return "read", self.graphql, json.dumps({"query": PROJECT, "variables": {"id": rnd.choice(self.projects)}}).encode()
        if r < 0.70:
            return "impact", self.graphql, json.dumps({"query": IMPACT, "variables": {"id": rnd.choice(self.columns)}}).encode()
        if r < 0.85:
            body = {"query": WRITE, "variables": {"p": rnd.choice(self.projects), "v": round(rnd.uniform(1, 40), 1)}}
            return "write", self.graphql, json.dumps(body).encode()
        return "event", self.lineage, json.dumps(ol_event(rnd.randrange(20))).encode()

    async def client(self, session: aiohttp.ClientSession, rnd: random.Random, stop: float, record: bool) -> None:
        while time.perf_counter() < stop:
            kind, url, body = self.pick(rnd)
            start = time.perf_counter()
            try:
                async with session.post(url, data=body, headers=self.headers) as r:
                    raw = await r.read()
                    ok = r.status < 300 and (url == self.lineage or b'"errors"' not in raw)
            except (aiohttp.ClientError, asyncio.TimeoutError) as err:
                ok, raw = False, repr(err).encode()
            if not record:
                continue
            ms = (time.perf_counter() - start) * 1000
            self.latencies.append(ms)
            self.kinds.setdefault(kind, []).append(ms)
            if not ok:
                key = f"{kind}: {raw[:160]!r}"
                self.errors[key] = self.errors.get(key, 0) + 1


class Server:
    """One `maestro-graph serve --demo` on its own SQLite file, importing Maestro from `code`
    (None: the tree this benchmark runs from)."""

    def __init__(self, tmp: str, name: str, secret: str, token: str, code: str | None) -> None:
        self.name, self.token = name, token
        port = free_port()
        self.log = Path(tmp, f"{name}.log")
        env = {**os.environ, "MAESTRO_STORE": f"sqlite:///{tmp}/{name}.db", "MAESTRO_DATA_DIR": tmp, "MAESTRO_TENANT": "mixed",
               "MAESTRO_JWT_SECRET": secret, "MAESTRO_LOG_LEVEL": "INFO", "MAESTRO_LOG_FORMAT": "json",
               "MAESTRO_RATE_LIMIT_PER_MINUTE": "1000000"}
        env.pop("MAESTRO_NO_AUTH", None)
        if code is not None:
            env["PYTHONPATH"] = code
        self.proc = subprocess.Popen([str(BIN / "maestro-graph"), "serve", "--demo", "--port", str(port)], env=env,
                                     stdout=subprocess.DEVNULL, stderr=self.log.open("w"))
        self.base = f"http://127.0.0.1:{port}"
        self.load: Load | None = None
        self.elapsed = self.server_cpu = self.gen_cpu = 0.0

    def ready(self) -> None:
        deadline = time.time() + 180
        while True:
            if self.proc.poll() is not None or time.time() > deadline:
                raise SystemExit(f"the server did not start: {self.log.read_text()[-2000:]}")
            try:
                with urllib.request.urlopen(self.base + "/readyz", timeout=1):
                    break
            except (urllib.error.URLError, OSError):
                time.sleep(0.3)
        req = urllib.request.Request(self.base + "/graphql", json.dumps({"query": SETUP}).encode(),
                                     {"authorization": f"Bearer {self.token}", "content-type": "application/json"})
        with urllib.request.urlopen(req, timeout=30) as r:
            data = json.load(r)["data"]
        self.projects = [e["node"]["id"] for e in data["projects"]["edges"]]
        self.columns = [f["node"]["id"] for d in data["datasets"]["edges"] for f in d["node"]["fields"]["edges"]]
        assert self.projects and self.columns, data

    def reset(self) -> None:
        self.load = Load(self.base, self.token, self.projects, self.columns)
        self.elapsed = self.server_cpu = self.gen_cpu = 0.0

    def stop(self) -> None:
        self.proc.terminate()
        try:
            self.proc.wait(20)
        except subprocess.TimeoutExpired:
            self.proc.kill()


async def point(server: Server, clients: int, seconds: float, seed: int) -> None:
    """`clients` clients on `server` for `seconds` (after a 2 s warm-up), added to its figures."""
    load = server.load
    assert load is not None, "reset() first"
    connector = aiohttp.TCPConnector(limit=clients)
    async with aiohttp.ClientSession(connector=connector, timeout=aiohttp.ClientTimeout(total=60)) as session:
        rnds = [random.Random(seed * 1000 + i) for i in range(clients)]
        warm = time.perf_counter() + 2
        await asyncio.gather(*(load.client(session, r, warm, False) for r in rnds))
        server0, me0, t0 = cpu_seconds(server.proc.pid), time.process_time(), time.perf_counter()
        await asyncio.gather(*(load.client(session, r, t0 + seconds, True) for r in rnds))
        server.elapsed += time.perf_counter() - t0
        server.server_cpu += cpu_seconds(server.proc.pid) - server0
        server.gen_cpu += time.process_time() - me0


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--clients", default="10,50,200", help="client counts, comma-separated (default 10,50,200)")
    ap.add_argument("--seconds", type=float, default=15, help="seconds per point (default 15)")
    ap.add_argument("--seed", type=int, default=28)
    ap.add_argument("--compare", metavar="DIR", help="also run a server importing Maestro from DIR (a worktree of "
                    "another commit), interleaved with this one: --rounds blocks of seconds/rounds each, in turn")
    ap.add_argument("--rounds", type=int, default=2, help="with --compare: blocks per point and server (default 2)")
    args = ap.parse_args()
    clients = [int(c) for c in args.clients.split(",")]
    if not (all(0 < c <= 500 for c in clients) and 0 < args.seconds <= 120 and 0 < args.rounds <= 10):
        raise SystemExit("bounded: --clients 1..500 each, --seconds up to 120, --rounds up to 10")

    from maestro_graph.auth.principal import Role
    from maestro_graph.auth.tokens import TokenMinter

    secret = secrets.token_urlsafe(32)
    token = TokenMinter(secret).mint("mixed-load", "mixed", [Role.EDITOR], 3600)
    with tempfile.TemporaryDirectory() as tmp:
        servers = [Server(tmp, "this", secret, token, None)]
        if args.compare:
            servers.append(Server(tmp, "compare", secret, token, str(Path(args.compare).resolve())))
        rounds = args.rounds if args.compare else 1
        try:
            for server in servers:
                server.ready()
            print(f"machine: {platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}; "
                  f"SQLite, one server process; {args.seconds:.0f} s per point"
                  + (f" and server, in {rounds} interleaved blocks; compare = {args.compare}" if args.compare else ""), flush=True)
            print(f"{'server':<8} {'clients':>7} {'req/s':>7} {'p50 ms':>8} {'p99 ms':>8} {'errors':>6} {'requests':>8} "
                  f"{'server CPU':>10} {'generator CPU':>13} {'req/CPU-s':>9}", flush=True)
            for c in clients:
                for server in servers:
                    server.reset()
                for _ in range(rounds):
                    for server in servers:
                        asyncio.run(point(server, c, args.seconds / rounds, args.seed))
                for server in servers:
                    load = server.load
                    assert load is not None
                    n = len(load.latencies)
                    p50 = statistics.median(load.latencies) if n else float("nan")
                    print(f"{server.name:<8} {c:>7} {n / server.elapsed:>7.1f} {p50:>8.1f} {pct(load.latencies, 99):>8.1f} "
                          f"{sum(load.errors.values()):>6} {n:>8} {server.server_cpu / server.elapsed:>9.0%} "
                          f"{server.gen_cpu / server.elapsed:>13.0%} {n / max(server.server_cpu, 1e-9):>9.0f}", flush=True)
                    print("        p50/p99 ms by kind: " + ", ".join(
                        f"{k} {statistics.median(v):.0f}/{pct(v, 99):.0f}" for k, v in sorted(load.kinds.items())), flush=True)
                    for what, count in sorted(load.errors.items(), key=lambda kv: -kv[1])[:3]:
                        print(f"        {count} x {what}", flush=True)
        finally:
            for server in servers:
                server.stop()


if __name__ == "__main__":
    main()
