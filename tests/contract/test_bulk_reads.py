"""Bulk reads over a whole tenant on every backend (see the `store` fixture): scan_node_props, and
scan_edges with the props batch work reads (the meta-model's features)."""

from __future__ import annotations

from maestro_graph.domain.graph import ChangeSet, Edge, Label, Rel
from maestro_graph.domain.props import validate_rel_props
from maestro_graph.services.graph import GraphService


def make(store, tenant, label, **props):
    return GraphService(store).build(tenant, label, props)


def person(store, tenant, name):
    return make(store, tenant, Label.PERSON, name=name, email=f"{name.lower()}@example.com")


def project(store, tenant, name, **extra):
    return make(store, tenant, Label.PROJECT, name=name, problem_class="nlp", complexity_score=5, **extra)


def artifact(store, tenant, name, **extra):
    return make(store, tenant, Label.ARTIFACT, name=name, type="feature_pipeline", **extra)


def link(rel, src, dst, **props):
    return Edge(rel, src.id, dst.id, validate_rel_props(rel, props))


async def scanned(store, tenant, labels, **kwargs):
    """Every list scan_node_props yields."""
    return [nodes async for nodes in store.scan_node_props(tenant, labels, **kwargs)]


async def test_scan_node_props_gives_every_node_of_the_labels_exactly_as_get_nodes_does(store, tenant):
    people = [person(store, tenant, f"P{i}") for i in range(3)]
    projects = [
        project(store, tenant, "Churn", team_size=4, status="finished", success_score=72.5, duration_days=41.0,
                cost=12000.0, started_at="2025-01-02T00:00:00Z", finished_at="2025-02-12T00:00:00Z",
                metadata={"repo": {"url": "git://x", "stars": 3}, "labels": ["a", 1, None, {"b": [2.5, True]}],
                          "empty": {}, "nested": [[1, 2], []]}),
        project(store, tenant, "Fraud", metadata={}),
    ]
    tools = [artifact(store, tenant, "features", tags=["x", "y"], impact_score=6.5, usage_count=3,
                      metadata={"owner": "ml", "params": {"depth": 3, "rate": 0.1}})]
    ignored = make(store, tenant, Label.DATASET, namespace="ns", name="orders")
    await store.apply(tenant, ChangeSet(create=[*people, *projects, *tools, ignored]))

    chunks = await scanned(store, tenant, [Label.PROJECT, Label.PERSON, Label.ARTIFACT])
    got = {n.id: n for nodes in chunks for n in nodes}
    assert sum(len(nodes) for nodes in chunks) == len(got) == 6  # each node once
    wanted = [n.id for n in (*people, *projects, *tools)]
    assert got == await store.get_nodes(tenant, wanted)
    assert got[projects[0].id].props["metadata"] == projects[0].props["metadata"]  # nested dicts and lists intact
    assert got[tools[0].id] == tools[0]


async def test_scan_node_props_reads_in_chunks_of_at_most_chunk(store, tenant):
    people = [person(store, tenant, f"P{i:02}") for i in range(10)]
    await store.apply(tenant, ChangeSet(create=people))
    chunks = await scanned(store, tenant, [Label.PERSON], chunk=3)
    assert sorted(len(nodes) for nodes in chunks) == [1, 3, 3, 3]
    assert sorted((n for nodes in chunks for n in nodes), key=lambda n: n.id) == sorted(people, key=lambda n: n.id)


async def test_scan_node_props_sees_only_the_tenant_s_nodes(store, tenant):
    mine, theirs = person(store, tenant, "Ada"), person(store, f"{tenant}-other", "Ada")
    await store.apply(tenant, ChangeSet(create=[mine]))
    await store.apply(f"{tenant}-other", ChangeSet(create=[theirs]))
    assert await scanned(store, tenant, [Label.PERSON]) == [[mine]]
    assert await scanned(store, f"{tenant}-other", [Label.PERSON]) == [[theirs]]
    assert await scanned(store, f"{tenant}-nobody", [Label.PERSON]) == []


async def test_scan_node_props_of_a_label_without_nodes_or_of_no_labels_gives_nothing(store, tenant):
    await store.apply(tenant, ChangeSet(create=[person(store, tenant, "Ada")]))
    assert await scanned(store, tenant, [Label.METRIC]) == []
    assert await scanned(store, tenant, []) == []


async def test_scan_edges_gives_the_props_of_membership_usage_and_metrics(store, tenant):
    ada, bob = person(store, tenant, "Ada"), person(store, tenant, "Bob")
    churn = project(store, tenant, "Churn")
    feats, tmpl = artifact(store, tenant, "features"), artifact(store, tenant, "template")
    metric = make(store, tenant, Label.METRIC, type="ci_success_rate", value=0.75, at="2025-03-01T00:00:00Z")
    links = {
        Rel.MEMBER_OF: [link(Rel.MEMBER_OF, ada, churn, role="lead"), link(Rel.MEMBER_OF, bob, churn)],
        Rel.USES: [link(Rel.USES, churn, feats, impact_score=7.5, at="2025-03-01T10:00:00Z"),
                   link(Rel.USES, churn, tmpl, impact_score=0.0)],
        Rel.HAS_METRIC: [link(Rel.HAS_METRIC, churn, metric)],
    }
    await store.apply(tenant, ChangeSet(create=[ada, bob, churn, feats, tmpl, metric],
                                        link=[e for edges in links.values() for e in edges]))

    got = {rel: sorted([row async for rows in store.scan_edges(tenant, rel, with_props=True) for row in rows])
           for rel in links}
    assert got == {
        Rel.MEMBER_OF: sorted([(ada.id, churn.id, {"role": "lead"}), (bob.id, churn.id, {"role": "member"})]),
        Rel.USES: sorted([(churn.id, feats.id, {"impact_score": 7.5, "at": "2025-03-01T10:00:00Z"}),
                          (churn.id, tmpl.id, {"impact_score": 0.0})]),
        Rel.HAS_METRIC: [(churn.id, metric.id, {})],
    }
    uses = {dst: props for _, dst, props in got[Rel.USES]}
    assert type(uses[tmpl.id]["impact_score"]) is float  # 0.0 stays a float, not 0


async def test_a_scan_reads_one_snapshot_while_the_tenant_changes(store, tenant):
    people = [person(store, tenant, f"P{i}") for i in range(6)]
    await store.apply(tenant, ChangeSet(create=people))
    scan = store.scan_node_props(tenant, [Label.PERSON], chunk=2)
    seen = list(await anext(scan))
    gone = next(p for p in people if p not in seen)  # not read yet
    renamed = next(p for p in people if p not in seen and p is not gone)
    late = person(store, tenant, "Late")
    await store.apply(tenant, ChangeSet(create=[late], delete=[gone.id], update=[(renamed.id, {"name": "Renamed"})]))
    seen += [n async for nodes in scan for n in nodes]

    ids = [n.id for n in seen]
    assert len(ids) == len(set(ids))  # none twice
    assert set(ids) >= {p.id for p in people} - {gone.id}  # every node there throughout
    if store.backend != "neo4j":  # Neo4j reads committed data, not a snapshot (base.py)
        assert sorted(seen, key=lambda n: n.id) == sorted(people, key=lambda n: n.id)
