"""The one write path (services/commits.py) hands each commit to the process's followers once,
after it committed, through a real store on every backend; a write that fails hands over nothing
of its change (its refusal record is a commit of its own)."""

from __future__ import annotations

import asyncio
import uuid

import pytest

from maestro_graph.auth.principal import Principal, Role
from maestro_graph.domain.errors import Conflict
from maestro_graph.domain.graph import Label
from maestro_graph.services import Services
from maestro_graph.services.commits import Committed


def who(tenant: str, role: Role, sub: str | None = None) -> Principal:
    return Principal(sub or role.label, tenant, frozenset({role}))


def event(job: str, inputs: list[str], output: str) -> dict:
    ns = "postgres://db"
    return {"eventType": "COMPLETE", "eventTime": "2026-11-01T10:00:00Z",
            "run": {"runId": str(uuid.uuid4())},
            "job": {"namespace": "etl", "name": job}, "producer": "https://example.com/test",
            "schemaURL": "https://openlineage.io/spec/2-0-2/OpenLineage.json#/$defs/RunEvent",
            "inputs": [{"namespace": ns, "name": i} for i in inputs], "outputs": [{"namespace": ns, "name": output}]}


async def test_a_follower_gets_each_commit_once_and_no_failed_write(store, tenant):
    services = Services.build(store)
    seen: list[Committed] = []
    stop = services.commits.followers.add(seen.append)
    editor = who(tenant, Role.EDITOR, "alice")

    ada = (await services.graph.create(editor, Label.PERSON, [{"name": "Ada", "email": "ada@example.com"}]))[0]
    assert len(seen) == 1
    assert seen[0].tenant == tenant
    assert [n.id for n in seen[0].changes.create] == [ada.id]
    assert [(r.operation, r.outcome) for r in seen[0].changes.audit] == [("createPerson", "OK")]
    assert seen[0].written[ada.id] == (await store.get_nodes(tenant, [ada.id]))[ada.id]  # handed over as committed

    # Refused by the store (the key is taken): its change rolled back and is not handed over;
    # only the refusal record, committed on its own, is.
    with pytest.raises(Conflict):
        await services.graph.create(editor, Label.PERSON, [{"name": "Ada 2", "email": "ada@example.com"}])
    assert len(seen) == 2
    assert seen[1].changes.create == [] and seen[1].written == {}
    assert [(r.operation, r.outcome) for r in seen[1].changes.audit] == [("createPerson", "CONFLICT")]

    # Group commit: requests that meet share one transaction, handed over once, with each
    # request's own record.
    requests = [[event(f"job{i}", [f"in{i}"], f"out{i}")] for i in range(6)]
    await asyncio.gather(*(services.lineage.ingest(editor, body) for body in requests))
    groups = seen[2:]
    assert 1 <= len(groups) < len(requests)
    assert sum(len(g.changes.audit) for g in groups) == len(requests)
    assert {(r.operation, r.outcome) for g in groups for r in g.changes.audit} == {("ingestLineageEvents", "OK")}
    assert {n.props["name"] for g in groups for n in g.changes.merge if n.label is Label.JOB} == {
        f"job{i}" for i in range(6)}
    handed = len(seen)

    stop()
    await services.graph.update(editor, Label.PERSON, [(ada.id, {"name": "Ada L."})])
    assert len(seen) == handed  # stopped
