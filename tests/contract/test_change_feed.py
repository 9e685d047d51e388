"""The change-feed part of the GraphStore contract, on every backend (see the `store` fixture):
one entry per committed ChangeSet that changes the graph, in its transaction, with gap-free
per-tenant sequence numbers (docs/change-feed.md)."""

from __future__ import annotations

import asyncio

import pytest

from maestro_graph.domain.audit import record
from maestro_graph.domain.errors import Conflict, NotFound
from maestro_graph.domain.feed import OMITTED_PROPS, EdgeRef, FeedEntry, NodeRef
from maestro_graph.domain.graph import ChangeSet, Edge, Label, Rel
from maestro_graph.services.graph import GraphService


def make(store, tenant, label, **props):
    return GraphService(store).build(tenant, label, props)


def person(store, tenant, name):
    return make(store, tenant, Label.PERSON, name=name, email=f"{name.lower()}@example.com")


async def entries(store, tenant):
    return await store.feed_since(tenant, 0, 10_000)


async def test_each_changing_apply_appends_one_entry_with_what_it_did(store, tenant):
    seen, stored = [], []
    stop_feed = store.watch_feed(lambda entry, written: (seen.append(entry), stored.append(written)))
    try:
        ada = person(store, tenant, "Ada")
        proj = make(store, tenant, Label.PROJECT, name="Churn", problem_class="nlp", complexity_score=5)
        job = make(store, tenant, Label.TRAINING_JOB, name="train-1")
        await store.apply(tenant, ChangeSet(
            create=[ada, proj, job],
            link=[Edge(Rel.MEMBER_OF, ada.id, proj.id), Edge(Rel.OWNS, proj.id, job.id)],
            audit=[record("alice", "createProject", [proj.id])]))
        await store.apply(tenant, ChangeSet(
            update=[(job.id, {"status": "RUNNING", "progress": 0.5}), (ada.id, {"name": "Ada L"})],
            unlink=[Edge(Rel.MEMBER_OF, ada.id, proj.id)],
            audit=[record("bob", "updateTrainingJob", [job.id, ada.id])]))
        await store.apply(tenant, ChangeSet(delete=[proj.id], audit=[record("carol", "deleteProject", [proj.id])]))
        # Nothing in the graph changed: a refused operation's audit record appends no entry.
        await store.apply(tenant, ChangeSet(audit=[record("eve", "deletePerson", [ada.id], outcome="FORBIDDEN")]))
    finally:
        stop_feed()

    first, second, third = got = await entries(store, tenant)
    assert [e.seq for e in got] == [1, 2, 3] and await store.feed_head(tenant) == 3
    assert all(e.tenant == tenant for e in got)
    assert (first.operation, first.actor) == ("createProject", "alice")
    assert first.created == {"Person": [ada.id], "Project": [proj.id], "TrainingJob": [job.id]}
    assert first.linked == {"MEMBER_OF": {ada.id: [proj.id]}, "OWNS": {proj.id: [job.id]}}  # type -> source -> targets
    assert set(FeedEntry.node_refs(first.created)) == {
        NodeRef(ada.id, "Person"), NodeRef(proj.id, "Project"), NodeRef(job.id, "TrainingJob")}
    assert set(FeedEntry.edge_refs(first.linked)) == {EdgeRef("MEMBER_OF", ada.id, proj.id), EdgeRef("OWNS", proj.id, job.id)}
    assert first.updated == first.deleted == first.unlinked == {}
    # A watched label's new node: all its props but the bulky ones a reader takes from the node; a Person: none.
    assert dict(first.props) == {job.id: {k: v for k, v in job.props.items() if k not in OMITTED_PROPS[Label.TRAINING_JOB]}}

    assert (second.operation, second.actor) == ("updateTrainingJob", "bob")
    assert second.updated == {"TrainingJob": [job.id], "Person": [ada.id]} and second.created == {}
    assert FeedEntry.edge_refs(second.unlinked) == [EdgeRef("MEMBER_OF", ada.id, proj.id)]
    # What changed, with its new values; a training job's entry also carries its status, progress and
    # metrics as the change left them (CARRIED_PROPS), changed or not.
    assert dict(second.props) == {job.id: {"status": "RUNNING", "progress": 0.5, "metrics": {}}}

    assert (third.operation, third.actor, third.deleted) == ("deleteProject", "carol", {"Project": [proj.id]})
    assert first.at <= second.at <= third.at

    assert seen == got  # the committing store object hands its entries over, with their seq
    assert stored[0][ada.id].name == "Ada" and set(stored[0]) == {ada.id, proj.id, job.id}  # the nodes as written
    # Each changed the topology (a membership, a rename of a person, a deletion): each entry
    # names the version it made, one after the other.
    assert [e.topology for e in got] == [first.topology, first.topology + 1, first.topology + 2] and first.topology > 0
    for e in got:  # the documented JSON form reads back as the same entry
        assert FeedEntry.from_json(e.to_json()) == e and e.to_dict()["v"] == 1
        assert not e.truncated and "truncated" not in e.to_dict()
    cut = FeedEntry.from_json(first.summary().to_json())  # what Neo4j keeps of an entry too big to hold
    assert cut.truncated and (cut.seq, cut.operation, cut.created, cut.linked, cut.props) == (1, "createProject", {}, {}, {})


async def test_a_merge_or_link_that_changes_nothing_appends_nothing(store, tenant):
    ds = make(store, tenant, Label.DATASET, namespace="s3://b", name="orders")
    job = make(store, tenant, Label.JOB, namespace="etl", name="load")
    cs = ChangeSet(merge=[ds, job], link=[Edge(Rel.READS, job.id, ds.id)])
    await store.apply(tenant, cs)
    await store.apply(tenant, cs)  # a replayed event: the same nodes and link again
    [only] = await entries(store, tenant)
    assert only.created == {"Dataset": [ds.id], "Job": [job.id]}
    assert only.linked == {"READS": {job.id: [ds.id]}}


@pytest.mark.parametrize("failure", ["not_found", "conflict"])
async def test_a_failed_apply_appends_nothing(store, tenant, failure):
    ada = person(store, tenant, "Ada")
    await store.apply(tenant, ChangeSet(create=[ada]))
    bob = person(store, tenant, "Bob")
    if failure == "not_found":  # fails in the middle: after the create, at the update
        bad, error = ChangeSet(create=[bob], update=[("no-such-id", {"name": "x"})], audit=[record("a", "x")]), NotFound
    else:
        bad, error = ChangeSet(create=[bob, person(store, tenant, "Ada")], audit=[record("a", "x")]), Conflict
    with pytest.raises(error):
        await store.apply(tenant, bad)
    assert [e.seq for e in await entries(store, tenant)] == [1] and await store.feed_head(tenant) == 1
    await store.apply(tenant, ChangeSet(create=[bob]))
    assert [e.seq for e in await entries(store, tenant)] == [1, 2]  # no gap where the failure was


async def test_concurrent_writers_through_two_store_objects_get_every_seq_once(store, second_store, tenant):
    per_store = 12
    people = [[person(store, tenant, f"P{s}-{i}") for i in range(per_store)] for s in range(2)]

    async def write(s, nodes):
        for n in nodes:
            await s.apply(tenant, ChangeSet(create=[n], audit=[record("w", "createPerson", [n.id])]))

    await asyncio.gather(write(store, people[0]), write(second_store, people[1]))
    got = await entries(store, tenant)
    assert [e.seq for e in got] == list(range(1, 2 * per_store + 1))
    assert sorted(e.created["Person"][0] for e in got) == sorted(n.id for ns in people for n in ns)
    for ns in people:  # each writer's entries in its own commit order
        mine = {n.id: k for k, n in enumerate(ns)}
        assert [mine[e.created["Person"][0]] for e in got if e.created["Person"][0] in mine] == list(range(per_store))
    assert await second_store.feed_head(tenant) == 2 * per_store


async def test_tenants_have_feeds_of_their_own(store, tenant):
    other = tenant + "-other"
    for name in ("Ada", "Bob"):
        await store.apply(tenant, ChangeSet(create=[person(store, tenant, name)]))
    cy = person(store, other, "Cy")
    await store.apply(other, ChangeSet(create=[cy]))
    [theirs] = await entries(store, other)
    assert theirs.seq == 1 and theirs.tenant == other and theirs.created == {"Person": [cy.id]}
    assert [e.seq for e in await entries(store, tenant)] == [1, 2]
    assert await store.feed_head(other) == 1 and await store.feed_head(other + "-never") == 0
    assert await store.feed_since(other + "-never", 0, 10) == []


async def test_feed_since_pages_in_seq_order(store, tenant):
    for i in range(5):
        await store.apply(tenant, ChangeSet(create=[person(store, tenant, f"P{i}")]))
    pages, after = [], 0
    while page := await store.feed_since(tenant, after, 2):
        pages.append([e.seq for e in page])
        after = page[-1].seq
    assert pages == [[1, 2], [3, 4], [5]]
    assert [e.seq for e in await store.feed_since(tenant, 3, 100)] == [4, 5]


async def test_trim_by_count_keeps_the_last_entries_and_seqs_go_on(store, tenant):
    for i in range(5):
        await store.apply(tenant, ChangeSet(create=[person(store, tenant, f"P{i}")]))
    assert await store.trim_feed(tenant, None, None) == 0
    assert await store.trim_feed(tenant, None, keep_last=2, batch=2) == 3  # two batches of 2 and 1
    assert [e.seq for e in await entries(store, tenant)] == [4, 5]
    assert await store.trim_feed(tenant, None, keep_last=2) == 0
    await store.apply(tenant, ChangeSet(create=[person(store, tenant, "Late")]))
    assert [e.seq for e in await entries(store, tenant)] == [4, 5, 6] and await store.feed_head(tenant) == 6


async def test_trim_by_age_deletes_the_older_entries_only(store, tenant):
    other = tenant + "-other"
    await store.apply(other, ChangeSet(create=[person(store, other, "Cy")]))  # older than the cut too
    for i in range(4):
        await store.apply(tenant, ChangeSet(create=[person(store, tenant, f"P{i}")]))
    before = await entries(store, tenant)
    cut = before[2].at
    older = [e.seq for e in before if e.at < cut]
    assert older  # entries 1 and 2 were written before entry 3
    assert await store.trim_feed(tenant, older_than_at=cut, keep_last=None, batch=1) == len(older)
    assert [e.seq for e in await entries(store, tenant)] == [e.seq for e in before if e.seq not in older]
    assert len(await entries(store, other)) == 1  # another tenant's feed is not trimmed


async def test_a_big_entry_reads_back_whole(store, tenant):
    """A bulk write's entry (Neo4j keeps a big one compressed) reads back as it was handed over."""
    seen = []
    stop = store.watch_feed(lambda entry, _: seen.append(entry))
    try:
        people = [person(store, tenant, f"P{i:05d}") for i in range(2000)]
        await store.apply(tenant, ChangeSet(create=people, audit=[record("bulk", "createPerson")]))
    finally:
        stop()
    [got] = await entries(store, tenant)
    assert len(got.to_json()) > 64 * 1024
    assert got == seen[0] and got.created == {"Person": [p.id for p in people]}
