"""The GraphStore contract: every test here runs on every backend (see the `store` fixture)."""

from __future__ import annotations

import pytest

from maestro_graph.domain.errors import BadInput, Conflict, NotFound
from maestro_graph.domain.graph import ChangeSet, Edge, Label, NodeQuery, Rel
from maestro_graph.services.graph import GraphService
from maestro_graph.types import Direction


def make(store, tenant, label, **props):
    return GraphService(store).build(tenant, label, props)


def person(store, tenant, name):
    return make(store, tenant, Label.PERSON, name=name, email=f"{name.lower()}@example.com")


def project(store, tenant, name, **extra):
    return make(store, tenant, Label.PROJECT, name=name, problem_class=extra.pop("problem_class", "nlp"),
                complexity_score=extra.pop("complexity_score", 5), **extra)


def artifact(store, tenant, name, type_="notebook", tags=(), impact=0.0, version="1.0.0"):
    return make(store, tenant, Label.ARTIFACT, name=name, type=type_, tags=list(tags), impact_score=impact, version=version)


async def test_migrate_twice_applies_nothing_the_second_time(store):
    assert await store.migrate() == []


async def test_ping_answers(store):
    await store.ping()


async def test_created_nodes_read_back_exactly(store, tenant):
    a, b = person(store, tenant, "Ada"), project(store, tenant, "Churn", metadata={"k": [1, 2]})
    written = await store.apply(tenant, ChangeSet(create=[a, b]))
    assert written == {a.id: a, b.id: b}
    got = await store.get_nodes(tenant, [a.id, b.id, "no-such-id"])
    assert got == {a.id: a, b.id: b}


async def test_taken_natural_key_is_a_conflict_and_nothing_is_written(store, tenant):
    first = person(store, tenant, "Ada")
    await store.apply(tenant, ChangeSet(create=[first]))
    other, dup = person(store, tenant, "Bob"), person(store, tenant, "Ada")
    with pytest.raises(Conflict):
        await store.apply(tenant, ChangeSet(create=[other, dup]))
    assert await store.get_nodes(tenant, [other.id, dup.id]) == {}


async def test_duplicate_keys_within_one_changeset_conflict(store, tenant):
    a, b = person(store, tenant, "Ada"), person(store, tenant, "Ada")
    with pytest.raises(Conflict):
        await store.apply(tenant, ChangeSet(create=[a, b]))
    assert await store.get_nodes(tenant, [a.id, b.id]) == {}


async def test_same_natural_key_is_fine_in_two_tenants(store, tenant):
    other_tenant = tenant + "-other"
    await store.apply(tenant, ChangeSet(create=[person(store, tenant, "Ada")]))
    await store.apply(other_tenant, ChangeSet(create=[person(store, other_tenant, "Ada")]))


async def test_merge_creates_then_patches_and_a_replay_changes_nothing(store, tenant):
    ds = make(store, tenant, Label.DATASET, namespace="pg://db", name="orders", description="v1")
    first = (await store.apply(tenant, ChangeSet(merge=[ds])))[ds.id]
    again = (await store.apply(tenant, ChangeSet(merge=[ds])))[ds.id]
    assert again == first
    patched = make(store, tenant, Label.DATASET, namespace="pg://db", name="orders", description="v2", tags=["pii"])
    assert patched.id == ds.id
    now = (await store.apply(tenant, ChangeSet(merge=[patched])))[ds.id]
    assert now.props["description"] == "v2" and now.props["tags"] == ["pii"]
    assert now.created_at == first.created_at
    assert (await store.get_nodes(tenant, [ds.id]))[ds.id] == now


async def test_update_patches_props_removes_none_and_bumps_updated_at(store, tenant):
    p = project(store, tenant, "Churn", description="old")
    await store.apply(tenant, ChangeSet(create=[p]))
    after = (await store.apply(tenant, ChangeSet(update=[(p.id, {"complexity_score": 7, "description": None})])))[p.id]
    assert after.props["complexity_score"] == 7 and "description" not in after.props
    assert after.props["name"] == "Churn" and after.created_at == p.created_at and after.updated_at >= p.updated_at
    assert (await store.get_nodes(tenant, [p.id]))[p.id] == after


async def test_update_renaming_onto_a_taken_key_conflicts(store, tenant):
    a, b = project(store, tenant, "A"), project(store, tenant, "B")
    await store.apply(tenant, ChangeSet(create=[a, b]))
    with pytest.raises(Conflict):
        await store.apply(tenant, ChangeSet(update=[(b.id, {"name": "A"})]))
    renamed = (await store.apply(tenant, ChangeSet(update=[(b.id, {"name": "C"})])))[b.id]
    assert renamed.key != b.key
    assert set(await store.get_by_keys(tenant, Label.PROJECT, [renamed.key, b.key])) == {renamed.key}


async def test_unknown_update_or_delete_is_not_found_and_rolls_back_the_rest(store, tenant):
    p = project(store, tenant, "Churn")
    with pytest.raises(NotFound):
        await store.apply(tenant, ChangeSet(create=[p], update=[("missing", {"name": "x"})]))
    with pytest.raises(NotFound):
        await store.apply(tenant, ChangeSet(create=[p], delete=["missing"]))
    assert await store.get_nodes(tenant, [p.id]) == {}


async def test_delete_removes_the_node_and_its_relationships(store, tenant):
    ada, p = person(store, tenant, "Ada"), project(store, tenant, "Churn")
    await store.apply(tenant, ChangeSet(create=[ada, p], link=[Edge(Rel.MEMBER_OF, ada.id, p.id, {"role": "lead"})]))
    await store.apply(tenant, ChangeSet(delete=[p.id]))
    assert await store.get_nodes(tenant, [p.id]) == {}
    assert (await store.neighbours(tenant, [ada.id], Rel.MEMBER_OF, Direction.OUT))[ada.id] == []


async def test_links_upsert_their_props_and_read_back_both_ways(store, tenant):
    ada, p = person(store, tenant, "Ada"), project(store, tenant, "Churn")
    await store.apply(tenant, ChangeSet(create=[ada, p], link=[Edge(Rel.MEMBER_OF, ada.id, p.id, {"role": "dev"})]))
    await store.apply(tenant, ChangeSet(link=[Edge(Rel.MEMBER_OF, ada.id, p.id, {"role": "lead"})]))
    out = (await store.neighbours(tenant, [ada.id], Rel.MEMBER_OF, Direction.OUT))[ada.id]
    into = (await store.neighbours(tenant, [p.id], Rel.MEMBER_OF, Direction.IN))[p.id]
    assert [(n.edge, n.node.id) for n in out] == [(Edge(Rel.MEMBER_OF, ada.id, p.id, {"role": "lead"}), p.id)]
    assert [(n.edge, n.node.id) for n in into] == [(Edge(Rel.MEMBER_OF, ada.id, p.id, {"role": "lead"}), ada.id)]


async def test_link_to_a_missing_node_is_not_found_and_rolls_back(store, tenant):
    ada = person(store, tenant, "Ada")
    with pytest.raises(NotFound):
        await store.apply(tenant, ChangeSet(create=[ada], link=[Edge(Rel.MEMBER_OF, ada.id, "missing")]))
    assert await store.get_nodes(tenant, [ada.id]) == {}


async def test_link_between_wrong_labels_is_bad_input_and_rolls_back(store, tenant):
    ada, bob = person(store, tenant, "Ada"), person(store, tenant, "Bob")
    with pytest.raises(BadInput):
        await store.apply(tenant, ChangeSet(create=[ada, bob], link=[Edge(Rel.MEMBER_OF, ada.id, bob.id)]))
    assert await store.get_nodes(tenant, [ada.id, bob.id]) == {}


async def test_unlink_removes_only_that_relationship(store, tenant):
    ada, p, q = person(store, tenant, "Ada"), project(store, tenant, "P"), project(store, tenant, "Q")
    links = [Edge(Rel.MEMBER_OF, ada.id, p.id, {"role": "dev"}), Edge(Rel.MEMBER_OF, ada.id, q.id, {"role": "dev"})]
    await store.apply(tenant, ChangeSet(create=[ada, p, q], link=links))
    await store.apply(tenant, ChangeSet(unlink=[Edge(Rel.MEMBER_OF, ada.id, p.id)]))
    out = (await store.neighbours(tenant, [ada.id], Rel.MEMBER_OF, Direction.OUT))[ada.id]
    assert [n.node.id for n in out] == [q.id]


async def test_neighbours_of_many_are_ordered_by_name_and_every_start_is_a_key(store, tenant):
    people = [person(store, tenant, n) for n in ("Cy", "Ada", "Bob")]
    p, lonely = project(store, tenant, "P"), project(store, tenant, "Lonely")
    links = [Edge(Rel.MEMBER_OF, x.id, p.id, {"role": "dev"}) for x in people]
    await store.apply(tenant, ChangeSet(create=[*people, p, lonely], link=links))
    got = await store.neighbours(tenant, [p.id, lonely.id, "missing"], Rel.MEMBER_OF, Direction.IN)
    assert set(got) == {p.id, lonely.id, "missing"}
    assert [n.node.name for n in got[p.id]] == ["Ada", "Bob", "Cy"]
    assert got[lonely.id] == [] and got["missing"] == []


async def test_find_filters_and_pages_through_every_match_once(store, tenant):
    arts = [
        artifact(store, tenant, "Churn features", "feature_pipeline", ["pii", "tabular"], 8.0),
        artifact(store, tenant, "churn template", "model_template", ["tabular"], 6.0),
        artifact(store, tenant, "Fraud features", "feature_pipeline", ["tabular"], 9.0),
        artifact(store, tenant, "EDA notebook", "notebook", [], 2.0),
        artifact(store, tenant, "100%_done", "other", [], 1.0),
    ]
    await store.apply(tenant, ChangeSet(create=arts))
    q = lambda **kw: store.find_nodes(tenant, NodeQuery(Label.ARTIFACT, **kw))  # noqa: E731
    assert [n.name for n in (await q(text="CHURN")).nodes] == ["Churn features", "churn template"]
    assert [n.name for n in (await q(kinds=("feature_pipeline",))).nodes] == ["Churn features", "Fraud features"]
    assert [n.name for n in (await q(tags=("tabular", "pii"))).nodes] == ["Churn features"]
    assert [n.name for n in (await q(min_score=6.0)).nodes] == ["Churn features", "Fraud features", "churn template"]
    assert [n.name for n in (await q(text="%_")).nodes] == ["100%_done"]  # LIKE wildcards are literal
    seen, after = [], None
    while True:
        page = await q(first=2, after=after)
        assert page.total == 5
        seen += [n.name for n in page.nodes]
        if not page.has_next:
            break
        after = (page.nodes[-1].name, page.nodes[-1].id)
    assert seen == ["100%_done", "Churn features", "EDA notebook", "Fraud features", "churn template"]


async def test_get_by_keys_and_count_by_label(store, tenant):
    a, b = person(store, tenant, "Ada"), project(store, tenant, "P")
    await store.apply(tenant, ChangeSet(create=[a, b]))
    assert await store.get_by_keys(tenant, Label.PERSON, [a.key, "nope"]) == {a.key: a}
    assert await store.count_by_label(tenant) == {Label.PERSON: 1, Label.PROJECT: 1}


async def test_another_tenant_sees_nothing(store, tenant):
    ada, p = person(store, tenant, "Ada"), project(store, tenant, "P")
    await store.apply(tenant, ChangeSet(create=[ada, p], link=[Edge(Rel.MEMBER_OF, ada.id, p.id)]))
    spy = tenant + "-spy"
    assert await store.get_nodes(spy, [ada.id, p.id]) == {}
    assert (await store.find_nodes(spy, NodeQuery(Label.PERSON))).total == 0
    assert (await store.neighbours(spy, [p.id], Rel.MEMBER_OF, Direction.IN))[p.id] == []
    assert await store.get_by_keys(spy, Label.PERSON, [ada.key]) == {}
    assert await store.count_by_label(spy) == {}
    with pytest.raises(NotFound):
        await store.apply(spy, ChangeSet(update=[(p.id, {"name": "stolen"})]))
    with pytest.raises(NotFound):
        await store.apply(spy, ChangeSet(delete=[p.id]))
    spy_person = person(store, spy, "Eve")
    with pytest.raises(NotFound):
        await store.apply(spy, ChangeSet(create=[spy_person], link=[Edge(Rel.MEMBER_OF, spy_person.id, p.id)]))
    assert (await store.get_nodes(tenant, [p.id]))[p.id].props["name"] == "P"


async def test_expand_follows_the_given_relationships_either_way(store, tenant):
    ds = [make(store, tenant, Label.DATASET, namespace="ns", name=n) for n in ("a", "b", "c", "d")]
    a, b, c, d = ds
    links = [Edge(Rel.FEEDS, a.id, b.id, {"job": "j1"}), Edge(Rel.FEEDS, a.id, c.id, {"job": "j2"}),
             Edge(Rel.FEEDS, c.id, d.id), Edge(Rel.FEEDS, d.id, a.id)]  # a cycle a->c->d->a
    await store.apply(tenant, ChangeSet(merge=ds, link=links))
    out = await store.expand(tenant, [a.id], [Rel.FEEDS], Direction.OUT)
    assert sorted((e.src, e.dst, e.props) for e in out) == sorted([(a.id, b.id, {}), (a.id, c.id, {})])
    into = await store.expand(tenant, [a.id, d.id], [Rel.FEEDS], Direction.IN, with_props=True)
    assert sorted((e.src, e.dst, e.props.get("job")) for e in into) == sorted([(d.id, a.id, None), (c.id, d.id, None)])
    assert await store.expand(tenant, [a.id], [Rel.DERIVES], Direction.OUT) == []
    assert await store.expand(tenant + "-spy", [a.id], [Rel.FEEDS], Direction.OUT) == []


async def test_relinking_with_the_same_props_changes_nothing(store, tenant):
    a, b = (make(store, tenant, Label.DATASET, namespace="ns", name=n) for n in ("a", "b"))
    await store.apply(tenant, ChangeSet(merge=[a, b], link=[Edge(Rel.FEEDS, a.id, b.id, {"job": "j"})]))
    first = await store.expand(tenant, [a.id], [Rel.FEEDS], Direction.OUT, with_props=True)
    await store.apply(tenant, ChangeSet(merge=[a, b], link=[Edge(Rel.FEEDS, a.id, b.id, {"job": "j"})]))
    assert await store.expand(tenant, [a.id], [Rel.FEEDS], Direction.OUT, with_props=True) == first
    assert (await store.get_nodes(tenant, [a.id, b.id])) == {a.id: a, b.id: b}


async def test_a_write_of_thousands_of_rows_stores_each_once_and_its_replay_writes_none(store, tenant):
    # More rows than SQLite takes in one statement, and no power of two: every slice is written.
    sets = [make(store, tenant, Label.DATASET, namespace="ns", name=f"t{i:04d}", description=f"d{i}") for i in range(2500)]
    feeds = [Edge(Rel.FEEDS, a.id, b.id, {"job": f"j{i}"}) for i, (a, b) in enumerate(zip(sets, sets[1:]))]
    await store.apply(tenant, ChangeSet(merge=sets, link=feeds))
    assert await store.get_nodes(tenant, [d.id for d in sets]) == {d.id: d for d in sets}
    stored = await store.expand(tenant, [d.id for d in sets], [Rel.FEEDS], Direction.OUT, with_props=True)
    assert sorted((e.src, e.dst, e.props["job"]) for e in stored) == sorted((e.src, e.dst, e.props["job"]) for e in feeds)
    version = await store.topology_version(tenant)
    await store.apply(tenant, ChangeSet(merge=sets, link=feeds))
    assert await store.topology_version(tenant) == version  # no relationship written again
    feeds[-1] = Edge(Rel.FEEDS, feeds[-1].src, feeds[-1].dst, {"job": "changed"})  # the last row of the last slice
    await store.apply(tenant, ChangeSet(link=feeds))
    assert await store.topology_version(tenant) > version


async def test_walk_is_breadth_first_stable_cycle_safe_and_capped(store, tenant):
    ds = {n: make(store, tenant, Label.DATASET, namespace="ns", name=n) for n in "abcdef"}
    pairs = ["ab", "ac", "bd", "cd", "de", "ea", "ef"]  # a diamond, then a cycle back to a
    await store.apply(tenant, ChangeSet(merge=list(ds.values()), link=[Edge(Rel.FEEDS, ds[x].id, ds[y].id) for x, y in pairs]))
    name = {d.id: n for n, d in ds.items()}
    w = await store.walk(tenant, [ds["a"].id], [Rel.FEEDS], Direction.OUT, 10, 100)
    assert {name[i]: h.distance for i, h in w.hops.items()} == {"a": 0, "b": 1, "c": 1, "d": 2, "e": 3, "f": 4}
    parent_of_d = name[w.hops[ds["d"].id].parent]
    assert parent_of_d == min("bc", key=lambda n: ds[n].id)  # ties go to the smallest id: stable
    assert [name[i] for i in w.path(ds["f"].id)] == ["a", parent_of_d, "d", "e", "f"]
    assert len(w.edges) == len(pairs) and not w.truncated
    assert set(name[i] for i in (await store.walk(tenant, [ds["a"].id], [Rel.FEEDS], Direction.OUT, 2, 100)).hops) == set("abcd")
    up = await store.walk(tenant, [ds["d"].id], [Rel.FEEDS], Direction.IN, 10, 100, with_props=True)
    assert {name[i]: h.distance for i, h in up.hops.items()} == {"d": 0, "b": 1, "c": 1, "a": 2, "e": 3}
    capped = await store.walk(tenant, [ds["a"].id], [Rel.FEEDS], Direction.OUT, 10, 3)
    assert len(capped.hops) == 3 and capped.truncated


async def test_topology_version_moves_with_what_impact_analysis_follows_and_only_with_that(store, tenant):
    async def moved(cs: ChangeSet) -> bool:
        before = await store.topology_version(tenant)
        await store.apply(tenant, cs)
        return await store.topology_version(tenant) > before

    assert await store.topology_version(tenant) == 0
    a, b = (make(store, tenant, Label.DATASET, namespace="ns", name=n) for n in ("a", "b"))
    job = make(store, tenant, Label.JOB, namespace="ns", name="j")
    ada = person(store, tenant, "Ada")
    assert not await moved(ChangeSet(merge=[a, b, job], create=[ada]))  # new nodes, not linked yet
    assert await moved(ChangeSet(link=[Edge(Rel.FEEDS, a.id, b.id, {"job": "j"})]))
    assert not await moved(ChangeSet(merge=[a, b], link=[Edge(Rel.FEEDS, a.id, b.id, {"job": "j"})]))  # a replay
    assert await moved(ChangeSet(link=[Edge(Rel.FEEDS, a.id, b.id, {"job": "j", "column_lineage": True})]))
    assert not await moved(ChangeSet(link=[Edge(Rel.READS, job.id, a.id)]))  # impact analysis does not follow READS
    assert not await moved(ChangeSet(update=[(ada.id, {"email": "ada@lovelace.org"})]))
    assert await moved(ChangeSet(update=[(ada.id, {"name": "Ada L."})]))  # reports sort by name
    assert await moved(ChangeSet(unlink=[Edge(Rel.FEEDS, a.id, b.id)]))
    assert await moved(ChangeSet(delete=[b.id]))
    version = await store.topology_version(tenant)
    with pytest.raises(NotFound):  # a write that fails changes nothing, the version included
        await store.apply(tenant, ChangeSet(link=[Edge(Rel.FEEDS, a.id, "missing")]))
    assert await store.topology_version(tenant) == version
    assert await store.topology_version(f"{tenant}-other") == 0


async def test_a_remembered_topology_version_never_hides_this_stores_own_changes(store, second_store, tenant):
    """max_age lets a store answer from memory; its own topology changes always reach the next
    read (read-your-writes), another process's may show only once max_age has passed."""
    a, b, c = (make(store, tenant, Label.DATASET, namespace="ns", name=n) for n in "abc")
    await store.apply(tenant, ChangeSet(merge=[a, b, c]))
    v0 = await store.topology_version(tenant, max_age=60)
    await store.apply(tenant, ChangeSet(link=[Edge(Rel.FEEDS, a.id, b.id)]))
    v1 = await store.topology_version(tenant, max_age=60)
    assert v1 > v0
    await second_store.apply(tenant, ChangeSet(link=[Edge(Rel.FEEDS, b.id, c.id)]))  # another process
    assert await store.topology_version(tenant, max_age=60) == v1  # remembered: allowed to lag
    assert await store.topology_version(tenant) > v1  # max_age 0 asks the database
    await store.apply(tenant, ChangeSet(update=[(a.id, {"description": "not topology"})]))
    v2 = await store.topology_version(tenant)
    assert await store.topology_version(tenant, max_age=60) == v2


async def test_feed_entries_name_the_topology_version_they_made_and_the_flagged_links(store, second_store, tenant):
    told = []
    stop = store.watch_feed(lambda entry, stored: told.append((entry, stored)))
    try:
        a, b, c = (make(store, tenant, Label.DATASET, namespace="ns", name=n) for n in "abc")
        await store.apply(tenant, ChangeSet(merge=[a, b]))
        assert told[-1][0].topology == 0  # new nodes, not linked yet: no topology change
        first = ChangeSet(link=[Edge(Rel.FEEDS, a.id, b.id, {"column_lineage": True})])
        await store.apply(tenant, first)
        entry = told[-1][0]
        assert entry.topology == await store.topology_version(tenant)
        assert entry.flagged == {"FEEDS": {a.id: [b.id]}}  # what the lineage index keeps of FEEDS' props
        count = len(told)
        await store.apply(tenant, first)  # a replay changes nothing: no entry
        assert len(told) == count
        await store.apply(tenant, ChangeSet(merge=[c], link=[Edge(Rel.FEEDS, b.id, c.id)]))
        entry, stored = told[-1]
        assert entry.topology == told[count - 1][0].topology + 1 and entry.flagged == {}
        assert list(stored) == [c.id] and stored[c.id].name == c.name  # as stored
        with pytest.raises(NotFound):
            await store.apply(tenant, ChangeSet(link=[Edge(Rel.FEEDS, a.id, "missing")]))
        assert len(told) == count + 1
        await second_store.apply(tenant, ChangeSet(link=[Edge(Rel.FEEDS, c.id, a.id)]))  # another process
        assert len(told) == count + 1  # not told here: read from the feed
        [other] = await store.feed_since(tenant, entry.seq, 10)
        assert other.topology == entry.topology + 1 == await store.topology_version(tenant)
        assert (await store.feed_heads())[tenant] == other.seq
        stop()
        await store.apply(tenant, ChangeSet(unlink=[Edge(Rel.FEEDS, c.id, a.id)]))
        assert len(told) == count + 1
    finally:
        stop()


async def test_scan_nodes_reads_the_labels_asked_in_chunks(store, tenant):
    people = [person(store, tenant, f"P{i}") for i in range(7)]
    ds = make(store, tenant, Label.DATASET, namespace="ns", name="orders")
    await store.apply(tenant, ChangeSet(create=[*people, project(store, tenant, "not asked for")], merge=[ds]))
    chunks = [c async for c in store.scan_nodes(tenant, [Label.PERSON, Label.DATASET], chunk=3)]
    assert [len(c) for c in chunks] == [3, 3, 2]
    expected = sorted([(p.id, Label.PERSON, p.name) for p in people] + [(ds.id, Label.DATASET, "orders")])
    assert sorted(row for c in chunks for row in c) == expected
    assert [c async for c in store.scan_nodes(f"{tenant}-other", [Label.PERSON])] == []


@pytest.mark.parametrize("by_type_max", [250_000, 0])  # Neo4j: one read by type, or slices of the tenant's nodes
async def test_scan_edges_reads_every_relationship_of_one_type_in_chunks(store, tenant, monkeypatch, by_type_max):
    monkeypatch.setattr("maestro_graph.store.neo4j.store.SCAN_BY_TYPE_MAX", by_type_max)
    monkeypatch.setattr("maestro_graph.store.neo4j.store.SCAN_PAGE_NODES", 2)  # several slices here
    ds = [make(store, tenant, Label.DATASET, namespace="ns", name=f"d{i}") for i in range(5)]
    feeds = [Edge(Rel.FEEDS, ds[a].id, ds[b].id, {"column_lineage": a % 2 == 0}) for a in range(4) for b in range(a + 1, 5)]
    await store.apply(tenant, ChangeSet(merge=ds, link=[*feeds, Edge(Rel.FEEDS, ds[4].id, ds[0].id, {})]))
    await store.apply(tenant, ChangeSet(unlink=[Edge(Rel.FEEDS, ds[4].id, ds[0].id)]))  # gone: not scanned
    other = make(store, f"{tenant}-other", Label.DATASET, namespace="ns", name="x")
    await store.apply(f"{tenant}-other", ChangeSet(merge=[other], link=[Edge(Rel.FEEDS, other.id, other.id, {})]))

    chunks = [rows async for rows in store.scan_edges(tenant, Rel.FEEDS, with_props=True, chunk=4)]
    assert all(0 < len(rows) <= 4 for rows in chunks)
    assert sorted(row for rows in chunks for row in rows) == sorted((e.src, e.dst, e.props) for e in feeds)
    bare = [row async for rows in store.scan_edges(tenant, Rel.FEEDS) for row in rows]
    assert sorted(bare) == sorted((e.src, e.dst, None) for e in feeds)
    assert [rows async for rows in store.scan_edges(tenant, Rel.DERIVES)] == []
