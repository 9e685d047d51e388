"""The audit-log part of the GraphStore contract, on every backend (see the `store` fixture)."""

from __future__ import annotations

import dataclasses

import pytest

from maestro_graph.domain.audit import AuditQuery, record
from maestro_graph.domain.errors import Conflict
from maestro_graph.domain.graph import ChangeSet, Label
from maestro_graph.services.graph import GraphService


def person(store, tenant, name):
    return GraphService(store).build(tenant, Label.PERSON, {"name": name, "email": f"{name.lower()}@example.com"})


async def test_audit_records_are_written_with_the_change_and_read_newest_first(store, tenant):
    ada = person(store, tenant, "Ada")
    first = record("alice", "createPerson", [ada.id])
    await store.apply(tenant, ChangeSet(create=[ada], audit=[first]))
    second = record("bob", "deletePerson", [ada.id])
    await store.apply(tenant, ChangeSet(delete=[ada.id], audit=[second]))
    page = await store.audit_log(tenant, AuditQuery())
    assert page.records == [second, first] and page.total == 2 and not page.has_next


async def test_a_failed_change_leaves_no_audit_record(store, tenant):
    ada = person(store, tenant, "Ada")
    await store.apply(tenant, ChangeSet(create=[ada]))
    with pytest.raises(Conflict):
        await store.apply(tenant, ChangeSet(create=[person(store, tenant, "Ada")], audit=[record("alice", "createPerson")]))
    assert (await store.audit_log(tenant, AuditQuery())).records == []


async def test_an_audit_only_changeset_writes_just_the_record(store, tenant):
    refused = record("eve", "deletePerson", outcome="FORBIDDEN")
    await store.apply(tenant, ChangeSet(audit=[refused]))
    assert (await store.audit_log(tenant, AuditQuery())).records == [refused]
    assert await store.count_by_label(tenant) == {}


async def test_audit_filters_and_keyset_pages(store, tenant):
    recs = [dataclasses.replace(record(actor, op, outcome=outcome), at=f"2026-01-0{day}T00:00:00.000000Z")
            for day, (actor, op, outcome) in enumerate(
                [("alice", "createPerson", "OK"), ("bob", "createPerson", "OK"), ("alice", "link", "NOT_FOUND"),
                 ("alice", "createPerson", "OK"), ("bob", "unlink", "OK")], start=1)]
    await store.apply(tenant, ChangeSet(audit=recs))
    newest_first = list(reversed(recs))

    async def ids(**q):
        return [r.id for r in (await store.audit_log(tenant, AuditQuery(**q))).records]

    assert await ids(actor="alice") == [recs[3].id, recs[2].id, recs[0].id]
    assert await ids(operation="createPerson", actor="alice") == [recs[3].id, recs[0].id]
    assert await ids(outcome="NOT_FOUND") == [recs[2].id]
    assert await ids(since="2026-01-02", until="2026-01-04") == [recs[2].id, recs[1].id]
    seen, after = [], None
    while True:
        page = await store.audit_log(tenant, AuditQuery(first=2, after=after))
        assert page.total == 5
        seen += page.records
        if not page.has_next:
            break
        after = page.records[-1].cursor
    assert seen == newest_first


async def test_audit_log_is_per_tenant(store, tenant):
    await store.apply(tenant + "-other", ChangeSet(audit=[record("mallory", "createPerson")]))
    assert (await store.audit_log(tenant, AuditQuery())).total == 0
