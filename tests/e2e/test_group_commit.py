"""Group commit, pipelined (services/ingestion.py): requests that arrive together share
transactions, and the next group is prepared while one is written, taking that write's nodes as
stored. Whatever the grouping and the overlap, the graph must end as if the events had been
stored one at a time, and a failed write must not leak into the group prepared behind it.
Runs on every backend."""

from __future__ import annotations

import json

import asyncio
import uuid
from typing import Any

import httpx
import pytest

from maestro_graph.auth.principal import system
from maestro_graph.domain.errors import StoreUnavailable
from maestro_graph.domain.graph import ChangeSet, Label, Rel
from maestro_graph.services.ingestion import GroupCommit
from maestro_graph.services.lineage import LineageService
from maestro_graph.store.base import GraphStore
from tests.e2e.conftest import serve

NS = "pg://warehouse"
PRODUCER = "https://github.com/maestro-graph/tests"
SCHEMA_URL = "https://openlineage.io/spec/2-0-2/OpenLineage.json#/$defs/RunEvent"
LINEAGE_RELS = (Rel.READS, Rel.WRITES, Rel.FEEDS, Rel.HAS_FIELD, Rel.DERIVES, Rel.OF_JOB)


def event(job: str, inputs: list[str], output: str, state: str = "COMPLETE", run_id: str | None = None,
          at: str = "2026-11-01T10:00:00Z") -> dict[str, Any]:
    """A run of `job` reading `inputs` into `output`, whose columns a and b come from each input's a and b."""
    fields = {c: {"inputFields": [{"namespace": NS, "name": i, "field": c,
                                   "transformations": [{"type": "DIRECT", "subtype": "IDENTITY"}]} for i in inputs]}
              for c in ("a", "b")}
    return {"eventType": state, "eventTime": at, "producer": PRODUCER, "schemaURL": SCHEMA_URL,
            "run": {"runId": run_id or str(uuid.uuid4())}, "job": {"namespace": "etl", "name": job},
            "inputs": [{"namespace": NS, "name": i} for i in inputs],
            "outputs": [{"namespace": NS, "name": output, "facets": {"columnLineage": {"fields": fields}}}]}


def chain(n: int) -> list[dict[str, Any]]:
    """Events where each output is a later event's input, each run reported by a START and a
    COMPLETE event (in either order), and some events sent twice: what a group prepared behind another must
    resolve against the nodes that one is storing."""
    evs: list[dict[str, Any]] = []
    for i in range(n):
        run = str(uuid.uuid4())
        ins = [f"t{i - 1}"] if i else ["src"]
        if i >= 3:
            ins.append(f"t{i - 3}")
        pair = [event(f"job{i}", ins, f"t{i}", "START", run, "2026-11-01T10:00:00Z"),
                event(f"job{i}", ins, f"t{i}", "COMPLETE", run, "2026-11-01T10:05:00Z")]
        evs += pair[::-1] if i % 3 == 1 else pair  # some arrive out of order: the state must not go back
        if i % 4 == 0:
            evs.append(evs[-1])
    return evs


async def snapshot(store: GraphStore, tenant: str) -> tuple[set[Any], set[Any]]:
    """The tenant's lineage graph with ids replaced by names (ids differ between tenants): nodes
    with what ingestion stored in them, relationships with their props."""
    ids = [i for chunk in [c async for c in store.scan_nodes(tenant, [Label.DATASET, Label.FIELD, Label.JOB, Label.RUN])]
           for i, _, _ in chunk]
    nodes = await store.get_nodes(tenant, ids)
    assert len(nodes) == len(ids)

    def name(i: str) -> str:
        n = nodes[i]
        if n.label is Label.FIELD:
            return f"{name(n.props['dataset_id'])}/{n.props['path']}"
        if n.label is Label.RUN:
            return f"run {n.props['run_id']} of {name(n.props['job_id'])}"
        return f"{n.label.value} {n.props['namespace']}/{n.props['name']}"

    runs = {(name(i), n.props["state"], n.props.get("started_at"), n.props.get("ended_at"))
            for i, n in nodes.items() if n.label is Label.RUN}
    named = {(n.label.value, name(i)) for i, n in nodes.items()} | runs
    edges = set()
    for rel in LINEAGE_RELS:
        async for chunk in store.scan_edges(tenant, rel, with_props=True):
            for src, dst, props in chunk:
                assert src in nodes and dst in nodes, f"a {rel.value} relationship to a node that is not stored"
                edges.add((rel.value, name(src), name(dst), json.dumps(props or {}, sort_keys=True)))
    return named, edges


class Watched:
    """A real store, and whether the service read from it while one of its writes was under way."""

    def __init__(self, inner: GraphStore) -> None:
        self.inner, self.writing, self.reads_while_writing, self.applies = inner, 0, 0, 0
        self.fail_when: Any = None  # ChangeSet -> bool: that write fails, as an unreachable store would
        self.delay = 0.01  # each write is this slow, so that the next group is prepared meanwhile

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)

    async def get_by_keys(self, *args: Any) -> Any:
        self.reads_while_writing += self.writing > 0
        return await self.inner.get_by_keys(*args)

    async def apply(self, tenant: str, changes: ChangeSet) -> Any:
        self.applies += 1
        self.writing += 1
        try:
            await asyncio.sleep(self.delay)
            if self.fail_when is not None and self.fail_when(changes):
                raise StoreUnavailable("the store went away (injected)")
            return await self.inner.apply(tenant, changes)
        finally:
            self.writing -= 1


async def test_concurrent_requests_end_as_events_stored_one_at_a_time(store, tenant, tmp_path):
    evs = chain(12)
    async with serve(store, tenant, tmp_path) as server:
        commits = server.services.lineage.commits
        commits.MAX_EVENTS = 4  # several groups, so that one is prepared while another is written
        applies = len(server.store.calls)
        async with httpx.AsyncClient(base_url=server.url, headers=server.headers, timeout=60) as client:
            answers = await asyncio.gather(*(client.post("/api/v1/lineage", json=ev) for ev in evs))
        assert [a.status_code for a in answers] == [201] * len(evs), answers[0].text
        writes = server.store.calls[applies:].count("apply")
        assert 1 < writes < len(evs)  # transactions were shared, and there were several

    one_at_a_time = f"{tenant}-serial"
    service = LineageService(store)
    for ev in evs:
        await service.ingest(system(one_at_a_time, "test"), ev)
    assert await snapshot(store, tenant) == await snapshot(store, one_at_a_time)


async def test_the_next_group_is_prepared_while_one_is_written(store, tenant):
    watched = Watched(store)
    service = LineageService(watched)  # type: ignore[arg-type]
    service.commits.MAX_EVENTS = 2
    evs = chain(8)
    actor = system(tenant, "test")
    await asyncio.gather(*(service.ingest(actor, ev) for ev in evs))
    assert watched.reads_while_writing > 0
    assert watched.applies == -(-len(evs) // 2)  # no Conflict and no retry: every group written once

    one_at_a_time = f"{tenant}-serial"
    for ev in evs:
        await service.ingest(system(one_at_a_time, "test"), ev)
    assert await snapshot(store, tenant) == await snapshot(store, one_at_a_time)


async def test_a_failed_write_does_not_leak_into_the_group_prepared_behind_it(store, tenant):
    """The group behind a failed write was prepared with that write's run state as stored: it
    must be prepared again, or the run would keep the START of an event that was refused."""
    watched = Watched(store)
    service = LineageService(watched)  # type: ignore[arg-type]
    service.commits.MAX_EVENTS = 2
    run = str(uuid.uuid4())
    first = event("load", ["src"], "a")  # shares the failed group's transaction, then goes alone
    start = event("refused", ["a"], "b", "START", run, "2026-11-01T10:00:00Z")
    complete = event("refused", ["a", "other"], "b", "COMPLETE", run, "2026-11-01T10:05:00Z")  # "other": looked up
    after = event("after", ["src"], "c")  # fills the second group: it is prepared during the first one's write
    watched.fail_when = lambda cs: any(n.label is Label.RUN and n.props.get("state") == "START" for n in cs.merge)
    actor = system(tenant, "test")
    outcomes = await asyncio.gather(*(service.ingest(actor, ev) for ev in (first, start, complete, after)),
                                    return_exceptions=True)
    assert isinstance(outcomes[1], StoreUnavailable)
    assert not any(isinstance(outcomes[i], BaseException) for i in (0, 2, 3))
    assert watched.reads_while_writing > 0  # `complete` was prepared while the failing write was under way
    # The failed group, then each of its requests alone, then the second group once: prepared again
    # before its write. Written as first prepared, it would name the failed group's new ids and
    # meet a Conflict (or, without one, keep the refused START).
    assert watched.applies == 4

    nodes, _ = await snapshot(store, tenant)
    runs = [n[1:] for n in nodes if len(n) == 4 and n[0].endswith("etl/refused")]
    assert runs == [("COMPLETE", None, "2026-11-01T10:05:00Z")]  # no started_at: its START was refused

    expected = f"{tenant}-expected"
    for ev in (first, complete, after):
        await LineageService(store).ingest(system(expected, "test"), ev)
    assert await snapshot(store, tenant) == await snapshot(store, expected)


async def test_the_next_group_waits_to_be_as_large_as_the_one_being_written(store, tenant):
    """Taken as soon as a write starts, the next group would hold only what had arrived by then."""
    watched = Watched(store)
    # The first write lasts long enough for the three late events (0.03 s apart) to arrive during
    # it even on a busy machine; at 0.3 s a loaded CI sometimes saw the write end first.
    watched.delay = 1.5
    service = LineageService(watched)  # type: ignore[arg-type]
    service.commits.MAX_EVENTS = 4
    evs = [event(f"job{i}", ["src"], f"t{i}") for i in range(8)]
    actor = system(tenant, "test")
    under_way = [asyncio.create_task(service.ingest(actor, ev)) for ev in evs[:5]]  # a group of 4, and 1 more
    for ev in evs[5:]:  # three more arrive during the first write
        await asyncio.sleep(0.03)
        under_way.append(asyncio.create_task(service.ingest(actor, ev)))
    await asyncio.gather(*under_way)
    assert watched.applies == 2  # 4 events, then 4: not 4, 1, 3
    assert watched.reads_while_writing > 0  # the second was still prepared during the first write


async def test_batches_go_in_order_and_an_error_stops_them_after_those_under_way(store, tenant):
    service = LineageService(store)
    actor = system(tenant, "test")
    good = [[event(f"job{i}", [f"t{i - 1}" if i else "src"], f"t{i}")] for i in range(6)]
    results = [r async for r in service.ingest_batches(actor, good, in_flight=3)]
    assert [r.events for r in results] == [1] * 6

    bad = [[event("x1", ["src"], "x1")], [{"eventType": "COMPLETE"}], [event("x2", ["src"], "x2")]]
    seen = []
    with pytest.raises(Exception, match=r"events\[0\]"):
        async for r in service.ingest_batches(system(f"{tenant}-bad", "test"), bad, in_flight=2):
            seen.append(r)
    assert len(seen) == 1
    nodes, _ = await snapshot(store, f"{tenant}-bad")
    assert ("Dataset", f"Dataset {NS}/x1") in nodes


def test_a_group_is_one_tenants_requests_in_order_within_the_limits() -> None:
    commits = GroupCommit(store=None)  # type: ignore[arg-type]
    commits.MAX_EVENTS = 5

    def req(tenant: str, events: int) -> Any:
        return type("R", (), {"tenant": tenant, "events": events})()

    a1, b1, a2, a3, b2, a4 = req("a", 2), req("b", 9), req("a", 2), req("a", 2), req("b", 1), req("a", 1)
    commits._pending = [a1, b1, a2, a3, b2, a4]
    assert commits._take() == [a1, a2]  # a3 would pass 5 events; a4 waits behind it, in order
    assert commits._take() == [b1]  # over the limit alone: a group of one
    assert commits._take() == [a3, a4]
    assert commits._take() == [b2]
    assert commits._pending == []
