"""Meta-model benchmark (issue #25): training time on a generated history, and predictProject
latency over HTTP beside a floor measured in the same run.

    .venv/bin/python -m tests.benchmarks.metamodel                      # 2,000 projects, seed 11
    .venv/bin/python -m tests.benchmarks.metamodel --projects 500 --requests 100

Steps, on an embedded SQLite store in a temp dir:
  load      `maestro-graph demo --projects N --seed S` into a tenant (maestro_graph/history.py);
  train     services.metamodel.train, timed (the graph read, 5-fold cross-validation and the final
            models for three targets, the model stored); --train-rounds times, min and max reported;
  serve     the app with uvicorn on a free loopback port, authentication on, limits as shipped;
  predict   --requests predictProject(projectId) calls over one keep-alive HTTP client, on the
            active projects in turn, alternating with the same number of a floor request
            (`node(id) { id }` on the same project: the cost of any authenticated GraphQL request
            and one store read), so both see the same machine; and --requests predictProject(draft)
            calls with three members and two artifacts.
Reported: train seconds; p50 / p95 / max ms of each request kind. Bounded: at most 5,000
projects and 1,000 requests of each kind; loopback only.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import statistics
import tempfile
import time
from pathlib import Path

import httpx

from maestro_graph.app import create_app
from maestro_graph.auth.principal import Role, system
from maestro_graph.domain.graph import Label, NodeQuery
from maestro_graph.history import load_history
from maestro_graph.settings import Settings
from resolvers.relay import to_global_id

MAX_PROJECTS, MAX_REQUESTS = 5_000, 1_000
TENANT = "mmbench"
SECRET = "benchmark-secret-benchmark-secret-0123"


def pct(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(p / 100 * (len(ordered) - 1))))]


async def main(args: argparse.Namespace) -> None:
    import uvicorn

    with tempfile.TemporaryDirectory() as tmp:
        settings = Settings(data_dir=Path(tmp), jwt_secret=SECRET, lineage_index="off")
        app = create_app(settings)
        services = app.state.services
        async with contextlib.AsyncExitStack() as stack:
            port = 0
            import socket
            with socket.socket() as s:
                s.bind(("127.0.0.1", 0))
                port = s.getsockname()[1]
            server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_config=None, access_log=False))
            task = asyncio.create_task(server.serve())
            while not server.started:
                await asyncio.sleep(0.05)
            stack.push_async_callback(lambda: asyncio.wait_for(task, 30))
            stack.callback(lambda: setattr(server, "should_exit", True))

            started = time.perf_counter()
            await load_history(services, TENANT, args.projects, args.seed, progress=lambda _: None)
            loaded = time.perf_counter() - started
            trains = []
            for _ in range(args.train_rounds):
                began = time.perf_counter()
                model = await services.metamodel.train(system(TENANT))
                trains.append(time.perf_counter() - began)

            token = services.tokens.minter.mint("bench", TENANT, [Role.EDITOR], 3600) if services.tokens.minter else ""
            active = [n.id for n in (await services.graph.find(TENANT, NodeQuery(Label.PROJECT, first=100))).nodes
                      if n.props.get("status") == "active"] or [model.train_ids[0]]
            people = [n.id for n in (await services.graph.find(TENANT, NodeQuery(Label.PERSON, first=3))).nodes]
            artifacts = [n.id for n in (await services.graph.find(TENANT, NodeQuery(Label.ARTIFACT, first=2))).nodes]
            draft = {"problemClass": "CLASSIFICATION", "complexityScore": 5,
                     "memberIds": [to_global_id(Label.PERSON, p) for p in people],
                     "artifactIds": [to_global_id(Label.ARTIFACT, a) for a in artifacts]}
            predict = "mutation($p: ID!) { predictProject(projectId: $p) { successScore { value lower upper } } }"
            drafted = "mutation($d: ProjectDraftInput!) { predictProject(draft: $d) { successScore { value lower upper } } }"
            floor = "query($p: ID!) { node(id: $p) { id } }"
            times: dict[str, list[float]] = {"predictProject(projectId)": [], "floor: node(id)": [], "predictProject(draft)": []}
            async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", timeout=60,
                                         headers={"Authorization": f"Bearer {token}"}) as client:
                async def timed(kind: str, query: str, variables: dict) -> None:
                    began = time.perf_counter()
                    r = await client.post("/graphql", json={"query": query, "variables": variables})
                    times[kind].append((time.perf_counter() - began) * 1000)
                    assert r.status_code == 200 and "errors" not in r.json(), r.text

                for i in range(args.requests):
                    pid = to_global_id(Label.PROJECT, active[i % len(active)])
                    await timed("predictProject(projectId)", predict, {"p": pid})
                    await timed("floor: node(id)", floor, {"p": pid})
                    await timed("predictProject(draft)", drafted, {"d": draft})
    print(f"history: {args.projects:,} projects (seed {args.seed}) loaded in {loaded:.1f} s; "
          f"trained on {model.n:,} finished projects, {len(model.features)} features")
    print(f"train: {min(trains):.1f} s (min of {len(trains)}), max {max(trains):.1f} s")
    print("| request | n | p50 ms | p95 ms | max ms |")
    print("|---|---:|---:|---:|---:|")
    for kind, values in times.items():
        print(f"| {kind} | {len(values)} | {statistics.median(values):.1f} | {pct(values, 95):.1f} | {max(values):.1f} |")


if __name__ == "__main__":
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--projects", type=int, default=2000)
    ap.add_argument("--seed", type=int, default=11)
    ap.add_argument("--requests", type=int, default=200)
    ap.add_argument("--train-rounds", type=int, default=2)
    a = ap.parse_args()
    if not (20 <= a.projects <= MAX_PROJECTS and 1 <= a.requests <= MAX_REQUESTS and 1 <= a.train_rounds <= 5):
        ap.error(f"--projects 20..{MAX_PROJECTS}, --requests 1..{MAX_REQUESTS}, --train-rounds 1..5")
    asyncio.run(main(a))
