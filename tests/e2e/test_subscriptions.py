"""GraphQL subscriptions over WebSocket against a real server on each backend, with real clients:
gql's websockets transport (graphql-transport-ws) and raw sockets for the legacy graphql-ws and
for what gql hides (not reading, close codes)."""

from __future__ import annotations

import asyncio
import json
import secrets
import socket
import uuid
from typing import Any

import pytest
from gql import Client, gql
from gql.transport.exceptions import TransportQueryError
from gql.transport.websockets import WebsocketsTransport
from websockets.asyncio.client import connect

from maestro_graph.auth.principal import Role
from tests.e2e.conftest import serve
from tests.e2e.schema_matrix import EVENT

WAIT = 20  # seconds an event may take before a test gives up (never reached when it passes)


def ws_url(server) -> str:
    return server.url.replace("http://", "ws://") + "/graphql"


def transport(server) -> WebsocketsTransport:
    return WebsocketsTransport(url=ws_url(server), init_payload={"Authorization": f"Bearer {server.bearer}"},
                               subprotocols=[WebsocketsTransport.GRAPHQLWS_SUBPROTOCOL])


class Subscribed:
    """A subscription running in the background: its events land in `events` as they arrive."""

    def __init__(self, server, document: str, variables: dict[str, Any] | None = None) -> None:
        self.server, self.document, self.variables = server, document, variables
        self.events: list[dict[str, Any]] = []
        self.error: BaseException | None = None
        self._ready = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    async def __aenter__(self) -> "Subscribed":
        self._task = asyncio.create_task(self._run())
        await asyncio.wait_for(self._ready.wait(), WAIT)
        await asyncio.sleep(0.3)  # the server has registered the subscription once it answered the ack
        return self

    async def __aexit__(self, *exc: object) -> None:
        assert self._task is not None
        self._task.cancel()
        await asyncio.gather(self._task, return_exceptions=True)

    async def _run(self) -> None:
        try:
            async with Client(transport=transport(self.server)) as session:
                self._ready.set()
                async for event in session.subscribe(gql(self.document), variable_values=self.variables):
                    self.events.append(event)
        except (TransportQueryError, Exception) as err:  # noqa: BLE001 - kept for the test to look at
            self.error = err
            self._ready.set()

    async def wait_for(self, n: int) -> list[dict[str, Any]]:
        for _ in range(WAIT * 50):
            if len(self.events) >= n or self.error is not None:
                break
            await asyncio.sleep(0.02)
        assert len(self.events) >= n, f"{len(self.events)} events of {n}; error: {self.error!r}"
        return self.events


async def first_event(server, document: str, variables: dict[str, Any] | None = None) -> dict[str, Any]:
    """Subscribe and return the first event, or raise the subscription's error."""
    async with Client(transport=transport(server)) as session:
        async for event in session.subscribe(gql(document), variable_values=variables):
            return event
    raise AssertionError("the subscription ended without an event")


async def create(server, label: str, fields: str, values: str) -> str:
    got = await server.execute(f"mutation {{ create{label}(input: {{{values}}}) {{ id {fields} }} }}")
    return got[f"create{label}"]["id"]


CHANGES = """subscription($after: String, $labels: [String!]) {
  changes(after: $after, labels: $labels) {
    cursor seq operation actor truncated
    created { id label changedProperties } updated { id label changedProperties } deleted { id label }
    linked { type source target } unlinked { type source target }
  }
}"""


async def test_node_changed_tells_each_update_with_the_node_as_now_then_its_deletion(server):
    dep = await create(server, "Deployment", "", 'name: "churn-api", environment: "prod", status: PENDING')
    doc = """subscription($id: ID!) { nodeChanged(id: $id) {
        cursor kind id changedProperties node { id ... on Deployment { name status replicas } } } }"""
    async with Subscribed(server, doc, {"id": dep}) as sub:
        await server.execute('mutation($id: ID!) { updateDeployment(id: $id, input: {status: RUNNING, replicas: 2}) { id } }',
                             {"id": dep})
        await server.execute('mutation($id: ID!) { updateDeployment(id: $id, input: {replicas: 3}) { id } }', {"id": dep})
        await server.execute('mutation($id: ID!) { updateDeployment(id: $id, input: {name: "churn-api-b"}) { id } }', {"id": dep})
        await server.execute('mutation($id: ID!) { deleteDeployment(id: $id) { deletedIds } }', {"id": dep})
        events = [e["nodeChanged"] for e in await sub.wait_for(4)]
    assert [e["kind"] for e in events] == ["UPDATED", "UPDATED", "UPDATED", "DELETED"]
    assert all(e["id"] == dep for e in events)
    assert events[0]["changedProperties"] == {"status": "running", "replicas": 2}
    assert events[0]["node"] == {"id": dep, "name": "churn-api", "status": "RUNNING", "replicas": 2}
    assert events[1]["changedProperties"] == {"replicas": 3}
    # Each event is resolved with loaders of its own: the node as it is at that event, not as an
    # earlier event of the same connection read it.
    assert events[2]["node"]["name"] == "churn-api-b" and events[1]["node"]["name"] == "churn-api"
    assert events[3]["node"] is None and events[3]["changedProperties"] is None
    assert [int(e["cursor"]) for e in events] == sorted(int(e["cursor"]) for e in events)
    assert sub.error is None


async def test_changes_resume_from_a_cursor_with_every_change_in_between_once_in_order(server):
    async with Subscribed(server, CHANGES) as sub:
        ada = await create(server, "Person", "", 'name: "Ada", email: "ada@example.com"')
        team = await create(server, "Team", "", 'name: "ML"')
        first = [e["changes"] for e in await sub.wait_for(2)]
    assert [e["operation"] for e in first] == ["createPerson", "createTeam"]
    assert first[0]["created"] == [{"id": ada, "label": "Person", "changedProperties": None}]
    assert first[0]["actor"] == "tester" and first[1]["seq"] == first[0]["seq"] + 1
    cursor = first[-1]["cursor"]

    # Disconnected: meanwhile five more changes, one of them linking.
    await server.execute('mutation($p: ID!, $t: ID!) { link(input: {relationship: IN_TEAM, sourceId: $p, targetId: $t}) { relationship } }',
                         {"p": ada, "t": team})
    for i in range(4):
        await create(server, "Team", "", f'name: "T{i}"')
    async with Subscribed(server, CHANGES, {"after": cursor}) as resumed:
        await create(server, "Team", "", 'name: "live"')  # and one after reconnecting
        got = [e["changes"] for e in await resumed.wait_for(6)]
        await asyncio.sleep(0.5)
        assert len(resumed.events) == 6  # none twice
    assert [e["seq"] for e in got] == list(range(int(cursor) + 1, int(cursor) + 7))
    assert got[0]["linked"] == [{"type": "IN_TEAM", "source": ada, "target": team}]
    assert [e["operation"] for e in got] == ["link"] + ["createTeam"] * 5

    # Only Person changes: the Team ones are skipped.
    async with Subscribed(server, CHANGES, {"after": "0", "labels": ["Person"]}) as people:
        only = [e["changes"] for e in await people.wait_for(1)]
        await asyncio.sleep(0.5)
    assert [e["created"][0]["id"] for e in only] == [ada] and len(people.events) == 1


async def test_read_the_cursor_then_the_state_then_subscribe_from_it_and_miss_nothing(server):
    cursor = (await server.execute("{ changeFeedCursor }"))["changeFeedCursor"]
    assert (await server.as_(Role.VIEWER, tenant=server.tenant + "-x").execute("{ changeFeedCursor }")) == {"changeFeedCursor": "0"}
    await create(server, "Team", "", 'name: "between the read and the subscription"')
    async with Subscribed(server, CHANGES, {"after": cursor}) as sub:
        got = [e["changes"]["operation"] for e in await sub.wait_for(1)]
    assert got == ["createTeam"]


async def test_changes_refuse_bad_cursors_and_labels_with_the_field_named(server):
    for variables, field in (({"after": "x1"}, "after"), ({"after": "99999"}, "after"),
                             ({"labels": ["Persn"]}, "labels")):
        with pytest.raises(TransportQueryError) as refused:
            await first_event(server, CHANGES, variables)
        error = refused.value.errors[0]
        assert error["extensions"]["code"] == "BAD_USER_INPUT" and error["extensions"]["field"] == field, error
    with pytest.raises(TransportQueryError) as refused:
        await first_event(server, "subscription($id: ID!) { nodeChanged(id: $id) { kind } }",
                          {"id": "VHJhaW5pbmdKb2I6bm9uZQ=="})  # TrainingJob:none
    assert refused.value.errors[0]["extensions"]["code"] == "NOT_FOUND"


async def test_lineage_changed_tells_new_lineage_and_runs_of_a_datasets_jobs(server):
    ns = "postgres://db"
    ingest = 'mutation($e: JSON!) { ingestLineageEvents(events: [$e]) { events } }'

    def event(job: str, inputs: list[str], outputs: list[str], columns: dict[str, list[str]] | None = None) -> dict:
        out = []
        for name in outputs:
            facets = {}
            if columns:
                facets = {"columnLineage": {
                    "_producer": "https://example.com/t",
                    "_schemaURL": "https://openlineage.io/spec/facets/1-2-0/ColumnLineageDatasetFacet.json#/$defs/ColumnLineageDatasetFacet",
                    "fields": {col: {"inputFields": [{"namespace": ns, "name": inputs[0], "field": src} for src in srcs]}
                               for col, srcs in columns.items()}}}
            out.append({"namespace": ns, "name": name, "facets": facets})
        return {**EVENT, "run": {"runId": str(uuid.uuid4())}, "job": {"namespace": "etl", "name": job},
                "inputs": [{"namespace": ns, "name": i} for i in inputs], "outputs": out}

    await server.execute(ingest, {"e": event("load", [], ["raw"])})
    found = await server.execute('{ datasets(first: 5) { edges { node { id name } } } }')
    raw = next(e["node"]["id"] for e in found["datasets"]["edges"] if e["node"]["name"] == "raw")
    doc = """subscription($d: ID!) { lineageChanged(datasetId: $d) {
        cursor dataset { name } linked { type source target } unlinked { type } runs { runId } } }"""
    async with Subscribed(server, doc, {"d": raw}) as sub:
        await server.execute(ingest, {"e": event("clean", ["raw"], ["clean"], {"id": ["id"]})})
        await server.execute(ingest, {"e": event("unrelated", ["elsewhere"], ["other"])})
        rerun = event("load", [], ["raw"])
        await server.execute(ingest, {"e": rerun})  # a new run of a job that writes raw
        events = [e["lineageChanged"] for e in await sub.wait_for(2)]
        await asyncio.sleep(0.5)
    assert len(sub.events) == 2, sub.events  # nothing from the unrelated job
    first, second = events
    assert first["dataset"] == {"name": "raw"}
    assert {e["type"] for e in first["linked"]} >= {"FEEDS", "READS"}
    assert any(e["type"] == "FEEDS" and e["source"] == raw for e in first["linked"])
    assert second["runs"] == [{"runId": rerun["run"]["runId"]}]
    assert {e["type"] for e in second["linked"]} <= {"WRITES"}  # the job's write, as re-reported: no new lineage


async def test_metric_recorded_tells_each_metric_of_the_project(server):
    project = await create(server, "Project", "", 'name: "Churn", problemClass: CLASSIFICATION, complexityScore: 3')
    other = await create(server, "Project", "", 'name: "Other", problemClass: CLASSIFICATION, complexityScore: 3')
    record = """mutation($p: ID!, $v: Float!) { recordProjectMetrics(projectId: $p, metrics: [
        {type: COMMITS_PER_WEEK, value: $v, at: "2026-12-01T00:00:00Z"}]) { id } }"""
    doc = "subscription($p: ID!) { metricRecorded(projectId: $p) { cursor metric { type value } } }"
    async with Subscribed(server, doc, {"p": project}) as sub:
        await server.execute(record, {"p": other, "v": 1.0})
        await server.execute(record, {"p": project, "v": 12.0})
        events = await sub.wait_for(1)
        await asyncio.sleep(0.5)
    assert [e["metricRecorded"]["metric"] for e in events] == [{"type": "COMMITS_PER_WEEK", "value": 12.0}]


async def test_a_subscriber_sees_only_its_tenants_changes(server):
    other = server.as_(Role.VIEWER, tenant=server.tenant + "-other")
    async with Subscribed(other, CHANGES) as theirs, Subscribed(server, CHANGES) as mine:
        await create(server, "Team", "", 'name: "Mine"')
        await mine.wait_for(1)
        await asyncio.sleep(0.5)
    assert theirs.events == [] and theirs.error is None


async def test_queries_on_one_socket_each_read_afresh(server):
    person = await create(server, "Person", "", 'name: "Ada", email: "ada@example.com"')
    query = gql('query($id: ID!) { node(id: $id) { ... on Person { name } } }')
    async with Client(transport=transport(server)) as session:
        assert (await session.execute(query, variable_values={"id": person}))["node"]["name"] == "Ada"
        await server.execute('mutation($id: ID!) { updatePerson(id: $id, input: {name: "Ada L."}) { id } }', {"id": person})
        assert (await session.execute(query, variable_values={"id": person}))["node"]["name"] == "Ada L."


async def _raw(server, protocol: str = "graphql-transport-ws", slow: bool = False) -> Any:
    """A connected, acknowledged socket. `slow`: one whose kernel buffer stays small (64 KB; a
    loopback socket's may grow to tens of megabytes), as a subscriber on a slow link has."""
    sock = None
    if slow:
        sock = socket.socket()
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 65536)  # before connecting: fixes the window
        host, port = server.url.removeprefix("http://").split(":")
        sock.connect((host, int(port)))
        sock.setblocking(False)
    ws = await connect(ws_url(server), subprotocols=[protocol], max_size=2**24, max_queue=1, sock=sock)
    await ws.send(json.dumps({"type": "connection_init", "payload": {"Authorization": f"Bearer {server.bearer}"}}))
    assert json.loads(await ws.recv())["type"] == "connection_ack"
    return ws


async def test_legacy_graphql_ws_protocol_delivers_subscriptions(server):
    ws = await _raw(server, "graphql-ws")
    try:
        await ws.send(json.dumps({"id": "1", "type": "start", "payload": {"query": "subscription { changes { operation } }"}}))
        await asyncio.sleep(0.3)
        await create(server, "Team", "", 'name: "Legacy"')
        message = json.loads(await asyncio.wait_for(ws.recv(), WAIT))
        assert message == {"type": "data", "id": "1", "payload": {"data": {"changes": {"operation": "createTeam"}}}}
    finally:
        await ws.close()


async def test_subscriptions_per_connection_and_connections_per_token_are_bounded(store, tenant, tmp_path):
    async with serve(store, tenant, tmp_path, ws_max_subscriptions=2, ws_max_connections_per_token=2) as server:
        ws = await _raw(server)
        try:
            for i in ("1", "2", "3"):
                await ws.send(json.dumps({"id": i, "type": "subscribe", "payload": {"query": "subscription { changes { seq } }"}}))
            # Each subscription starts in a task of its own: which one comes third is not fixed.
            message = json.loads(await asyncio.wait_for(ws.recv(), WAIT))
            assert message["type"] == "next" and message["id"] in ("1", "2", "3"), message
            assert message["payload"]["errors"][0]["extensions"]["code"] == "LIMIT_EXCEEDED"
            await create(server, "Team", "", 'name: "seen by the two others"')
            got = []
            while len(got) < 2:
                m = json.loads(await asyncio.wait_for(ws.recv(), WAIT))
                if m["type"] == "next":  # (the refused one's "complete" may come first)
                    got.append(m["id"])
            assert set(got) == {"1", "2", "3"} - {message["id"]}
            second = await _raw(server)
            with pytest.raises(Exception):  # a third connection of the token is refused at init
                await _raw(server)
            await second.close()
            (await _raw(server)).close  # a slot freed: accepted again
        finally:
            await ws.close()


async def test_a_subscriber_too_far_behind_is_told_with_its_cursor_and_resumes_from_it(store, tenant, tmp_path):
    N = 60
    async with serve(store, tenant, tmp_path, subscription_queue=5) as server:
        ws = await _raw(server, slow=True)
        try:
            await ws.send(json.dumps({"id": "1", "type": "subscribe", "payload": {
                "query": "subscription { changes { seq created { changedProperties } } }"}}))
            await asyncio.sleep(0.3)
            # The socket is not read: each event carries 512 KB, so the server's sends soon wait
            # (once the kernel's socket buffers are full), and the subscription's queue fills behind them.
            job = await create(server, "Job", "", 'namespace: "slow", name: "writer"')
            for i in range(N):  # random text: WebSocket compression cannot shrink it
                await server.execute('mutation($j: ID!, $r: String!, $f: JSON!) { createRun(input: {jobId: $j, runId: $r, facets: $f}) { id } }',
                                     {"j": job, "r": str(uuid.uuid4()), "f": {"n": i, "blob": secrets.token_urlsafe(384 * 1024)}})
            seqs, error = [], None
            while error is None:
                try:
                    message = json.loads(await asyncio.wait_for(ws.recv(), WAIT))
                except TimeoutError:
                    raise AssertionError(f"no error after {len(seqs)} events: {seqs[:3]}..{seqs[-3:]}") from None
                if message["type"] == "next" and message["payload"].get("data"):
                    seqs.append(message["payload"]["data"]["changes"]["seq"])
                elif message["type"] == "next":
                    error = message["payload"]["errors"][0]
                else:
                    raise AssertionError(message)
        finally:
            await ws.close()
        assert error["extensions"]["code"] == "SUBSCRIBER_TOO_SLOW", error
        assert int(error["extensions"]["cursor"]) == seqs[-1] and seqs == list(range(seqs[0], seqs[-1] + 1))
        assert len(seqs) < N
        async with Subscribed(server, "subscription($a: String) { changes(after: $a) { seq } }",
                              {"a": error["extensions"]["cursor"]}) as resumed:
            rest = [e["changes"]["seq"] for e in await resumed.wait_for(N + 1 - len(seqs))]
        assert seqs + rest == list(range(seqs[0], seqs[0] + N + 1))  # the job, then its N runs
