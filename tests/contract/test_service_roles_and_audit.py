"""The services check roles themselves and audit every write, whoever calls them (no GraphQL here),
on every backend."""

from __future__ import annotations

import pytest

from maestro_graph.auth.principal import Principal, Role
from maestro_graph.auth.tokens import TokenMinter, TokenVerifier
from maestro_graph.auth.keys import SecretKey
from maestro_graph.domain.audit import AuditQuery
from maestro_graph.domain.errors import Conflict, Forbidden
from maestro_graph.domain.graph import Edge, Label, Rel
from maestro_graph.services import Services

SECRET = "contract-test-secret-long-enough-for-hs256"


def who(tenant: str, role: Role, sub: str | None = None) -> Principal:
    return Principal(sub or role.label, tenant, frozenset({role}))


async def log(services: Services, tenant: str) -> list[tuple[str, str, str]]:
    page = await services.audit.log(who(tenant, Role.ADMIN), AuditQuery(first=100))
    return [(r.actor, r.operation, r.outcome) for r in reversed(page.records)]  # oldest first


async def test_a_viewer_calling_services_directly_is_refused_and_recorded(store, tenant):
    services = Services.build(store)
    editor, viewer = who(tenant, Role.EDITOR), who(tenant, Role.VIEWER)
    ada = (await services.graph.create(editor, Label.PERSON, [{"name": "Ada", "email": "ada@example.com"}]))[0]
    attempts = {
        "createTeam": services.graph.create(viewer, Label.TEAM, [{"name": "T"}]),
        "updatePerson": services.graph.update(viewer, Label.PERSON, [(ada.id, {"name": "Eve"})]),
        "deletePerson": services.graph.delete(viewer, Label.PERSON, [ada.id]),
        "createProject": services.projects.create(viewer, {"name": "P", "problem_class": "nlp", "complexity_score": 2}),
        "registerArtifact": services.artifacts.register(viewer, {"name": "A", "type": "notebook"}),
        "ingestLineageEvents": services.lineage.ingest(viewer, []),
        "mintToken": services.tokens.mint(viewer, "x", Role.VIEWER, "1h"),
    }
    for name, attempt in attempts.items():
        with pytest.raises(Forbidden, match=name):
            await attempt
    assert await store.count_by_label(tenant) == {Label.PERSON: 1}
    assert (await store.get_nodes(tenant, [ada.id]))[ada.id] == ada
    assert await log(services, tenant) == [("editor", "createPerson", "OK")] + [
        ("viewer", name, "FORBIDDEN") for name in attempts]


async def test_writes_record_their_ids_and_failures_their_code(store, tenant):
    services = Services.build(store)
    editor = who(tenant, Role.EDITOR, "alice")
    ada = (await services.graph.create(editor, Label.PERSON, [{"name": "Ada", "email": "ada@example.com"}]))[0]
    with pytest.raises(Conflict):
        await services.graph.create(editor, Label.PERSON, [{"name": "Ada 2", "email": "ada@example.com"}])
    project = await services.projects.create(editor, {"name": "Churn", "problem_class": "nlp", "complexity_score": 2},
                                             [(ada.id, "lead")])
    await services.graph.unlink(editor, [Edge(Rel.MEMBER_OF, ada.id, project.id)])
    assert await log(services, tenant) == [("alice", "createPerson", "OK"), ("alice", "createPerson", "CONFLICT"),
                                           ("alice", "createProject", "OK"), ("alice", "unlink", "OK")]
    records = (await services.audit.log(who(tenant, Role.ADMIN), AuditQuery(operation="createProject"))).records
    assert set(records[0].ids) == {project.id, ada.id}
    with pytest.raises(Forbidden):
        await services.audit.log(editor, AuditQuery())


async def test_admins_mint_tokens_for_their_own_tenant_only(store, tenant):
    services = Services.build(store, TokenMinter(SECRET))
    admin = who(tenant, Role.ADMIN, "root")
    minted = await services.tokens.mint(admin, "bob", Role.EDITOR, "2h")
    assert await TokenVerifier(SecretKey(SECRET)).verify(minted.token) == who(tenant, Role.EDITOR, "bob")
    assert minted.expires_in == 7200
    with pytest.raises(Forbidden, match="mints tokens for"):
        await services.tokens.mint(admin, "bob", Role.ADMIN, "2h", tenant=tenant + "-other")
    assert await log(services, tenant) == [("root", "mintToken", "OK"), ("root", "mintToken", "FORBIDDEN")]
