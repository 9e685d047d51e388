"""Guarded writes (ChangeSet.expect) on every backend (see the `store` fixture): a ChangeSet applied
only if stored nodes still hold what it expects, checked on the nodes locked until commit, so that
"set RUNNING only if still PENDING" is a compare-and-set even between processes."""

from __future__ import annotations

import asyncio

import pytest

from maestro_graph.domain.audit import AuditQuery, record
from maestro_graph.domain.errors import Conflict, NotFound
from maestro_graph.domain.graph import ChangeSet, Edge, Expect, Label, Rel
from maestro_graph.services.graph import GraphService


def make(store, tenant, label, **props):
    return GraphService(store).build(tenant, label, props)


async def stored_job(store, tenant, name="train-1", **props):
    job = make(store, tenant, Label.TRAINING_JOB, name=name, **props)
    await store.apply(tenant, ChangeSet(create=[job]))
    return job


def start(job_id, *expect, actor="runner"):
    """RUNNING if still PENDING (or what `expect` says), audited as the lead's jobs service would."""
    return ChangeSet(update=[(job_id, {"status": "RUNNING"})],
                     expect=list(expect) or [Expect(job_id, "status", ("PENDING",))],
                     audit=[record(actor, "startTrainingJob", [job_id])])


async def status(store, tenant, job_id):
    return (await store.get_nodes(tenant, [job_id]))[job_id].props["status"]


async def test_a_met_expectation_applies_the_change(store, tenant):
    job = await stored_job(store, tenant)
    written = await store.apply(tenant, start(job.id))
    assert written[job.id].props["status"] == "RUNNING"
    assert await status(store, tenant, job.id) == "RUNNING"
    entries = await store.feed_since(tenant, 0, 100)
    assert entries[-1].operation == "startTrainingJob" and entries[-1].updated


async def test_an_unmet_expectation_is_a_conflict_and_nothing_is_written(store, tenant):
    job = await stored_job(store, tenant, status="SUCCEEDED")
    other = make(store, tenant, Label.PROJECT, name="Churn", problem_class="nlp", complexity_score=5)
    head, seen = await store.feed_head(tenant), []
    stop = store.watch_feed(lambda entry, written: seen.append(entry))
    try:
        cs = ChangeSet(create=[other], update=[(job.id, {"status": "CANCELLED"})],
                       link=[Edge(Rel.OWNS, other.id, job.id)],
                       expect=[Expect(job.id, "status", ("PENDING", "RUNNING"))],
                       audit=[record("runner", "cancelTrainingJob", [job.id])])
        with pytest.raises(Conflict) as raised:
            await store.apply(tenant, cs)
    finally:
        stop()
    err = raised.value
    assert err.extensions == {"code": "CONFLICT", "field": "status"}
    assert err.message == "the TrainingJob's status is SUCCEEDED, not PENDING or RUNNING"
    assert await store.get_nodes(tenant, [job.id, other.id]) == {job.id: job}  # unchanged, nothing created
    assert await store.feed_head(tenant) == head and seen == []
    assert [r.operation for r in (await store.audit_log(tenant, AuditQuery())).records] == []


async def test_an_absent_prop_meets_none_and_only_none(store, tenant):
    job = await stored_job(store, tenant)
    claim = {"claimed_by": "replica-a"}
    with pytest.raises(Conflict) as raised:  # absent is not a value
        await store.apply(tenant, ChangeSet(update=[(job.id, claim)], expect=[Expect(job.id, "claimed_by", ("replica-b",))]))
    assert raised.value.message == "the TrainingJob's claimed_by is unset, not replica-b"
    assert raised.value.extensions["field"] == "claimed_by"
    await store.apply(tenant, ChangeSet(update=[(job.id, claim)], expect=[Expect(job.id, "claimed_by", (None,))]))
    assert (await store.get_nodes(tenant, [job.id]))[job.id].props["claimed_by"] == "replica-a"
    with pytest.raises(Conflict) as raised:  # now present: None no longer meets it
        await store.apply(tenant, ChangeSet(update=[(job.id, {"claimed_by": "replica-b"})],
                                            expect=[Expect(job.id, "claimed_by", (None,))]))
    assert raised.value.message == "the TrainingJob's claimed_by is replica-a, not unset"
    # None among other values: absent or one of them
    await store.apply(tenant, ChangeSet(update=[(job.id, {"claimed_by": None})],
                                        expect=[Expect(job.id, "claimed_by", (None, "replica-a"))]))
    assert "claimed_by" not in (await store.get_nodes(tenant, [job.id]))[job.id].props


async def test_values_compare_as_stored_values(store, tenant):
    job = await stored_job(store, tenant, progress=1.0)
    for wrong in (True, "1.0", None):
        with pytest.raises(Conflict):
            await store.apply(tenant, ChangeSet(update=[(job.id, {"status": "SUCCEEDED"})],
                                                expect=[Expect(job.id, "progress", (wrong,))]))
    await store.apply(tenant, ChangeSet(update=[(job.id, {"status": "SUCCEEDED"})], expect=[Expect(job.id, "progress", (1,))]))
    assert await status(store, tenant, job.id) == "SUCCEEDED"


async def test_every_expectation_must_hold(store, tenant):
    a, b = await stored_job(store, tenant, "a"), await stored_job(store, tenant, "b", status="RUNNING")
    both_pending = [Expect(a.id, "status", ("PENDING",)), Expect(b.id, "status", ("PENDING",))]
    with pytest.raises(Conflict) as raised:
        await store.apply(tenant, ChangeSet(update=[(a.id, {"status": "RUNNING"})], expect=both_pending))
    assert "status is RUNNING, not PENDING" in raised.value.message
    assert await status(store, tenant, a.id) == "PENDING"
    # two conditions on one node, both met
    await store.apply(tenant, ChangeSet(update=[(a.id, {"status": "RUNNING"}), (b.id, {"status": "SUCCEEDED"})],
                                        expect=[Expect(a.id, "status", ("PENDING",)), Expect(a.id, "runner", ("local",)),
                                                Expect(b.id, "status", ("RUNNING",))]))
    assert (await status(store, tenant, a.id), await status(store, tenant, b.id)) == ("RUNNING", "SUCCEEDED")
    with pytest.raises(Conflict) as raised:  # two on one node, the second unmet
        await store.apply(tenant, ChangeSet(update=[(a.id, {"status": "FAILED"})],
                                            expect=[Expect(a.id, "status", ("RUNNING",)), Expect(a.id, "runner", ("kubernetes",))]))
    assert raised.value.extensions["field"] == "runner"
    assert await status(store, tenant, a.id) == "RUNNING"


async def test_an_expected_node_that_is_not_stored_is_not_found(store, tenant):
    job = await stored_job(store, tenant)
    with pytest.raises(NotFound) as raised:
        await store.apply(tenant, ChangeSet(update=[(job.id, {"status": "RUNNING"})],
                                            expect=[Expect(job.id, "status", ("PENDING",)), Expect("no-such-id", "status", ("PENDING",))]))
    assert raised.value.extensions == {"code": "NOT_FOUND", "field": "id"}
    assert await status(store, tenant, job.id) == "PENDING"
    # another tenant's node is not stored in this one
    with pytest.raises(NotFound):
        await store.apply(f"{tenant}-other", start(job.id))
    assert await status(store, tenant, job.id) == "PENDING"


async def test_expectations_alone_write_nothing(store, tenant):
    job = await stored_job(store, tenant, status="FAILED")
    assert not ChangeSet(expect=[Expect(job.id, "status", ("PENDING",))])
    head = await store.feed_head(tenant)
    assert await store.apply(tenant, ChangeSet(expect=[Expect(job.id, "status", ("PENDING",))])) == {}
    assert await store.feed_head(tenant) == head


async def _race(stores, tenant, job_id, contenders):
    results = await asyncio.gather(*(stores[i % len(stores)].apply(tenant, start(job_id, actor=f"runner-{i}"))
                                     for i in range(contenders)), return_exceptions=True)
    won = [r for r in results if isinstance(r, dict)]
    lost = [r for r in results if not isinstance(r, dict)]
    assert len(won) == 1, results
    assert all(isinstance(r, Conflict) and r.message == "the TrainingJob's status is RUNNING, not PENDING" for r in lost), lost
    return won[0]


async def test_of_concurrent_compare_and_sets_on_one_store_one_wins(store, tenant):
    for round_ in range(3):
        job = await stored_job(store, tenant, f"race-{round_}")
        head = await store.feed_head(tenant)
        await _race([store], tenant, job.id, contenders=5)
        assert await status(store, tenant, job.id) == "RUNNING"
        assert await store.feed_head(tenant) == head + 1  # one entry: the winner's
        starts = (await store.audit_log(tenant, AuditQuery(operation="startTrainingJob"))).records
        assert sum(job.id in r.ids for r in starts) == 1


async def test_of_concurrent_compare_and_sets_on_two_store_objects_one_wins(store, second_store, tenant):
    for round_ in range(3):
        job = await stored_job(store, tenant, f"race-{round_}")
        await _race([store, second_store], tenant, job.id, contenders=6)
        assert await status(second_store, tenant, job.id) == "RUNNING"
        starts = (await store.audit_log(tenant, AuditQuery(operation="startTrainingJob"))).records
        assert sum(job.id in r.ids for r in starts) == 1
