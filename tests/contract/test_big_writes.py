"""Big legal writes (issue #21, 14a): a 100,000-column OpenLineage event and a batch of 3,000 events
of 10 columns, both under the body cap. Every backend stores them whole, except that Neo4j may
refuse one its transaction memory cannot hold: then at once, with LIMIT_EXCEEDED, and nothing
stored (never a transient error retried for tens of seconds)."""

from __future__ import annotations

import logging
import time
import uuid

import pytest
from neo4j import AsyncGraphDatabase

from maestro_graph.auth.principal import system
from maestro_graph.domain.errors import LimitExceeded
from maestro_graph.domain.graph import ChangeSet, Edge, Label, Node, NodeQuery, Rel
from maestro_graph.domain.clock import now
from maestro_graph.domain.keys import field_key
from maestro_graph.services import Services
from maestro_graph.services.topology_cache import TopologyCache
from maestro_graph.store.neo4j import Neo4jStore
from maestro_graph.store.neo4j.store import _bytes
from maestro_graph.types import Direction
from tests.benchmarks.lineage.generate import small_events
from tests.contract.test_store_contract import make


def wide_event(columns: int) -> dict:
    return {"eventType": "COMPLETE", "eventTime": "2026-11-01T10:00:00Z", "producer": "https://example.com/p",
            "schemaURL": "https://openlineage.io/spec/2-0-2/OpenLineage.json#/definitions/RunEvent",
            "run": {"runId": "3f0e8e6a-8a38-4b5e-9d1c-0e1f2a3b4c5d"}, "job": {"namespace": "s", "name": "wide"},
            "inputs": [], "outputs": [{"namespace": "s", "name": "wide_table", "facets": {"schema": {
                "_producer": "https://example.com/p",
                "_schemaURL": "https://openlineage.io/spec/facets/1-0-0/SchemaDatasetFacet.json",
                "fields": [{"name": f"c{i}", "type": "int"} for i in range(columns)]}}}]}


async def fields_of(store, tenant, dataset_name: str) -> int:
    (ds,) = (await store.find_nodes(tenant, NodeQuery(Label.DATASET, text=dataset_name, first=1))).nodes
    pages = await store.neighbour_pages(tenant, [ds.id], Rel.HAS_FIELD, Direction.OUT, first=1)
    return pages[ds.id].total


async def test_a_100000_column_event_is_stored_whole_or_refused_with_nothing_stored(store, tenant):
    services = Services.build(store, topology=TopologyCache(store, "off"))
    try:
        result = await services.lineage.ingest(system(tenant, "test"), [wide_event(100_000)])
    except LimitExceeded as err:  # only a store whose transactions are bounded in memory may
        assert store.backend == "neo4j", err
        assert err.extensions["code"] == "LIMIT_EXCEEDED" and "fewer" in err.message
        assert await store.count_by_label(tenant) == {}
        return
    assert (result.events, result.nodes) == (1, 100_003)
    assert await store.count_by_label(tenant) == {Label.FIELD: 100_000, Label.DATASET: 1, Label.JOB: 1, Label.RUN: 1}
    assert await fields_of(store, tenant, "wide_table") == 100_000


async def test_a_batch_of_3000_events_of_10_columns_is_stored_whole(store, tenant):
    services = Services.build(store, topology=TopologyCache(store, "off"))
    result = await services.lineage.ingest(system(tenant, "test"), list(small_events(3000)))
    assert (result.events, result.nodes, result.relationships) == (3000, 44_500, 77_000)
    assert await store.count_by_label(tenant) == {Label.JOB: 3000, Label.RUN: 3000, Label.DATASET: 3500,
                                                  Label.FIELD: 35_000}
    assert await fields_of(store, tenant, "http.dst002999") == 10
    (dst,) = (await store.find_nodes(tenant, NodeQuery(Label.DATASET, text="http.dst002999", first=1))).nodes
    columns = (await store.neighbours(tenant, [dst.id], Rel.HAS_FIELD, Direction.OUT))[dst.id]
    sources = await store.neighbours(tenant, [c.node.id for c in columns], Rel.DERIVES, Direction.IN)
    assert all(len(found) == 1 for found in sources.values())  # each column derives from its source's


# -- Neo4j only: SQLite and PostgreSQL hold a write of any of these sizes in one transaction ------

async def neo4j_tx_memory(settings) -> int | None:
    """The least transaction memory the test server allows (None: no limit set)."""
    driver = AsyncGraphDatabase.driver(settings.store, auth=(settings.neo4j_user, settings.neo4j_password))
    try:
        records, _, _ = await driver.execute_query(
            "SHOW SETTINGS YIELD name, value WHERE name IN $names RETURN value",
            names=["db.memory.transaction.max", "db.memory.transaction.total.max", "dbms.memory.transaction.total.max"])
    finally:
        await driver.close()
    return min((b for r in records if (b := _bytes(r["value"])) is not None), default=None)


def wide_dataset(tenant: str, columns: int) -> ChangeSet:
    """One dataset with `columns` fields and their HAS_FIELD links, built directly (fast)."""
    ds = make(None, tenant, Label.DATASET, namespace="s", name="too_wide")
    stamp = now()
    fields = [Node(str(uuid.uuid4()), Label.FIELD, field_key(ds.id, f"c{i}"),
                   {"dataset_id": ds.id, "path": f"c{i}", "name": f"c{i}", "type": "int"}, stamp, stamp)
              for i in range(columns)]
    return ChangeSet(merge=[ds, *fields], link=[Edge(Rel.HAS_FIELD, ds.id, f.id) for f in fields])


async def test_a_write_too_big_for_a_neo4j_transaction_is_refused_at_once(store, store_settings, tenant):
    if store.backend != "neo4j":
        pytest.skip("only Neo4j bounds a transaction's memory")
    limit = await neo4j_tx_memory(store_settings)
    if limit is None or limit > 2 * 2**30:
        pytest.skip(f"this Neo4j allows {limit} bytes of transaction memory: 300,000 columns could fit")
    changes = wide_dataset(tenant, 300_000)  # ~2.4 GB of transaction state at the least
    started = time.monotonic()
    with pytest.raises(LimitExceeded) as refused:
        await store.apply(tenant, changes)
    assert time.monotonic() - started < 5  # the one timed check: no 20 s of retries, no write first
    assert "fewer events" in refused.value.message
    assert await store.count_by_label(tenant) == {}


async def test_neo4j_running_out_of_transaction_memory_is_limit_exceeded_and_not_retried(store, store_settings, tenant,
                                                                                        caplog):
    """The server's own refusal, for a write the size check lets through (here: no size check)."""
    if store.backend != "neo4j":
        pytest.skip("only Neo4j bounds a transaction's memory")
    limit = await neo4j_tx_memory(store_settings)
    if limit is None or limit > 2**30:
        pytest.skip(f"this Neo4j allows {limit} bytes of transaction memory: the write would take long to fill it")
    # About 7 KB of transaction state a column (field and link), and as much again to commit.
    changes = wide_dataset(tenant, limit // 9_000)
    unchecked = Neo4jStore(store_settings.store, user=store_settings.neo4j_user,
                           password=store_settings.neo4j_password, database=store_settings.neo4j_database,
                           size_check=False)
    await unchecked.open()
    try:
        with caplog.at_level(logging.INFO):
            with pytest.raises(LimitExceeded):
                await unchecked.apply(tenant, changes)
    finally:
        await unchecked.close()
    assert not [r for r in caplog.records if "retried" in r.getMessage()]
    assert await store.count_by_label(tenant) == {}
