"""Impact analysis is one plan (domain/impact.py IMPACT_PLAN) that both executors carry out: the
store walk and the in-memory topology. A change to the plan changes both answers alike."""

from __future__ import annotations

import dataclasses

from maestro_graph.domain import impact
from maestro_graph.domain.graph import ChangeSet, Edge, Label, Rel
from maestro_graph.services import Services
from maestro_graph.services.topology_cache import TopologyCache
from tests.contract.test_store_contract import make, person, project


async def test_both_executors_carry_out_the_one_plan(store, tenant, monkeypatch):
    # a1 -DERIVES-> b1; A feeds C through a job without column lineage; a model version is
    # trained on C, served by a deployment; a project owns its model; Ada is a member.
    a, b, c = (make(store, tenant, Label.DATASET, namespace="plan", name=n) for n in "abc")
    a1, b1, c1 = (make(store, tenant, Label.FIELD, dataset_id=d.id, path="x") for d in (a, b, c))
    model = make(store, tenant, Label.MODEL, name="m")
    version = make(store, tenant, Label.MODEL_VERSION, model_id=model.id, version="1")
    deployment = make(store, tenant, Label.DEPLOYMENT, name="api", environment="prod")
    owner, ada = project(store, tenant, "Churn"), person(store, tenant, "Ada")
    await store.apply(tenant, ChangeSet(create=[a, b, c, a1, b1, c1, model, version, deployment, owner, ada], link=[
        Edge(Rel.HAS_FIELD, a.id, a1.id), Edge(Rel.HAS_FIELD, b.id, b1.id), Edge(Rel.HAS_FIELD, c.id, c1.id),
        Edge(Rel.DERIVES, a1.id, b1.id), Edge(Rel.FEEDS, a.id, b.id, {"column_lineage": True}),
        Edge(Rel.FEEDS, a.id, c.id, {"column_lineage": False}),
        Edge(Rel.TRAINED_ON, version.id, c.id), Edge(Rel.VERSION_OF, version.id, model.id),
        Edge(Rel.SERVES, deployment.id, version.id), Edge(Rel.OWNS, owner.id, model.id),
        Edge(Rel.MEMBER_OF, ada.id, owner.id, {"role": "lead"})]))
    walked = Services.build(store, topology=TopologyCache(store, "off"))
    cache = TopologyCache(store, "inline")
    topology = await cache.ensure(tenant)
    await cache.close()
    assert topology is not None

    async def both() -> dict:
        """{label: [(name, distance)]} from each executor, which must agree."""
        stored = await walked.lineage.impact(tenant, a1.id, None, 1_000)
        in_memory = topology.impact(topology.index(a1.id), 1_000, 1_000)
        assert dataclasses.replace(stored, loaded={}) == in_memory
        return {f: [(i.name, i.distance) for i in getattr(stored, f)]
                for f in ("fields", "datasets", "model_versions", "models", "deployments", "projects", "people")}

    assert await both() == {
        "fields": [("x", 1)], "datasets": [("a", 0), ("b", 1), ("c", 1)], "model_versions": [("1", 2)],
        "models": [("m", 3)], "deployments": [("api", 3)], "projects": [("Churn", 4)], "people": [("Ada", 5)]}

    # Without the crossing of jobs that report no column lineage, C and what hangs off it is not
    # reached: by either executor.
    monkeypatch.setattr(impact, "IMPACT_PLAN", tuple(s for s in impact.IMPACT_PLAN if s.how is not impact.How.CROSS))
    assert await both() == {"fields": [("x", 1)], "datasets": [("a", 0), ("b", 1)], "model_versions": [],
                            "models": [], "deployments": [], "projects": [], "people": []}
