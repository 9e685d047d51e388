"""Subscriptions benchmark (issue #22): commit-to-delivery delay of `nodeChanged` events for many
concurrent subscribers while a writer updates their nodes at a fixed rate.

    .venv/bin/python -m tests.benchmarks.subscriptions                                 # 1,000, one process
    .venv/bin/python -m tests.benchmarks.subscriptions --subscribers 1000 --two-process --redis
    .venv/bin/python -m tests.benchmarks.subscriptions --subscribers 1000 --two-process    # polling
    .venv/bin/python -m tests.benchmarks.subscriptions --subscribers 10000

Each scenario, against real server processes (`maestro-graph serve --no-auth`, SQLite in a temp
dir, a free loopback port each; limits raised out of the way):
  seed      --nodes Metrics of one project (recordProjectMetrics over HTTP);
  subscribe --subscribers `nodeChanged(id) { cursor changedProperties }` subscriptions spread
            evenly over the nodes, --per-socket of them on each WebSocket (graphql-transport-ws,
            the `websockets` library, one asyncio client process);
  warm up   a write to each node, again for the nodes of subscriptions that missed it, until
            every subscription has seen one (that is how the client knows the server has
            registered every subscription: subscribe has no acknowledgement);
  write     updateMetric(id, {value}) over keep-alive HTTP at --rate writes/s for
            --seconds, round-robin over the nodes; the value is the write's number, and the
            client keeps each number's send time and the time its HTTP response arrived;
  drain     until every subscriber has every write to its node, or nothing more came for 10 s.
Delay = time an event arrived - time its write was sent (so it includes the commit), and, second
column, - time the write's HTTP response arrived (the commit known to the writer; negative when
the event overtook the response). With --two-process the writes go to process A and the
subscribers are on process B, both on one SQLite file; --redis starts a redis-server on a free
loopback port and sets MAESTRO_EVENT_BUS on both; without it B learns of A's commits by polling
(MAESTRO_FEED_POLL_SECONDS, default 0.5).
Reported per scenario: subscribers, sockets, writes/s achieved, events expected and received
(each subscriber must get every change of its node, once), p50/p95/p99/max delay, the writes' own
latency (send to response) p50/p99, the CPU% of
each server process and of the client (100% = one core).
Bounded: at most 20,000 subscribers, 120 s of writes and 2,000 writes/s; loopback only.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import platform
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp
import httpx
import orjson
from websockets.asyncio.client import ClientConnection, connect

ROOT = Path(__file__).resolve().parents[2]
MAX_SUBSCRIBERS, MAX_SECONDS, MAX_RATE = 20_000, 120.0, 2000.0
SCALE = 10_000_000  # the most writes one run may number (the value each write sets)
TENANT = "subbench"
DRAIN_IDLE = 10.0  # seconds without a new event after which the drain gives up
WARM_ROUNDS = 10  # rounds of warm-up writes before giving up on a subscription that sees none
SUBSCRIPTION = ("subscription($id: ID!) { nodeChanged(id: $id) { cursor changedProperties } }")
UPDATE = "mutation($id: ID!, $p: Float) { updateMetric(id: $id, input: {value: $p}) { id } }"
PROJECT = 'mutation { createProject(input: {name: "subbench", problemClass: OTHER, complexityScore: 1}) { id } }'
CREATE = """mutation($p: ID!, $m: [CreateMetricInput!]!) { recordProjectMetrics(projectId: $p, metrics: $m) { id } }"""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_ready(url: str, proc: subprocess.Popen, what: str, timeout: float = 120) -> None:
    deadline = time.time() + timeout
    while time.time() < deadline:
        if proc.poll() is not None:
            raise SystemExit(f"{what} exited: {proc.stderr.read()[-2000:] if proc.stderr else ''}")
        with contextlib.suppress(httpx.HTTPError):
            if httpx.get(url + "/readyz", timeout=1).status_code == 200:
                return
        time.sleep(0.2)
    raise SystemExit(f"{what} did not become ready in {timeout:.0f} s")


def start_server(name: str, store: str, data_dir: Path, extra: dict[str, str]) -> tuple[subprocess.Popen, str]:
    port = free_port()
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")]),
           "MAESTRO_STORE": store, "MAESTRO_DATA_DIR": str(data_dir), "MAESTRO_LOG_LEVEL": "WARNING",
           "MAESTRO_TENANT": TENANT, "MAESTRO_NO_AUTH": "true",
           # every socket and request is the one --no-auth admin: the per-token limits are out of the way
           "MAESTRO_RATE_LIMIT_PER_MINUTE": "1000000000", "MAESTRO_WS_MAX_CONNECTIONS_PER_TOKEN": "100000",
           "MAESTRO_WS_MAX_SUBSCRIPTIONS": "1000", **extra}
    exe = str(Path(sys.executable).parent / "maestro-graph")
    proc = subprocess.Popen([exe, "serve", "--port", str(port)], env=env, stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE, text=True)
    url = f"http://127.0.0.1:{port}"
    try:
        wait_ready(url, proc, f"server {name}")
    except BaseException:
        proc.kill()
        raise
    return proc, url


def start_redis() -> tuple[subprocess.Popen, str]:
    exe = shutil.which("redis-server") or "/usr/bin/redis-server"
    port = free_port()
    proc = subprocess.Popen([exe, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
                             "--daemonize", "no"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.time() + 10
    while time.time() < deadline:
        with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), timeout=0.5):
            return proc, f"redis://127.0.0.1:{port}/0"
        time.sleep(0.1)
    proc.kill()
    raise SystemExit("redis-server did not start")


def stop(proc: subprocess.Popen) -> None:
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def cpu_seconds(pid: int) -> float:
    """User + system CPU seconds of a process so far: /proc on Linux, else psutil."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        
        t = psutil.Process(pid).cpu_times()
        return t.user + t.system
    fields = stat[stat.rindex(")") + 2:].split()  # after "pid (comm) "; utime, stime are fields 14, 15
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def pct(values: list[float], p: float) -> float:
    if not values:
        return float("nan")
    return values[min(len(values) - 1, int(round(p / 100 * (len(values) - 1))))]


@dataclass
class Sub:
    node: int  # index into the seeded nodes
    got: list[tuple[int, float]] = field(default_factory=list)  # (write number, arrival time)
    ended: str | None = None  # an error or complete the server sent


@dataclass
class Socket:
    conn: ClientConnection
    subs: dict[str, Sub]


class Client:
    """The one client process: the subscribers' sockets and the writer, on one event loop."""

    def __init__(self, write_url: str, sub_url: str, node_ids: list[str]) -> None:
        self.write_url, self.ws_url = write_url, sub_url.replace("http://", "ws://") + "/graphql"
        self.node_ids = node_ids
        self.sockets: list[Socket] = []
        self.sent: dict[int, tuple[int, float, float]] = {}  # write number -> (node, sent at, answered at)
        self.failed_writes = 0
        self.readers: list[asyncio.Task[None]] = []
        self.last_event = 0.0

    async def open(self, subscribers: int, per_socket: int) -> None:
        gate = asyncio.Semaphore(50)  # sockets being opened at once

        async def one(first: int) -> None:
            async with gate:
                conn = await connect(self.ws_url, subprotocols=["graphql-transport-ws"], compression=None,
                                     max_size=2**20, ping_interval=None, open_timeout=60)
                await conn.send(orjson.dumps({"type": "connection_init", "payload": {}}).decode())
                ack = orjson.loads(await asyncio.wait_for(conn.recv(), 60))
                assert ack.get("type") == "connection_ack", ack
                sock = Socket(conn, {})
                for n in range(first, min(first + per_socket, subscribers)):
                    sid, node = str(n), n % len(self.node_ids)
                    sock.subs[sid] = Sub(node)
                    await conn.send(orjson.dumps({"id": sid, "type": "subscribe", "payload": {
                        "query": SUBSCRIPTION, "variables": {"id": self.node_ids[node]}}}).decode())
                self.sockets.append(sock)
                self.readers.append(asyncio.create_task(self.read(sock)))

        await asyncio.gather(*(one(first) for first in range(0, subscribers, per_socket)))

    async def read(self, sock: Socket) -> None:
        conn, subs = sock.conn, sock.subs
        with contextlib.suppress(Exception):
            async for raw in conn:
                now = time.time()
                msg = orjson.loads(raw)
                kind = msg.get("type")
                if kind == "next":
                    data = msg["payload"].get("data") or {}
                    event = data.get("nodeChanged") or {}
                    props = event.get("changedProperties") or {}
                    if "value" in props:
                        subs[msg["id"]].got.append((round(props["value"]), now))
                        self.last_event = now
                    elif msg["payload"].get("errors"):
                        subs[msg["id"]].ended = str(msg["payload"]["errors"])[:300]
                elif kind in ("error", "complete"):
                    subs[msg["id"]].ended = f"{kind}: {str(msg.get('payload'))[:300]}"
                elif kind == "ping":
                    await conn.send('{"type":"pong"}')

    def received(self, numbers: range) -> int:
        lo, hi = numbers.start, numbers.stop
        return sum(1 for sock in self.sockets for sub in sock.subs.values() for n, _ in sub.got if lo <= n < hi)

    def expected(self, numbers: range) -> int:
        per_node = [0] * len(self.node_ids)
        for sock in self.sockets:
            for sub in sock.subs.values():
                per_node[sub.node] += 1
        return sum(per_node[self.sent[n][0]] for n in numbers if n in self.sent)

    async def write(self, session: aiohttp.ClientSession, number: int, node: int) -> None:
        body = {"query": UPDATE, "variables": {"id": self.node_ids[node], "p": float(number)}}
        sent = time.time()
        self.sent[number] = (node, sent, float("nan"))
        async with session.post(self.write_url + "/graphql", json=body) as r:
            answer = await r.json(loads=orjson.loads)
        answered = time.time()
        if r.status != 200 or answer.get("errors"):
            self.failed_writes += 1
            del self.sent[number]
            return
        self.sent[number] = (node, sent, answered)

    async def writes(self, numbers: range, rate: float, nodes: list[int] | None = None, in_flight: int = 64) -> float:
        """Send the writes numbered `numbers` at `rate` a second, round-robin over `nodes` (default
        all); returns the seconds it took to send them and have every answer."""
        nodes = nodes if nodes is not None else list(range(len(self.node_ids)))
        gate = asyncio.Semaphore(in_flight)
        connector = aiohttp.TCPConnector(limit=in_flight)
        async with aiohttp.ClientSession(connector=connector, timeout=aiohttp.ClientTimeout(total=60)) as session:
            async def one(number: int) -> None:
                try:
                    await self.write(session, number, nodes[(number - numbers.start) % len(nodes)])
                except Exception:  # noqa: BLE001 - counted, reported
                    self.failed_writes += 1
                    self.sent.pop(number, None)
                finally:
                    gate.release()

            tasks = []
            start = time.perf_counter()
            for i, number in enumerate(numbers):
                delay = start + i / rate - time.perf_counter()
                if delay > 0:
                    await asyncio.sleep(delay)
                await gate.acquire()
                tasks.append(asyncio.create_task(one(number)))
            await asyncio.gather(*tasks)
            return time.perf_counter() - start

    async def drain(self, numbers: range, limit: float) -> None:
        want = self.expected(numbers)
        deadline = time.time() + limit
        while time.time() < deadline:
            if self.received(numbers) >= want:
                return
            if self.last_event and time.time() - self.last_event > DRAIN_IDLE:
                return
            await asyncio.sleep(0.25)

    async def close(self) -> None:
        for sock in self.sockets:
            with contextlib.suppress(Exception):
                await sock.conn.close()
        for task in self.readers:
            task.cancel()
        await asyncio.gather(*self.readers, return_exceptions=True)


async def seed(url: str, nodes: int) -> list[str]:
    async with httpx.AsyncClient(base_url=url, timeout=60) as client:
        r = await client.post("/graphql", json={"query": PROJECT})
        assert r.status_code == 200 and not r.json().get("errors"), r.text
        project = r.json()["data"]["createProject"]["id"]
        ids: list[str] = []
        for start in range(0, nodes, 500):  # metrics are recorded in batches under their project
            batch = [{"type": "COMMITS_PER_WEEK", "value": 0.0} for _ in range(start, min(nodes, start + 500))]
            r = await client.post("/graphql", json={"query": CREATE, "variables": {"p": project, "m": batch}})
            body = r.json()
            assert r.status_code == 200 and not body.get("errors"), body
            ids += [m["id"] for m in body["data"]["recordProjectMetrics"]]
        return ids


async def scenario(args: argparse.Namespace, subscribers: int, servers: dict[str, tuple[subprocess.Popen, str]]
                   ) -> dict[str, Any]:
    write_url = servers["A"][1]
    sub_url = servers["B" if "B" in servers else "A"][1]
    node_ids = await seed(write_url, args.nodes)
    client = Client(write_url, sub_url, node_ids)
    t = time.perf_counter()
    await client.open(subscribers, args.per_socket)
    opened = time.perf_counter() - t
    # Warm up: a write to each node, until every subscription has seen one. Subscribe has no
    # acknowledgement and the server registers a subscription a moment after it is sent: a
    # subscription that missed a round's write to its node gets another.
    number = 1
    for _ in range(WARM_ROUNDS):
        pending = sorted({s.node for sock in client.sockets for s in sock.subs.values() if not s.got})
        if not pending:
            break
        warm = range(number, number + len(pending))
        number = warm.stop
        await client.writes(warm, min(args.rate, 200.0), pending)
        await client.drain(warm, 10)
    waiting = sum(1 for sock in client.sockets for s in sock.subs.values() if not s.got)
    ended = [s.ended for sock in client.sockets for s in sock.subs.values() if s.ended]
    if waiting or ended:
        await client.close()
        raise SystemExit(f"{subscribers} subscribers: {waiting} saw none of {WARM_ROUNDS} rounds of warm-up writes; "
                         f"{len(ended)} subscriptions ended, e.g. {ended[:1]}")
    await asyncio.sleep(1)
    # Measure.
    total = int(args.rate * args.seconds)
    numbers = range(number, number + total)
    pids = {name: proc.pid for name, (proc, _) in servers.items()}
    me = os.getpid()
    cpu0 = {name: cpu_seconds(pid) for name, pid in pids.items()} | {"client": cpu_seconds(me)}
    wall0 = time.perf_counter()
    profilers = start_profilers(args, pids, subscribers)
    took = await client.writes(numbers, args.rate)
    await client.drain(numbers, 60)
    wall = time.perf_counter() - wall0
    cpu = {name: 100 * (cpu_seconds(pid) - cpu0[name]) / wall for name, pid in (pids | {"client": me}).items()}
    for proc in profilers:
        with contextlib.suppress(subprocess.TimeoutExpired):
            proc.wait(30)
        stop(proc)
    # Every subscriber must have every change of its node, once.
    by_node: dict[int, set[int]] = {}
    for n in numbers:
        if n in client.sent:
            by_node.setdefault(client.sent[n][0], set()).add(n)
    missing = duplicated = 0
    since_sent: list[float] = []
    since_answer: list[float] = []
    for sock in client.sockets:
        for sub in sock.subs.values():
            seen = [(n, at) for n, at in sub.got if n in client.sent and numbers.start <= n < numbers.stop]
            numbers_seen = [n for n, _ in seen]
            duplicated += len(numbers_seen) - len(set(numbers_seen))
            missing += len(by_node.get(sub.node, set()) - set(numbers_seen))
            for n, at in seen:
                _, sent, answered = client.sent[n]
                since_sent.append((at - sent) * 1000)
                since_answer.append((at - answered) * 1000)
    ended = [s.ended for sock in client.sockets for s in sock.subs.values() if s.ended]
    writes = sorted((answered - sent) * 1000 for n, (_, sent, answered) in client.sent.items() if n in numbers)
    await client.close()
    since_sent.sort()
    since_answer.sort()
    return {
        "subscribers": subscribers, "sockets": len(client.sockets), "nodes": args.nodes, "opened_s": opened,
        "writes": len([n for n in numbers if n in client.sent]), "failed_writes": client.failed_writes,
        "rate": len(numbers) / took, "expected": client.expected(numbers), "received": len(since_sent),
        "missing": missing, "duplicated": duplicated, "ended": len(ended), "ended_example": ended[:1],
        "sent": {p: pct(since_sent, p) for p in (50, 95, 99, 100)},
        "answered": {p: pct(since_answer, p) for p in (50, 95, 99, 100)},
        "write": {p: pct(writes, p) for p in (50, 99)},
        "cpu": cpu, "load": os.getloadavg()[0],
    }


def start_profilers(args: argparse.Namespace, pids: dict[str, int], subscribers: int) -> list[subprocess.Popen]:
    if not args.profile:
        return []
    exe = args.py_spy or shutil.which("py-spy")
    if not exe:
        raise SystemExit("--profile needs py-spy (pip install py-spy; or --py-spy PATH)")
    out = Path(args.profile)
    out.mkdir(parents=True, exist_ok=True)
    procs = []
    for name, pid in pids.items():
        target = out / f"{label(args)}-{subscribers}-{name}.txt"
        procs.append(subprocess.Popen([exe, "record", "--pid", str(pid), "--duration", str(int(args.seconds)),
                                       "--rate", "100", "--gil", "--format", "raw", "--output", str(target)],
                                      stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))
    return procs


def label(args: argparse.Namespace) -> str:
    if not args.two_process:
        return "one process"
    return "two processes, Redis" if args.redis else f"two processes, polling {args.poll:g} s"


async def run_all(args: argparse.Namespace) -> list[dict[str, Any]]:
    results = []
    for subscribers in args.subscribers:
        with tempfile.TemporaryDirectory(prefix="maestro-subbench-") as tmp:
            started: list[subprocess.Popen] = []
            try:
                extra = {"MAESTRO_FEED_POLL_SECONDS": str(args.poll)}
                if args.redis:
                    redis, bus = start_redis()
                    started.append(redis)
                    extra["MAESTRO_EVENT_BUS"] = bus
                store = f"sqlite:///{Path(tmp) / 'maestro.db'}"
                servers = {}
                servers["A"] = start_server("A", store, Path(tmp) / "a", extra)
                started.append(servers["A"][0])
                if args.two_process:
                    servers["B"] = start_server("B", store, Path(tmp) / "b", extra)
                    started.append(servers["B"][0])
                result = await scenario(args, subscribers, servers)
                result["scenario"] = label(args)
                results.append(result)
                print_result(result)
            finally:
                for proc in reversed(started):
                    stop(proc)
    return results


def print_result(r: dict[str, Any]) -> None:
    cpu = ", ".join(f"{k} {v:.0f}%" for k, v in r["cpu"].items())
    check = "all delivered once" if r["received"] == r["expected"] and not r["missing"] and not r["duplicated"] \
        else f"MISSING {r['missing']}, duplicated {r['duplicated']}, ended {r['ended']} {r['ended_example']}"
    print(f"  {r['scenario']}: {r['subscribers']} subscribers on {r['sockets']} sockets over {r['nodes']} nodes "
          f"(opened in {r['opened_s']:.1f} s); {r['writes']} writes at {r['rate']:.1f}/s ({r['failed_writes']} failed); "
          f"events {r['received']}/{r['expected']} ({check}); CPU {cpu}; load average {r['load']:.1f}", flush=True)


def table(results: list[dict[str, Any]]) -> None:
    head = ["scenario", "subscribers", "sockets", "writes/s", "events expected / received",
            "from send p50 / p95 / p99 / max ms", "from response p50 / p95 / p99 / max ms", "write p50 / p99 ms",
            "server CPU %", "client CPU %"]
    rows = []
    for r in results:
        servers = " + ".join(f"{k} {v:.0f}" for k, v in r["cpu"].items() if k != "client")
        rows.append([r["scenario"], f"{r['subscribers']:,}", f"{r['sockets']:,}", f"{r['rate']:.1f}",
                     f"{r['expected']:,} / {r['received']:,}",
                     " / ".join(f"{r['sent'][p]:.1f}" for p in (50, 95, 99, 100)),
                     " / ".join(f"{r['answered'][p]:.1f}" for p in (50, 95, 99, 100)),
                     " / ".join(f"{r['write'][p]:.1f}" for p in (50, 99)),
                     servers, f"{r['cpu']['client']:.0f}"])
    print()
    print("| " + " | ".join(head) + " |")
    print("|" + "|".join("---" if i == 0 else "---:" for i in range(len(head))) + "|")
    for row in rows:
        print("| " + " | ".join(row) + " |")
    with contextlib.suppress(ImportError):
        from rich.console import Console
        from rich.table import Table

        t = Table(title="nodeChanged commit-to-delivery delay")
        for h in head:
            t.add_column(h, justify="left" if h == "scenario" else "right")
        for row in rows:
            t.add_row(*row)
        Console(width=240).print(t)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--subscribers", type=lambda v: [int(x) for x in v.split(",")], action="append",
                    help="subscribers, a scenario each (repeatable or comma-separated; default 1000)")
    ap.add_argument("--nodes", type=int, default=100, help="Metrics the subscribers are spread over (default 100)")
    ap.add_argument("--per-socket", type=int, default=10, help="subscriptions per WebSocket (default 10)")
    ap.add_argument("--rate", type=float, default=100.0, help="writes a second (default 100)")
    ap.add_argument("--seconds", type=float, default=20.0, help="seconds of writes (default 20)")
    ap.add_argument("--two-process", action="store_true", help="writes to process A, subscribers on process B")
    ap.add_argument("--redis", action="store_true", help="a redis-server as the event bus between the processes")
    ap.add_argument("--poll", type=float, default=0.5, help="MAESTRO_FEED_POLL_SECONDS (default 0.5)")
    ap.add_argument("--profile", help="a directory: py-spy record (--gil: the thread holding the GIL) each server during the writes, raw stacks")
    ap.add_argument("--py-spy", help="the py-spy executable (default: on PATH)")
    args = ap.parse_args()
    args.subscribers = [n for group in (args.subscribers or [[1000]]) for n in group]
    if any(n < 1 or n > MAX_SUBSCRIBERS for n in args.subscribers):
        ap.error(f"--subscribers: 1 to {MAX_SUBSCRIBERS:,}")
    if not 0 < args.seconds <= MAX_SECONDS:
        ap.error(f"--seconds: at most {MAX_SECONDS:.0f}")
    if not 0 < args.rate <= MAX_RATE:
        ap.error(f"--rate: at most {MAX_RATE:.0f}")
    if args.nodes < 1 or args.per_socket < 1 or args.nodes * 20 > SCALE:
        ap.error("--nodes and --per-socket must be positive")
    if args.redis and not args.two_process:
        ap.error("--redis needs --two-process (one process hands its own commits over directly)")
    print(f"machine: {platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}; "
          f"{args.rate:g} writes/s for {args.seconds:g} s over {args.nodes} nodes, {args.per_socket} subscriptions "
          f"a socket; {label(args)}", flush=True)
    results = asyncio.run(run_all(args))
    table(results)


if __name__ == "__main__":
    main()
