"""Impact analysis from the in-memory topology gives exactly the answer of the store walk, on every
backend: the same nodes, distances, paths and order, and the same truncation under a small limit.
The graph is the benchmark's generator (fan-in, fan-out, cycles, jobs without column lineage) with
models, deployments, projects and people hung off it."""

from __future__ import annotations

import uuid

import dataclasses
import random

from maestro_graph.auth.principal import system
from maestro_graph.domain.graph import ChangeSet, Edge, Label, NodeQuery, Rel
from maestro_graph.services import Services
from maestro_graph.services.topology_cache import TopologyCache
from tests.benchmarks.lineage.generate import events, generate
from maestro_graph.types import Direction
from tests.contract.test_store_contract import make, person, project


def answer(report):
    """A report without the nodes read on the way (only the store walk reads any)."""
    return dataclasses.replace(report, loaded={})


async def test_topology_impact_equals_the_store_walk(store, tenant):
    datasets = generate(120, seed=7, cycle_rate=0.05)
    walked = Services.build(store, topology=TopologyCache(store, "off"))
    await walked.lineage.ingest(system(tenant, "test"), list(events(datasets)))
    some = (await store.find_nodes(tenant, NodeQuery(Label.DATASET, first=100))).nodes
    rnd = random.Random(1)
    ada, bob, p = person(store, tenant, "Ada"), person(store, tenant, "Bob"), project(store, tenant, "Churn")
    model = make(store, tenant, Label.MODEL, name="churn")
    version = make(store, tenant, Label.MODEL_VERSION, model_id=model.id, version="1")
    deployment = make(store, tenant, Label.DEPLOYMENT, name="api", environment="prod")
    fields = (await store.neighbours(tenant, [some[40].id], Rel.HAS_FIELD, Direction.OUT))[some[40].id]
    await store.apply(tenant, ChangeSet(create=[ada, bob, p, model, version, deployment], link=[
        Edge(Rel.VERSION_OF, version.id, model.id), Edge(Rel.TRAINED_ON, version.id, some[60].id),
        Edge(Rel.USES_FEATURE, version.id, fields[0].node.id), Edge(Rel.SERVES, deployment.id, version.id),
        Edge(Rel.OWNS, p.id, model.id), Edge(Rel.MEMBER_OF, ada.id, p.id, {"role": "lead"}),
        Edge(Rel.OWNS, bob.id, some[70].id)]))

    cache = TopologyCache(store, "inline")
    topology = await cache.ensure(tenant)
    await cache.close()
    assert topology is not None and topology.version == await store.topology_version(tenant)
    starts = rnd.sample(some[:60], 6)
    starts += [nb.node for d in rnd.sample(some[:60], 6)
               for nb in (await store.neighbours(tenant, [d.id], Rel.HAS_FIELD, Direction.OUT))[d.id][:2]]
    compared = reached_models = truncated = 0
    for start in starts:
        for depth, cap in ((1, 20_000), (3, 20_000), (1000, 20_000), (1000, 7), (1000, 60)):
            expected = answer(await walked.lineage.impact(tenant, start.id, depth, cap))
            got = answer(topology.impact(topology.index(start.id), depth, cap))
            assert got == expected, (start.label, depth, cap)
            compared += 1
            reached_models += bool(expected.model_versions)
            truncated += expected.truncated
    assert compared == len(starts) * 5 and reached_models and truncated  # the comparisons covered those paths


async def test_the_index_keeps_at_most_max_nodes_dropping_the_least_recently_used_tenant(store, tenant):
    other = f"{tenant}-b"
    for t, n in ((tenant, 6), (other, 5)):
        await Services.build(store, topology=TopologyCache(store, "off")).lineage.ingest(
            system(t, "test"), list(events(generate(n, seed=n))))
    unbounded = TopologyCache(store, "inline")
    sizes = {t: len(await unbounded.ensure(t)) for t in (tenant, other)}
    await unbounded.close()
    assert sizes[tenant] > sizes[other] > 0

    cache = TopologyCache(store, "background", max_nodes=sizes[tenant])  # one tenant's fits, not both
    try:
        assert await cache.ensure(tenant) is not None and await cache.ensure(other) is not None
        assert await cache.fresh(other) is not None
        assert await cache.fresh(tenant) is None  # dropped for `other`; its rebuild has started
    finally:
        await cache.close()

    small = TopologyCache(store, "inline", max_nodes=sizes[tenant] - 1)
    try:
        services = Services.build(store, topology=small)
        assert await small.ensure(tenant) is None and await small.fresh(tenant) is None
        start = (await store.find_nodes(tenant, NodeQuery(Label.FIELD, first=1))).nodes[0]
        walked = Services.build(store, topology=TopologyCache(store, "off"))
        assert answer(await services.lineage.impact(tenant, start.id, 10, 20_000)) == \
            answer(await walked.lineage.impact(tenant, start.id, 10, 20_000))  # too big: answered from the store
    finally:
        await small.close()


async def test_another_process_commits_are_taken_in_from_the_feed_without_a_rebuild(store, second_store, tenant):
    await Services.build(store, topology=TopologyCache(store, "off")).lineage.ingest(
        system(tenant, "test"), list(events(generate(4, seed=4))))
    cache = TopologyCache(store, "inline", max_lag=0.0)
    try:
        assert await cache.ensure(tenant) is not None
        builds = cache.builds
        a, b = (await store.find_nodes(tenant, NodeQuery(Label.DATASET, first=2))).nodes
        other = Services.build(second_store)  # another process: this cache's store object is not told
        for i in range(5):
            await other.lineage.ingest(system(tenant, "other"), [lineage_event(f"other-{i}", a, f"out-{i}")])
        await second_store.apply(tenant, ChangeSet(link=[Edge(Rel.FEEDS, b.id, a.id, {"column_lineage": True})]))
        topology = await cache.fresh(tenant)
        assert topology is not None and topology.version == await store.topology_version(tenant)
        assert cache.builds == builds and cache.take_ins >= 1  # read from the feed, taken in: no rebuild
        rebuilt = await TopologyCache(store, "inline").ensure(tenant)  # the same graph read afresh
        assert sorted(topology.ids) == sorted(rebuilt.ids) and topology.names == rebuilt.names
        for key, csr in rebuilt.adjacency.items():
            assert _pairs(topology, topology.adjacency[key]) == _pairs(rebuilt, csr), key
    finally:
        await cache.close()


def _pairs(topology, csr):
    """Each relationship as (source id, target id, flag)."""
    ids = topology.ids
    return {(ids[i], ids[csr.targets[k]], bool(csr.flags[k]) if csr.flags is not None else None)
            for i in range(len(csr.offsets) - 1) for k in range(csr.offsets[i], csr.offsets[i + 1])}


def lineage_event(job: str, source, output: str) -> dict:
    return {"eventType": "COMPLETE", "eventTime": "2026-11-01T10:00:00Z", "run": {"runId": str(uuid.uuid4())},
            "job": {"namespace": "etl", "name": job}, "producer": "https://example.com/test",
            "schemaURL": "https://openlineage.io/spec/2-0-2/OpenLineage.json#/$defs/RunEvent",
            "inputs": [{"namespace": source.props["namespace"], "name": source.name}],
            "outputs": [{"namespace": source.props["namespace"], "name": output, "facets": {"schema": {
                "_producer": "https://example.com/test",
                "_schemaURL": "https://openlineage.io/spec/facets/1-1-1/SchemaDatasetFacet.json#/$defs/SchemaDatasetFacet",
                "fields": [{"name": "x", "type": "int"}]}}}]}


async def test_a_tenant_whose_topology_keeps_changing_is_not_rebuilt_back_to_back(store, second_store, tenant):
    await Services.build(store, topology=TopologyCache(store, "off")).lineage.ingest(
        system(tenant, "test"), list(events(generate(4, seed=4))))
    cache = TopologyCache(store, "background", min_rest=60)
    try:
        assert await cache.ensure(tenant) is not None
        a, b = (await store.find_nodes(tenant, NodeQuery(Label.DATASET, first=2))).nodes
        # A deletion, committed by another process: the index cannot take it in, only a rebuild catches up.
        await second_store.apply(tenant, ChangeSet(delete=[a.id]))
        cache.max_lag = 0.0
        assert await cache.fresh(tenant) is None  # stale: the store walk answers...
        assert cache._builds[tenant].done()  # ...and no rebuild starts while the last one rests
        cache._rest_until[tenant] = 0.0
        assert await cache.fresh(tenant) is None
        assert not cache._builds[tenant].done()  # rested: the rebuild has started
        assert await cache.ensure(tenant) is not None and await cache.fresh(tenant) is not None
    finally:
        await cache.close()


async def test_the_index_follows_this_process_commits_without_a_rebuild(store, second_store, tenant):
    datasets = generate(90, seed=5, cycle_rate=0.05)
    evs = list(events(datasets))
    cache = TopologyCache(store, "background")
    services = Services.build(store, topology=cache)
    rebuilt = TopologyCache(store, "inline")
    try:
        await services.lineage.ingest(system(tenant, "test"), evs[:40])
        assert await cache.ensure(tenant) is not None
        build = cache._builds[tenant]
        for part in (evs[40:41], evs[41:70], evs[70:]):  # new datasets, fields and lineage between known ones
            await services.lineage.ingest(system(tenant, "test"), part)
        some = (await store.find_nodes(tenant, NodeQuery(Label.DATASET, first=50))).nodes
        fields = (await store.neighbours(tenant, [some[30].id], Rel.HAS_FIELD, Direction.OUT))[some[30].id]
        model = make(store, tenant, Label.MODEL, name="churn")
        version = make(store, tenant, Label.MODEL_VERSION, model_id=model.id, version="1")
        owner = project(store, tenant, "Churn")
        await store.apply(tenant, ChangeSet(create=[model, version, owner]))  # no topology change: not told
        await store.apply(tenant, ChangeSet(update=[(some[2].id, {"name": "renamed"})], link=[
            Edge(Rel.VERSION_OF, version.id, model.id), Edge(Rel.TRAINED_ON, version.id, some[40].id),
            Edge(Rel.USES_FEATURE, version.id, fields[0].node.id), Edge(Rel.OWNS, owner.id, model.id),
            Edge(Rel.FEEDS, some[3].id, some[1].id, {"column_lineage": True})]))

        followed = await cache.fresh(tenant)
        assert followed is not None and cache._builds[tenant] is build  # taken in, not rebuilt
        expected = await rebuilt.ensure(tenant)
        assert expected is not None and followed.version == expected.version == await store.topology_version(tenant)
        assert (followed.ids, followed.labels, followed.names) == (expected.ids, expected.labels, expected.names)
        for key, csr in expected.adjacency.items():
            got = followed.adjacency[key]
            assert (list(got.offsets), list(got.targets), got.flags) == (list(csr.offsets), list(csr.targets), csr.flags), key
        walked = Services.build(store, topology=TopologyCache(store, "off"))
        for start in (some[0], some[20], fields[0].node):
            assert answer(followed.impact(followed.index(start.id), 1000, 20_000)) == \
                answer(await walked.lineage.impact(tenant, start.id, 1000, 20_000))

        # A tenant whose take-ins are slow (a big one): queries walk the store while one runs.
        cache.took_in[tenant] = 10.0
        await store.apply(tenant, ChangeSet(link=[Edge(Rel.TRAINED_ON, version.id, some[41].id)]))
        assert await cache.fresh(tenant) is None
        await cache._following[tenant]
        assert (await cache.fresh(tenant)).version == await store.topology_version(tenant)
        assert cache._builds[tenant] is build

        # Relationships removed are taken in too...
        await store.apply(tenant, ChangeSet(unlink=[Edge(Rel.FEEDS, some[3].id, some[1].id),
                                                    Edge(Rel.TRAINED_ON, version.id, some[41].id)]))
        followed = await cache.ensure(tenant)
        assert cache._builds[tenant] is build
        expected = await rebuilt.ensure(tenant)
        assert followed.version == expected.version
        for key, csr in expected.adjacency.items():
            assert (list(followed.adjacency[key].offsets), list(followed.adjacency[key].targets)) == \
                (list(csr.offsets), list(csr.targets)), key

        # ...a node deleted is not: the version moves past it, and a rebuild catches up.
        await store.apply(tenant, ChangeSet(delete=[owner.id]))
        cache._rest_until[tenant] = 0.0
        assert await cache.fresh(tenant) is None
        assert (await cache.ensure(tenant)).version == await store.topology_version(tenant)
        assert cache._builds[tenant] is not build
    finally:
        await cache.close()
        await rebuilt.close()


async def test_a_commit_reported_a_moment_after_a_query_saw_its_version_is_taken_in_not_rebuilt(store, tenant):
    await Services.build(store, topology=TopologyCache(store, "off")).lineage.ingest(
        system(tenant, "test"), list(events(generate(4, seed=4))))
    cache = TopologyCache(store, "background")
    try:
        assert await cache.ensure(tenant) is not None
        builds = cache.builds
        cache._unwatch()  # this cache hears of the commit only when the test says so
        told = []
        stop = store.watch_feed(lambda entry, stored: told.append((entry, stored)))
        a, b = (await store.find_nodes(tenant, NodeQuery(Label.DATASET, first=2))).nodes
        await store.apply(tenant, ChangeSet(link=[Edge(Rel.FEEDS, b.id, a.id)]))
        stop()
        cache._rest_until[tenant] = 0.0  # free to rebuild
        assert await cache.fresh(tenant) is None  # a version it was not told of: the store answers
        assert not cache._builds[tenant].done()  # a rebuild is on its way...
        cache._committed(*told[0])  # the report arrives within the grace
        await cache._builds[tenant]
        assert cache.builds == builds  # ...yet none was made...
        assert (await cache.fresh(tenant)).version == await store.topology_version(tenant)  # ...it was taken in
    finally:
        await cache.close()


async def test_impact_without_depth_is_the_whole_closure_or_says_truncated(store, tenant):
    """A 1,200-hop column chain: past the old 1,000-hop stop, with and without the index."""
    dataset = make(store, tenant, Label.DATASET, namespace="chain", name="d")
    chain = [make(store, tenant, Label.FIELD, dataset_id=dataset.id, path=f"c{i:04d}") for i in range(1_200)]
    await store.apply(tenant, ChangeSet(create=[dataset, *chain], link=[
        *(Edge(Rel.HAS_FIELD, dataset.id, f.id) for f in chain),
        *(Edge(Rel.DERIVES, a.id, b.id) for a, b in zip(chain, chain[1:]))]))
    walked = Services.build(store, topology=TopologyCache(store, "off"))
    cache = TopologyCache(store, "inline")
    topology = await cache.ensure(tenant)
    await cache.close()
    assert topology is not None
    for name, impact in (("store walk", lambda cap: walked.lineage.impact(tenant, chain[0].id, None, cap)),
                         ("index", lambda cap: _async(topology.impact(topology.index(chain[0].id), cap, cap)))):
        whole = await impact(20_000)
        assert len(whole.fields) == 1_199 and not whole.truncated, name
        assert whole.fields[-1].distance == 1_199 and len(whole.fields[-1].path) == 1_200, name
        cut = await impact(500)
        assert cut.truncated and len(cut.fields) < 1_199, name


async def _async(value):
    return value
