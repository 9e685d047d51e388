"""Column-level lineage end to end: the real openlineage-python client (HTTP transport) and
openlineage-sql posting to a running server, its file transport's files backfilled with
`maestro-graph ingest`, then lineage and impact analysis over GraphQL. Runs on every backend."""

from __future__ import annotations

import asyncio
import copy
import json
import os
import subprocess
import sys
import uuid
from typing import Any
from pathlib import Path

import httpx
import pytest
from openlineage.client import OpenLineageClient
from openlineage.client.event_v2 import InputDataset, Job, OutputDataset, Run, RunEvent, RunState
from openlineage.client.facet_v2 import column_lineage_dataset as cl, schema_dataset as sd
from openlineage.client.transport.file import FileConfig, FileTransport
from openlineage.client.transport.http import ApiKeyTokenProvider, HttpConfig, HttpTransport
from openlineage.client.serde import Serde
from openlineage_sql import parse as parse_sql

from maestro_graph.auth.principal import system
from maestro_graph.domain.graph import ChangeSet, Label, Node, NodeQuery
from maestro_graph.domain.clock import now
from maestro_graph.domain.ids import identity_id
from maestro_graph.domain.keys import natural_key
from maestro_graph.services.lineage import LineageService
from resolvers.relay import from_global_id
from tests.e2e.conftest import serve

# Impact analysis answers from the store walk ("off") or the in-memory topology ("inline": built
# before answering); the tests marked with BOTH_WAYS run both ways and must see the same answers.
BOTH_WAYS = pytest.mark.parametrize("server", ["off", "inline"], indirect=True)


@pytest.fixture
async def server(request, store, tenant, tmp_path):
    async with serve(store, tenant, tmp_path, lineage_index=getattr(request, "param", "background")) as s:
        yield s


NS = "postgres://prod:5432"
PRODUCER = "https://github.com/maestro-graph/tests"


def schema(*cols: str) -> sd.SchemaDatasetFacet:
    return sd.SchemaDatasetFacet(fields=[sd.SchemaDatasetFacetFields(name=c, type="string") for c in cols])


def lineage_facet(mapping: dict[str, list[tuple[str, str, str, str]]]) -> cl.ColumnLineageDatasetFacet:
    """{output col: [(input dataset, input col, type, subtype)]} -> the facet, newest shape."""
    return cl.ColumnLineageDatasetFacet(fields={
        out: cl.Fields(inputFields=[cl.InputField(namespace=NS, name=ds, field=col,
                                                  transformations=[cl.Transformation(type=t, subtype=st)])
                                    for ds, col, t, st in ins]) for out, ins in mapping.items()})


def run_event(job: str, inputs: list[str], output: str, out_cols: list[str], mapping, state=RunState.COMPLETE,
              run_id: str | None = None, time: str = "2026-11-01T10:00:00Z") -> RunEvent:
    return RunEvent(eventType=state, eventTime=time, producer=PRODUCER,
                    run=Run(runId=run_id or str(uuid.uuid4())), job=Job(namespace="airflow", name=job),
                    inputs=[InputDataset(namespace=NS, name=i) for i in inputs],
                    outputs=[OutputDataset(namespace=NS, name=output,
                                           facets={"schema": schema(*out_cols), "columnLineage": lineage_facet(mapping)})])


async def emit(server, *events) -> None:
    config = HttpConfig(url=server.url, timeout=30, auth=ApiKeyTokenProvider({"apiKey": server.bearer}))
    client = OpenLineageClient(transport=HttpTransport(config))
    for ev in events:  # the client is synchronous: keep the server's event loop free
        await asyncio.to_thread(client.emit, ev)


PIPELINE = [  # orders.amount -> order_facts.amount_usd -> customer_facts.revenue -> churn_features.revenue
    ("load_order_facts", ["shop.orders", "shop.fx"], "mart.order_facts", ["order_id", "amount_usd"],
     {"order_id": [("shop.orders", "id", "DIRECT", "IDENTITY")],
      "amount_usd": [("shop.orders", "amount", "DIRECT", "TRANSFORMATION"), ("shop.fx", "rate", "DIRECT", "TRANSFORMATION")]}),
    ("load_customer_facts", ["mart.order_facts"], "mart.customer_facts", ["revenue", "orders"],
     {"revenue": [("mart.order_facts", "amount_usd", "DIRECT", "AGGREGATION")],
      "orders": [("mart.order_facts", "order_id", "DIRECT", "AGGREGATION")]}),
    ("build_churn_features", ["mart.customer_facts"], "ml.churn_features", ["revenue"],
     {"revenue": [("mart.customer_facts", "revenue", "DIRECT", "IDENTITY")]}),
]


async def ids_by_name(server) -> dict[str, str]:
    """Global ids of datasets (by name) and fields (by dataset.name/field path)."""
    got = await server.execute("{ datasets(first: 100) { edges { node { id name fields(first: 100) { edges { node { id path } } } } } } }")
    out = {}
    for e in got["datasets"]["edges"]:
        out[e["node"]["name"]] = e["node"]["id"]
        for f in e["node"]["fields"]["edges"]:
            out[e["node"]["name"] + "/" + f["node"]["path"]] = f["node"]["id"]
    return out


async def counts(server) -> dict[str, int]:
    got = await server.execute("{ nodeCounts { label count } }")
    return {c["label"]: c["count"] for c in got["nodeCounts"]}


async def test_openlineage_client_events_become_column_lineage(server):
    await emit(server, *(run_event(*p) for p in PIPELINE))
    ids = await ids_by_name(server)
    assert {"shop.orders", "shop.fx", "mart.order_facts", "mart.customer_facts", "ml.churn_features"} <= set(ids)
    q = """query($id: ID!, $d: Int!) { lineage(id: $id, direction: DOWNSTREAM, depth: $d, granularity: FIELD) {
             truncated nodes { distance node { id ... on Field { path dataset { name } } } }
             edges { sourceId targetId relationship transformationType transformationSubtype job } } }"""
    got = (await server.execute(q, {"id": ids["shop.orders/amount"], "d": 10}))["lineage"]
    reach = [(n["distance"], n["node"]["dataset"]["name"] + "/" + n["node"]["path"]) for n in got["nodes"]]
    assert reach == [(0, "shop.orders/amount"), (1, "mart.order_facts/amount_usd"),
                     (2, "mart.customer_facts/revenue"), (3, "ml.churn_features/revenue")]
    first = next(e for e in got["edges"] if e["sourceId"] == ids["shop.orders/amount"])
    assert first == {"sourceId": ids["shop.orders/amount"], "targetId": ids["mart.order_facts/amount_usd"],
                     "relationship": "DERIVES", "transformationType": "DIRECT", "transformationSubtype": "TRANSFORMATION",
                     "job": "airflow/load_order_facts"}
    two = (await server.execute(q, {"id": ids["shop.orders/amount"], "d": 2}))["lineage"]
    assert [n["distance"] for n in two["nodes"]] == [0, 1, 2]
    up = await server.execute("""query($id: ID!) { lineage(id: $id, direction: UPSTREAM, depth: 5, granularity: DATASET) {
             nodes { distance node { ... on Dataset { name } } } } }""", {"id": ids["ml.churn_features"]})
    assert [(n["distance"], n["node"]["name"]) for n in up["lineage"]["nodes"]] == [
        (-3, "shop.fx"), (-3, "shop.orders"), (-2, "mart.order_facts"), (-1, "mart.customer_facts"), (0, "ml.churn_features")]


async def test_the_same_events_again_change_nothing(server):
    events = [run_event(*p, run_id=str(uuid.uuid5(uuid.NAMESPACE_URL, p[0]))) for p in PIPELINE]
    await emit(server, *events)
    before = await counts(server)
    snapshot = await server.execute("{ datasets(first: 100) { edges { node { id updatedAt fields(first: 100) { edges { node { id updatedAt } } } } } } }")
    await emit(server, *copy.deepcopy(events))
    assert await counts(server) == before
    assert await server.execute("{ datasets(first: 100) { edges { node { id updatedAt fields(first: 100) { edges { node { id updatedAt } } } } } } }") == snapshot


async def test_run_state_is_the_same_whatever_order_events_arrive_in(server):
    for order in ((RunState.START, RunState.COMPLETE), (RunState.COMPLETE, RunState.START)):
        run_id = str(uuid.uuid4())
        times = {RunState.START: "2026-11-01T10:00:00Z", RunState.COMPLETE: "2026-11-01T10:05:00Z"}
        await emit(server, *(run_event(*PIPELINE[0], state=s, run_id=run_id, time=times[s]) for s in order))
        got = await server.execute("""{ jobs(filter: {text: "load_order_facts"}) { edges { node { runs(first: 100) { edges { node {
                 runId state startedAt endedAt } } } } } } }""")
        runs = {r["node"]["runId"]: r["node"] for r in got["jobs"]["edges"][0]["node"]["runs"]["edges"]}
        assert runs[run_id]["state"] == "COMPLETE", order
        assert runs[run_id]["startedAt"].startswith("2026-11-01T10:00:00") and runs[run_id]["endedAt"].startswith("2026-11-01T10:05:00")


async def test_invalid_events_are_refused_naming_the_field_and_store_nothing(server):
    good = run_event(*PIPELINE[0])
    from openlineage.client.serde import Serde
    body = Serde.to_dict(good)
    bad = copy.deepcopy(body)
    bad["run"]["runId"] = "not-a-uuid"
    worse = copy.deepcopy(body)
    del worse["job"]["name"]
    async with httpx.AsyncClient(base_url=server.url, headers=server.headers) as client:
        r = await client.post("/api/v1/lineage", json=bad)
        assert r.status_code == 400 and r.json()["error"]["field"] == "event.run.runId", r.json()
        r = await client.post("/api/v1/lineage", json=[body, worse])  # one bad event refuses the batch
        assert r.status_code == 400 and r.json()["error"]["field"] == "events[1].job.name" and "required" in r.json()["error"]["message"]
        r = await client.post("/api/v1/lineage", content=b"{not json", headers={"content-type": "application/json"})
        assert r.status_code == 400 and r.json()["error"]["code"] == "BAD_USER_INPUT"
    assert await counts(server) == {}
    err = await server.error("mutation($e: [JSON!]!) { ingestLineageEvents(events: $e) { events } }", {"e": [body, bad]})
    assert err["extensions"]["code"] == "BAD_USER_INPUT" and err["extensions"]["field"] == "events[1].run.runId"
    assert await counts(server) == {}
    ok = await server.execute("mutation($e: [JSON!]!) { ingestLineageEvents(events: $e) { events nodes relationships } }", {"e": [body]})
    assert ok["ingestLineageEvents"]["events"] == 1 and ok["ingestLineageEvents"]["relationships"] > 0


async def test_older_facet_shape_dataset_wide_inputs_and_dataset_events(server):
    ev = {"eventType": "COMPLETE", "eventTime": "2026-11-01T10:00:00Z", "producer": PRODUCER,
          "schemaURL": "https://openlineage.io/spec/2-0-2/OpenLineage.json#/$defs/RunEvent",
          "run": {"runId": str(uuid.uuid4())}, "job": {"namespace": "airflow", "name": "filter_orders"},
          "inputs": [{"namespace": NS, "name": "shop.orders"}],
          "outputs": [{"namespace": NS, "name": "mart.paid_orders", "facets": {"columnLineage": {
              "fields": {"amount": {"inputFields": [{"namespace": NS, "name": "shop.orders", "field": "amount"}],
                                    "transformationType": "IDENTITY", "transformationDescription": "copied"}},
              "dataset": [{"namespace": NS, "name": "shop.orders", "field": "status",
                           "transformations": [{"type": "INDIRECT", "subtype": "FILTER"}]}]}}}]}
    dataset_event = {"eventTime": "2026-11-01T11:00:00Z", "producer": PRODUCER,
                     "schemaURL": "https://openlineage.io/spec/2-0-2/OpenLineage.json#/$defs/DatasetEvent",
                     "dataset": {"namespace": NS, "name": "shop.orders", "facets": {
                         "documentation": {"description": "All orders"},
                         "schema": {"fields": [{"name": "amount", "type": "decimal"}, {"name": "status", "type": "string"},
                                               {"name": "address", "type": "struct", "fields": [{"name": "city", "type": "string"}]}]}}}}
    async with httpx.AsyncClient(base_url=server.url, headers=server.headers) as client:
        assert (await client.post("/api/v1/lineage", json=[ev, dataset_event])).status_code == 201
    ids = await ids_by_name(server)
    assert "shop.orders/address.city" in ids
    got = await server.execute("""query($id: ID!) { node(id: $id) { ... on Field { upstream { edges {
             type subtype description node { path } } } } } }""", {"id": ids["mart.paid_orders/amount"]})
    ups = {e["node"]["path"]: (e["type"], e["subtype"], e["description"]) for e in got["node"]["upstream"]["edges"]}
    assert ups == {"amount": ("DIRECT", "IDENTITY", "copied"), "status": ("INDIRECT", "FILTER", None)}
    doc = await server.execute("query($id: ID!) { node(id: $id) { ... on Dataset { description } } }", {"id": ids["shop.orders"]})
    assert doc["node"]["description"] == "All orders"


SQL = [  # (job, statement): joins, aggregates, a CTE, SELECT * and renames
    ("orders_enriched", "INSERT INTO mart.orders_enriched SELECT o.id AS order_id, o.amount AS amount, c.country AS country "
                        "FROM shop.orders o JOIN shop.customers c ON o.customer_id = c.id"),
    ("revenue_by_country", "INSERT INTO mart.revenue_by_country WITH x AS (SELECT country, amount FROM mart.orders_enriched) "
                           "SELECT country, SUM(amount) AS revenue FROM x GROUP BY country"),
    ("revenue_copy", "INSERT INTO mart.revenue_copy SELECT * FROM mart.revenue_by_country"),
]


def sql_event(job: str, statement: str) -> RunEvent:
    meta = parse_sql([statement])
    fields: dict[str, list[cl.InputField]] = {}
    for col in meta.column_lineage:
        fields[col.descendant.name] = [cl.InputField(namespace=NS, name=str(src.origin), field=src.name) for src in col.lineage]
    out = str(meta.out_tables[0])
    return RunEvent(eventType=RunState.COMPLETE, eventTime="2026-11-01T12:00:00Z", producer=PRODUCER,
                    run=Run(runId=str(uuid.uuid4())), job=Job(namespace="dbt", name=job),
                    inputs=[InputDataset(namespace=NS, name=str(t)) for t in meta.in_tables],
                    outputs=[OutputDataset(namespace=NS, name=out, facets={"columnLineage": cl.ColumnLineageDatasetFacet(
                        fields={k: cl.Fields(inputFields=v) for k, v in fields.items()})})])


async def test_column_lineage_from_real_sql_through_openlineage_sql(server):
    await emit(server, *(sql_event(job, stmt) for job, stmt in SQL))
    ids = await ids_by_name(server)
    got = await server.execute("""query($id: ID!) { lineage(id: $id, direction: DOWNSTREAM, depth: 10) {
             nodes { distance node { ... on Field { path dataset { name } } } } } }""", {"id": ids["shop.orders/amount"]})
    reach = {(n["node"]["dataset"]["name"], n["node"]["path"]): n["distance"] for n in got["lineage"]["nodes"]}
    assert reach[("mart.orders_enriched", "amount")] == 1          # join + rename
    assert reach[("mart.revenue_by_country", "revenue")] == 2      # CTE + aggregate
    assert ("shop.customers", "country") not in reach
    up = await server.execute("""query($id: ID!) { lineage(id: $id, direction: UPSTREAM, depth: 10) {
             nodes { node { ... on Field { path dataset { name } } } } } }""", {"id": ids["mart.orders_enriched/country"]})
    assert {(n["node"]["dataset"]["name"], n["node"]["path"]) for n in up["lineage"]["nodes"]} == {
        ("mart.orders_enriched", "country"), ("shop.customers", "country")}


@BOTH_WAYS
async def test_impact_analysis_reaches_models_deployments_projects_and_people(server):
    await emit(server, *(run_event(*p) for p in PIPELINE))
    ids = await ids_by_name(server)
    ada = (await server.execute('mutation { createPerson(input: {name: "Ada", email: "ada@example.com"}) { id } }'))["createPerson"]["id"]
    bob = (await server.execute('mutation { createPerson(input: {name: "Bob", email: "bob@example.com"}) { id } }'))["createPerson"]["id"]
    proj = (await server.execute("""mutation($m: ID!) { createProject(input: {name: "Churn", problemClass: CLASSIFICATION,
             complexityScore: 5, members: [{personId: $m, role: "lead"}]}) { id } }""", {"m": ada}))["createProject"]["id"]
    model = (await server.execute('mutation { createModel(input: {name: "churn-model"}) { id } }'))["createModel"]["id"]
    mv = (await server.execute('mutation($m: ID!) { createModelVersion(input: {modelId: $m, version: "1.0.0"}) { id } }', {"m": model}))["createModelVersion"]["id"]
    dep = (await server.execute('mutation { createDeployment(input: {name: "churn-api", environment: "prod"}) { id } }'))["createDeployment"]["id"]
    await server.execute("mutation($mv: ID!, $f: ID!) { linkModelVersionInputs(modelVersionId: $mv, featureIds: [$f]) { id } }",
                         {"mv": mv, "f": ids["ml.churn_features/revenue"]})
    await server.execute("mutation($d: ID!, $mv: ID!) { deployModelVersion(deploymentId: $d, modelVersionId: $mv) { id } }", {"d": dep, "mv": mv})
    link = "mutation($r: Relationship!, $s: ID!, $t: ID!) { link(input: {relationship: $r, sourceId: $s, targetId: $t}) { relationship } }"
    await server.execute(link, {"r": "OWNS", "s": proj, "t": model})
    await server.execute(link, {"r": "OWNS", "s": bob, "t": ids["mart.customer_facts"]})

    q = """query($id: ID!, $d: Int, $l: Int!) { impactAnalysis(id: $id, depth: $d, limit: $l) { truncated
             totals { fields datasets modelVersions models deployments projects people }
             fields { distance path node { path dataset { name } } }
             datasets { distance node { name } }
             modelVersions { distance node { version } } models { node { name } } deployments { node { name } }
             projects { node { name } } people { distance node { name } } } }"""
    r = (await server.execute(q, {"id": ids["shop.orders/amount"], "d": None, "l": 5000}))["impactAnalysis"]
    assert not r["truncated"]
    assert [(f["distance"], f["node"]["dataset"]["name"] + "/" + f["node"]["path"]) for f in r["fields"]] == [
        (1, "mart.order_facts/amount_usd"), (2, "mart.customer_facts/revenue"), (3, "ml.churn_features/revenue")]
    assert r["fields"][-1]["path"] == [ids["shop.orders/amount"], ids["mart.order_facts/amount_usd"],
                                       ids["mart.customer_facts/revenue"], ids["ml.churn_features/revenue"]]
    assert {d["node"]["name"] for d in r["datasets"]} >= {"mart.order_facts", "mart.customer_facts", "ml.churn_features"}
    assert [m["node"]["version"] for m in r["modelVersions"]] == ["1.0.0"] and r["modelVersions"][0]["distance"] == 4
    assert [m["node"]["name"] for m in r["models"]] == ["churn-model"]
    assert [d["node"]["name"] for d in r["deployments"]] == ["churn-api"]
    assert [p["node"]["name"] for p in r["projects"]] == ["Churn"]
    assert {p["node"]["name"] for p in r["people"]} == {"Ada", "Bob"}  # Ada leads the owning project; Bob owns a dataset
    assert r["totals"]["fields"] == 3 and r["totals"]["people"] == 2 and r["totals"]["deployments"] == 1
    shallow = (await server.execute(q, {"id": ids["shop.orders/amount"], "d": 1, "l": 5000}))["impactAnalysis"]
    assert [f["distance"] for f in shallow["fields"]] == [1] and shallow["modelVersions"] == []
    capped = (await server.execute(q, {"id": ids["shop.orders/amount"], "d": None, "l": 2}))["impactAnalysis"]
    assert capped["truncated"] is True

    # Asked only for their ids, the reached nodes are answered from the lineage index, not read:
    # the same ids as when they are read, and no node read at all.
    def ask(shown: str) -> Any:
        return server.execute(f"query($id: ID!) {{ impactAnalysis(id: $id) {{ {shown} }} }}", {"id": ids["shop.orders/amount"]})
    read = (await ask("fields { node { id path } } datasets { node { id name } } people { node { id name } } "
                      "modelVersions { node { id version } } deployments { node { id name } }"))["impactAnalysis"]
    server.store.calls.clear()
    await ask("fields { distance } datasets { distance }")
    walk_alone = list(server.store.calls)  # the walk's own calls (the store's, with the index off)
    server.store.calls.clear()
    bare = (await ask("fields { node { id } } datasets { node { ... on Dataset { id __typename } } } people { node { id } } "
                      "modelVersions { node { __typename id } } deployments { node { id } }"))["impactAnalysis"]
    assert server.store.calls == walk_alone, server.store.calls
    for kind in ("fields", "datasets", "people", "modelVersions", "deployments"):
        assert [i["node"]["id"] for i in bare[kind]] == [i["node"]["id"] for i in read[kind]] != []
    assert {i["node"]["__typename"] for i in bare["datasets"]} == {"Dataset"}
    server.store.calls.clear()
    await ask("fields { node { id ... on Field { path } } }")  # anything more than the id is read
    if "walk" not in walk_alone:  # from the index (walking the store reads the nodes on the way)
        assert server.store.calls.count("get_nodes") == walk_alone.count("get_nodes") + 1, server.store.calls


def opaque_event(job: str, inputs: list[str], output: str, out_cols: list[str]) -> RunEvent:
    """A job that reports its schema but no column lineage (many producers do)."""
    return RunEvent(eventType=RunState.COMPLETE, eventTime="2026-11-01T10:00:00Z", producer=PRODUCER,
                    run=Run(runId=str(uuid.uuid4())), job=Job(namespace="airflow", name=job),
                    inputs=[InputDataset(namespace=NS, name=i) for i in inputs],
                    outputs=[OutputDataset(namespace=NS, name=output, facets={"schema": schema(*out_cols)})])


@BOTH_WAYS
async def test_impact_from_a_column_crosses_jobs_without_column_lineage_at_dataset_level(server):
    await emit(server, run_event(*PIPELINE[0]),
               opaque_event("export_report", ["mart.order_facts"], "bi.report", ["total"]),
               opaque_event("cache_dashboard", ["bi.report"], "bi.dashboard_cache", ["blob"]),
               # column lineage from order_facts that does not involve amount_usd: not reached
               run_event("count_orders", ["mart.order_facts"], "mart.order_counts", ["n"],
                         {"n": [("mart.order_facts", "order_id", "INDIRECT", "AGGREGATION")]}))
    ids = await ids_by_name(server)
    q = """query($id: ID!, $d: Int) { impactAnalysis(id: $id, depth: $d) { datasets { distance path node { name } } fields { node { path } } } }"""
    r = (await server.execute(q, {"id": ids["shop.orders/amount"], "d": None}))["impactAnalysis"]
    reached = {d["node"]["name"]: d["distance"] for d in r["datasets"]}
    assert reached == {"shop.orders": 0, "mart.order_facts": 1, "bi.report": 2, "bi.dashboard_cache": 3}
    path = next(d["path"] for d in r["datasets"] if d["node"]["name"] == "bi.dashboard_cache")
    assert path == [ids["shop.orders/amount"], ids["mart.order_facts/amount_usd"], ids["mart.order_facts"],
                    ids["bi.report"], ids["bi.dashboard_cache"]]
    assert [f["node"]["path"] for f in r["fields"]] == ["amount_usd"]  # nothing column-level past the opaque job
    shallow = (await server.execute(q, {"id": ids["shop.orders/amount"], "d": 2}))["impactAnalysis"]
    assert {d["node"]["name"] for d in shallow["datasets"]} == {"shop.orders", "mart.order_facts", "bi.report"}
    # column lineage that names the column stays precise: the id column reaches order_counts, not the opaque jobs' outputs only
    by_id = (await server.execute(q, {"id": ids["shop.orders/id"], "d": None}))["impactAnalysis"]
    assert {d["node"]["name"] for d in by_id["datasets"]} == {
        "shop.orders", "mart.order_facts", "mart.order_counts", "bi.report", "bi.dashboard_cache"}


@BOTH_WAYS
async def test_past_opaque_jobs_a_dataset_gets_its_smallest_total_distance(server):
    # x reaches m1..m4 column by column (distances 1-4). Opaque jobs leave m1 (into o1, distance 2)
    # and m4 (into p1, distance 5). t is 2 hops past o1 (total 4) but 1 hop past p1 (total 6).
    chain = [run_event(f"copy{i}", [src], dst, ["x"], {"x": [(src, "x", "DIRECT", "IDENTITY")]})
             for i, (src, dst) in enumerate(zip(["s.a", "t.m1", "t.m2", "t.m3"], ["t.m1", "t.m2", "t.m3", "t.m4"]))]
    opaque = [opaque_event(job, [src], dst, ["y"]) for job, src, dst in (
        ("o1", "t.m1", "t.o1"), ("o2", "t.o1", "t.o2"), ("o3", "t.o2", "t.t"), ("p1", "t.m4", "t.p1"), ("p2", "t.p1", "t.t"))]
    await emit(server, *chain, *opaque)
    ids = await ids_by_name(server)
    q = """query($id: ID!, $d: Int) { impactAnalysis(id: $id, depth: $d) { datasets { distance path node { name } } } }"""
    for depth, expected in ((None, 4), (4, 4), (3, None)):
        r = (await server.execute(q, {"id": ids["s.a/x"], "d": depth}))["impactAnalysis"]
        reached = {d["node"]["name"]: d for d in r["datasets"]}
        assert (reached["t.t"]["distance"] if "t.t" in reached else None) == expected, depth
        if expected is not None:
            assert reached["t.t"]["path"][-4:] == [ids["t.m1"], ids["t.o1"], ids["t.o2"], ids["t.t"]]


@BOTH_WAYS
async def test_cycles_never_loop_and_answers_are_stable(server):
    cyc = [("a_to_b", ["t.a"], "t.b", ["x"], {"x": [("t.a", "x", "DIRECT", "IDENTITY")]}),
           ("b_to_c", ["t.b"], "t.c", ["x"], {"x": [("t.b", "x", "DIRECT", "IDENTITY")]}),
           ("c_to_a", ["t.c"], "t.a", ["x"], {"x": [("t.c", "x", "DIRECT", "IDENTITY")]})]
    await emit(server, *(run_event(*c) for c in cyc))
    ids = await ids_by_name(server)
    q = """query($id: ID!) { lineage(id: $id, direction: BOTH, depth: 20) { nodes { distance node { id } } edges { sourceId targetId } } }"""
    first = await server.execute(q, {"id": ids["t.a/x"]})
    assert len(first["lineage"]["nodes"]) == 3 and len(first["lineage"]["edges"]) == 3
    assert await server.execute(q, {"id": ids["t.a/x"]}) == first
    r = await server.execute("query($id: ID!) { impactAnalysis(id: $id) { totals { fields } } }", {"id": ids["t.a/x"]})
    assert r["impactAnalysis"]["totals"]["fields"] == 2


async def test_depth_over_the_limit_is_refused_before_any_work(server):
    await emit(server, run_event(*PIPELINE[0]))
    ids = await ids_by_name(server)
    server.store.calls.clear()
    err = await server.error("query($id: ID!) { lineage(id: $id, depth: 21) { truncated } }", {"id": ids["shop.orders/amount"]})
    assert err["extensions"]["code"] == "LIMIT_EXCEEDED" and err["extensions"]["field"] == "depth"
    err = await server.error("query($id: ID!) { impactAnalysis(id: $id, depth: 1001) { truncated } }", {"id": ids["shop.orders/amount"]})
    assert err["extensions"]["code"] == "LIMIT_EXCEEDED"
    assert server.store.calls == []
    err = await server.error("query($id: ID!) { lineage(id: $id) { truncated } }", {"id": ids.get("x") or "UGVyc29uOng="})
    assert err["extensions"]["code"] == "NOT_FOUND"


async def test_a_current_topology_answers_with_one_store_read_and_follows_every_change(store, tenant, tmp_path):
    async with serve(store, tenant, tmp_path, lineage_index="background") as server:
        await emit(server, *(run_event(*p) for p in PIPELINE[:2]))
        ids = await ids_by_name(server)
        q = "query($id: ID!) { impactAnalysis(id: $id) { fields { distance node { path } } } }"
        first = await server.execute(q, {"id": ids["shop.orders/amount"]})  # from the store; a build starts
        topology = server.services.lineage.topology
        await topology.ensure(tenant)
        server.store.calls.clear()
        assert await server.execute(q, {"id": ids["shop.orders/amount"]}) == first
        assert server.store.calls == ["topology_version", "get_nodes"]  # the version, then the nodes shown
        await emit(server, *(run_event(*p) for p in PIPELINE[:2]))  # new runs, same lineage: still current
        server.store.calls.clear()
        await server.execute(q, {"id": ids["shop.orders/amount"]})
        assert "expand" not in server.store.calls and "walk" not in server.store.calls
        builds = topology.builds
        await emit(server, run_event(*PIPELINE[2]))  # a new column downstream: the answer has it at once...
        server.store.calls.clear()
        got = await server.execute(q, {"id": ids["shop.orders/amount"]})
        assert [f["node"]["path"] for f in got["impactAnalysis"]["fields"]] == ["amount_usd", "revenue", "revenue"]
        # ...from the index, which took the change in rather than being rebuilt
        assert "walk" not in server.store.calls and "expand" not in server.store.calls
        assert topology.builds == builds and topology.take_ins >= 1


def raw_id(global_id: str) -> str:
    return from_global_id(global_id)[1]


async def test_new_nodes_get_time_ordered_ids_and_nodes_stored_before_keep_theirs(server):
    # A dataset stored the way every node was before ids were minted: its id derived from its key.
    before = {"namespace": NS, "name": "shop.orders"}
    legacy = identity_id(server.tenant, Label.DATASET, natural_key(Label.DATASET, before))
    stamp = now()
    await server.store.apply(server.tenant, ChangeSet(create=[
        Node(legacy, Label.DATASET, natural_key(Label.DATASET, before), before, stamp, stamp)]))
    await emit(server, run_event(*PIPELINE[0]))
    ids = {name: raw_id(i) for name, i in (await ids_by_name(server)).items()}
    assert ids["shop.orders"] == legacy  # found by its key, not made again
    new = [ids[n] for n in ("shop.fx", "mart.order_facts", "mart.order_facts/order_id", "mart.order_facts/amount_usd",
                            "shop.orders/amount")]
    assert all(uuid.UUID(i).version == 7 for i in new), new
    await emit(server, run_event(*PIPELINE[0]))  # named again: the same nodes
    assert {name: raw_id(i) for name, i in (await ids_by_name(server)).items()} == ids
    assert (await counts(server))["Dataset"] == 3


class RaceGate:
    """A store on which two servers both look a dataset up before either stores it: each apply
    waits until both have looked. Counts the applies."""

    def __init__(self, inner) -> None:
        self.inner, self.applies, self.lookups = inner, 0, 0
        self.both_looked = asyncio.Event()

    def __getattr__(self, name):
        return getattr(self.inner, name)

    async def get_by_keys(self, tenant, label, keys):
        found = await self.inner.get_by_keys(tenant, label, keys)
        if label is Label.DATASET:
            self.lookups += 1
            if self.lookups >= 2:
                self.both_looked.set()
        return found

    async def apply(self, tenant, changes):
        await asyncio.wait_for(self.both_looked.wait(), 30)
        self.applies += 1
        return await self.inner.apply(tenant, changes)


async def test_two_servers_storing_the_same_new_dataset_at_once_end_with_one(store, tenant):
    gate = RaceGate(store)
    one, two = LineageService(gate), LineageService(gate)  # two servers: each mints its own ids
    event = Serde.to_dict(run_event(*PIPELINE[0]))
    actor = system(tenant, "test")
    await asyncio.gather(one.ingest(actor, event), two.ingest(actor, copy.deepcopy(event)))
    assert gate.applies == 3  # both tried; one met the other's dataset, found it, and stored again
    datasets = await store.find_nodes(tenant, NodeQuery(Label.DATASET, first=10))
    assert sorted(d.name for d in datasets.nodes) == ["mart.order_facts", "shop.fx", "shop.orders"]
    fields = await store.find_nodes(tenant, NodeQuery(Label.FIELD, first=10))
    assert fields.total == 5  # order_id, amount_usd; id, amount, rate


async def test_a_deleted_dataset_named_again_comes_back(server):
    await emit(server, run_event(*PIPELINE[0]))
    ids = await ids_by_name(server)
    await server.store.apply(server.tenant, ChangeSet(delete=[raw_id(ids["mart.order_facts"])]))
    assert "mart.order_facts" not in await ids_by_name(server)
    await emit(server, run_event(*PIPELINE[0]))  # this server remembers the id it gave: it is used again
    again = await ids_by_name(server)
    assert again["mart.order_facts"] == ids["mart.order_facts"]
    got = await server.execute("query($id: ID!) { impactAnalysis(id: $id) { fields { node { path } } } }",
                               {"id": again["shop.orders/amount"]})
    assert [f["node"]["path"] for f in got["impactAnalysis"]["fields"]] == ["amount_usd"]


EXE = str(Path(sys.executable).parent / "maestro-graph")


def cli_ingest(server, settings, tmp_path: Path, *args: str) -> subprocess.CompletedProcess:
    """`maestro-graph ingest` in a process of its own, on the server's store, into its tenant."""
    env = {**os.environ, "MAESTRO_STORE": settings.store_url, "MAESTRO_NEO4J_PASSWORD": settings.neo4j_password,
           "MAESTRO_DATA_DIR": str(tmp_path), "MAESTRO_TENANT": server.tenant}
    return subprocess.run([EXE, "ingest", *args], env=env, capture_output=True, text=True, timeout=120)


async def test_ingest_command_backfills_what_the_file_transport_wrote(server, store_settings, tmp_path):
    appended = tmp_path / "lineage.jsonl"  # the file transport appending: one event a line
    client = OpenLineageClient(transport=FileTransport(FileConfig(log_file_path=str(appended), append=True)))
    for p in PIPELINE[:2]:
        run_id = str(uuid.uuid4())
        client.emit(run_event(*p, state=RunState.START, run_id=run_id))
        client.emit(run_event(*p, run_id=run_id))
    per_event = tmp_path / "one-file-an-event"  # its other mode: a pretty-printed file an event
    per_event.mkdir()
    OpenLineageClient(transport=FileTransport(FileConfig(log_file_path=str(per_event / "ol"), debug_mode=True))).emit(
        run_event(*PIPELINE[2]))
    exported = tmp_path / "export.json"  # another server's export: a JSON array
    exported.write_text(json.dumps([Serde.to_dict(run_event(*PIPELINE[0]))]))
    written = sorted(per_event.iterdir())
    assert len(written) == 1 and written[0].read_text().count("\n") > 10

    done = cli_ingest(server, store_settings, tmp_path, str(appended), str(written[0]), str(exported), "--batch", "2")
    assert done.returncode == 0, done.stderr
    assert f"ingested 6 events from 3 file(s) into tenant {server.tenant}" in done.stdout
    ids = await ids_by_name(server)
    got = await server.execute("""query($id: ID!) { lineage(id: $id, direction: DOWNSTREAM, depth: 5, granularity: FIELD) {
             nodes { distance node { ... on Field { path dataset { name } } } } } }""", {"id": ids["shop.orders/amount"]})
    assert [(n["distance"], n["node"]["dataset"]["name"] + "/" + n["node"]["path"]) for n in got["lineage"]["nodes"]] == [
        (0, "shop.orders/amount"), (1, "mart.order_facts/amount_usd"), (2, "mart.customer_facts/revenue"),
        (3, "ml.churn_features/revenue")]
    assert (await counts(server))["Run"] == 4
    again = cli_ingest(server, store_settings, tmp_path, str(appended), str(written[0]), str(exported))
    assert again.returncode == 0, again.stderr
    assert (await counts(server))["Run"] == 4  # the same events again change nothing


async def test_ingest_command_stores_nothing_when_one_event_is_bad_and_names_it(server, store_settings, tmp_path):
    good = [json.dumps(Serde.to_dict(run_event(*p))) for p in PIPELINE[:2]]
    bad = Serde.to_dict(run_event(*PIPELINE[2]))
    del bad["run"]["runId"]
    events = tmp_path / "events.jsonl"
    events.write_text("\n".join([*good, json.dumps(bad)]) + "\n")
    refused = cli_ingest(server, store_settings, tmp_path, str(events), "--batch", "1")  # checked before the first batch
    assert refused.returncode == 1
    assert f"{events}:3.run.runId: is required (RunEvent). Nothing was stored" in refused.stderr
    assert "Dataset" not in await counts(server)

    broken = tmp_path / "broken.jsonl"
    broken.write_text(good[0] + "\n{not json\n")
    refused = cli_ingest(server, store_settings, tmp_path, str(events.with_name("missing.jsonl")))
    assert refused.returncode == 1 and "missing.jsonl is not a file" in refused.stderr
    refused = cli_ingest(server, store_settings, tmp_path, str(broken))
    assert refused.returncode == 1 and f"{broken}:2: not JSON" in refused.stderr
    assert "Dataset" not in await counts(server)
