"""Dataset schema versions from producers' schema facets (issue #23, items 3 and 4), on every
backend: a dropped column is marked removed and its column edges retired, impact analysis no
longer reports it, the version that dropped it carries what the change hit, an older facet
replayed later changes nothing, and a rename the column lineage states is told as one."""

from __future__ import annotations

from maestro_graph.auth.principal import system
from maestro_graph.domain.schema_versions import columns_of
from maestro_graph.domain.graph import ChangeSet, Edge, Label, NodeQuery, Rel
from maestro_graph.services import Services
from maestro_graph.services.topology_cache import TopologyCache
from maestro_graph.types import Direction
from tests.contract.test_store_contract import make

NS = "lake"
SCHEMA = "https://openlineage.io/spec/facets/1-1-1/SchemaDatasetFacet.json#/$defs/SchemaDatasetFacet"
COLUMNS = "https://openlineage.io/spec/facets/1-2-0/ColumnLineageDatasetFacet.json#/$defs/ColumnLineageDatasetFacet"


def write(job: str, run: str, at: str, output: str, columns: list[str], lineage: dict[str, tuple[str, str]]) -> dict:
    """A COMPLETE event: `job` writes `output` with `columns`; lineage: output column -> (input dataset, column)."""
    facets = {"schema": {"_producer": "https://example.com/p", "_schemaURL": SCHEMA,
                         "fields": [{"name": c, "type": "int"} for c in columns]}}
    if lineage:
        facets["columnLineage"] = {"_producer": "https://example.com/p", "_schemaURL": COLUMNS, "fields": {
            c: {"inputFields": [{"namespace": NS, "name": ds, "field": f,
                                 "transformations": [{"type": "DIRECT", "subtype": "IDENTITY"}]}]}
            for c, (ds, f) in lineage.items()}}
    return {"eventType": "COMPLETE", "eventTime": at, "producer": "https://example.com/p",
            "schemaURL": "https://openlineage.io/spec/2-0-2/OpenLineage.json#/$defs/RunEvent",
            "run": {"runId": run}, "job": {"namespace": "etl", "name": job},
            "inputs": [{"namespace": NS, "name": ds} for ds in sorted({ds for ds, _ in lineage.values()})],
            "outputs": [{"namespace": NS, "name": output, "facets": facets}]}


V1 = write("load", "44444444-0000-4000-8000-000000000001", "2026-11-01T00:00:00Z", "orders", ["id", "amount", "discount"],
           {"id": ("raw", "id"), "amount": ("raw", "amount"), "discount": ("raw", "discount")})
V2 = write("load", "44444444-0000-4000-8000-000000000002", "2026-11-02T00:00:00Z", "orders", ["id", "amount"],
           {"id": ("raw", "id"), "amount": ("raw", "amount")})
DOWN = write("report", "44444444-0000-4000-8000-000000000003", "2026-11-01T06:00:00Z", "report", ["total_discount"],
             {"total_discount": ("orders", "discount")})


async def ingest(services, tenant, events):
    for e in events:
        await services.lineage.ingest(system(tenant, "test"), [e])


async def columns(store, tenant, dataset: str) -> dict[str, dict]:
    ds = next(n for n in (await store.find_nodes(tenant, NodeQuery(Label.DATASET, text=dataset, first=10))).nodes
              if n.name == dataset)
    ids = [e.dst for e in await store.expand(tenant, [ds.id], [Rel.HAS_FIELD], Direction.OUT)]
    return {n.props["path"]: n for n in (await store.get_nodes(tenant, ids)).values()}, ds


async def test_a_dropped_column_is_removed_retired_and_its_impact_told(store, tenant):
    services = Services.build(store, topology=TopologyCache(store, "off"))
    await ingest(services, tenant, [V1, DOWN])
    fields, orders = await columns(store, tenant, "orders")
    # Someone to tell: a project owning a model version trained on the report's column.
    report_fields, _ = await columns(store, tenant, "report")
    ada, project = make(store, tenant, Label.PERSON, name="Ada", email="ada@example.com"), make(
        store, tenant, Label.PROJECT, name="Churn", problem_class="classification", complexity_score=3)
    model = make(store, tenant, Label.MODEL, name="churn-model")
    version = make(store, tenant, Label.MODEL_VERSION, model_id=model.id, version="1")
    await store.apply(tenant, ChangeSet(create=[ada, project, model, version], link=[
        Edge(Rel.MEMBER_OF, ada.id, project.id), Edge(Rel.OWNS, project.id, model.id),
        Edge(Rel.VERSION_OF, version.id, model.id), Edge(Rel.USES_FEATURE, version.id, report_fields["total_discount"].id)]))
    raw_fields, _ = await columns(store, tenant, "raw")
    before = await services.lineage.impact(tenant, raw_fields["discount"].id, None)
    assert {f.name for f in before.fields} == {"discount", "total_discount"}

    await ingest(services, tenant, [V2])
    fields, orders = await columns(store, tenant, "orders")
    assert fields["discount"].props.get("removed_in") == 2 and "removed_in" not in fields["amount"].props
    assert orders.props["schema_version"] == 2
    change = orders.props["schema_history"][-1]
    assert change["diff"]["removed"] == [{"path": "discount", "type": "int"}] and change["diff"]["added"] == []
    impact = change["impact"]
    assert [f["name"] for f in impact["fields"]] == ["total_discount"]
    assert {d["name"] for d in impact["datasets"]} == {"report"}
    assert [p["name"] for p in impact["people"]] == ["Ada"] and [m["name"] for m in impact["model_versions"]] == ["1"]
    # Retired: the dropped column's edges are gone, so impact no longer reports it.
    after = await services.lineage.impact(tenant, raw_fields["discount"].id, None)
    assert after.fields == []
    # The old version is still there to read.
    assert list(columns_of(orders.props["schema_history"][0])) == ["id", "amount", "discount"]

    await ingest(services, tenant, [V1])  # the older run replayed: it changes nothing
    again, orders_again = await columns(store, tenant, "orders")
    assert again["discount"].props.get("removed_in") == 2 and orders_again.props["schema_version"] == 2


async def test_the_current_schema_does_not_depend_on_arrival_order(store, tenant):
    services = Services.build(store, topology=TopologyCache(store, "off"))
    await ingest(services, f"{tenant}-a", [V1, V2])
    await ingest(services, f"{tenant}-b", [V2, V1])
    a, ds_a = await columns(store, f"{tenant}-a", "orders")
    b, ds_b = await columns(store, f"{tenant}-b", "orders")
    assert {p: "removed_in" in f.props for p, f in a.items()} == {p: "removed_in" in f.props for p, f in b.items()} == {
        "id": False, "amount": False, "discount": True}
    assert ds_a.props["schema_history"][-1]["columns"] == ds_b.props["schema_history"][-1]["columns"]


async def test_a_rename_the_column_lineage_states_is_told_as_one(store, tenant):
    services = Services.build(store, topology=TopologyCache(store, "off"))
    first = write("load", "55555555-0000-4000-8000-000000000001", "2026-11-01T00:00:00Z", "customers", ["id", "name"],
                  {"id": ("src", "id"), "name": ("src", "full_name")})
    renamed = write("load", "55555555-0000-4000-8000-000000000002", "2026-11-02T00:00:00Z", "customers", ["id", "customer_name"],
                    {"id": ("src", "id"), "customer_name": ("src", "full_name")})
    await ingest(services, tenant, [first, renamed])
    _, ds = await columns(store, tenant, "customers")
    d = ds.props["schema_history"][-1]["diff"]
    assert d["renamed"] == [{"from": "name", "to": "customer_name"}] and d["removed"] == [] and d["added"] == []


async def test_the_lineage_index_follows_a_dropped_column_exactly(store, tenant):
    cache = TopologyCache(store, "inline")
    indexed = Services.build(store, topology=cache)
    walked = Services.build(store, topology=TopologyCache(store, "off"))
    try:
        await ingest(indexed, tenant, [V1, DOWN])
        assert await cache.ensure(tenant) is not None
        builds = cache.builds
        await ingest(indexed, tenant, [V2])  # retires the dropped column's edges: taken in, not rebuilt
        raw, _ = await columns(store, tenant, "raw")
        _, orders = await columns(store, tenant, "orders")
        for start in (raw["discount"].id, raw["amount"].id, orders.id):
            a = await indexed.lineage.impact(tenant, start, None)
            b = await walked.lineage.impact(tenant, start, None)
            assert [(f.id, f.distance) for f in a.fields] == [(f.id, f.distance) for f in b.fields]
            assert [(d.id, d.distance) for d in a.datasets] == [(d.id, d.distance) for d in b.datasets]
        assert cache.builds == builds and cache.answers >= 3
    finally:
        await cache.close()
