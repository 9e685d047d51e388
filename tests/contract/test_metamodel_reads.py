"""The meta-model reads the graph two ways, on every backend: the whole tenant in bulk (training,
artifact recommendations) and one project's neighbourhood (a prediction). Both must give every
project the same features, or a model would be served inputs unlike those it learnt from; and the
bulk read costs the same few store calls however many projects there are."""

from __future__ import annotations

import math

from maestro_graph.domain import project_features as pf
from maestro_graph.history import load_history
from maestro_graph.services import Services
from tests.e2e.conftest import CountingStore


def same(a: list[float], b: list[float]) -> bool:
    return all((math.isnan(x) and math.isnan(y)) or x == y for x, y in zip(a, b, strict=True))


async def test_a_projects_neighbourhood_gives_the_features_the_whole_tenant_gives(store, tenant):
    services = Services.build(store)
    await load_history(services, tenant, projects=60, seed=4, progress=lambda *_: None)
    snap = await services.metamodel.snapshot(tenant)
    ids, rows, _, roles = pf.training_rows(snap)
    assert len(ids) > 40
    checked = 0
    for project, row in list(zip(ids, rows))[::7]:
        near, pid = await services.metamodel.neighbourhood(tenant, project, None)
        assert same(pf.features(near, pid, snap.as_of(project), roles), row), project
        checked += 1
    active = [p for p, props in snap.projects.items() if props.get("status") != "finished"]
    for project in active[:3]:
        near, pid = await services.metamodel.neighbourhood(tenant, project, None)
        t = pf.epoch("2031-01-01T00:00:00Z")
        assert same(pf.features(near, pid, t, roles), pf.features(snap, project, t, roles)), project
        checked += 1
    assert checked >= 8


async def test_the_bulk_read_costs_the_same_store_calls_for_any_number_of_projects(store, tenant):
    calls = []
    for n, name in ((30, tenant), (120, tenant + "-big")):
        counting = CountingStore(store)
        services = Services.build(counting)  # type: ignore[arg-type]
        await load_history(Services.build(store), name, projects=n, seed=2, progress=lambda *_: None)
        counting.calls.clear()
        await services.metamodel.snapshot(name)
        calls.append(sorted(counting.calls))
    assert calls[0] == calls[1] and len(calls[0]) == 7, calls
