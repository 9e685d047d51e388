"""The history generator (maestro_graph/history.py, docs/history-generator.md) on every backend:
deterministic, loaded whole and in range, its hidden variables never stored, loading it again
changes nothing, and the signal a meta-model should find is in the stored graph."""

from __future__ import annotations

import json
import statistics
from collections import defaultdict

import pytest

from maestro_graph.domain.errors import BadInput, Conflict
from maestro_graph.domain.graph import Label, Node, Rel
from maestro_graph.domain.vocabulary import ARTIFACT_TYPES
from maestro_graph.history import ROLES, generate, load_history
from maestro_graph.services import Services
from maestro_graph.types import Props

quiet = lambda _: None  # noqa: E731


async def stored(store, tenant) -> tuple[dict[Label, list[Node]], dict[Rel, list[tuple[str, str, Props]]]]:
    """Every node (with its props) and every relationship of the tenant, read back from the store."""
    ids = [i for chunk in [c async for c in store.scan_nodes(tenant, list(Label))] for i, _, _ in chunk]
    nodes: dict[Label, list[Node]] = defaultdict(list)
    for k in range(0, len(ids), 5000):
        for node in (await store.get_nodes(tenant, ids[k:k + 5000])).values():
            nodes[node.label].append(node)
    edges = {rel: [e for chunk in [c async for c in store.scan_edges(tenant, rel, with_props=True)] for e in chunk]
             for rel in Rel}
    return nodes, edges


def fingerprint(nodes: dict[Label, list[Node]]) -> list[str]:
    """Every node's label and props, sorted; a field's dataset id is left out (a dataset's id is
    derived from its tenant, so it differs between tenants holding the same history)."""
    return sorted(json.dumps([n.label.value, {k: v for k, v in n.props.items() if k != "dataset_id"}], sort_keys=True)
                  for ns in nodes.values() for n in ns)


async def test_the_same_seed_gives_the_same_graph_and_another_seed_another(store, tenant):
    services = Services.build(store)
    prints = []
    for suffix, seed in (("a", 5), ("b", 5), ("c", 6)):
        assert await load_history(services, tenant + suffix, 60, seed, quiet)
        prints.append(fingerprint((await stored(store, tenant + suffix))[0]))
    assert prints[0] == prints[1]
    assert prints[0] != prints[2]
    assert len(set(prints[0]) ^ set(prints[2])) > 100  # not a detail: names and values differ throughout


async def test_a_history_of_200_projects_is_stored_whole_and_in_range(store, tenant):
    services = Services.build(store)
    assert await load_history(services, tenant, 200, 11, quiet)
    nodes, edges = await stored(store, tenant)
    projects = {p.id: p.props for p in nodes[Label.PROJECT]}
    assert len(projects) == 200
    finished = {i: p for i, p in projects.items() if p["status"] == "finished"}
    assert {p["status"] for p in projects.values()} == {"finished", "active"}
    assert 0.8 <= len(finished) / 200 <= 0.97
    for p in finished.values():
        assert 0 <= p["success_score"] <= 100 and 0 < p["duration_days"] and 0 < p["cost"]
        assert p["started_at"] < p["finished_at"]
    for p in projects.values():
        assert 1 <= p["complexity_score"] <= 10
        if p["status"] == "active":
            assert not {"finished_at", "success_score", "duration_days", "cost"} & set(p)

    members = defaultdict(list)
    for person, project, props in edges[Rel.MEMBER_OF]:
        members[project].append(props["role"])
    assert set(members) == set(projects)
    assert all(len(members[i]) == p["team_size"] >= 1 for i, p in projects.items())
    assert {r for roles in members.values() for r in roles} == set(ROLES)
    assert len({n.props["email"] for n in nodes[Label.PERSON]}) == len(nodes[Label.PERSON]) >= 50
    assert len(edges[Rel.IN_TEAM]) == len(nodes[Label.PERSON])

    artifacts = nodes[Label.ARTIFACT]
    assert 60 <= len(artifacts) <= 120 and {a.props["type"] for a in artifacts} == set(ARTIFACT_TYPES)
    assert edges[Rel.USES]
    for project, _, props in edges[Rel.USES]:
        assert projects[project]["started_at"] <= props["at"] and 0 <= props["impact_score"] <= 10
    ratings = defaultdict(list)
    for _, artifact, props in edges[Rel.USES]:
        ratings[artifact].append(props["impact_score"])
    for a in artifacts:  # as logArtifactUsage keeps them
        assert a.props["usage_count"] == len(ratings[a.id])
        if ratings[a.id]:
            assert a.props["impact_score"] == pytest.approx(statistics.mean(ratings[a.id]), abs=1e-3)

    metric_at = {m.id: m.props["at"] for m in nodes[Label.METRIC]}
    assert {m.props["type"] for m in nodes[Label.METRIC]} >= {"commits_per_week", "ci_success_rate"}
    has_metrics = defaultdict(list)
    for project, metric, _ in edges[Rel.HAS_METRIC]:
        has_metrics[project].append(metric)
        p = projects[project]
        assert p["started_at"] <= metric_at[metric] <= p.get("finished_at", "9999")
    assert set(has_metrics) == set(projects) and len(metric_at) == len(edges[Rel.HAS_METRIC])

    owned = defaultdict(int)
    dataset_ids = {d.id for d in nodes[Label.DATASET]}
    for owner, owned_id, _ in edges[Rel.OWNS]:
        if owned_id in dataset_ids:
            owned[owner] += 1
    assert set(owned) == set(projects) and set(owned.values()) == {1, 2, 3, 4}
    assert len(edges[Rel.HAS_FIELD]) == len(nodes[Label.FIELD]) >= 2 * len(dataset_ids)
    assert edges[Rel.FEEDS]


async def test_the_hidden_variables_are_stored_nowhere(store, tenant):
    services = Services.build(store)
    assert await load_history(services, tenant, 200, 12, quiet)
    nodes, edges = await stored(store, tenant)
    text = json.dumps([[n.props for n in ns] for ns in nodes.values()] + [e[2] for es in edges.values() for e in es]).lower()
    assert '"success_score"' in text and '"impact_score"' in text  # what is read is the whole graph
    for word in ("skill", "quality", "hidden", "experience", "popularity", "seed"):
        assert word not in text, word


async def test_loading_the_same_history_again_changes_nothing_and_another_is_refused(store, tenant):
    services = Services.build(store)
    assert await load_history(services, tenant, 40, 3, quiet)
    counts, head = await store.count_by_label(tenant), await store.feed_head(tenant)
    lines: list[str] = []
    assert not await load_history(services, tenant, 40, 3, lines.append)
    assert "already holds this history" in lines[-1]
    for projects, seed in ((40, 4), (41, 3)):
        with pytest.raises(Conflict) as refused:
            await load_history(services, tenant, projects, seed, quiet)
        assert "empty tenant" in refused.value.message
    assert (await store.count_by_label(tenant), await store.feed_head(tenant)) == (counts, head)
    for bad in (0, -1):
        with pytest.raises(BadInput):
            generate(services.graph, tenant, bad, 1)


async def test_the_graph_carries_the_signal_experience_and_reused_artifacts_matter(store, tenant):
    """A statistic of the stored graph only: projects whose members had finished more projects
    before they started do better, as do those reusing artifacts other projects rated higher."""
    if store.backend != "sqlite":
        pytest.skip("a statistic over 600 projects: what the store holds is checked on every backend above")
    services = Services.build(store)
    assert await load_history(services, tenant, 600, 21, quiet)
    nodes, edges = await stored(store, tenant)
    projects = {p.id: p.props for p in nodes[Label.PROJECT]}
    of_person = defaultdict(list)
    for person, project, _ in edges[Rel.MEMBER_OF]:
        of_person[person].append(project)
    team = defaultdict(list)
    for person, project, _ in edges[Rel.MEMBER_OF]:
        team[project].append(person)

    def past(person: str, before: str) -> int:
        return sum(1 for q in of_person[person] if projects[q].get("finished_at", "9999") < before)

    finished = [i for i, p in projects.items() if p["status"] == "finished"]
    experience = {i: statistics.mean(past(m, projects[i]["started_at"]) for m in team[i]) for i in finished}
    ranked = sorted(finished, key=experience.__getitem__)
    half = len(ranked) // 2
    low, high = ([projects[i]["success_score"] for i in part] for part in (ranked[:half], ranked[half:]))
    assert statistics.mean(high) > statistics.mean(low) + 3

    ratings = defaultdict(list)
    for _, artifact, props in edges[Rel.USES]:
        ratings[artifact].append(props["impact_score"])
    rated = {i: statistics.mean(statistics.mean(ratings[a]) for a in used)
             for i in finished if (used := [a for p, a, _ in edges[Rel.USES] if p == i])}
    ranked = sorted(rated, key=rated.__getitem__)
    half = len(ranked) // 2
    low, high = ([projects[i]["success_score"] for i in part] for part in (ranked[:half], ranked[half:]))
    assert statistics.mean(high) > statistics.mean(low) + 3
