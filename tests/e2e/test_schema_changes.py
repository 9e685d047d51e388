"""A producer drops a column (issue #23): over GraphQL, a `schemaChanged` subscriber gets the
diff with what it hits and the people to tell, `schemaChanges` lists it, the dropped column says
which version removed it, and the old version is still readable."""

from __future__ import annotations

import asyncio

from tests.contract.test_schema_versions import DOWN, V1, V2
from tests.e2e.test_subscriptions import Subscribed

INGEST = "mutation($e: [JSON!]!) { ingestLineageEvents(events: $e) { events } }"
CHANGED = """subscription($d: ID!) { schemaChanged(datasetId: $d) {
    version run dataset { name } columns { path type }
    diff { added { path } removed { path type } typeChanged { path from to } renamed { from to } }
    impact { fields { name distance } datasets { name } people { name } totals { fields datasets people } truncated } } }"""


async def test_a_dropped_column_reaches_a_schema_changed_subscriber_with_its_impact(server):
    await server.execute(INGEST, {"e": [V1]})
    await server.execute(INGEST, {"e": [DOWN]})
    person = (await server.execute('mutation { createPerson(input: {name: "Ada", email: "ada@example.com"}) { id } }'))["createPerson"]["id"]
    datasets = {e["node"]["name"]: e["node"] for e in (await server.execute(
        "{ datasets(first: 10) { edges { node { id name fields(first: 10) { edges { node { id path } } } } } } }"))["datasets"]["edges"]}
    report = datasets["report"]
    await server.execute('mutation($p: ID!, $d: ID!) { link(input: {relationship: OWNS, sourceId: $p, targetId: $d}) { relationship } }',
                         {"p": person, "d": report["id"]})
    orders = datasets["orders"]["id"]
    async with Subscribed(server, CHANGED, {"d": orders}) as sub:
        await server.execute(INGEST, {"e": [V2]})
        [event] = [e["schemaChanged"] for e in await sub.wait_for(1)]
        await asyncio.sleep(0.3)
    assert event["version"] == 2 and event["dataset"] == {"name": "orders"}
    assert event["diff"] == {"added": [], "removed": [{"path": "discount", "type": "int"}], "typeChanged": [], "renamed": []}
    assert [c["path"] for c in event["columns"]] == ["id", "amount"]
    impact = event["impact"]
    assert impact["fields"] == [{"name": "total_discount", "distance": 1}]
    assert {d["name"] for d in impact["datasets"]} == {"report"} and impact["people"] == [{"name": "Ada"}]
    assert impact["totals"] == {"fields": 1, "datasets": 1, "people": 1} and impact["truncated"] is False

    got = await server.execute("""query($d: ID!) { schemaChanges(datasetId: $d) { version diff { removed { path } } }
        node(id: $d) { ... on Dataset { schemaVersion schema(version: 1) { columns { path } }
                                       fields(first: 10) { edges { node { path removedIn } } } } } }""", {"d": orders})
    assert got["schemaChanges"] == [{"version": 2, "diff": {"removed": [{"path": "discount"}]}}]
    ds = got["node"]
    assert ds["schemaVersion"] == 2 and [c["path"] for c in ds["schema"]["columns"]] == ["id", "amount", "discount"]
    assert {e["node"]["path"]: e["node"]["removedIn"] for e in ds["fields"]["edges"]} == {"id": None, "amount": None, "discount": 2}
