"""Column lineage as producers mean it (issue #23, items 1, 2 and 6), on every backend: every
(job, transformation) that produced a column edge is kept whatever the arrival order; a job's newer
run replaces what its older runs said of an output; unknown stays unknown; a dataset that feeds a
column of another feeds that dataset."""

from __future__ import annotations

import itertools
import random
import uuid

from maestro_graph.auth.principal import system
from maestro_graph.domain.derivations import contributions_of
from maestro_graph.domain.graph import Label, NodeQuery, Rel
from maestro_graph.services import Services
from maestro_graph.services.topology_cache import TopologyCache
from maestro_graph.types import Direction

NS = "warehouse"
FACET = "https://openlineage.io/spec/facets/1-2-0/ColumnLineageDatasetFacet.json#/$defs/ColumnLineageDatasetFacet"


def t(type_: str, subtype: str | None = None) -> dict:
    return {"type": type_, **({"subtype": subtype} if subtype else {})}


def event(job: str, run: str, at: str, output: str, fields: dict[str, list[tuple[str, str, list[dict]]]],
          inputs: list[str] | None = None, dataset: list[tuple[str, str, list[dict]]] | None = None) -> dict:
    """One COMPLETE event of `job`'s run writing `output`, with column lineage `fields`:
    output column -> [(input dataset, input column, transformations)]."""
    facet: dict = {"_producer": "https://example.com/p", "_schemaURL": FACET, "fields": {
        col: {"inputFields": [{"namespace": NS, "name": ds, "field": c, "transformations": ts} for ds, c, ts in srcs]}
        for col, srcs in fields.items()}}
    if dataset:
        facet["dataset"] = [{"namespace": NS, "name": ds, "field": c, "transformations": ts} for ds, c, ts in dataset]
    return {"eventType": "COMPLETE", "eventTime": at, "producer": "https://example.com/p",
            "schemaURL": "https://openlineage.io/spec/2-0-2/OpenLineage.json#/$defs/RunEvent",
            "run": {"runId": run}, "job": {"namespace": "spark", "name": job},
            "inputs": [{"namespace": NS, "name": i} for i in (inputs if inputs is not None else
                                                              sorted({ds for srcs in fields.values() for ds, _, _ in srcs}))],
            "outputs": [{"namespace": NS, "name": output, "facets": {"columnLineage": facet}}]}


def run_id() -> str:
    return str(uuid.uuid4())


async def column_edges(store, tenant: str) -> dict[tuple[str, str], dict]:
    """(source dataset.column, target dataset.column) -> props of every DERIVES edge."""
    datasets = {n.id: n.name for n in (await store.find_nodes(tenant, NodeQuery(Label.DATASET, first=100))).nodes}
    fields = {n.id: f"{datasets[n.props['dataset_id']]}.{n.props['path']}"
              for n in (await store.find_nodes(tenant, NodeQuery(Label.FIELD, first=100))).nodes}
    out = {}
    async for chunk in store.scan_edges(tenant, Rel.DERIVES, with_props=True):
        for src, dst, props in chunk:
            out[(fields[src], fields[dst])] = props
    return out


def pairs(props: dict) -> set[tuple[str, str | None, str | None]]:
    return {(c.job, c.type, c.subtype) for c in contributions_of(props).values()}


async def ingest(store, tenant: str, events: list[dict], one_by_one: bool = True) -> None:
    services = Services.build(store, topology=TopologyCache(store, "off"))
    if one_by_one:
        for e in events:
            await services.lineage.ingest(system(tenant, "test"), [e])
    else:
        await services.lineage.ingest(system(tenant, "test"), events)


SPARK = [  # the same write under two jobs, as Spark reports it: JOIN, and JOIN + FILTER
    event("create_table_command", "11111111-0000-4000-8000-000000000001", "2026-11-01T10:00:00Z", "orders_enriched",
          {"customer_id": [("orders", "customer_id", [t("INDIRECT", "JOIN")]),
                           ("orders", "customer_id", [t("DIRECT", "IDENTITY")])],
           "total": [("orders", "amount", [t("DIRECT", "AGGREGATION")])]}),
    event("adaptive_plan", "11111111-0000-4000-8000-000000000002", "2026-11-01T10:00:01Z", "orders_enriched",
          {"customer_id": [("orders", "customer_id", [t("INDIRECT", "JOIN"), t("INDIRECT", "FILTER")])]},
          dataset=[("orders", "status", [t("INDIRECT", "FILTER")])]),
    event("dbt_model", "11111111-0000-4000-8000-000000000003", "2026-11-01T10:00:02Z", "orders_summary",
          {"total": [("orders_enriched", "total", [])]}),  # dbt: transformations []
]


async def test_every_job_and_transformation_is_kept_in_any_arrival_order(store, tenant):
    results = []
    for i, order in enumerate([SPARK, SPARK[::-1], [SPARK[1], SPARK[2], SPARK[0]]]):
        own = f"{tenant}-{i}"
        await ingest(store, own, order, one_by_one=i != 2)  # the last: all three in one batch
        results.append(await column_edges(store, own))
    assert results[0] == results[1] == results[2]
    edges = results[0]
    key = edges[("orders.customer_id", "orders_enriched.customer_id")]
    assert pairs(key) == {("spark/create_table_command", "INDIRECT", "JOIN"), ("spark/create_table_command", "DIRECT", "IDENTITY"),
                          ("spark/adaptive_plan", "INDIRECT", "JOIN"), ("spark/adaptive_plan", "INDIRECT", "FILTER")}
    assert (key["type"], key["subtype"]) == ("DIRECT", "IDENTITY")  # the strongest, for one-value readers
    # The dataset-level FILTER reaches every output column the adaptive plan names.
    assert pairs(edges[("orders.status", "orders_enriched.customer_id")]) == {("spark/adaptive_plan", "INDIRECT", "FILTER")}
    unknown = edges[("orders_enriched.total", "orders_summary.total")]
    assert "type" not in unknown and pairs(unknown) == {("spark/dbt_model", None, None)}  # unknown stays unknown


async def test_a_jobs_newer_run_replaces_what_its_older_runs_said_whatever_the_order(store, tenant):
    older = event("etl", "22222222-0000-4000-8000-000000000001", "2026-11-01T10:00:00Z", "out",
                  {"a": [("src", "a", [t("DIRECT", "IDENTITY")])], "b": [("src", "b", [t("DIRECT", "IDENTITY")])]})
    newer = event("etl", "22222222-0000-4000-8000-000000000002", "2026-11-02T10:00:00Z", "out",
                  {"a": [("src", "a", [t("DIRECT", "TRANSFORMATION")])]})  # b no longer derived from src.b
    other = event("other", "22222222-0000-4000-8000-000000000003", "2026-11-01T12:00:00Z", "out",
                  {"b": [("src", "b", [t("INDIRECT", "SORT")])]})
    seen = []
    for i, order in enumerate(itertools.permutations([older, newer, other])):
        own = f"{tenant}-{i}"
        await ingest(store, own, list(order))
        seen.append(await column_edges(store, own))
    assert all(s == seen[0] for s in seen)
    edges = seen[0]
    assert pairs(edges[("src.a", "out.a")]) == {("spark/etl", "DIRECT", "TRANSFORMATION")}
    assert pairs(edges[("src.b", "out.b")]) == {("spark/other", "INDIRECT", "SORT")}  # etl's word on it is gone

    # Without the other job, the edge etl no longer reports is retired, and impact no longer crosses it.
    own = f"{tenant}-alone"
    await ingest(store, own, [older])
    services = Services.build(store, topology=TopologyCache(store, "off"))
    datasets = {n.name: n.id for n in (await store.find_nodes(own, NodeQuery(Label.DATASET, first=10))).nodes}
    b = next(n for n in (await store.find_nodes(own, NodeQuery(Label.FIELD, first=50))).nodes
             if n.props["path"] == "b" and n.props["dataset_id"] == datasets["src"])
    assert [f.name for f in (await services.lineage.impact(own, b.id, 5)).fields] == ["b"]
    await ingest(store, own, [newer, older])  # the older run again, after: it says nothing any more
    assert ("src.b", "out.b") not in await column_edges(store, own)
    assert (await services.lineage.impact(own, b.id, 5)).fields == []


async def test_a_dataset_named_only_in_column_lineage_feeds_the_output(store, tenant):
    seeded = event("model", run_id(), "2026-11-01T10:00:00Z", "customers_model",
                   {"id": [("raw_customers", "id", [t("DIRECT", "IDENTITY")])]}, inputs=[])  # dbt's default mode
    await ingest(store, tenant, [seeded])
    datasets = {n.name: n.id for n in (await store.find_nodes(tenant, NodeQuery(Label.DATASET, first=10))).nodes}
    feeds = await store.expand(tenant, [datasets["raw_customers"]], [Rel.FEEDS], Direction.OUT, with_props=True)
    assert [(e.dst, e.props["column_lineage"]) for e in feeds] == [(datasets["customers_model"], True)]


async def test_replaying_a_recorded_order_shuffled_gives_the_same_edges(store, tenant):
    rng = random.Random(7)
    events = []
    for r in range(4):  # four runs of one job, each dropping or changing something
        cols = {f"c{i}": [("src", f"c{(i + r) % 5}", [t("DIRECT", ["IDENTITY", "TRANSFORMATION"][(i + r) % 2])])]
                for i in range(5 - r)}
        events.append(event("nightly", f"33333333-0000-4000-8000-00000000000{r}", f"2026-11-0{r + 1}T00:00:00Z", "daily", cols))
    await ingest(store, f"{tenant}-a", events)
    shuffled = events[:]
    rng.shuffle(shuffled)
    await ingest(store, f"{tenant}-b", shuffled)
    a, b = await column_edges(store, f"{tenant}-a"), await column_edges(store, f"{tenant}-b")
    assert a == b and len(a) == 2  # only the last run's two columns stand


async def test_a_dataset_edge_keeps_every_job_and_says_column_lineage_only_if_all_do(store, tenant):
    with_lineage = event("typed", run_id(), "2026-11-01T10:00:00Z", "mart", {"id": [("src", "id", [t("DIRECT", "IDENTITY")])]})
    without = {**event("untyped", run_id(), "2026-11-01T11:00:00Z", "mart", {}), "outputs": [{"namespace": NS, "name": "mart"}],
               "inputs": [{"namespace": NS, "name": "src"}]}
    seen = []
    for i, order in enumerate([[with_lineage, without], [without, with_lineage]]):
        own = f"{tenant}-{i}"
        await ingest(store, own, order)
        datasets = {n.name: n.id for n in (await store.find_nodes(own, NodeQuery(Label.DATASET, first=10))).nodes}
        [feeds] = await store.expand(own, [datasets["src"]], [Rel.FEEDS], Direction.OUT, with_props=True)
        seen.append(feeds.props)
    assert seen[0] == seen[1]
    # One job moves the column without saying how: impact from a column must cross at dataset level.
    assert seen[0]["by_job"] == {"spark/typed": True, "spark/untyped": False} and seen[0]["column_lineage"] is False


async def test_a_rerun_saying_the_same_moves_the_standing_run_and_an_older_one_after_it_says_nothing(store, tenant):
    first = event("etl", "66666666-0000-4000-8000-000000000001", "2026-11-01T00:00:00Z", "out",
                  {"a": [("src", "a", [t("DIRECT", "IDENTITY")])], "b": [("src", "b", [t("DIRECT", "IDENTITY")])]})
    middle = event("etl", "66666666-0000-4000-8000-000000000002", "2026-11-02T00:00:00Z", "out",
                   {"a": [("src", "a", [t("DIRECT", "IDENTITY")])]})
    rerun = {**first, "eventTime": "2026-11-03T00:00:00Z", "run": {"runId": "66666666-0000-4000-8000-000000000003"}}
    orders = [[first, rerun, middle], [first, middle, rerun], [rerun, middle, first], [middle, rerun, first]]
    seen = []
    for i, order in enumerate(orders):
        own = f"{tenant}-{i}"
        await ingest(store, own, order)
        seen.append(await column_edges(store, own))
    assert all(s == seen[0] for s in seen)
    assert set(seen[0]) == {("src.a", "out.a"), ("src.b", "out.b")}  # the newest run (the re-run) stands
