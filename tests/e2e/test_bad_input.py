"""Bad input over real HTTP, on every backend: each is a 400 or BAD_USER_INPUT naming the problem,
never a 500, never a silent change of the value, and nothing is stored."""

from __future__ import annotations

import httpx

GQL_HEADERS = {"content-type": "application/json"}
PROJECT = ('mutation($m: JSON) { createProject(input: {name: "P", problemClass: CLASSIFICATION, complexityScore: 3, '
           'teamSize: 2, metadata: $m}) { id } }')


async def raw(server, path: str, body: bytes) -> httpx.Response:
    async with httpx.AsyncClient(timeout=30) as client:
        return await client.post(server.url + path, content=body, headers={**server.headers, **GQL_HEADERS})


def refused_body(r: httpx.Response, words: str) -> None:
    assert r.status_code == 400, r.text[:300]
    body = r.json()
    error = body["errors"][0] if "errors" in body else {"message": body["error"]["message"],
                                                           "extensions": body["error"]}
    assert error["extensions"]["code"] == "BAD_USER_INPUT" and error["extensions"]["field"] == "body", error
    assert words in error["message"], error["message"]


async def test_bodies_that_are_not_plain_json_are_refused_with_a_reason(server):
    deep = b"[" * 100_000 + b"]" * 100_000
    refused_body(await raw(server, "/graphql", b'{"query": "{ __typename }", "variables": {"x": ' + deep + b"}}"),
                 "more than 64 deep")
    refused_body(await raw(server, "/api/v1/lineage", deep), "more than 64 deep")
    refused_body(await raw(server, "/graphql", b'{"query": "{ __typename \xff }"}'), "not UTF-8")
    refused_body(await raw(server, "/api/v1/lineage", b'{"eventType": "\xff"}'), "not UTF-8")
    refused_body(await raw(server, "/graphql", b'{"query": "' + PROJECT.replace('"', '\\"').encode()
                           + b'", "variables": {"m": {"a": 18446744073709551616}}}'), "does not fit in 64 bits")
    refused_body(await raw(server, "/graphql", b'{"query": "' + PROJECT.replace('"', '\\"').encode()
                           + b'", "variables": {"m": {"a": NaN}}}'), "NaN")
    refused_body(await raw(server, "/graphql", b'{"query": "{ __typename }", "variables": {"m": -Infinity}}'), "Infinity")
    refused_body(await raw(server, "/graphql", b'{"query": "{ __typename }", "variables": {"m": 1e400}}'), "too large")
    ok = await raw(server, "/graphql", b'{"query": "{ __typename }", "variables": {"x": ' + b"[" * 60 + b"]" * 60 + b"}}")
    assert ok.json() == {"data": {"__typename": "Query"}}
    assert await server.store.inner.count_by_label(server.tenant) == {}


async def test_json_literals_out_of_range_name_their_argument_and_store_nothing(server):
    for literal, words in (("{a: 18446744073709551616}", "64 bits"), ("{a: 1e400}", "NaN and Infinity"),
                           ("[1, {b: -1e999}]", "NaN and Infinity")):
        error = await server.error(PROJECT.replace("($m: JSON)", "").replace("$m", literal))
        assert error["extensions"] == {"code": "BAD_USER_INPUT", "field": "metadata"} and words in error["message"], error
    assert await server.store.inner.count_by_label(server.tenant) == {}


async def test_errors_echo_little_and_name_what_the_client_sent(server):
    huge = "x" * 900_000
    r = await server.post({"query": "query($id: ID!) { node(id: $id) { id } }", "variables": {"id": huge}})
    assert r.status_code == 200 and len(r.content) < 2_000, len(r.content)
    assert "900002 characters" in r.json()["errors"][0]["message"]
    project, person = "UHJvamVjdDp4", "UGVyc29uOjAxYTI1MDA1"  # Project:x and Person:01a25005: never stored
    error = await server.error(f'mutation {{ addProjectMembers(projectId: "{project}", '
                               f'members: [{{personId: "{person}", role: "x"}}]) {{ id }} }}')
    assert error["extensions"]["code"] == "NOT_FOUND" and error["message"] == f"no Project with id {project}", error


async def test_type_errors_name_the_field(server):
    cases = [
        ("query($n: Int) { people(first: $n) { totalCount } }", {"n": "abc"}, "n"),
        ("{ projects(filter: {problemClasses: [NOPE]}) { totalCount } }", None, "problemClasses"),
        ("query($f: ProjectFilter) { projects(filter: $f) { totalCount } }", {"f": {"minSuccessScore": "high"}},
         "minSuccessScore"),
        ('mutation { createProject(input: {name: "P", problemClass: CLASSIFICATION}) { id } }', None, "complexityScore"),
        ('{ people(first: "ten") { totalCount } }', None, "first"),
    ]
    for document, variables, field in cases:
        error = await server.error(document, variables)
        assert error["extensions"] == {"code": "BAD_USER_INPUT", "field": field}, (document, error)


async def test_malformed_requests_answer_in_graphql_shape_with_a_code(server):
    async with httpx.AsyncClient(timeout=30) as client:
        answers = {
            "query not a string": await client.post(server.url + "/graphql", json={"query": 5}, headers=server.headers),
            "a batch": await client.post(server.url + "/graphql", json=[{"query": "{ __typename }"}], headers=server.headers),
            "no query": await client.post(server.url + "/graphql", json={}, headers=server.headers),
            "NaN in GET variables": await client.get(server.url + "/graphql", headers=server.headers, params={
                "query": "query($x: JSON) { __typename }", "variables": '{"x": NaN}'}),
        }
    for case, r in answers.items():
        assert r.status_code == 400 and r.headers["content-type"].startswith("application/json"), (case, r.text)
        assert r.json()["errors"][0]["extensions"]["code"] == "BAD_USER_INPUT", (case, r.text)
    assert answers["NaN in GET variables"].json()["errors"][0]["extensions"]["field"] == "variables"
    assert "NaN" in answers["NaN in GET variables"].json()["errors"][0]["message"]
