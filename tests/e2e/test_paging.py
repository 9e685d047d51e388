"""Relationship connections over HTTP: pages walked with their cursors see every item once,
and the page size limit is the one setting the server was started with."""

from __future__ import annotations

from tests.e2e.conftest import serve
from tests.e2e.test_graph_api import project

PAGE = """query($id: ID!, $after: String) { node(id: $id) { ... on %(type)s {
  %(field)s(first: 2, after: $after) { totalCount pageInfo { hasNextPage endCursor } edges { cursor node { id } } } } } }"""


async def walk(server, type_: str, field: str, node_id: str) -> list[str]:
    """Every page of node.field, two at a time, following endCursor; the ids in order."""
    seen: list[str] = []
    after = None
    for _ in range(50):
        conn = (await server.execute(PAGE % {"type": type_, "field": field}, {"id": node_id, "after": after}))["node"][field]
        seen += [e["node"]["id"] for e in conn["edges"]]
        if conn["edges"]:
            assert conn["pageInfo"]["endCursor"] == conn["edges"][-1]["cursor"]
        if not conn["pageInfo"]["hasNextPage"]:
            assert conn["totalCount"] == len(seen)
            return seen
        after = conn["pageInfo"]["endCursor"]
    raise AssertionError("the walk did not end")


async def test_walking_project_metrics_and_predictions_sees_each_once(server):
    p = await project(server, "Churn")
    # Two metric types and one prediction target: names tie, and only the id orders the ties.
    metrics = [{"type": "COMMITS_PER_WEEK" if i % 2 else "AVG_PR_MERGE_HOURS", "value": float(i)} for i in range(7)]
    recorded = await server.execute("mutation($p: ID!, $m: [CreateMetricInput!]!) { recordProjectMetrics(projectId: $p, metrics: $m) { id } }",
                                    {"p": p["id"], "m": metrics})
    predictions = [(await server.execute("mutation($p: ID!, $i: CreatePredictionInput!) { createPrediction(projectId: $p, input: $i) { id } }",
                                         {"p": p["id"], "i": {"target": "COST", "value": float(i)}}))["createPrediction"]["id"]
                   for i in range(5)]

    seen = await walk(server, "Project", "metrics", p["id"])
    assert sorted(seen) == sorted(m["id"] for m in recorded["recordProjectMetrics"])
    assert len(set(seen)) == len(seen) == 7
    seen = await walk(server, "Project", "predictions", p["id"])
    assert sorted(seen) == sorted(predictions) and len(set(seen)) == 5


async def test_walking_job_runs_sees_each_once(server):
    job = (await server.execute('mutation { createJob(input: {namespace: "airflow", name: "etl"}) { id } }'))["createJob"]
    runs = [(await server.execute("mutation($i: CreateRunInput!) { createRun(input: $i) { id } }",
                                  {"i": {"jobId": job["id"], "runId": f"run-{i}"}}))["createRun"]["id"] for i in (5, 1, 4, 2, 6, 3, 0)]
    seen = await walk(server, "Job", "runs", job["id"])
    assert sorted(seen) == sorted(runs) and len(set(seen)) == 7


async def test_page_size_limit_is_the_servers_setting(store, tenant, tmp_path):
    """MAESTRO_MAX_PAGE_SIZE raised to 150: a page of 120 passes the GraphQL check and the
    services' alike, in listings, relationship connections and the audit log."""
    async with serve(store, tenant, tmp_path, max_page_size=150) as server:
        p = await project(server, "Churn")
        out = await server.execute("""query($id: ID!) { projects(first: 120) { totalCount }
            node(id: $id) { ... on Project { members(first: 120) { totalCount } } }
            auditLog(first: 120) { totalCount } }""", {"id": p["id"]})
        assert out["projects"]["totalCount"] == 1 and out["node"]["members"]["totalCount"] == 0
        assert out["auditLog"]["totalCount"] >= 1
        err = await server.error("{ projects(first: 151) { totalCount } }")
        assert err["extensions"]["code"] == "LIMIT_EXCEEDED"
