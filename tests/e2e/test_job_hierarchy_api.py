"""The job hierarchy, job types and dataset aliases over GraphQL (issue #23 item 5): events posted
to /api/v1/lineage as a Spark application and a dbt run send them, then Job.parent/children,
Run.parent/children, Job's jobType fields, Dataset.aliases, the datasets filter by alias and the
parent job's name on lineage edges."""

from __future__ import annotations

import httpx

from tests.contract.test_job_hierarchy import APP, APP_RUN, ORDERS_PATH, SQL_RUNS, all_events


async def post(server, events) -> None:
    async with httpx.AsyncClient(base_url=server.url, headers=server.headers, timeout=30) as client:
        r = await client.post("/api/v1/lineage", json=events)
        assert r.status_code == 201, r.text


JOBS = """query($text: String!) { jobs(filter: {text: $text}) { edges { node {
  name integration processingType jobType parent { name }
  children(first: 10) { totalCount edges { node { name jobType parent { name } } } }
  runs(first: 10) { edges { node { runId state parent { runId job { name } } children(first: 10) { totalCount
    edges { node { runId parent { runId } job { name parent { name } } } } } } } } } } } }"""


async def test_job_and_run_hierarchy_job_types_and_aliases_over_graphql(server):
    await post(server, all_events())
    jobs = (await server.execute(JOBS, {"text": APP}))["jobs"]["edges"]
    app = next(e["node"] for e in jobs if e["node"]["name"] == APP)
    assert (app["integration"], app["processingType"], app["jobType"], app["parent"]) == ("SPARK", "BATCH", "APPLICATION", None)
    assert app["children"]["totalCount"] == 3
    assert {(c["node"]["jobType"], c["node"]["parent"]["name"]) for c in app["children"]["edges"]} == {("SQL_JOB", APP)}
    (run,) = [r["node"] for r in app["runs"]["edges"]]
    assert (run["runId"], run["state"], run["parent"]) == (APP_RUN, "COMPLETE", None)
    assert run["children"]["totalCount"] == len(SQL_RUNS)
    kids = run["children"]["edges"]
    assert sorted(k["node"]["runId"] for k in kids) == sorted(SQL_RUNS)
    assert {(k["node"]["parent"]["runId"], k["node"]["job"]["parent"]["name"]) for k in kids} == {(APP_RUN, APP)}
    sql_job = next(e["node"] for e in jobs if e["node"]["name"] == f"{APP}.collect_limit")
    assert sql_job["parent"] == {"name": APP} and sql_job["children"]["totalCount"] == 0
    assert sql_job["runs"]["edges"][0]["node"]["parent"] == {"runId": APP_RUN, "job": {"name": APP}}

    found = await server.execute("""{ datasets(filter: {text: "Default.Orders"}) { totalCount edges { node {
        id name aliases { namespace name type } } } } }""")
    assert found["datasets"]["totalCount"] == 1
    orders = found["datasets"]["edges"][0]["node"]
    assert orders["name"] == ORDERS_PATH
    assert orders["aliases"] == [
        {"namespace": "file:/tmp/spark-warehouse", "name": "default.orders", "type": "TABLE"},
        {"namespace": "hive://metastore:9083", "name": "default.orders", "type": "TABLE"}]
    plain = await server.execute('{ datasets(filter: {text: "raw_orders"}) { edges { node { id aliases { name } } } } }')
    assert plain["datasets"]["edges"][0]["node"]["aliases"] == []

    # Lineage graphs show datasets and fields; the jobs are named on the edges, with their parent.
    lineage = await server.execute("""query($id: ID!) { lineage(id: $id, direction: UPSTREAM, depth: 1, granularity: DATASET) {
        edges { job parentJob } } }""", {"id": orders["id"]})
    (edge,) = lineage["lineage"]["edges"]
    assert edge["job"].startswith(f"spark_default/{APP}.execute_") and edge["parentJob"] == f"spark_default/{APP}"
    dbt = await server.execute("""{ datasets(filter: {text: "shop.main.stg_orders"}) { edges { node { id } } } }""")
    dbt_lineage = await server.execute("""query($id: ID!) { lineage(id: $id, direction: BOTH, depth: 1, granularity: DATASET) {
        edges { job parentJob } } }""", {"id": dbt["datasets"]["edges"][0]["node"]["id"]})
    assert sorted((e["job"], e["parentJob"]) for e in dbt_lineage["lineage"]["edges"]) == [
        ("dbt/shop.main.orders_by_day", "dbt/dbt-run-shop"), ("dbt/shop.main.stg_orders", "dbt/dbt-run-shop")]


async def test_a_malformed_parent_facet_is_refused_naming_it(server):
    bad = all_events()[1]
    bad["run"]["facets"]["parent"]["run"]["runId"] = "not-a-uuid"
    async with httpx.AsyncClient(base_url=server.url, headers=server.headers, timeout=30) as client:
        r = await client.post("/api/v1/lineage", json=[all_events()[0], bad])
    assert r.status_code == 400 and r.json()["error"]["field"] == "events[1].run.facets.parent.run.runId", r.text
    assert (await server.execute("{ nodeCounts { label count } }"))["nodeCounts"] == []
