"""Two real `maestro-graph serve` processes on one store, on every backend: what one commits
reaches the other's subscribers and lineage index through the change feed, with and without a
real Redis (MAESTRO_EVENT_BUS), and even when the writer is killed right after its commit."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import signal
import subprocess
import sys
import textwrap
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from gql import Client, gql
from gql.transport.websockets import WebsocketsTransport

from maestro_graph.settings import Settings
from tests.conftest import IN_CI
from tests.e2e.conftest import free_port
from tests.e2e.tokens import AUD, ISS, SECRET, token

EXE = str(Path(sys.executable).with_name("maestro-graph"))
WAIT = 30.0  # seconds an event may take before a test gives up (never reached when it passes)
SLOW_POLL = "120"  # a poll so slow that only a wake-up (NOTIFY, Redis) can deliver within WAIT


def redis_url() -> str:
    url = os.environ.get("MAESTRO_TEST_REDIS_URL")
    if not url:
        message = "Redis NOT TESTED: set MAESTRO_TEST_REDIS_URL (tests/run.sh starts tests/services/redis.sh)"
        if IN_CI:
            pytest.fail(message)
        pytest.skip(message)
    return url


@dataclass
class Process:
    url: str
    proc: subprocess.Popen
    log: Path

    def lines(self) -> list[dict]:
        out = []
        for line in self.log.read_text().splitlines():
            with contextlib.suppress(ValueError):
                out.append(json.loads(line))
        return out


def env_for(settings: Settings, tmp: Path, **extra: str) -> dict[str, str]:
    return {**os.environ, "MAESTRO_STORE": settings.store, "MAESTRO_NEO4J_PASSWORD": settings.neo4j_password,
            "MAESTRO_DATA_DIR": str(tmp), "MAESTRO_JWT_SECRET": SECRET, "MAESTRO_JWT_ISSUER": ISS,
            "MAESTRO_JWT_AUDIENCE": AUD, "MAESTRO_LOG_FORMAT": "json", "MAESTRO_LINEAGE_INDEX_MAX_LAG": "0",
            "MAESTRO_RATE_LIMIT_PER_MINUTE": "100000", **extra}


@contextlib.asynccontextmanager
async def process(name: str, settings: Settings, tmp: Path, **extra: str) -> AsyncIterator[Process]:
    port = free_port()
    log = tmp / f"{name}.log"
    with open(log, "w") as out:
        proc = subprocess.Popen([EXE, "serve", "--port", str(port)], env=env_for(settings, tmp, **extra),
                                stdout=out, stderr=out)
    url = f"http://127.0.0.1:{port}"
    try:
        async with httpx.AsyncClient(timeout=5) as client:
            for _ in range(600):
                assert proc.poll() is None, f"{name} exited: {log.read_text()[-2000:]}"
                with contextlib.suppress(httpx.TransportError):
                    if (await client.get(url + "/readyz")).status_code == 200:
                        break
                await asyncio.sleep(0.1)
        yield Process(url, proc, log)
    finally:
        proc.terminate()
        try:
            proc.wait(20)
        except subprocess.TimeoutExpired:
            proc.kill()


async def graphql(p: Process, tenant: str, document: str, variables: dict | None = None) -> dict:
    async with httpx.AsyncClient(timeout=60) as client:
        r = await client.post(p.url + "/graphql", json={"query": document, "variables": variables or {}},
                              headers={"Authorization": f"Bearer {token(tenant)}"})
    body = r.json()
    assert "errors" not in body, body
    return body["data"]


@contextlib.asynccontextmanager
async def subscribed(p: Process, tenant: str, document: str, variables: dict | None = None
                     ) -> AsyncIterator[asyncio.Queue]:
    """Events of a subscription on `p`, as they arrive."""
    events: asyncio.Queue = asyncio.Queue()
    ready = asyncio.Event()

    async def run() -> None:
        transport = WebsocketsTransport(url=p.url.replace("http", "ws") + "/graphql",
                                        init_payload={"Authorization": f"Bearer {token(tenant)}"},
                                        subprotocols=[WebsocketsTransport.GRAPHQLWS_SUBPROTOCOL])
        async with Client(transport=transport) as session:
            ready.set()
            async for event in session.subscribe(gql(document), variable_values=variables):
                await events.put(event)

    task = asyncio.create_task(run())
    await asyncio.wait_for(ready.wait(), WAIT)
    await asyncio.sleep(0.5)  # the subscription is registered once the server has read it
    try:
        yield events
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)


CHANGES = "subscription($after: String) { changes(after: $after) { seq operation created { id label } } }"


@pytest.mark.parametrize("bus", ["no-redis", "redis"])
async def test_a_write_through_one_process_reaches_a_subscriber_on_the_other(store, store_settings, tenant, tmp_path, bus):
    extra = {}
    if bus == "redis":
        # Polling all but off: only the Redis wake-up can deliver in time.
        extra = {"MAESTRO_EVENT_BUS": redis_url(), "MAESTRO_FEED_POLL_SECONDS": SLOW_POLL}
    elif store.backend == "postgresql":
        extra = {"MAESTRO_FEED_POLL_SECONDS": SLOW_POLL}  # only LISTEN/NOTIFY can deliver in time
    async with process("a", store_settings, tmp_path, **extra) as a, process("b", store_settings, tmp_path, **extra) as b:
        async with subscribed(b, tenant, CHANGES) as events:
            made = await graphql(a, tenant, 'mutation { createTeam(input: {name: "From A"}) { id } }')
            event = (await asyncio.wait_for(events.get(), WAIT))["changes"]
    assert event["operation"] == "createTeam" and event["created"] == [{"id": made["createTeam"]["id"], "label": "Team"}]


KILLED_WRITER = textwrap.dedent("""
    import asyncio, os, signal, sys
    from maestro_graph.auth.principal import Principal, Role
    from maestro_graph.domain.graph import Label
    from maestro_graph.services import Services
    from maestro_graph.settings import Settings
    from maestro_graph.store.factory import create_store

    async def main():
        store = create_store(Settings.from_env())
        await store.open()
        editor = Principal("doomed-writer", sys.argv[1], frozenset({Role.EDITOR}))
        await Services.build(store).graph.create(editor, Label.TEAM, [{"name": "Written then killed"}])
        os.kill(os.getpid(), signal.SIGKILL)  # right after the commit: nothing else happens here

    asyncio.run(main())
""")


async def test_a_change_committed_by_a_writer_killed_right_after_is_still_delivered(store, store_settings, tenant, tmp_path):
    extra = {"MAESTRO_EVENT_BUS": redis_url()}  # the writer publishes nothing: it is killed first
    async with process("b", store_settings, tmp_path, **extra) as b:
        async with subscribed(b, tenant, CHANGES) as events:
            writer = subprocess.run([sys.executable, "-c", KILLED_WRITER, tenant], env=env_for(store_settings, tmp_path),
                                    capture_output=True, text=True, timeout=120)
            assert writer.returncode == -signal.SIGKILL, writer.stderr
            event = (await asyncio.wait_for(events.get(), WAIT))["changes"]
    assert event["operation"] == "createTeam" and event["created"][0]["label"] == "Team"


async def test_a_resumed_subscriber_on_another_process_gets_every_change_once_in_order(store, store_settings, tenant, tmp_path):
    async with process("a", store_settings, tmp_path) as a, process("b", store_settings, tmp_path) as b:
        await graphql(a, tenant, 'mutation { createTeam(input: {name: "T0"}) { id } }')
        async with subscribed(b, tenant, CHANGES, {"after": "0"}) as events:
            first = (await asyncio.wait_for(events.get(), WAIT))["changes"]
        for i in range(1, 6):  # while nobody listens
            await graphql(a, tenant, f'mutation {{ createTeam(input: {{name: "T{i}"}}) {{ id }} }}')
        async with subscribed(b, tenant, CHANGES, {"after": str(first["seq"])}) as events:
            await graphql(a, tenant, 'mutation { createTeam(input: {name: "T6"}) { id } }')
            got = [(await asyncio.wait_for(events.get(), WAIT))["changes"]["seq"] for _ in range(6)]
            await asyncio.sleep(1.0)
            assert events.empty()  # nothing twice
    assert got == list(range(first["seq"] + 1, first["seq"] + 7))


def chain_events(n: int, ns: str) -> list[dict]:
    """n jobs, each reading the last dataset's column `c` into the next: a column chain n long."""
    facet = "https://openlineage.io/spec/facets/1-2-0/ColumnLineageDatasetFacet.json#/$defs/ColumnLineageDatasetFacet"
    schema = "https://openlineage.io/spec/facets/1-1-1/SchemaDatasetFacet.json#/$defs/SchemaDatasetFacet"
    out = []
    for i in range(1, n + 1):
        out.append({
            "eventType": "COMPLETE", "eventTime": "2026-11-01T10:00:00Z", "producer": "https://example.com/chain",
            "schemaURL": "https://openlineage.io/spec/2-0-2/OpenLineage.json#/$defs/RunEvent",
            "run": {"runId": str(uuid.uuid4())}, "job": {"namespace": "chain", "name": f"step{i}"},
            "inputs": [{"namespace": ns, "name": f"d{i - 1}"}],
            "outputs": [{"namespace": ns, "name": f"d{i}", "facets": {
                "schema": {"_producer": "https://example.com/chain", "_schemaURL": schema, "fields": [{"name": "c", "type": "int"}]},
                "columnLineage": {"_producer": "https://example.com/chain", "_schemaURL": facet, "fields": {
                    "c": {"inputFields": [{"namespace": ns, "name": f"d{i - 1}", "field": "c"}]}}}}}]})
    return out


IMPACT = "query($id: ID!) { impactAnalysis(id: $id, limit: 5000) { totals { fields datasets } } }"


async def test_the_lineage_index_of_one_process_follows_1000_events_ingested_through_another(
        store, store_settings, tenant, tmp_path):
    ns = f"ns-{uuid.uuid4().hex[:6]}"
    seed = chain_events(1, ns)
    async with process("a", store_settings, tmp_path) as a, process("b", store_settings, tmp_path) as b:
        async with httpx.AsyncClient(timeout=120, headers={"Authorization": f"Bearer {token(tenant)}"}) as client:
            assert (await client.post(a.url + "/api/v1/lineage", json=seed)).status_code == 201
            fields = await graphql(b, tenant, '{ datasets(first: 5) { edges { node { name fields(first: 1) { edges { node { id } } } } } } }')
            root = next(e["node"]["fields"]["edges"][0]["node"]["id"] for e in fields["datasets"]["edges"] if e["node"]["name"] == "d1")
            for _ in range(300):  # B builds its index in the background after its first impact query
                await graphql(b, tenant, IMPACT, {"id": root})
                ready = (await client.get(b.url + "/readyz")).json()["lineage_index"]
                if ready["builds"] >= 1 and ready["answers"] >= 1:
                    break
                await asyncio.sleep(0.1)
            assert ready["builds"] == 1, ready
            events = chain_events(1001, ns)[1:]  # d1 -> d2 -> ... -> d1001: 1,000 more events
            for start in range(0, len(events), 100):  # as a producer sends them: batches, through A
                r = await client.post(a.url + "/api/v1/lineage", json=events[start:start + 100])
                assert r.status_code == 201, r.text
            for _ in range(300):  # the store walk answers while B takes the changes in beside it
                impact = (await graphql(b, tenant, IMPACT, {"id": root}))["impactAnalysis"]
                after = (await client.get(b.url + "/readyz")).json()["lineage_index"]
                if after["answers"] > ready["answers"]:
                    break
                await asyncio.sleep(0.1)
    # every column downstream of d1.c, seen on B; the datasets holding them and d1, which holds d1.c
    assert impact["totals"] == {"fields": 1000, "datasets": 1001}
    assert after["builds"] == 1, after  # followed, never rebuilt
    assert after["take_ins"] >= 1 and after["answers"] > ready["answers"], after  # answered from the index
