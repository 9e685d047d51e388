"""No request holds the server for others: while heavy requests run (the widest walks the limits
allow, a 300,000-column OpenLineage event, an answer at the cost limit), a tiny query sent every
20 ms never waits a second. The server is a real `maestro-graph serve` process on SQLite; the
test is bounded (a few heavy requests, each with a timeout)."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import httpx

from maestro_graph.domain.graph import ChangeSet, Edge, Label, Rel
from maestro_graph.settings import Settings
from maestro_graph.store.factory import create_store
from resolvers.relay import to_global_id
from tests.contract.test_store_contract import make
from tests.e2e.conftest import free_port

EXE = str(Path(sys.executable).with_name("maestro-graph"))
WORST_WAIT = 1.0  # seconds: what the issue holds a normal query to while heavy work runs
TENANT = "default"  # --no-auth serves the default tenant


async def seed(db: Path) -> str:
    """A column whose change reaches 60,300 columns (300 direct, 200 below each): the root's id."""
    store = create_store(Settings(data_dir=db.parent, store_url=f"sqlite:///{db}"))
    await store.open()
    await store.migrate()
    try:
        up = make(store, TENANT, Label.DATASET, namespace="s", name="up")
        down = make(store, TENANT, Label.DATASET, namespace="s", name="down")
        root = make(store, TENANT, Label.FIELD, dataset_id=up.id, path="root")
        mids = [make(store, TENANT, Label.FIELD, dataset_id=down.id, path=f"m{i}") for i in range(300)]
        leaves = [make(store, TENANT, Label.FIELD, dataset_id=down.id, path=f"m{i}.l{j}")
                  for i in range(300) for j in range(200)]
        await store.apply(TENANT, ChangeSet(create=[up, down, root, *mids, *leaves], link=[
            Edge(Rel.HAS_FIELD, up.id, root.id),
            *(Edge(Rel.HAS_FIELD, down.id, f.id) for f in mids + leaves),
            *(Edge(Rel.DERIVES, root.id, m.id) for m in mids),
            *(Edge(Rel.DERIVES, mids[k // 200].id, leaf.id) for k, leaf in enumerate(leaves))]))
        return to_global_id(Label.FIELD, root.id)
    finally:
        await store.close()


def wide_event(columns: int) -> bytes:
    return json.dumps({
        "eventType": "COMPLETE", "eventTime": "2026-11-01T10:00:00Z", "producer": "https://example.com/p",
        "schemaURL": "https://openlineage.io/spec/2-0-2/OpenLineage.json#/definitions/RunEvent",
        "run": {"runId": "3f0e8e6a-8a38-4b5e-9d1c-0e1f2a3b4c5d"}, "job": {"namespace": "s", "name": "wide"},
        "inputs": [], "outputs": [{"namespace": "s", "name": "wide_table", "facets": {"schema": {
            "_producer": "https://example.com/p",
            "_schemaURL": "https://openlineage.io/spec/facets/1-0-0/SchemaDatasetFacet.json",
            "fields": [{"name": f"c{i}", "type": "int"} for i in range(columns)]}}}]}).encode()


async def test_heavy_requests_never_make_a_small_query_wait_a_second(tmp_path):
    db = tmp_path / "m.db"
    root = await seed(db)
    port = free_port()
    env = {**os.environ, "MAESTRO_DATA_DIR": str(tmp_path), "MAESTRO_STORE": f"sqlite:///{db}",
           "MAESTRO_LOG_LEVEL": "WARNING"}
    with open(tmp_path / "server.log", "w") as log:
        proc = subprocess.Popen([EXE, "serve", "--no-auth", "--port", str(port)], env=env, stdout=log, stderr=log)
    url = f"http://127.0.0.1:{port}"
    try:
        async with httpx.AsyncClient(timeout=120) as client:
            for _ in range(300):
                try:
                    if (await client.get(url + "/readyz")).status_code == 200:
                        break
                except httpx.TransportError:
                    pass
                await asyncio.sleep(0.1)
            heavy = [
                ("impact over 60,300 columns", {"query": f'{{ impactAnalysis(id: "{root}", limit: 200000) '
                                                         f'{{ truncated totals {{ fields datasets }} }} }}'}),
                ("lineage at its limit", {"query": f'{{ lineage(id: "{root}", depth: 2, limit: 5000) '
                                                   f'{{ truncated nodes {{ distance }} edges {{ sourceId }} }} }}'}),
                ("an answer at the cost limit", {"query": "{ datasets(first: 100) { edges { node { fields(first: 100) "
                                                          "{ edges { node { path type } } } } } } }"}),
            ]
            waits: list[float] = []
            phase = ["warm-up"]
            worst: dict[str, float] = {}
            done = asyncio.Event()

            async def probe() -> None:
                async with httpx.AsyncClient(timeout=30) as own:
                    while not done.is_set():
                        started = time.perf_counter()
                        r = await own.post(url + "/graphql", json={"query": "{ __typename }"})
                        assert r.status_code == 200, r.text
                        waits.append(time.perf_counter() - started)
                        worst[phase[0]] = max(worst.get(phase[0], 0.0), waits[-1])
                        await asyncio.sleep(0.02)

            prober = asyncio.create_task(probe())
            answers = {}
            for name, body in heavy:
                phase[0] = name
                r = await client.post(url + "/graphql", json=body)
                answers[name] = r.json()
            phase[0] = "300,000-column event"
            r = await client.post(url + "/api/v1/lineage", content=wide_event(300_000),
                                  headers={"content-type": "application/json"})
            answers["300,000-column event"] = r.json()
            done.set()
            await prober
    finally:
        proc.terminate()
        proc.wait(timeout=30)
    impact = answers["impact over 60,300 columns"]
    assert impact["data"]["impactAnalysis"] == {"truncated": False, "totals": {"fields": 60_300, "datasets": 2}}, impact
    assert len(answers["lineage at its limit"]["data"]["lineage"]["nodes"]) == 5_000
    assert "errors" not in answers["an answer at the cost limit"], answers["an answer at the cost limit"]
    assert answers["300,000-column event"]["nodes"] == 300_003, answers["300,000-column event"]
    waits.sort()
    print(f"small-query wait while heavy requests ran: worst {waits[-1]:.3f} s, median {waits[len(waits) // 2]:.4f} s, "
          f"{len(waits)} probes; worst by request: {worst}")
    assert len(waits) > 20, waits
    assert waits[-1] < WORST_WAIT, (f"a small query waited {waits[-1]:.2f} s (median {waits[len(waits) // 2]:.3f} s, "
                                    f"{len(waits)} probes; worst by request: {worst})")
