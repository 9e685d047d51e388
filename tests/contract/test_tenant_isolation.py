"""Property: whatever two tenants' graphs look like and whatever tenant A asks, no node of tenant B
appears in A's answers. Runs on every backend (the `store` fixture), through the real schema,
resolvers, DataLoaders and services, with hypothesis drawing both graphs and the queries.

Both tenants draw names from the same small pools, so their natural keys collide on purpose.
"""

from __future__ import annotations

import uuid
from typing import Any

from hypothesis import HealthCheck, given, settings, strategies as st

from maestro_graph.auth.principal import Principal, Role, system
from maestro_graph.domain.graph import Edge, Label, Rel
from maestro_graph.services import Services
from resolvers.context import Context
from resolvers.relay import from_global_id, to_global_id
from resolvers.schema import build_schema

SCHEMA = build_schema()
PEOPLE, DATASETS, PROJECTS = ["ada", "bob", "cy", "dee"], ["orders", "users", "events", "sales"], ["churn", "fraud", "ltv"]

graphs = st.fixed_dictionaries({
    "people": st.lists(st.sampled_from(PEOPLE), min_size=1, max_size=4, unique=True),
    "datasets": st.lists(st.sampled_from(DATASETS), min_size=1, max_size=4, unique=True),
    "columns": st.integers(1, 3),
    "feeds": st.lists(st.tuples(st.integers(0, 9), st.integers(0, 9)), max_size=5),
    "derives": st.lists(st.tuples(st.integers(0, 20), st.integers(0, 20)), max_size=6),
    "owns": st.lists(st.tuples(st.integers(0, 9), st.integers(0, 9)), max_size=3),
    "projects": st.lists(st.tuples(st.sampled_from(PROJECTS), st.sets(st.integers(0, 9), max_size=3)),
                         max_size=2, unique_by=lambda p: p[0]),
})
QUERY_KINDS = ["node", "nodes", "listings", "lineage_dataset", "lineage_field", "impact_field", "impact_dataset",
               "lineage_theirs"]
queries = st.lists(st.tuples(st.sampled_from(QUERY_KINDS), st.integers(0, 50)), min_size=1, max_size=6)

IDS = "edges { node { id } }"
# Pages of 10 keep the query's cost (each field 1, times the page sizes around it) under 50,000.
LISTINGS = f"""{{
  people(first: 10) {{ edges {{ node {{ id projects(first: 10) {{ edges {{ node {{ id members(first: 10) {{ {IDS} }} }} }} }} }} }} }}
  projects(first: 10) {{ edges {{ node {{ id members(first: 10) {{ {IDS} }} owners(first: 10) {{ {IDS} }} }} }} }}
  datasets(first: 10) {{ edges {{ node {{ id upstream(first: 10) {{ {IDS} }} downstream(first: 10) {{ {IDS} }}
    owners(first: 10) {{ {IDS} }} fields(first: 10) {{ edges {{ node {{ id dataset {{ id }}
      upstream(first: 10) {{ {IDS} }} downstream(first: 10) {{ {IDS} }} }} }} }} }} }} }}
  nodeCounts {{ label count }}
}}"""
LINEAGE = """query($id: ID!, $g: Granularity!) { lineage(id: $id, direction: BOTH, depth: 20, granularity: $g) {
  root { id } nodes { node { id } } edges { sourceId targetId } } }"""
IMPACT = """query($id: ID!) { impactAnalysis(id: $id) { root { id } fields { node { id } path } datasets { node { id } path }
  projects { node { id } path } people { node { id } path } } }"""


async def build(services: Services, tenant: str, g: dict[str, Any]) -> dict[Label, list[str]]:
    """The drawn graph in `tenant`, through the services; raw ids by label."""
    actor = system(tenant)
    people = await services.graph.create(actor, Label.PERSON, [{"name": n, "email": f"{n}@example.com"} for n in g["people"]])
    datasets = await services.graph.create(actor, Label.DATASET, [{"namespace": "pg://db", "name": n} for n in g["datasets"]])
    fields = await services.graph.create(actor, Label.FIELD, [{"dataset_id": d.id, "path": f"c{k}"}
                                                              for d in datasets for k in range(g["columns"])])
    links = {(Rel.FEEDS, datasets[a % len(datasets)].id, datasets[b % len(datasets)].id) for a, b in g["feeds"]}
    links |= {(Rel.DERIVES, fields[a % len(fields)].id, fields[b % len(fields)].id) for a, b in g["derives"]}
    links |= {(Rel.OWNS, people[a % len(people)].id, datasets[b % len(datasets)].id) for a, b in g["owns"]}
    if links:
        await services.graph.link(actor, [Edge(rel, src, dst) for rel, src, dst in sorted(links, key=str)])
    projects = []
    for name, members in g["projects"]:
        chosen = sorted({people[m % len(people)].id for m in members})
        project = await services.projects.create(actor, {"name": name, "problem_class": "nlp", "complexity_score": 3},
                                                 [(pid, "member") for pid in chosen])
        projects.append(project)
        if datasets:
            await services.graph.link(actor, [Edge(Rel.OWNS, project.id, datasets[0].id)])
    return {Label.PERSON: [p.id for p in people], Label.DATASET: [d.id for d in datasets],
            Label.FIELD: [f.id for f in fields], Label.PROJECT: [p.id for p in projects]}


def ids_in(answer: Any) -> set[str]:
    """Every node id an answer mentions (id, sourceId, targetId, path), decoded to store ids."""
    found: set[str] = set()
    if isinstance(answer, dict):
        for key, value in answer.items():
            if key in ("id", "sourceId", "targetId") and isinstance(value, str):
                found.add(from_global_id(value)[1])
            elif key == "path" and isinstance(value, list):
                found |= {from_global_id(v)[1] for v in value}
            else:
                found |= ids_in(value)
    elif isinstance(answer, list):
        for item in answer:
            found |= ids_in(item)
    return found


def pick(ids: dict[Label, list[str]], label: Label, i: int) -> str:
    return to_global_id(label, ids[label][i % len(ids[label])])


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(mine=graphs, theirs=graphs, asked=queries)
async def test_no_answer_to_one_tenant_contains_another_tenants_node(store, mine, theirs, asked):
    services = Services.build(store)
    a, b = f"iso-a-{uuid.uuid4().hex[:10]}", f"iso-b-{uuid.uuid4().hex[:10]}"
    a_ids, b_ids = await build(services, a, mine), await build(services, b, theirs)
    a_raw = {i for ids in a_ids.values() for i in ids}
    b_raw = {i for ids in b_ids.values() for i in ids}
    b_global = [to_global_id(label, i) for label, ids in b_ids.items() for i in ids]
    context = Context(services=services)
    context.authenticate(Principal("prop-viewer", a, frozenset({Role.VIEWER})))

    async def ask(query: str, **variables: Any) -> Any:
        result = await SCHEMA.execute(query, variable_values=variables, context_value=context)
        seen = ids_in(result.data)
        assert not seen & b_raw, f"tenant {b}'s nodes in {a}'s answer to {query[:60]}: {seen & b_raw}"
        assert seen <= a_raw, f"an answer mentions ids of no tenant-{a} node: {seen - a_raw}"
        return result

    for kind, i in asked:
        if kind == "node":
            result = await ask("query($id: ID!) { node(id: $id) { id } }", id=b_global[i % len(b_global)])
            assert result.errors is None and result.data == {"node": None}
        elif kind == "nodes":
            mixed = [pick(a_ids, Label.DATASET, i), b_global[i % len(b_global)]]
            result = await ask("query($ids: [ID!]!) { nodes(ids: $ids) { id } }", ids=mixed)
            assert result.data["nodes"][1] is None and result.data["nodes"][0] == {"id": mixed[0]}
        elif kind == "listings":
            result = await ask(LISTINGS)
            assert result.errors is None, result.errors
            counts = {c["label"]: c["count"] for c in result.data["nodeCounts"]}
            assert counts["Dataset"] == len(a_ids[Label.DATASET]) and counts["Person"] == len(a_ids[Label.PERSON])
        elif kind in ("lineage_dataset", "lineage_field"):
            label, g = (Label.DATASET, "DATASET") if kind == "lineage_dataset" else (Label.FIELD, "FIELD")
            result = await ask(LINEAGE, id=pick(a_ids, label, i), g=g)
            assert result.errors is None, result.errors
        elif kind in ("impact_field", "impact_dataset"):
            result = await ask(IMPACT, id=pick(a_ids, Label.FIELD if kind == "impact_field" else Label.DATASET, i))
            assert result.errors is None, result.errors
        else:  # lineage from the other tenant's dataset: not found, as if it did not exist
            result = await ask(LINEAGE, id=pick(b_ids, Label.DATASET, i), g="FIELD")
            assert result.errors[0].extensions["code"] == "NOT_FOUND"
