"""The process's feed follower (services/feed.py), the one post-commit path, through a real store
on every backend: each committed change reaches its consumers once, in seq order, whether this
process committed it (handed over at once, with the nodes as written) or another did (read from
the feed); a failed write hands over nothing of its change."""

from __future__ import annotations

import asyncio
import uuid

import pytest

from maestro_graph.auth.principal import Principal, Role
from maestro_graph.domain.errors import Conflict
from maestro_graph.domain.graph import Label, NodeQuery
from maestro_graph.services import Services
from maestro_graph.services.feed import FeedFollower


def who(tenant: str, role: Role, sub: str | None = None) -> Principal:
    return Principal(sub or role.label, tenant, frozenset({role}))


def event(job: str, inputs: list[str], output: str) -> dict:
    ns = "postgres://db"
    return {"eventType": "COMPLETE", "eventTime": "2026-11-01T10:00:00Z",
            "run": {"runId": str(uuid.uuid4())},
            "job": {"namespace": "etl", "name": job}, "producer": "https://example.com/test",
            "schemaURL": "https://openlineage.io/spec/2-0-2/OpenLineage.json#/$defs/RunEvent",
            "inputs": [{"namespace": ns, "name": i} for i in inputs], "outputs": [{"namespace": ns, "name": output}]}


async def test_this_process_commits_are_handed_over_once_at_once_and_no_failed_write(store, tenant):
    services = Services.build(store)
    seen: list = []
    stop = services.feed.consume(lambda entry, stored: seen.append((entry, stored)))
    await services.feed.follow(tenant)
    editor = who(tenant, Role.EDITOR, "alice")

    ada = (await services.graph.create(editor, Label.PERSON, [{"name": "Ada", "email": "ada@example.com"}]))[0]
    assert len(seen) == 1  # handed over before the write returned: no read, no poll
    entry, stored = seen[0]
    assert (entry.tenant, entry.operation, entry.actor, entry.created) == (tenant, "createPerson", "alice", {"Person": [ada.id]})
    assert stored[ada.id] == (await store.get_nodes(tenant, [ada.id]))[ada.id]  # the nodes as committed

    # Refused by the store (the key is taken): its change rolled back; the refusal record alone
    # changes nothing in the graph, so nothing is handed over.
    with pytest.raises(Conflict):
        await services.graph.create(editor, Label.PERSON, [{"name": "Ada 2", "email": "ada@example.com"}])
    assert len(seen) == 1

    # Group commit: requests that meet share one transaction, one entry.
    requests = [[event(f"job{i}", [f"in{i}"], f"out{i}")] for i in range(6)]
    await asyncio.gather(*(services.lineage.ingest(editor, body) for body in requests))
    groups = [e for e, _ in seen[1:]]
    assert 1 <= len(groups) < len(requests)
    jobs = (await store.find_nodes(tenant, NodeQuery(Label.JOB, first=10))).nodes
    assert sorted(i for g in groups for i in g.created.get("Job", [])) == sorted(n.id for n in jobs) and len(jobs) == 6
    assert [e.seq for e, _ in seen] == list(range(1, len(seen) + 1))  # in seq order, without gaps
    handed = len(seen)

    stop()
    await services.graph.update(editor, Label.PERSON, [(ada.id, {"name": "Ada L."})])
    assert len(seen) == handed  # stopped


async def test_other_processes_commits_are_read_from_the_feed_in_order_once(store, second_store, tenant):
    here = FeedFollower(store, poll=0.05)
    seen: list = []
    here.consume(lambda entry, stored: seen.append((entry.seq, entry.actor, stored is not None)))
    other = Services.build(second_store)
    mine = Services.build(store, topology=None)
    mine_feed = mine.feed  # a second follower on this store object: its commits reach `here` directly too
    assert mine_feed is not here
    await here.follow(tenant)
    await here.start()
    try:
        await other.graph.create(who(tenant, Role.EDITOR, "other"), Label.PERSON,
                                 [{"name": "Bo", "email": "bo@example.com"}])
        await mine.graph.create(who(tenant, Role.EDITOR, "me"), Label.PERSON,
                                [{"name": "Cy", "email": "cy@example.com"}])  # past a gap: waits for seq 1
        for _ in range(200):
            if len(seen) == 2:
                break
            await asyncio.sleep(0.02)
        assert seen == [(1, "other", False), (2, "me", True)]  # the gap read first, then ours, as written
        for i in range(5):
            await other.graph.create(who(tenant, Role.EDITOR, "other"), Label.PERSON,
                                     [{"name": f"P{i}", "email": f"p{i}@example.com"}])
        for _ in range(200):
            if len(seen) == 7:
                break
            await asyncio.sleep(0.02)
        assert [s for s, _, _ in seen] == list(range(1, 8))
        await here.catch_up(tenant)
        assert len(seen) == 7  # nothing twice
    finally:
        await here.close()


async def test_commits_made_while_a_tenant_starts_being_followed_are_handed_over_once(store, tenant):
    """Whichever way a commit and the first read of the head interleave, every entry after the
    head follow() returned is handed over once, in order, without a poll, and none committed
    before following began. (One committed while the head was read may be handed over before
    follow() returns: it then counts in the head returned, which is what a subscriber starts
    after.)"""
    services = Services.build(store)
    seen: list[int] = []
    services.feed.consume(lambda entry, _: seen.append(entry.seq) if entry.tenant == tenant else None)
    editor = who(tenant, Role.EDITOR)
    await services.graph.create(editor, Label.TEAM, [{"name": "before"}])
    following = asyncio.create_task(services.feed.follow(tenant))
    await asyncio.gather(*(services.graph.create(editor, Label.TEAM, [{"name": f"during-{i}"}]) for i in range(5)))
    head = await following
    await services.graph.create(editor, Label.TEAM, [{"name": "after"}])
    last = await store.feed_head(tenant)
    assert last == 7 and seen and 2 <= seen[0] <= head + 1 and seen == list(range(seen[0], last + 1))
