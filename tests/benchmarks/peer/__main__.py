"""Maestro beside @neo4j/graphql on the same Neo4j and the same demo data (issue #28).

    source /tmp/servers.env   # or set MAESTRO_TEST_NEO4J_URL and MAESTRO_TEST_NEO4J_PASSWORD
    .venv/bin/python -m tests.benchmarks.peer [--requests 200] [--clients 1,8] [--query nested,project]

What it does, bounded in count and time, on loopback only:
  1. installs the peer's pinned npm packages into this folder (`npm ci`) if they are missing;
  2. loads Maestro's demo graph into a tenant of its own (`maestro-graph demo --tenant peer-bench`;
     loading twice changes nothing) and deletes nothing;
  3. starts `maestro-graph serve` on that Neo4j with authentication, limits and logging on (JSON
     access log lines to a file), and the peer (server.mjs: @neo4j/graphql on @apollo/server, its
     types filtered on the token's `tenant` claim); both check the same HS256 token;
  4. checks that both answer the same objects to each query;
  5. times each query at each client count, interleaved: a block of requests to Maestro, then the
     same to the peer (with --compare DIR, to a second Maestro running DIR's code first), and so on (one request a block at 1 client: A, B, A, B), so both see the
     same machine. Per server: p50/p95/p99, requests/s over its own blocks, and its process's CPU
     per request (utime + stime from /proc/<pid>/stat over its own blocks).

The queries:
  nested:  projects -> members -> their projects -> artifacts (first 50/10/10/10);
  project: one project with its members (and roles) and artifacts (and impact scores).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import secrets
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from contextlib import ExitStack
from pathlib import Path
from typing import Any

import aiohttp

HERE = Path(__file__).resolve().parent
BIN = Path(sys.executable).parent
TICK = os.sysconf("SC_CLK_TCK")

MAESTRO_NESTED = """{ projects(first: 50) { totalCount edges { node { name
  members(first: 10) { edges { role node { name
    projects(first: 10) { edges { node { name
      artifacts(first: 10) { edges { impactScore node { name type } } } } } } } } } } } } }"""
PEER_NESTED = """{ projectsConnection(first: 50, sort: [{name: ASC}]) { totalCount edges { node { name
  membersConnection(first: 10, sort: [{node: {name: ASC}}]) { edges { properties { role } node { name
    projectsConnection(first: 10, sort: [{node: {name: ASC}}]) { edges { node { name
      artifactsConnection(first: 10, sort: [{node: {name: ASC}}]) { edges { properties { impactScore } node { name type } } } } } } } } } } } } }"""
MAESTRO_PROJECT = """query($id: ID!) { node(id: $id) { ... on Project { name
  members(first: 10) { edges { role node { name } } }
  artifacts(first: 10) { edges { impactScore node { name type } } } } } }"""
PEER_PROJECT = """query($id: ID!) { projects(where: {id: {eq: $id}}) { name
  membersConnection(first: 10, sort: [{node: {name: ASC}}]) { edges { properties { role } node { name } } }
  artifactsConnection(first: 10, sort: [{node: {name: ASC}}]) { edges { properties { impactScore } node { name type } } } } }"""


# -- the same objects from both: each answer reduced to plain nested tuples --------------------------
def _artifacts(edges: list[dict], peer: bool) -> list[tuple]:
    return [(e["node"]["name"], e["node"]["type"].lower(),
             float((e["properties"] if peer else e)["impactScore"] or 0.0)) for e in edges]


def maestro_nested(data: dict) -> list[tuple]:
    return [(p["node"]["name"], [(m["role"], m["node"]["name"], [
        (q["node"]["name"], _artifacts(q["node"]["artifacts"]["edges"], False))
        for q in m["node"]["projects"]["edges"]]) for m in p["node"]["members"]["edges"]])
        for p in data["projects"]["edges"]]


def peer_nested(data: dict) -> list[tuple]:
    return [(p["node"]["name"], [(m["properties"]["role"], m["node"]["name"], [
        (q["node"]["name"], _artifacts(q["node"]["artifactsConnection"]["edges"], True))
        for q in m["node"]["projectsConnection"]["edges"]]) for m in p["node"]["membersConnection"]["edges"]])
        for p in data["projectsConnection"]["edges"]]


def maestro_project(data: dict) -> tuple:
    p = data["node"]
    return (p["name"], [(m["role"], m["node"]["name"]) for m in p["members"]["edges"]],
            _artifacts(p["artifacts"]["edges"], False))


def peer_project(data: dict) -> tuple:
    [p] = data["projects"]
    return (p["name"], [(m["properties"]["role"], m["node"]["name"]) for m in p["membersConnection"]["edges"]],
            _artifacts(p["artifactsConnection"]["edges"], True))


def count_objects(value: Any) -> int:
    """JSON objects in an answer: what 'objects returned' counts."""
    if isinstance(value, dict):
        return 1 + sum(count_objects(v) for v in value.values())
    if isinstance(value, list):
        return sum(count_objects(v) for v in value)
    return 0


# -- processes ------------------------------------------------------------------------------------
def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def cpu_seconds(pid: int) -> float:
    """utime + stime of one process (its threads included), in seconds."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICK  # fields 14 and 15 of proc(5), after pid and comm


def wait_ready(proc: subprocess.Popen, probe: str, name: str, log: Path, seconds: float = 120) -> None:
    import urllib.error
    import urllib.request
    deadline = time.time() + seconds
    while time.time() < deadline:
        if proc.poll() is not None:
            raise SystemExit(f"{name} exited: {log.read_text()[-2000:]}")
        try:
            with urllib.request.urlopen(probe, timeout=1):
                return
        except (urllib.error.URLError, OSError):
            time.sleep(0.2)
    raise SystemExit(f"{name} did not become ready in {seconds:.0f} s: {log.read_text()[-2000:]}")


def npm_install() -> None:
    if (HERE / "node_modules" / "@neo4j" / "graphql").is_dir():
        return
    npm = shutil.which("npm")
    if npm is None:
        raise SystemExit("the peer needs Node.js 20+ and npm on PATH")
    print("installing the peer's npm packages (npm ci) ...", flush=True)
    subprocess.run([npm, "ci", "--no-audit", "--no-fund", "--ignore-scripts"], cwd=HERE, check=True, timeout=600)


def terminate(proc: subprocess.Popen) -> None:
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(5)


# -- timing ---------------------------------------------------------------------------------------
class Target:
    def __init__(self, name: str, url: str, pid: int, query: str, variables: dict, token: str) -> None:
        self.name, self.url, self.pid = name, url, pid
        self.body = json.dumps({"query": query, "variables": variables}).encode()
        self.headers = {"authorization": f"Bearer {token}", "content-type": "application/json"}
        self.latencies: list[float] = []
        self.busy = 0.0  # seconds spent in this target's blocks
        self.cpu = 0.0  # its process's CPU seconds over those blocks

    async def one(self, session: aiohttp.ClientSession) -> dict:
        start = time.perf_counter()
        async with session.post(self.url, data=self.body, headers=self.headers) as r:
            raw = await r.read()
        elapsed = time.perf_counter() - start
        body = json.loads(raw)
        if r.status != 200 or body.get("errors"):
            raise SystemExit(f"{self.name} answered {r.status}: {raw[:500]!r}")
        self.latencies.append(elapsed * 1000)
        return body["data"]


async def interleaved(targets: list[Target], clients: int, requests: int, seconds: float) -> None:
    """`requests` per target, in blocks of `clients` x 2 (one at 1 client), A then B, until done or
    `seconds` (total) have passed."""
    block = 1 if clients == 1 else clients * 2
    connector = aiohttp.TCPConnector(limit=clients * 2)
    async with aiohttp.ClientSession(connector=connector, timeout=aiohttp.ClientTimeout(total=60)) as session:
        for t in targets:  # warm up: connections, caches, JIT
            for _ in range(5 if clients == 1 else clients):
                await t.one(session)
            t.latencies.clear()
        stop = time.perf_counter() + seconds
        done = 0
        while done < requests and time.perf_counter() < stop:
            n = min(block, requests - done)
            for t in targets:
                queue = iter(range(n))

                async def worker() -> None:
                    for _ in queue:
                        await t.one(session)  # noqa: B023 (t is the block's target, awaited below)

                cpu0, t0 = cpu_seconds(t.pid), time.perf_counter()
                await asyncio.gather(*(worker() for _ in range(clients)))
                t.busy += time.perf_counter() - t0
                t.cpu += cpu_seconds(t.pid) - cpu0
            done += n


def pct(values: list[float], p: float) -> float:
    values = sorted(values)
    return values[min(len(values) - 1, int(round(p / 100 * (len(values) - 1))))]


# -- main -----------------------------------------------------------------------------------------
async def fetch(url: str, query: str, variables: dict, token: str) -> dict:
    async with aiohttp.ClientSession() as session:
        t = Target("check", url, os.getpid(), query, variables, token)
        return await t.one(session)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--requests", type=int, default=200, help="timed requests per server, query and client count (default 200)")
    ap.add_argument("--clients", default="1,8", help="client counts, comma-separated (default 1,8)")
    ap.add_argument("--query", default="nested,project", help="nested,project (default both)")
    ap.add_argument("--seconds", type=float, default=90, help="time cap per query and client count (default 90)")
    ap.add_argument("--tenant", default="peer-bench", help="the tenant the demo graph is loaded into (default peer-bench)")
    ap.add_argument("--compare", metavar="DIR", help="also run a Maestro importing its code from DIR (a worktree of "
                    "another commit) as 'before', checked and interleaved like the others")
    ap.add_argument("--neo4j", default=os.environ.get("MAESTRO_TEST_NEO4J_URL", ""), help="[MAESTRO_TEST_NEO4J_URL]")
    args = ap.parse_args()
    password = os.environ.get("MAESTRO_TEST_NEO4J_PASSWORD") or os.environ.get("MAESTRO_NEO4J_PASSWORD", "")
    if not args.neo4j.startswith(("neo4j://", "bolt://")) or not password:
        raise SystemExit("needs a Neo4j: MAESTRO_TEST_NEO4J_URL and MAESTRO_TEST_NEO4J_PASSWORD (source /tmp/servers.env)")
    clients = [int(c) for c in args.clients.split(",")]
    if not (0 < args.requests <= 5000 and all(0 < c <= 64 for c in clients) and 0 < args.seconds <= 600):
        raise SystemExit("bounded: --requests 1..5000, --clients 1..64 each, --seconds up to 600")
    npm_install()

    from maestro_graph.auth.principal import Role
    from maestro_graph.auth.tokens import TokenMinter
    from resolvers.relay import from_global_id

    secret = secrets.token_urlsafe(32)
    token = TokenMinter(secret).mint("peer-bench", args.tenant, [Role.VIEWER], 3 * 3600)
    with tempfile.TemporaryDirectory() as tmp, ExitStack() as stack:
        env = {**os.environ, "MAESTRO_STORE": args.neo4j, "MAESTRO_NEO4J_PASSWORD": password, "MAESTRO_DATA_DIR": tmp,
               "MAESTRO_JWT_SECRET": secret, "MAESTRO_LOG_LEVEL": "INFO", "MAESTRO_LOG_FORMAT": "json",
               # The nested query's worst case (50 x 10 x 10 x 10 artifacts, cost ~211,000) is over the
               # default 50,000: the limit stays on, raised to let it through. The rate limit stays on,
               # raised past what one token sends here.
               "MAESTRO_MAX_COST": "1000000", "MAESTRO_RATE_LIMIT_PER_MINUTE": "1000000"}
        env.pop("MAESTRO_NO_AUTH", None)
        subprocess.run([str(BIN / "maestro-graph"), "demo", "--store", args.neo4j, "--tenant", args.tenant],
                       env=env, check=True, timeout=300, stdout=subprocess.DEVNULL)

        m_port, p_port = free_port(), free_port()
        m_log, p_log = Path(tmp, "maestro.log"), Path(tmp, "peer.log")
        maestro = subprocess.Popen([str(BIN / "maestro-graph"), "serve", "--port", str(m_port)], env=env,
                                   stdout=subprocess.DEVNULL, stderr=m_log.open("w"))
        stack.callback(terminate, maestro)
        mestros = [("maestro", maestro, f"http://127.0.0.1:{m_port}/graphql", m_log)]
        if args.compare:
            b_port, b_log = free_port(), Path(tmp, "before.log")
            before = subprocess.Popen([str(BIN / "maestro-graph"), "serve", "--port", str(b_port)],
                                      env={**env, "PYTHONPATH": str(Path(args.compare).resolve())},
                                      stdout=subprocess.DEVNULL, stderr=b_log.open("w"))
            stack.callback(terminate, before)
            mestros.append(("before", before, f"http://127.0.0.1:{b_port}/graphql", b_log))
        peer_env = {**os.environ, "PEER_PORT": str(p_port), "PEER_NEO4J_URL": args.neo4j,
                    "PEER_NEO4J_PASSWORD": password, "PEER_JWT_SECRET": secret}
        peer = subprocess.Popen([shutil.which("node") or "node", str(HERE / "server.mjs")], env=peer_env, cwd=HERE,
                                stdout=p_log.open("w"), stderr=subprocess.STDOUT)
        stack.callback(terminate, peer)
        for name, proc, url, log in mestros:
            wait_ready(proc, url.replace("/graphql", "/readyz"), f"maestro-graph serve ({name})", log)
        deadline = time.time() + 60
        while "ready" not in p_log.read_text() and time.time() < deadline:
            if peer.poll() is not None:
                raise SystemExit(f"the peer exited: {p_log.read_text()[-2000:]}")
            time.sleep(0.2)
        m_url, p_url = f"http://127.0.0.1:{m_port}/graphql", f"http://127.0.0.1:{p_port}/"

        # The same objects from both.
        lookup = asyncio.run(fetch(m_url, '{ projects(first: 1, filter: {text: "Churn prediction"}) { edges { node { id } } } }', {}, token))
        global_id = lookup["projects"]["edges"][0]["node"]["id"]
        stored_id = from_global_id(global_id)[1]
        pairs = {"nested": ((MAESTRO_NESTED, {}, maestro_nested), (PEER_NESTED, {}, peer_nested)),
                 "project": ((MAESTRO_PROJECT, {"id": global_id}, maestro_project),
                             (PEER_PROJECT, {"id": stored_id}, peer_project))}
        objects = {}
        for name, ((mq, mv, mf), (pq, pv, pf)) in pairs.items():
            p_data = asyncio.run(fetch(p_url, pq, pv, token))
            for who, _, url, _ in mestros:
                m_data = asyncio.run(fetch(url, mq, mv, token))
                if mf(m_data) != pf(p_data):
                    raise SystemExit(f"{name}: Maestro ({who}) and the peer answer different objects:\n"
                                     f"{mf(m_data)!r:.1500}\n{pf(p_data)!r:.1500}")
            objects[name] = (count_objects(m_data), count_objects(p_data))
            print(f"{name}: same objects from both ({objects[name][0]:,} JSON objects from Maestro, "
                  f"{objects[name][1]:,} from the peer)", flush=True)

        print(f"machine: {platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}, "
              f"Node {subprocess.run(['node', '--version'], capture_output=True, text=True).stdout.strip()}; "
              f"{args.requests} requests per point, interleaved", flush=True)
        print(f"{'query':<8} {'clients':>7} {'server':<8} {'p50 ms':>8} {'p95 ms':>8} {'p99 ms':>8} {'req/s':>7} "
              f"{'CPU ms/req':>10} {'req/CPU-s':>9}", flush=True)
        for name in args.query.split(","):
            (mq, mv, _), (pq, pv, _) = pairs[name]
            for c in clients:
                targets = [*(Target(who, url, proc.pid, mq, mv, token) for who, proc, url, _ in mestros),
                           Target("peer", p_url, peer.pid, pq, pv, token)]
                asyncio.run(interleaved(targets, c, args.requests, args.seconds))
                for t in targets:
                    n = len(t.latencies)
                    print(f"{name:<8} {c:>7} {t.name:<8} {statistics.median(t.latencies):>8.1f} {pct(t.latencies, 95):>8.1f} "
                          f"{pct(t.latencies, 99):>8.1f} {n / t.busy:>7.1f} {t.cpu / n * 1000:>10.1f} "
                          f"{n / t.cpu if t.cpu else float('inf'):>9.1f}", flush=True)
        lines = sum(1 for _ in m_log.open())
        print(f"Maestro wrote {lines:,} log lines (access log on); the peer's sockets with TCP_NODELAY: "
              f"{p_log.read_text().split('nodelay-sockets=')[-1].split()[0]} at start", flush=True)


if __name__ == "__main__":
    main()
