"""GraphStore.neighbour_pages: relationship pages cut in the store, for many start nodes in one
call. Every test runs on every backend (the `store` fixture)."""

from __future__ import annotations

import pytest

from maestro_graph.domain.graph import ChangeSet, Edge, Label, Node, Rel
from maestro_graph.services.graph import GraphService
from maestro_graph.types import Direction


def make(tenant: str, label: Label, **props: object) -> Node:
    return GraphService(None).build(tenant, label, props)  # type: ignore[arg-type]


def order(nodes: list[Node]) -> list[str]:
    """Ids in the order every page walks: the node's name, then its id."""
    return [n.id for n in sorted(nodes, key=lambda n: (n.name, n.id))]


async def walk(store, tenant, start, rel, direction, size, labels=()) -> tuple[list[str], set[int]]:
    """Every page of start's `rel`, `size` at a time, each cursor made from the last node of the
    page before as the API makes it (Node.name, id); the ids in order, and the totals seen."""
    seen: list[str] = []
    totals: set[int] = set()
    after = None
    for _ in range(100):
        page = (await store.neighbour_pages(tenant, [start], rel, direction, first=size, after=after, labels=labels))[start]
        assert len(page.items) <= size
        seen += [nb.node.id for nb in page.items]
        totals.add(page.total)
        if not page.has_next:
            return seen, totals
        last = page.items[-1].node
        after = (last.name, last.id)
    raise AssertionError("the walk did not end")


async def test_one_call_pages_every_start_and_counts_each_total(store, tenant):
    sets = [make(tenant, Label.DATASET, namespace="pg://db", name=f"t{i}") for i in range(3)]
    fields = {d.id: [make(tenant, Label.FIELD, dataset_id=d.id, path=f"c{j:02d}") for j in range(n)]
              for d, n in zip(sets, (0, 5, 12))}
    links = [Edge(Rel.HAS_FIELD, d, f.id) for d, fs in fields.items() for f in fs]
    await store.apply(tenant, ChangeSet(create=[*sets, *(f for fs in fields.values() for f in fs)], link=links))

    pages = await store.neighbour_pages(tenant, [d.id for d in sets] + ["missing"], Rel.HAS_FIELD, Direction.OUT, first=4)
    assert set(pages) == {d.id for d in sets} | {"missing"}
    assert [(len(pages[d.id].items), pages[d.id].total, pages[d.id].has_next) for d in sets] == [(0, 0, False), (4, 5, True), (4, 12, True)]
    assert pages["missing"].items == [] and pages["missing"].total == 0
    for d in sets[1:]:
        assert [nb.node.id for nb in pages[d.id].items] == order(fields[d.id])[:4]
        assert all(nb.edge == Edge(Rel.HAS_FIELD, d.id, nb.node.id) for nb in pages[d.id].items)
        assert all(nb.node == f for nb in pages[d.id].items for f in fields[d.id] if f.id == nb.node.id)

    # A cursor applies to every start alike: each start's page resumes after it.
    last = pages[sets[2].id].items[-1].node
    cursor = (last.name, last.id)
    later = await store.neighbour_pages(tenant, [d.id for d in sets], Rel.HAS_FIELD, Direction.OUT, first=4, after=cursor)
    assert [nb.node.id for nb in later[sets[2].id].items] == order(fields[sets[2].id])[4:8]
    assert later[sets[2].id].total == 12 and later[sets[2].id].has_next
    rest = [f for f in fields[sets[1].id] if (f.name, f.id) > cursor]  # c04, and c03 if its id sorts after
    assert [nb.node.id for nb in later[sets[1].id].items] == order(rest) and len(rest) in (1, 2)
    assert later[sets[1].id].total == 5 and not later[sets[1].id].has_next
    assert later[sets[0].id].total == 0


@pytest.mark.parametrize("size", [1, 2, 3, 7])
async def test_walking_project_metrics_and_job_runs_sees_each_item_once(store, tenant, size):
    p = make(tenant, Label.PROJECT, name="Churn", problem_class="nlp", complexity_score=3)
    # Metrics are named by their type: four of one type and three of another tie in name.
    metrics = [make(tenant, Label.METRIC, type="commits_per_week" if i % 2 else "avg_pr_merge_hours", value=float(i))
               for i in range(7)]
    predictions = [make(tenant, Label.PREDICTION, target="cost", value=float(i)) for i in range(4)]
    job = make(tenant, Label.JOB, namespace="airflow", name="etl")
    runs = [make(tenant, Label.RUN, run_id=f"run-{i}", job_id=job.id) for i in (5, 1, 4, 2, 6, 3, 0)]  # all named ""
    links = ([Edge(Rel.HAS_METRIC, p.id, m.id) for m in metrics] + [Edge(Rel.HAS_PREDICTION, p.id, x.id) for x in predictions]
             + [Edge(Rel.OF_JOB, r.id, job.id) for r in runs])
    await store.apply(tenant, ChangeSet(create=[p, *metrics, *predictions, job, *runs], link=links))

    for start, rel, direction, items in ((p.id, Rel.HAS_METRIC, Direction.OUT, metrics),
                                         (p.id, Rel.HAS_PREDICTION, Direction.OUT, predictions),
                                         (job.id, Rel.OF_JOB, Direction.IN, runs)):
        seen, totals = await walk(store, tenant, start, rel, direction, size)
        assert seen == order(items), rel  # nothing skipped, nothing repeated, in (name, id) order
        assert totals == {len(items)}


async def test_labels_filter_the_page_and_the_total(store, tenant):
    p = make(tenant, Label.PROJECT, name="Churn", problem_class="nlp", complexity_score=3)
    sets = [make(tenant, Label.DATASET, namespace="pg://db", name=f"d{i}") for i in range(5)]
    models = [make(tenant, Label.MODEL, name=f"m{i}") for i in range(4)]
    jobs = [make(tenant, Label.JOB, namespace="airflow", name=f"a{i}") for i in range(3)]  # sort before the datasets
    owned = [*sets, *models, *jobs]
    await store.apply(tenant, ChangeSet(create=[p, *owned], link=[Edge(Rel.OWNS, p.id, n.id) for n in owned]))

    seen, totals = await walk(store, tenant, p.id, Rel.OWNS, Direction.OUT, 2, labels=[Label.DATASET])
    assert seen == order(sets) and totals == {5}
    seen, totals = await walk(store, tenant, p.id, Rel.OWNS, Direction.OUT, 3, labels=[Label.MODEL, Label.JOB])
    assert seen == order([*models, *jobs]) and totals == {7}
    everything = (await store.neighbour_pages(tenant, [p.id], Rel.OWNS, Direction.OUT, first=100))[p.id]
    assert [nb.node.id for nb in everything.items] == order(owned) and everything.total == 12


async def test_incoming_pages_carry_the_relationship_and_its_props(store, tenant):
    people = [make(tenant, Label.PERSON, name=n, email=f"{n.lower()}@example.com") for n in ("Cy", "Ada", "Bob")]
    p = make(tenant, Label.PROJECT, name="P", problem_class="nlp", complexity_score=3)
    links = [Edge(Rel.MEMBER_OF, x.id, p.id, {"role": f"r-{x.name}"}) for x in people]
    await store.apply(tenant, ChangeSet(create=[*people, p], link=links))
    page = (await store.neighbour_pages(tenant, [p.id], Rel.MEMBER_OF, Direction.IN, first=2))[p.id]
    assert [(nb.node.name, nb.edge) for nb in page.items] == [
        (x.name, Edge(Rel.MEMBER_OF, x.id, p.id, {"role": f"r-{x.name}"})) for x in sorted(people, key=lambda x: x.name)[:2]]
    assert page.total == 3 and page.has_next
    # The same relationships seen from the other end: one per person.
    out = await store.neighbour_pages(tenant, [x.id for x in people], Rel.MEMBER_OF, Direction.OUT, first=5)
    assert all([nb.node.id for nb in out[x.id].items] == [p.id] and out[x.id].total == 1 for x in people)


async def test_page_edges_first_zero_and_a_cursor_past_the_end(store, tenant):
    d = make(tenant, Label.DATASET, namespace="pg://db", name="orders")
    fields = [make(tenant, Label.FIELD, dataset_id=d.id, path=f"c{j}") for j in range(3)]
    await store.apply(tenant, ChangeSet(create=[d, *fields], link=[Edge(Rel.HAS_FIELD, d.id, f.id) for f in fields]))
    none = (await store.neighbour_pages(tenant, [d.id], Rel.HAS_FIELD, Direction.OUT, first=0))[d.id]
    assert none.items == [] and none.total == 3 and none.has_next
    past = (await store.neighbour_pages(tenant, [d.id], Rel.HAS_FIELD, Direction.OUT, first=5, after=("zzz", "")))[d.id]
    assert past.items == [] and past.total == 3 and not past.has_next
    last = max(fields, key=lambda f: (f.name, f.id))
    at_end = (await store.neighbour_pages(tenant, [d.id], Rel.HAS_FIELD, Direction.OUT, first=5, after=(last.name, last.id)))[d.id]
    assert at_end.items == [] and at_end.total == 3 and not at_end.has_next


async def test_pages_agree_with_neighbours(store, tenant):
    """neighbour_pages walked to the end gives what neighbours gives, in the same order."""
    d = make(tenant, Label.DATASET, namespace="pg://db", name="wide")
    # Names that tie, differ in case, and share prefixes: an order all backends agree on.
    names = ["a", "A", "a", "b", "ab", "a b", "Z", "a", "_x", "é", "e"]
    fields = [make(tenant, Label.FIELD, dataset_id=d.id, path=f"p{i}", name=n) for i, n in enumerate(names)]
    await store.apply(tenant, ChangeSet(create=[d, *fields], link=[Edge(Rel.HAS_FIELD, d.id, f.id) for f in fields]))
    full = (await store.neighbours(tenant, [d.id], Rel.HAS_FIELD, Direction.OUT))[d.id]
    seen, totals = await walk(store, tenant, d.id, Rel.HAS_FIELD, Direction.OUT, 2)
    assert seen == [nb.node.id for nb in full] == order(fields) and totals == {len(fields)}


async def test_pages_see_only_the_callers_tenant(store, tenant):
    p = make(tenant, Label.PROJECT, name="P", problem_class="nlp", complexity_score=3)
    m = make(tenant, Label.METRIC, type="open_issues", value=3.0)
    await store.apply(tenant, ChangeSet(create=[p, m], link=[Edge(Rel.HAS_METRIC, p.id, m.id)]))
    spy = tenant + "-spy"
    page = (await store.neighbour_pages(spy, [p.id], Rel.HAS_METRIC, Direction.OUT, first=10))[p.id]
    assert page.items == [] and page.total == 0 and not page.has_next
