"""The OpenLineage job hierarchy and names, stored on every backend (issue #23 item 5): a run's
`parent` facet as (Run)-[:CHILD_OF]->(Run) and (Job)-[:PART_OF]->(Job), a job's `jobType` facet
as its integration, processing type and job type, a dataset's `symlinks` facet as aliases that
the datasets' text filter matches. The same events in any order, in one batch or one by one,
give the same graph.

The events are hand-written after what openlineage-spark and openlineage-dbt send: a Spark
application's run is the parent of its SQL jobs' runs, and the table default.orders is a symlink
of the path it was saved to; a dbt run's per-model jobs name the dbt run as their parent."""

from __future__ import annotations

import asyncio
import random
import uuid
from typing import Any

import pytest

from maestro_graph.auth.principal import Principal, Role
from maestro_graph.domain.graph import Label, NodeQuery, Rel
from maestro_graph.domain.keys import natural_key
from maestro_graph.services import Services
from maestro_graph.types import Direction

SPARK_NS = "spark_default"
APP = "orders_app"
APP_RUN = str(uuid.UUID("0193f0a4-7f5e-7c3a-9a8e-000000000001"))
SQL_RUNS = [str(uuid.UUID(f"0193f0a4-7f5e-7c3a-9a8e-00000000001{i}")) for i in range(3)]
WAREHOUSE = "file"
ORDERS_PATH = "/tmp/spark-warehouse/orders"
DBT_RUN = str(uuid.UUID("0193f0a4-7f5e-7c3a-9a8e-000000000101"))
DBT_MODEL_RUNS = [str(uuid.UUID(f"0193f0a4-7f5e-7c3a-9a8e-00000000011{i}")) for i in range(2)]
ORPHAN_PARENT = str(uuid.UUID("0193f0a4-7f5e-7c3a-9a8e-000000000201"))  # a parent whose own events never come
DUCKDB = "duckdb:///tmp/shop.duckdb"


def editor(tenant: str) -> Principal:
    return Principal("editor", tenant, frozenset({Role.EDITOR}))


def job_type(integration: str, kind: str) -> dict[str, Any]:
    return {"jobType": {"processingType": "BATCH", "integration": integration, "jobType": kind,
                        "_producer": "https://github.com/OpenLineage/OpenLineage/tree/1.53.0/integration/spark",
                        "_schemaURL": "https://openlineage.io/spec/facets/2-0-3/JobTypeJobFacet.json#/$defs/JobTypeJobFacet"}}


def parent(run_id: str, namespace: str, name: str, root: tuple[str, str, str] | None = None) -> dict[str, Any]:
    facet: dict[str, Any] = {"run": {"runId": run_id}, "job": {"namespace": namespace, "name": name},
                             "_producer": "https://github.com/OpenLineage/OpenLineage/tree/1.53.0/integration/spark",
                             "_schemaURL": "https://openlineage.io/spec/facets/1-1-0/ParentRunFacet.json#/$defs/ParentRunFacet"}
    if root is not None:
        facet["root"] = {"run": {"runId": root[0]}, "job": {"namespace": root[1], "name": root[2]}}
    return {"parent": facet}


def event(state: str, time: str, run_id: str, namespace: str, name: str, *, job_facets=None, run_facets=None,
          inputs=(), outputs=()) -> dict[str, Any]:
    return {"eventType": state, "eventTime": time, "producer": "https://github.com/OpenLineage/OpenLineage/tree/1.53.0",
            "schemaURL": "https://openlineage.io/spec/2-0-2/OpenLineage.json#/$defs/RunEvent",
            "run": {"runId": run_id, "facets": run_facets or {}},
            "job": {"namespace": namespace, "name": name, "facets": job_facets or {}},
            "inputs": list(inputs), "outputs": list(outputs)}


def orders_table(*symlinks: tuple[str, str]) -> dict[str, Any]:
    """The saved table as Spark names it: its path, and the table name as a symlink."""
    facets: dict[str, Any] = {"schema": {"fields": [{"name": "id", "type": "long"}, {"name": "amount", "type": "double"}]}}
    if symlinks:
        facets["symlinks"] = {"identifiers": [{"namespace": ns, "name": n, "type": "TABLE"} for ns, n in symlinks]}
    return {"namespace": WAREHOUSE, "name": ORDERS_PATH, "facets": facets}


RAW = {"namespace": WAREHOUSE, "name": "/data/raw_orders.csv"}


def spark_events() -> list[dict[str, Any]]:
    app = dict(job_facets=job_type("SPARK", "APPLICATION"))
    sql = [f"{APP}.execute_create_data_source_table_as_select_command.default_orders", f"{APP}.collect_limit",
           f"{APP}.execute_insert_into_hadoop_fs_relation_command.spark_warehouse_orders"]
    out = [event("START", "2026-11-01T10:00:00Z", APP_RUN, SPARK_NS, APP, **app)]
    for i, (run, name) in enumerate(zip(SQL_RUNS, sql)):
        facets = dict(job_facets=job_type("SPARK", "SQL_JOB"),
                      run_facets=parent(APP_RUN, SPARK_NS, APP, root=(APP_RUN, SPARK_NS, APP)))
        outputs = [orders_table((f"{WAREHOUSE}:/tmp/spark-warehouse", "default.orders"))] if i != 1 else []
        out.append(event("START", f"2026-11-01T10:0{i + 1}:00Z", run, SPARK_NS, name, inputs=[RAW], outputs=outputs, **facets))
        out.append(event("COMPLETE", f"2026-11-01T10:0{i + 1}:30Z", run, SPARK_NS, name, inputs=[RAW], outputs=outputs, **facets))
    # The last SQL job also names the table under the Hive metastore's name, without a schema.
    out[-1]["outputs"] = [orders_table(("hive://metastore:9083", "default.orders"))]
    out.append(event("COMPLETE", "2026-11-01T10:09:00Z", APP_RUN, SPARK_NS, APP, **app))
    return out


def dbt_events() -> list[dict[str, Any]]:
    out = [event("START", "2026-11-02T08:00:00Z", DBT_RUN, "dbt", "dbt-run-shop", job_facets=job_type("DBT", "JOB"))]
    for i, (run, model) in enumerate(zip(DBT_MODEL_RUNS, ["stg_orders", "orders_by_day"])):
        facets = dict(job_facets=job_type("DBT", "MODEL"), run_facets=parent(DBT_RUN, "dbt", "dbt-run-shop"))
        io = dict(inputs=[{"namespace": DUCKDB, "name": f"shop.main.{'raw_orders' if i == 0 else 'stg_orders'}"}],
                  outputs=[{"namespace": DUCKDB, "name": f"shop.main.{model}"}])
        out.append(event("START", f"2026-11-02T08:0{i + 1}:00Z", run, "dbt", f"shop.main.{model}", **facets, **io))
        out.append(event("COMPLETE", f"2026-11-02T08:0{i + 1}:30Z", run, "dbt", f"shop.main.{model}", **facets, **io))
    out.append(event("COMPLETE", "2026-11-02T08:09:00Z", DBT_RUN, "dbt", "dbt-run-shop", job_facets=job_type("DBT", "JOB")))
    # A child whose parent never reports itself: the parent run is still there, under its job.
    out.append(event("COMPLETE", "2026-11-02T09:00:00Z", str(uuid.UUID("0193f0a4-7f5e-7c3a-9a8e-000000000202")),
                     "dbt", "shop.main.adhoc", run_facets=parent(ORPHAN_PARENT, "airflow", "shop_dag.dbt_task")))
    return out


def all_events() -> list[dict[str, Any]]:
    return spark_events() + dbt_events()


HIERARCHY_LABELS = (Label.DATASET, Label.JOB, Label.RUN)
HIERARCHY_RELS = (Rel.OF_JOB, Rel.CHILD_OF, Rel.PART_OF, Rel.READS, Rel.WRITES, Rel.FEEDS, Rel.HAS_FIELD)


async def snapshot(store, tenant: str) -> tuple[dict, set]:
    """The tenant's datasets, jobs, runs and fields, and their relationships, by identity (not by
    id: ids are minted in arrival order), with every prop but timestamps."""
    nodes = {}
    for label in (*HIERARCHY_LABELS, Label.FIELD):
        page = await store.find_nodes(tenant, NodeQuery(label, first=500))
        assert not page.has_next
        nodes.update((n.id, n) for n in page.nodes)

    def ident(i: str) -> tuple:
        n = nodes[i]
        if n.label is Label.RUN:
            return ("Run", n.props["run_id"])
        if n.label is Label.FIELD:
            return ("Field", ident(n.props["dataset_id"]), n.props["path"])
        return (n.label.value, n.props["namespace"], n.props["name"])

    def plain(props: dict) -> dict:
        # A dataset's schema history records versions as they were learnt (domain/schema_versions.py):
        # only its current schema is the same whatever the order, so that is what is compared.
        out = {k: ident(v) if k in ("job_id", "dataset_id") else v for k, v in props.items()
               if k not in ("schema_history", "schema_version", "schema_removed")}
        if props.get("schema_history"):
            out["schema_current"] = props["schema_history"][-1]["columns"]
            out["schema_removed"] = sorted(props.get("schema_removed") or {})  # which, not in which version
        return out

    edges = set()
    for rel in HIERARCHY_RELS:
        found = await store.neighbours(tenant, list(nodes), rel, Direction.OUT)
        # Which job a FEEDS edge names is the last event's (item 1 of the issue, not this one's).
        edges |= {(rel.value, ident(i), ident(nb.node.id), repr(sorted(nb.edge.props.items())) if rel is not Rel.FEEDS else "")
                  for i, nbs in found.items() for nb in nbs}
    return {ident(i): plain(n.props) for i, n in nodes.items()}, edges


async def by_key(store, tenant: str, label: Label, **key: str):
    k = natural_key(label, key)
    return (await store.get_by_keys(tenant, label, [k]))[k]


async def one(store, tenant: str, node_id: str, rel: Rel, direction: Direction):
    return [nb.node for nb in (await store.neighbours(tenant, [node_id], rel, direction))[node_id]]


async def test_a_runs_parent_facet_makes_the_run_and_job_hierarchy(store, tenant):
    services = Services.build(store)
    await services.lineage.ingest(editor(tenant), all_events())
    app = await by_key(store, tenant, Label.JOB, namespace=SPARK_NS, name=APP)
    assert app.props == {"namespace": SPARK_NS, "name": APP, "integration": "SPARK", "processing_type": "BATCH",
                              "job_type": "APPLICATION"}
    sql_jobs = await one(store, tenant, app.id, Rel.PART_OF, Direction.IN)
    assert [j.props["name"] for j in sql_jobs] == sorted(
        [f"{APP}.collect_limit", f"{APP}.execute_create_data_source_table_as_select_command.default_orders",
         f"{APP}.execute_insert_into_hadoop_fs_relation_command.spark_warehouse_orders"])
    assert {j.props["job_type"] for j in sql_jobs} == {"SQL_JOB"}
    app_run = await by_key(store, tenant, Label.RUN, run_id=APP_RUN)
    assert app_run.props["state"] == "COMPLETE" and app_run.props["job_id"] == app.id
    children = await one(store, tenant, app_run.id, Rel.CHILD_OF, Direction.IN)
    assert sorted(r.props["run_id"] for r in children) == sorted(SQL_RUNS)
    for child in children:  # each child run is of a job that is part of the application
        (job,) = await one(store, tenant, child.id, Rel.OF_JOB, Direction.OUT)
        assert [p.id for p in await one(store, tenant, job.id, Rel.PART_OF, Direction.OUT)] == [app.id]
    assert await one(store, tenant, app.id, Rel.PART_OF, Direction.OUT) == []  # the top
    assert await one(store, tenant, app_run.id, Rel.CHILD_OF, Direction.OUT) == []

    dbt = await by_key(store, tenant, Label.JOB, namespace="dbt", name="dbt-run-shop")
    assert (dbt.props["integration"], dbt.props["job_type"]) == ("DBT", "JOB")
    models = await one(store, tenant, dbt.id, Rel.PART_OF, Direction.IN)
    assert [(m.props["name"], m.props["job_type"]) for m in models] == [
        ("shop.main.orders_by_day", "MODEL"), ("shop.main.stg_orders", "MODEL")]
    dbt_run = await by_key(store, tenant, Label.RUN, run_id=DBT_RUN)
    assert sorted(r.props["run_id"] for r in await one(store, tenant, dbt_run.id, Rel.CHILD_OF, Direction.IN)) == sorted(DBT_MODEL_RUNS)

    # A parent known only from its child's facet: made by identity, under its job, with no state.
    orphan = await by_key(store, tenant, Label.RUN, run_id=ORPHAN_PARENT)
    assert set(orphan.props) == {"run_id", "job_id"}
    (task,) = await one(store, tenant, orphan.id, Rel.OF_JOB, Direction.OUT)
    assert (task.props["namespace"], task.props["name"]) == ("airflow", "shop_dag.dbt_task")
    adhoc = await by_key(store, tenant, Label.JOB, namespace="dbt", name="shop.main.adhoc")
    assert [j.id for j in await one(store, tenant, adhoc.id, Rel.PART_OF, Direction.OUT)] == [task.id]
    assert "integration" not in adhoc.props  # no jobType facet: nothing invented


async def test_symlinks_are_aliases_joined_across_events(store, tenant):
    services = Services.build(store)
    await services.lineage.ingest(editor(tenant), all_events())
    orders = await by_key(store, tenant, Label.DATASET, namespace=WAREHOUSE, name=ORDERS_PATH)
    assert orders.props["aliases"] == [
        {"namespace": "file:/tmp/spark-warehouse", "name": "default.orders", "type": "TABLE"},
        {"namespace": "hive://metastore:9083", "name": "default.orders", "type": "TABLE"}]
    # An event that names the dataset without the facet keeps its aliases.
    await services.lineage.ingest(editor(tenant), event("COMPLETE", "2026-11-03T00:00:00Z", str(uuid.uuid4()), SPARK_NS,
                                                        "reader", inputs=[{"namespace": WAREHOUSE, "name": ORDERS_PATH}]))
    again = await by_key(store, tenant, Label.DATASET, namespace=WAREHOUSE, name=ORDERS_PATH)
    assert again.props["aliases"] == orders.props["aliases"]
    # A symlink naming the dataset itself is no alias; one more alias joins the others.
    await services.lineage.ingest(editor(tenant), event(
        "COMPLETE", "2026-11-03T00:01:00Z", str(uuid.uuid4()), SPARK_NS, "writer",
        outputs=[orders_table((WAREHOUSE, ORDERS_PATH), ("s3://lake", "orders"))]))
    grown = await by_key(store, tenant, Label.DATASET, namespace=WAREHOUSE, name=ORDERS_PATH)
    assert [a["name"] for a in grown.props["aliases"]] == ["default.orders", "default.orders", "orders"]
    # Requests that arrive together share a transaction (group commit): their aliases join too.
    await asyncio.gather(*(services.lineage.ingest(editor(tenant), event(
        "COMPLETE", "2026-11-03T00:02:00Z", str(uuid.uuid4()), SPARK_NS, f"writer{i}",
        outputs=[{"namespace": WAREHOUSE, "name": "/tmp/spark-warehouse/customers",
                  "facets": {"symlinks": {"identifiers": [{"namespace": ns, "name": "default.customers", "type": "TABLE"}]}}}]))
        for i, ns in enumerate(["hive://a", "hive://b", "hive://c"])))
    customers = await by_key(store, tenant, Label.DATASET, namespace=WAREHOUSE, name="/tmp/spark-warehouse/customers")
    assert [a["namespace"] for a in customers.props["aliases"]] == ["hive://a", "hive://b", "hive://c"]


@pytest.mark.parametrize("text", ["default.orders", "DEFAULT.ORD", "t.ord", "spark-warehouse/orders"])
async def test_the_datasets_text_filter_matches_an_alias(store, tenant, text):
    services = Services.build(store)
    await services.lineage.ingest(editor(tenant), spark_events())
    page = await services.graph.find(tenant, NodeQuery(Label.DATASET, text=text, first=10))
    assert [n.props["name"] for n in page.nodes] == [ORDERS_PATH] and page.total == 1
    # Neither a name nor an alias holds this: no match across the two.
    assert (await services.graph.find(tenant, NodeQuery(Label.DATASET, text="orders" + "default", first=10))).total == 0


async def test_the_same_events_in_any_order_give_the_same_graph(store, tenant):
    """Shuffled (a parent's events after its children's among them), in one batch or one event
    per transaction: the same nodes, props and relationships."""
    services = Services.build(store)
    events = all_events()
    await services.lineage.ingest(editor(tenant), events)
    expected = await snapshot(store, tenant)
    children_first = [e for e in events if e["run"]["runId"] not in (APP_RUN, DBT_RUN)] + \
                     [e for e in events if e["run"]["runId"] in (APP_RUN, DBT_RUN)]
    orders = [list(reversed(events)), children_first]
    for seed in (1, 2):
        shuffled = list(events)
        random.Random(seed).shuffle(shuffled)
        orders.append(shuffled)
    for n, order in enumerate(orders):
        one_batch, one_by_one = f"{tenant}-{n}b", f"{tenant}-{n}s"
        await services.lineage.ingest(editor(one_batch), order)
        for ev in order:
            await services.lineage.ingest(editor(one_by_one), ev)
        assert await snapshot(store, one_batch) == expected, n
        assert await snapshot(store, one_by_one) == expected, n
    nodes, edges = expected
    assert sum(1 for e in edges if e[0] == "CHILD_OF") == len(SQL_RUNS) + len(DBT_MODEL_RUNS) + 1
    assert sum(1 for e in edges if e[0] == "PART_OF") == len(SQL_RUNS) + len(DBT_MODEL_RUNS) + 1
