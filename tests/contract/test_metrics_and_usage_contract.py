"""Process metrics out of their type's range are refused and nothing is written, and usage logs
count each project once with its last score: through the services, on every backend."""

from __future__ import annotations

import pytest

from maestro_graph.auth.principal import Principal, Role
from maestro_graph.domain.errors import BadInput
from maestro_graph.domain.graph import Label, Rel
from maestro_graph.services import Services
from maestro_graph.types import Direction


@pytest.fixture
def editor(tenant: str) -> Principal:
    return Principal("editor", tenant, frozenset({Role.EDITOR}))


async def metrics_of(store, tenant, project_id):
    return (await store.neighbours(tenant, [project_id], Rel.HAS_METRIC, Direction.OUT))[project_id]


@pytest.mark.parametrize("bad", [
    {"type": "ci_success_rate", "value": 7.5},
    {"type": "test_coverage", "value": -0.1},
    {"type": "commits_per_week", "value": -3},
    {"type": "open_issues", "value": float("inf")},
    {"type": "avg_pr_merge_hours", "value": float("nan")},
])
async def test_out_of_range_metric_values_are_refused_and_none_is_recorded(store, tenant, editor, bad):
    services = Services.build(store)
    p = await services.projects.create(editor, {"name": "P", "problem_class": "nlp", "complexity_score": 2})
    good = {"type": "commits_per_week", "value": 12}
    with pytest.raises(BadInput) as refused:
        await services.projects.record_metrics(editor, p.id, [good, bad])
    assert refused.value.extensions == {"code": "BAD_USER_INPUT", "field": "value"}
    assert bad["type"] in refused.value.message
    assert await metrics_of(store, tenant, p.id) == []


async def test_in_range_values_are_kept_and_updates_are_held_to_the_range(store, tenant, editor):
    services = Services.build(store)
    p = await services.projects.create(editor, {"name": "P", "problem_class": "nlp", "complexity_score": 2})
    edges = [{"type": "ci_success_rate", "value": 0}, {"type": "ci_success_rate", "value": 1},
             {"type": "commits_per_week", "value": 0}, {"type": "story_points_per_sprint", "value": 250}]
    recorded = await services.projects.record_metrics(editor, p.id, edges)
    assert len(await metrics_of(store, tenant, p.id)) == 4
    rate = recorded[1]
    with pytest.raises(BadInput) as refused:
        await services.graph.update(editor, Label.METRIC, [(rate.id, {"value": 1.01})])
    assert refused.value.extensions["field"] == "value"
    assert (await store.get_nodes(tenant, [rate.id]))[rate.id].props["value"] == 1


async def test_usage_counts_each_project_once_and_keeps_its_last_score(store, tenant, editor):
    services = Services.build(store)
    a = await services.artifacts.register(editor, {"name": "feats", "type": "feature_pipeline"})
    p, q = [await services.projects.create(editor, {"name": n, "problem_class": "nlp", "complexity_score": 2}) for n in "PQ"]
    await services.artifacts.log_usage(editor, p.id, a.id, 9.0)
    await services.artifacts.log_usage(editor, q.id, a.id, 5.0)
    after = await services.artifacts.log_usage(editor, p.id, a.id, 1.0)  # p again: its score replaced
    assert after.props["usage_count"] == 2 and after.props["impact_score"] == 3.0
    with pytest.raises(BadInput):
        await services.artifacts.log_usage(editor, q.id, a.id, 10.5)
    assert (await store.get_nodes(tenant, [a.id]))[a.id].props["impact_score"] == 3.0
