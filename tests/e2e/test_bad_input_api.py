"""Bad input and a failing store as a client sees them over HTTP, on every store backend:
BAD_USER_INPUT naming the field, or SERVICE_UNAVAILABLE, and never a statement, its parameters
or a 500 (issue #21 items 9, 10, 14b, 14d)."""

from __future__ import annotations

import base64
import json

import pytest

from tests.pg_kill import killed_while_waiting

NUL = "\x00"
TEAMS = "query($f: NameFilter, $after: String) { teams(filter: $f, after: $after) { totalCount edges { node { name } } } }"
ARTIFACTS = "query($f: ArtifactFilter) { artifacts(filter: $f) { totalCount edges { node { name } } } }"
TEAM = "mutation($i: CreateTeamInput!) { createTeam(input: $i) { id name } }"
STATEMENT_WORDS = ("SELECT", "INSERT", "DELETE", "LIKE", "MATCH", "parameters", "nodes")


def clean(error: dict) -> bool:
    return not any(word in error["message"] for word in STATEMENT_WORDS)


@pytest.mark.parametrize("document, variables, field", [
    (TEAMS, {"f": {"text": "x" * 60_000}}, "text"),
    (TEAMS, {"f": {"text": "a" + NUL}}, "text"),
    (TEAMS, {"after": base64.urlsafe_b64encode(json.dumps(["a" + NUL, "id"]).encode()).decode()}, "after"),
    (ARTIFACTS, {"f": {"tags": ["a" + NUL]}}, "tags"),
    (ARTIFACTS, {"f": {"tags": ["a,b"]}}, "tags"),
    (TEAM, {"i": {"name": "ml" + NUL}}, "name"),
    ("query($id: ID!) { node(id: $id) { id } }", {"id": base64.b64encode(("Team:x" + NUL).encode()).decode()}, "id"),
])
async def test_bad_input_is_bad_user_input_naming_the_field_without_a_statement(server, document, variables, field):
    error = await server.error(document, variables)
    assert error["extensions"]["code"] == "BAD_USER_INPUT" and error["extensions"]["field"] == field
    assert clean(error)


async def test_wildcard_tags_match_only_themselves(server):
    art = "mutation($i: CreateArtifactInput!) { registerArtifact(input: $i) { id } }"
    for name, tag in (("dash", "internal-only"), ("under", "internal_only")):
        await server.execute(art, {"i": {"name": name, "type": "NOTEBOOK", "tags": [tag]}})
    found = await server.execute(ARTIFACTS, {"f": {"tags": ["%"]}})
    assert found["artifacts"]["totalCount"] == 0
    found = await server.execute(ARTIFACTS, {"f": {"tags": ["internal_only"]}})
    assert [e["node"]["name"] for e in found["artifacts"]["edges"]] == ["under"]


async def test_nul_in_an_openlineage_event_is_a_400_naming_the_field(server):
    import httpx

    event = {"eventType": "COMPLETE", "eventTime": "2026-12-01T00:00:00Z", "producer": "p",
             "run": {"runId": "0191e0a4-7f5e-7c3a-9a8e-3f1b2c4d5e6f"}, "job": {"namespace": "j", "name": "n"},
             "inputs": [{"namespace": "pg://db", "name": "ord" + NUL + "ers"}], "outputs": [],
             "schemaURL": "https://openlineage.io/spec/2-0-2/OpenLineage.json#/$defs/RunEvent"}
    async with httpx.AsyncClient(timeout=30, headers=server.headers) as client:
        answer = await client.post(server.url + "/api/v1/lineage", json=event)
    assert answer.status_code == 400
    assert answer.json()["error"]["code"] == "BAD_USER_INPUT" and answer.json()["error"]["field"] == "name"


async def test_a_postgresql_connection_killed_mid_request_is_service_unavailable(server, store, store_settings):
    if store.backend != "postgresql":
        pytest.skip("pg_terminate_backend is PostgreSQL's")
    first, second = [(await server.execute(TEAM, {"i": {"name": n}}))["createTeam"]["id"] for n in ("a", "b")]
    await server.execute("mutation($id: ID!) { deleteTeam(id: $id) { deletedIds } }", {"id": first})  # the version row
    deleting = await killed_while_waiting(store_settings.store_url, server.tenant, server.error(
        "mutation($id: ID!) { deleteTeam(id: $id) { deletedIds } }", {"id": second}))
    error = deleting.result()
    assert error["extensions"]["code"] == "SERVICE_UNAVAILABLE" and clean(error)
    teams = await server.execute(TEAMS)
    assert [e["node"]["name"] for e in teams["teams"]["edges"]] == ["b"]  # nothing half-done; the next request works
