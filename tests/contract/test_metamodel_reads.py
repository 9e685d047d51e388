"""The meta-model reads the graph two ways, on every backend: the whole tenant in bulk (training,
artifact recommendations) and one project's neighbourhood (a prediction). Both must give every
project the same features, or a model would be served inputs unlike those it learnt from; and the
bulk read costs the same few store calls however many projects there are."""

from __future__ import annotations

import math

import pytest

from maestro_graph.auth.principal import system
from maestro_graph.domain import metamodel as mm
from maestro_graph.domain import project_features as pf
from maestro_graph.domain.errors import Conflict
from maestro_graph.domain.graph import Edge, Label, Rel
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


async def mlflow_graph(services, tenant: str, runs: int) -> tuple[str, str]:
    """Two projects: Churn owns an MLflow experiment with `runs` runs started in 2025 (every third
    FAILED, the last one failed only in 2031) and an Airflow job whose runs do not count; Fraud
    owns nothing but a model."""
    actor = system(tenant, "test")
    g = services.graph
    churn, fraud = await g.create(actor, Label.PROJECT, [
        {"name": "Churn", "problem_class": "classification", "complexity_score": 4, "status": "active"},
        {"name": "Fraud", "problem_class": "classification", "complexity_score": 6, "status": "active"}])
    experiment, airflow = await g.create(actor, Label.JOB, [{"namespace": "mlflow", "name": "churn"},
                                                            {"namespace": "airflow", "name": "etl"}])
    model = (await g.create(actor, Label.MODEL, [{"name": "fraud-model"}]))[0]
    await g.link(actor, [Edge(Rel.OWNS, churn.id, experiment.id), Edge(Rel.OWNS, churn.id, airflow.id),
                         Edge(Rel.OWNS, fraud.id, model.id)])
    await g.create(actor, Label.RUN, [
        {"run_id": f"r{i}", "job_id": experiment.id, "producer": "mlflow", "state": "FAIL" if i % 3 == 0 else "COMPLETE",
         "started_at": f"2025-03-{1 + i % 28:02d}T00:00:00Z",
         "ended_at": "2031-01-01T00:00:00Z" if i == runs - 1 else f"2025-04-{1 + i % 28:02d}T00:00:00Z"}
        for i in range(runs)] + [
        {"run_id": "etl-1", "job_id": airflow.id, "producer": "https://airflow", "state": "FAIL",
         "started_at": "2025-03-01T00:00:00Z", "ended_at": "2025-03-02T00:00:00Z"}])
    return churn.id, fraud.id


async def test_mlflow_runs_of_owned_experiments_read_alike_both_ways_in_a_constant_number_of_calls(store, tenant):
    calls = []
    for runs, name in ((7, tenant), (40, tenant + "-more")):
        counting = CountingStore(store)
        services = Services.build(counting)  # type: ignore[arg-type]
        churn, fraud = await mlflow_graph(Services.build(store), name, runs)
        counting.calls.clear()
        snap = await services.metamodel.snapshot(name)
        calls.append(sorted(counting.calls))
        t = pf.epoch("2026-01-01T00:00:00Z")
        names = pf.feature_names([])
        for project in (churn, fraud):
            near, pid = await services.metamodel.neighbourhood(name, project, None)
            assert same(pf.features(near, pid, t, []), pf.features(snap, project, t, [])), project
        got = dict(zip(names, pf.features(snap, churn, t, [])))
        failed = sum(1 for i in range(runs - 1) if i % 3 == 0)  # the last run had not failed by t
        assert (got["mlflow_runs"], got["mlflow_failed_share"]) == (runs, failed / runs)
        none = dict(zip(names, pf.features(snap, fraud, t, [])))
        assert math.isnan(none["mlflow_runs"]) and math.isnan(none["mlflow_failed_share"])
    assert calls[0] == calls[1] and len(calls[0]) == 8, calls


async def test_a_model_stored_before_the_mlflow_features_predicts_and_one_naming_unknown_features_is_refused(store, tenant):
    services = Services.build(store)
    await load_history(services, tenant, projects=30, seed=5, progress=lambda *_: None)
    snap = await services.metamodel.snapshot(tenant)
    ids, rows, targets, roles = pf.training_rows(snap)
    names = pf.feature_names(roles)
    keep = [i for i, n in enumerate(names) if n not in pf.MLFLOW_FEATURES]  # the columns a model had before them
    old = mm.fit([[r[i] for i in keep] for r in rows], targets, [names[i] for i in keep], roles, version=1,
                 trained_at="2026-01-01T00:00:00Z", ids=ids)
    await store.put_blob(tenant, "metamodel", old.to_bytes())
    actor = system(tenant, "test")
    forecast = await services.metamodel.predict(actor, ids[0])
    assert set(forecast.outcomes) == set(pf.TARGETS)
    assert not any(n in pf.MLFLOW_FEATURES for o in forecast.outcomes.values() for n, _, _ in o.contributions)

    unknown = mm.fit([[*r, 0.0] for r in rows], targets, [*names, "retired_feature"], roles, version=2,
                     trained_at="2026-01-02T00:00:00Z", ids=ids)
    await store.put_blob(tenant, "metamodel", unknown.to_bytes())
    with pytest.raises(Conflict, match="retired_feature.*train it again"):
        await services.metamodel.predict(actor, ids[0])
