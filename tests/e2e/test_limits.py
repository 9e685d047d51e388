"""Query limits over real HTTP: each over-limit request is refused with LIMIT_EXCEEDED before any
store call (the server's store is wrapped in a counter), and a request just under it goes through."""

from __future__ import annotations

import gzip
import uuid

import httpx

from maestro_graph.auth.principal import Role
from tests.e2e.conftest import serve

NEST = "members(first: 100) { edges { node { projects(first: 100) { edges { node { name } } } } } }"


def deep(levels: int) -> str:
    """projects -> members -> projects -> ... -> name: `levels` graph levels deep, the leaf included."""
    names = ["members" if i % 2 == 0 else "projects" for i in range(levels - 2)]  # outermost first
    inner = "name"
    for name in reversed(names):
        inner = f"{name}(first: 1) {{ edges {{ node {{ {inner} }} }} }}"
    return f"{{ projects(first: 1) {{ edges {{ node {{ {inner} }} }} }} }}"


async def refused(server, body: dict, status: int = 200) -> dict:
    server.store.calls.clear()
    r = await server.post(body)
    assert r.status_code == status, r.text
    error = r.json()["errors"][0]
    assert error["extensions"]["code"] == "LIMIT_EXCEEDED", error
    assert server.store.calls == [], f"the store was called before the refusal: {server.store.calls}"
    return error


async def test_deep_query_is_refused_before_any_store_call(server):
    error = await refused(server, {"query": deep(13)})
    assert "depth exceeds 12" in error["message"]
    ok = await server.post({"query": deep(12)})
    assert "errors" not in ok.json(), ok.text


async def test_expensive_query_is_refused_before_any_store_call(server):
    error = await refused(server, {"query": f"{{ projects(first: 100) {{ edges {{ node {{ {NEST} }} }} }} }}"})
    assert "cost exceeds 50000" in error["message"] and error["extensions"]["limit"] == 50000
    # Without `first`, a connection counts as a page of 20: 20*20*20*20 names is still too many.
    await refused(server, {"query": "{ projects { edges { node { members { edges { node { projects { edges { node { "
                                    "members { edges { node { name } } } } } } } } } } } } }"})
    cheap = await server.post({"query": "{ projects(first: 10) { edges { node { members(first: 10) { edges { node { name } } } } } } }"})
    assert "errors" not in cheap.json(), cheap.text


async def test_oversize_first_is_refused_before_any_store_call(server):
    error = await refused(server, {"query": "{ people(first: 101) { totalCount } }"})
    assert error["extensions"]["field"] == "first" and "at most 100" in error["message"]
    await refused(server, {"query": "query($n: Int!) { people(first: $n) { totalCount } }", "variables": {"n": 1000}})
    await refused(server, {"query": "{ datasets(first: 1) { edges { node { fields(first: 500) { totalCount } } } } }"})


async def test_a_document_seen_before_is_checked_again_with_each_requests_variables(server):
    """Parsed and validated documents are kept between requests; the limits are not: they depend
    on the variables, so the same text with a bigger `first` is refused as if it were new."""
    page = "query($n: Int!) { people(first: $n) { totalCount } }"
    for _ in range(3):  # parsed and validated once, then taken from the caches
        ok = await server.post({"query": page, "variables": {"n": 5}})
        assert "errors" not in ok.json(), ok.text
    error = await refused(server, {"query": page, "variables": {"n": 101}})
    assert error["extensions"]["field"] == "first" and "at most 100" in error["message"]
    nested = "query($n: Int!, $m: Int!) { projects(first: $n) { edges { node { " \
             "members(first: $m) { edges { node { projects(first: $m) { edges { node { name } } } } } } } } } }"
    for _ in range(2):
        ok = await server.post({"query": nested, "variables": {"n": 2, "m": 2}})
        assert "errors" not in ok.json(), ok.text
    error = await refused(server, {"query": nested, "variables": {"n": 100, "m": 100}})
    assert "cost exceeds 50000" in error["message"]


async def test_lineage_depth_over_20_is_refused_before_any_store_call(server):
    some_dataset = "RGF0YXNldDp4"  # never looked up: the depth is checked first
    error = await refused(server, {"query": f'{{ lineage(id: "{some_dataset}", depth: 21) {{ truncated }} }}'})
    assert error["extensions"]["field"] == "depth"


async def test_a_burst_over_the_rate_limit_is_refused_with_retry_after(store, tenant, tmp_path):
    async with serve(store, tenant, tmp_path, rate_limit_per_minute=3) as server:
        for _ in range(3):
            assert (await server.post({"query": "{ __typename }"})).status_code == 200
        server.store.calls.clear()
        r = await server.post({"query": "{ nodeCounts { label } }"})
        assert r.status_code == 429, r.text
        assert int(r.headers["retry-after"]) >= 1
        assert r.json()["errors"][0]["extensions"]["code"] == "LIMIT_EXCEEDED"
        assert server.store.calls == []
        # The bucket is the token holder's, not the server's: another principal still gets in.
        other = server.as_(Role.VIEWER, sub=f"other-{uuid.uuid4().hex[:6]}")
        assert (await other.post({"query": "{ nodeCounts { label } }"})).status_code == 200


async def test_request_bodies_are_capped_also_after_decompression(store, tenant, tmp_path):
    async with serve(store, tenant, tmp_path, max_body_bytes=4096) as server:
        padding = " " * 5000
        await refused(server, {"query": "{ nodeCounts { label } }" + padding}, status=413)
        bomb = gzip.compress(b'{"query": "{ nodeCounts { label } }' + b" " * 1_000_000 + b'"}')
        assert len(bomb) < 4096  # small on the wire, a megabyte inflated
        async with httpx.AsyncClient(headers=server.headers) as client:
            server.store.calls.clear()
            r = await client.post(server.graphql_url, content=bomb,
                                  headers={"content-type": "application/json", "content-encoding": "gzip"})
            assert r.status_code == 413 and r.json()["errors"][0]["extensions"]["code"] == "LIMIT_EXCEEDED", r.text
            assert server.store.calls == []
            small = gzip.compress(b'{"query": "{ nodeCounts { label } }"}')
            r = await client.post(server.graphql_url, content=small,
                                  headers={"content-type": "application/json", "content-encoding": "gzip"})
            assert r.status_code == 200 and r.json() == {"data": {"nodeCounts": []}}, r.text


async def test_introspection_and_graphiql_can_be_turned_off(store, tenant, tmp_path):
    introspect = {"query": "{ __schema { queryType { name } } }"}
    async with serve(store, tenant, tmp_path) as on:
        assert (await on.post(introspect)).json()["data"]["__schema"]["queryType"]["name"] == "Query"
    async with serve(store, tenant, tmp_path, introspection=False, graphiql=False) as off:
        error = (await off.post(introspect)).json()["errors"][0]
        assert error["extensions"]["code"] == "GRAPHQL_VALIDATION_FAILED" and "introspection" in error["message"].lower()
        async with httpx.AsyncClient() as client:
            page = await client.get(off.graphql_url, headers={"accept": "text/html"})
        assert "graphiql" not in page.text.lower()


def fan_out(levels: int, leaf: str = "__typename") -> str:
    """A small document whose fragments spread 2**levels ways (1 KB for 24 levels)."""
    body = f"fragment F0 on Query {{ {leaf} }}\n"
    body += "".join(f"fragment F{i} on Query {{ ...F{i - 1} ...F{i - 1} }}\n" for i in range(1, levels + 1))
    return body + f"query {{ ...F{levels} }}"


async def test_fragments_that_fan_out_are_refused_in_one_pass(server):
    doc = fan_out(24)
    assert len(doc) < 1500
    error = await refused(server, {"query": doc})
    assert "cost exceeds 50000" in error["message"] and "16,777,216" in error["message"]
    await refused(server, {"query": fan_out(40, "nodeCounts { label }")})  # 2**40: summed, never expanded
    ok = await server.post({"query": fan_out(4)})
    assert ok.json() == {"data": {"__typename": "Query"}}


async def test_introspection_counts_like_any_field_and_graphiql_still_loads(server):
    from graphql import get_introspection_query

    full = get_introspection_query(descriptions=True, specified_by_url=True, directive_is_repeatable=True,
                                   schema_description=True, input_value_deprecation=True)
    r = await server.post({"query": full})
    assert "errors" not in r.json() and len(r.json()["data"]["__schema"]["types"]) > 50, r.text[:300]
    deep = "type { " * 8 + "name" + " }" * 8
    deep = deep.replace("type {", "ofType {").replace("ofType {", "type {", 1)
    aliased = " ".join(f"a{i}: __schema {{ types {{ fields {{ {deep} }} }} }}" for i in range(400))
    await refused(server, {"query": f"{{ {aliased} }}"})
    names = " ".join(f"a{i}: __schema {{ types {{ name }} }}" for i in range(1000))
    await refused(server, {"query": f"{{ {names} }}"})


async def test_walks_cost_their_limit_and_are_capped_per_request(server):
    some = "RGF0YXNldDp4"
    aliases = " ".join(f'a{i}: impactAnalysis(id: "{some}", limit: 10) {{ truncated }}' for i in range(20))
    error = await refused(server, {"query": f"{{ {aliases} }}"})
    assert "at most 3 lineage or impactAnalysis" in error["message"]
    error = await refused(server, {"query": f'{{ lineage(id: "{some}", depth: 20, limit: 200000) '
                                            f'{{ nodes {{ distance node {{ id }} }} edges {{ sourceId targetId }} }} }}'})
    assert "cost exceeds" in error["message"]
    # the lists of an impact report share its limit: a full report at the default limit fits
    ok = await server.post({"query": f'{{ impactAnalysis(id: "{some}") {{ truncated '
                                     f'fields {{ distance node {{ id name }} }} datasets {{ distance node {{ id name }} }} '
                                     f'models {{ node {{ name }} }} people {{ node {{ name }} }} }} }}'})
    assert ok.json()["errors"][0]["extensions"]["code"] == "NOT_FOUND", ok.text  # it ran: the id is unknown


async def test_many_aliased_mutations_are_refused_not_a_recursion_error(server):
    def aliased(n: int) -> str:
        return "mutation { " + " ".join(f'a{i}: createTeam(input: {{name: "t{i}"}}) {{ id }}' for i in range(n)) + " }"

    error = await refused(server, {"query": aliased(150)})
    assert "at most 100 mutations" in error["message"]
    error = await refused(server, {"query": aliased(900)})  # past the token limit already
    assert "5000 tokens" in error["message"] and len(error["message"]) < 200


async def test_a_document_over_the_token_limit_is_refused_while_parsing(server):
    error = await refused(server, {"query": "{" + " __typename" * 6000 + " }"})
    assert "5000 tokens" in error["message"]


async def test_several_operations_need_an_operation_name(server):
    doc = 'query A { __typename } mutation B { createTeam(input: {name: "x"}) { id } }'
    server.store.calls.clear()
    r = await server.post({"query": doc})
    error = r.json()["errors"][0]
    assert error["extensions"] == {"code": "BAD_USER_INPUT", "field": "operationName"}, r.text
    assert server.store.calls == []
    assert (await server.post({"query": doc, "operationName": "A"})).json() == {"data": {"__typename": "Query"}}
