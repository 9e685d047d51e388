"""The admin API over HTTP: auditLog with filters and pages, mintToken for one's own tenant."""

from __future__ import annotations

from maestro_graph.auth.principal import Role
from resolvers.relay import from_global_id

AUDIT = """query($f: AuditFilter, $after: String) { auditLog(first: 2, filter: $f, after: $after) {
  totalCount pageInfo { hasNextPage endCursor } edges { node { at actor operation nodeIds outcome } } } }"""


async def test_audit_log_lists_writes_and_refusals_newest_first_with_filters_and_pages(server):
    alice, bob = server.as_(Role.EDITOR, sub="alice"), server.as_(Role.EDITOR, sub="bob")
    ada = (await alice.execute('mutation { createPerson(input: {name: "Ada", email: "ada@example.com"}) { id } }'))["createPerson"]
    await bob.execute('mutation { createTeam(input: {name: "Core"}) { id } }')
    await alice.error('mutation { createPerson(input: {name: "Ada", email: "ada@example.com"}) { id } }')  # CONFLICT
    await server.as_(Role.VIEWER, sub="vic").error('mutation { createTeam(input: {name: "X"}) { id } }')  # FORBIDDEN

    pages, after = [], None
    while True:
        page = (await server.execute(AUDIT, {"after": after}))["auditLog"]
        pages.append(page)
        if not page["pageInfo"]["hasNextPage"]:
            break
        after = page["pageInfo"]["endCursor"]
    entries = [e["node"] for p in pages for e in p["edges"]]
    assert [(e["actor"], e["operation"], e["outcome"]) for e in entries] == [
        ("vic", "createTeam", "FORBIDDEN"), ("alice", "createPerson", "CONFLICT"),
        ("bob", "createTeam", "OK"), ("alice", "createPerson", "OK")]
    assert len(pages) == 2 and all(p["totalCount"] == 4 for p in pages)
    assert entries[-1]["nodeIds"] == [from_global_id(ada["id"])[1]]  # store ids: the node part of a global id
    assert entries == sorted(entries, key=lambda e: e["at"], reverse=True)

    only = (await server.execute(AUDIT, {"f": {"actor": "alice", "outcome": "OK"}}))["auditLog"]
    assert only["totalCount"] == 1 and only["edges"][0]["node"]["operation"] == "createPerson"
    window = (await server.execute(AUDIT, {"f": {"since": entries[2]["at"], "until": entries[0]["at"]}}))["auditLog"]
    assert [e["node"]["actor"] for e in window["edges"]] == ["alice", "bob"]


async def test_minted_tokens_work_and_stay_in_the_admins_tenant(server):
    minted = (await server.execute('mutation { mintToken(sub: "carol", role: EDITOR, ttl: "1h") '
                                   '{ token sub tenant role expiresInSeconds } }'))["mintToken"]
    assert minted["tenant"] == server.tenant and minted["role"] == "EDITOR" and minted["expiresInSeconds"] == 3600
    carol = type(server)(server.url, server.store, server.tenant, minted["token"])
    made = await carol.execute('mutation { createTeam(input: {name: "Carol\'s"}) { name } }')
    assert made == {"createTeam": {"name": "Carol's"}}
    refused = await carol.error('mutation { mintToken(sub: "dave", role: ADMIN) { token } }')
    assert refused["extensions"]["code"] == "FORBIDDEN"  # an editor cannot mint, let alone an admin token
    log = (await server.execute('{ auditLog(filter: {operation: "mintToken"}) { edges { node { actor nodeIds outcome } } } }'))
    assert [e["node"] for e in log["auditLog"]["edges"]] == [
        {"actor": "carol", "nodeIds": [], "outcome": "FORBIDDEN"},
        {"actor": "tester", "nodeIds": ["sub:carol"], "outcome": "OK"}]
