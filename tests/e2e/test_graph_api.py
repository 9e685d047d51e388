"""The GraphQL API over real HTTP, on every store backend."""

from __future__ import annotations

import httpx

PERSON = "mutation($i: CreatePersonInput!) { createPerson(input: $i) { id name email } }"
PROJECT = """mutation($i: CreateProjectInput!) { createProject(input: $i) {
  id name problemClass complexityScore status members { totalCount edges { role node { id name } } } } }"""
ARTIFACT = "mutation($i: CreateArtifactInput!) { registerArtifact(input: $i) { id name type version tags impactScore usageCount createdBy { name } } }"


async def person(server, name):
    out = await server.execute(PERSON, {"i": {"name": name, "email": f"{name.lower()}@example.com"}})
    return out["createPerson"]


async def project(server, name, members=(), **extra):
    i = {"name": name, "problemClass": "NLP", "complexityScore": 5, **extra,
         "members": [{"personId": pid, "role": role} for pid, role in members]}
    return (await server.execute(PROJECT, {"i": i}))["createProject"]


async def artifact(server, name, type_="NOTEBOOK", tags=(), version="1.0.0", created_by=None):
    i = {"name": name, "type": type_, "tags": list(tags), "version": version, "createdBy": created_by}
    return (await server.execute(ARTIFACT, {"i": i}))["registerArtifact"]


async def count(server, label):
    counts = (await server.execute("{ nodeCounts { label count } }"))["nodeCounts"]
    return {c["label"]: c["count"] for c in counts}.get(label, 0)


async def test_health_readiness_and_graphiql(server):
    async with httpx.AsyncClient() as client:
        assert (await client.get(server.url + "/healthz")).json() == {"status": "ok"}
        ready = (await client.get(server.url + "/readyz")).json()
        assert ready["status"] == "ready" and ready["store"] == server.store.backend
        page = await client.get(server.graphql_url, headers={"accept": "text/html"})
        assert page.status_code == 200 and "graphiql" in page.text.lower()


async def test_create_read_update_delete_a_project_with_members(server):
    ada, bob = await person(server, "Ada"), await person(server, "Bob")
    p = await project(server, "Churn", [(ada["id"], "lead"), (bob["id"], "ml_engineer")])
    assert p["problemClass"] == "NLP" and p["status"] == "ACTIVE"
    assert [(e["role"], e["node"]["name"]) for e in p["members"]["edges"]] == [("lead", "Ada"), ("ml_engineer", "Bob")]

    got = await server.execute("query($id: ID!) { node(id: $id) { ... on Project { name complexityScore } } }", {"id": p["id"]})
    assert got["node"] == {"name": "Churn", "complexityScore": 5}

    upd = await server.execute("""mutation($id: ID!) { updateProject(id: $id, input: {complexityScore: 8, successScore: 71.5}) {
        complexityScore successScore name } }""", {"id": p["id"]})
    assert upd["updateProject"] == {"complexityScore": 8, "successScore": 71.5, "name": "Churn"}

    back = await server.execute("query($id: ID!) { node(id: $id) { ... on Person { projects { edges { role node { name } } } } } }", {"id": ada["id"]})
    assert back["node"]["projects"]["edges"] == [{"role": "lead", "node": {"name": "Churn"}}]

    gone = await server.execute("mutation($id: ID!) { deleteProject(id: $id) { deletedIds } }", {"id": p["id"]})
    assert gone["deleteProject"]["deletedIds"] == [p["id"]]
    assert (await server.execute("query($id: ID!) { node(id: $id) { id } }", {"id": p["id"]}))["node"] is None
    assert (await server.execute("query($id: ID!) { node(id: $id) { ... on Person { projects { totalCount } } } }", {"id": ada["id"]}))["node"]["projects"]["totalCount"] == 0


async def test_validation_errors_name_the_field_and_change_nothing(server):
    err = await server.error(PROJECT, {"i": {"name": "P", "problemClass": "NLP", "complexityScore": 11}})
    assert err["extensions"]["code"] == "BAD_USER_INPUT" and err["extensions"]["field"] == "complexityScore"
    assert "complexityScore" in err["message"]
    err = await server.error(ARTIFACT, {"i": {"name": "a", "type": "NOTEBOOK", "version": "banana"}})
    assert err["extensions"] == {"code": "BAD_USER_INPUT", "field": "version"} and "version" in err["message"]
    err = await server.error(PERSON, {"i": {"name": "  ", "email": "x@example.com"}})
    assert err["extensions"]["field"] == "name"
    assert await count(server, "Project") == 0 and await count(server, "Artifact") == 0 and await count(server, "Person") == 0


async def test_wrong_types_and_unknown_fields_are_refused_before_execution(server):
    r = await server.post({"query": '{ projects(first: "ten") { totalCount } }'})
    assert r.json()["errors"][0]["extensions"]["code"] == "BAD_USER_INPUT" and "ten" in r.json()["errors"][0]["message"]
    r = await server.post({"query": PROJECT, "variables": {"i": {"name": "P", "problemClass": "NOPE", "complexityScore": 1}}})
    assert r.json()["errors"][0]["extensions"]["code"] == "BAD_USER_INPUT" and "NOPE" in r.json()["errors"][0]["message"]
    r = await server.post({"query": "{ projects { nope } }"})
    assert r.json()["errors"][0]["extensions"]["code"] == "GRAPHQL_VALIDATION_FAILED"
    r = await server.post({"query": "{ projects("})
    assert r.json()["errors"][0]["extensions"]["code"] == "GRAPHQL_PARSE_FAILED"
    assert server.store.calls == []


async def test_duplicate_natural_key_is_a_conflict(server):
    await artifact(server, "features", version="1.0.0")
    err = await server.error(ARTIFACT, {"i": {"name": "features", "type": "SCHEMA", "version": "1.0.0"}})
    assert err["extensions"]["code"] == "CONFLICT"
    await artifact(server, "features", version="1.1.0")  # another version is another artifact
    assert await count(server, "Artifact") == 2


async def test_unknown_and_malformed_ids(server):
    ada = await person(server, "Ada")
    fake = ada["id"][:-4] + ("AAAA" if not ada["id"].endswith("AAAA") else "BBBB")
    err = await server.error("mutation($id: ID!) { updatePerson(id: $id, input: {name: \"X\"}) { id } }",
                             {"id": "UGVyc29uOm5vLXN1Y2gtaWQ="})  # Person:no-such-id
    assert err["extensions"]["code"] == "NOT_FOUND"
    err = await server.error("mutation { deletePerson(id: \"not-an-id\") { deletedIds } }")
    assert err["extensions"]["code"] == "BAD_USER_INPUT" and err["extensions"]["field"] == "id"
    err = await server.error("mutation($id: ID!) { deleteProject(id: $id) { deletedIds } }", {"id": ada["id"]})
    assert err["extensions"]["code"] == "BAD_USER_INPUT" and "Person" in err["message"]
    got = await server.execute("query($ids: [ID!]!) { nodes(ids: $ids) { id } }", {"ids": [ada["id"], "UGVyc29uOm5vLXN1Y2gtaWQ="]})
    assert got["nodes"] == [{"id": ada["id"]}, None]
    del fake


async def test_a_failing_member_leaves_no_project_behind(server):
    ada = await person(server, "Ada")
    err = await server.error(PROJECT, {"i": {"name": "P", "problemClass": "NLP", "complexityScore": 3, "members": [
        {"personId": ada["id"], "role": "lead"}, {"personId": "UGVyc29uOm5vLXN1Y2gtaWQ=", "role": "dev"}]}})
    assert err["extensions"]["code"] == "NOT_FOUND" and err["extensions"]["field"] == "members"
    assert await count(server, "Project") == 0


async def test_oversize_first_is_refused_before_any_store_call(server):
    err = await server.error("{ projects(first: 101) { totalCount } }")
    assert err["extensions"] == {"code": "LIMIT_EXCEEDED", "field": "first", "limit": 100}
    err = await server.error("query($n: Int!) { people { edges { node { projects(first: $n) { totalCount } } } } }", {"n": 500})
    assert err["extensions"]["code"] == "LIMIT_EXCEEDED"
    assert server.store.calls == []


async def test_listing_pages_with_cursors_and_filters(server):
    for i in range(7):
        await project(server, f"Project {i}", problemClass="FORECASTING" if i % 2 else "NLP", successScore=10.0 * i)
    names, after = [], None
    while True:
        page = (await server.execute("query($a: String) { projects(first: 3, after: $a) { totalCount pageInfo { hasNextPage endCursor } edges { node { name } } } }", {"a": after}))["projects"]
        assert page["totalCount"] == 7
        names += [e["node"]["name"] for e in page["edges"]]
        if not page["pageInfo"]["hasNextPage"]:
            break
        after = page["pageInfo"]["endCursor"]
    assert names == [f"Project {i}" for i in range(7)]
    got = await server.execute("{ projects(filter: {problemClasses: [FORECASTING], minSuccessScore: 30}) { edges { node { name } } } }")
    assert [e["node"]["name"] for e in got["projects"]["edges"]] == ["Project 3", "Project 5"]
    err = await server.error('{ projects(after: "garbage") { totalCount } }')
    assert err["extensions"]["code"] == "BAD_USER_INPUT"


async def test_search_artifacts_by_text_type_tags_and_impact(server):
    ada = await person(server, "Ada")
    a = await artifact(server, "Churn features", "FEATURE_PIPELINE", ["Tabular", "pii"], created_by=ada["id"])
    assert a["tags"] == ["pii", "tabular"] and a["createdBy"] == {"name": "Ada"}
    await artifact(server, "churn template", "MODEL_TEMPLATE", ["tabular"])
    await artifact(server, "Fraud features", "FEATURE_PIPELINE", ["tabular"])
    p = await project(server, "P")
    used = await server.execute("mutation($p: ID!, $a: ID!) { logArtifactUsage(projectId: $p, artifactId: $a, impactScore: 8) { usageCount impactScore } }",
                                {"p": p["id"], "a": a["id"]})
    assert used["logArtifactUsage"] == {"usageCount": 1, "impactScore": 8.0}
    q = "query($f: ArtifactFilter) { artifacts(filter: $f) { totalCount edges { node { name } } } }"
    names = lambda r: [e["node"]["name"] for e in r["artifacts"]["edges"]]  # noqa: E731
    assert names(await server.execute(q, {"f": {"text": "CHURN"}})) == ["Churn features", "churn template"]
    assert names(await server.execute(q, {"f": {"types": ["FEATURE_PIPELINE"], "tags": ["tabular"]}})) == ["Churn features", "Fraud features"]
    assert names(await server.execute(q, {"f": {"minImpactScore": 5}})) == ["Churn features"]


async def test_artifact_usage_keeps_a_mean_impact_and_counts_each_project_once(server):
    a = await artifact(server, "features", "FEATURE_PIPELINE")
    p, q = await project(server, "P"), await project(server, "Q")
    log = "mutation($p: ID!, $a: ID!, $s: Float!) { logArtifactUsage(projectId: $p, artifactId: $a, impactScore: $s) { usageCount impactScore } }"
    await server.execute(log, {"p": p["id"], "a": a["id"], "s": 8})
    assert (await server.execute(log, {"p": q["id"], "a": a["id"], "s": 4}))["logArtifactUsage"] == {"usageCount": 2, "impactScore": 6.0}
    assert (await server.execute(log, {"p": p["id"], "a": a["id"], "s": 2}))["logArtifactUsage"] == {"usageCount": 2, "impactScore": 3.0}
    err = await server.error(log, {"p": p["id"], "a": a["id"], "s": 11})
    assert err["extensions"]["code"] == "BAD_USER_INPUT" and err["extensions"]["field"] == "impactScore"
    uses = await server.execute("query($id: ID!) { node(id: $id) { ... on Project { artifacts { edges { impactScore node { name } } } } } }", {"id": p["id"]})
    assert uses["node"]["artifacts"]["edges"] == [{"impactScore": 2.0, "node": {"name": "features"}}]


async def test_process_metrics_summary_and_velocity(server):
    p = await project(server, "P")
    metrics = [{"type": "COMMITS_PER_WEEK", "value": v, "at": f"2026-01-{d:02d}T00:00:00Z"} for v, d in ((10, 5), (14, 12), (18, 19))]
    metrics.append({"type": "CI_SUCCESS_RATE", "value": 0.9, "at": "2026-01-19T00:00:00Z"})
    recorded = await server.execute("mutation($p: ID!, $m: [CreateMetricInput!]!) { recordProjectMetrics(projectId: $p, metrics: $m) { type value } }",
                                    {"p": p["id"], "m": metrics})
    assert len(recorded["recordProjectMetrics"]) == 4
    got = await server.execute("""query($id: ID!) { node(id: $id) { ... on Project {
        metricsSummary { type count latest mean min max } velocity { commitsPerWeek trendPerWeek trend ciSuccessRate samples } } } }""", {"id": p["id"]})
    summary = {s["type"]: s for s in got["node"]["metricsSummary"]}
    assert summary["COMMITS_PER_WEEK"] == {"type": "COMMITS_PER_WEEK", "count": 3, "latest": 18.0, "mean": 14.0, "min": 10.0, "max": 18.0}
    v = got["node"]["velocity"]
    assert v["commitsPerWeek"] == 18.0 and abs(v["trendPerWeek"] - 4.0) < 1e-6 and v["trend"] == "accelerating"
    assert v["ciSuccessRate"] == 0.9 and v["samples"] == 3


async def test_link_and_unlink_any_relationship_the_model_allows(server):
    ada = await person(server, "Ada")
    team = (await server.execute('mutation { createTeam(input: {name: "ML Platform"}) { id } }'))["createTeam"]
    link = "mutation($i: LinkInput!) { link(input: $i) { relationship properties source { id } target { ... on Team { name } } } }"
    got = await server.execute(link, {"i": {"relationship": "IN_TEAM", "sourceId": ada["id"], "targetId": team["id"]}})
    assert got["link"]["relationship"] == "IN_TEAM" and got["link"]["target"] == {"name": "ML Platform"}
    members = "query($id: ID!) { node(id: $id) { ... on Team { members { totalCount } } } }"
    assert (await server.execute(members, {"id": team["id"]}))["node"]["members"]["totalCount"] == 1
    err = await server.error(link, {"i": {"relationship": "IN_TEAM", "sourceId": team["id"], "targetId": ada["id"]}})
    assert err["extensions"]["code"] == "BAD_USER_INPUT" and "IN_TEAM" in err["message"]
    err = await server.error(link, {"i": {"relationship": "MEMBER_OF", "sourceId": ada["id"], "targetId": ada["id"], "properties": {"role": ""}}})
    assert err["extensions"]["code"] == "BAD_USER_INPUT" and err["extensions"]["field"] == "role"
    await server.execute("mutation($s: ID!, $t: ID!) { unlink(relationship: IN_TEAM, sourceId: $s, targetId: $t) }", {"s": ada["id"], "t": team["id"]})
    assert (await server.execute(members, {"id": team["id"]}))["node"]["members"]["totalCount"] == 0


async def test_fields_belong_to_datasets_and_go_with_them(server):
    ds = (await server.execute('mutation { createDataset(input: {namespace: "pg://db", name: "orders"}) { id } }'))["createDataset"]
    field = "mutation($d: ID!, $p: String!) { createField(input: {datasetId: $d, path: $p, type: \"string\"}) { id name path dataset { name } } }"
    f = (await server.execute(field, {"d": ds["id"], "p": "address.city"}))["createField"]
    assert f["name"] == "city" and f["path"] == "address.city" and f["dataset"] == {"name": "orders"}
    err = await server.error(field, {"d": ds["id"], "p": "address.city"})
    assert err["extensions"]["code"] == "CONFLICT"
    err = await server.error('mutation { createDataset(input: {namespace: "pg://db", name: "orders"}) { id } }')
    assert err["extensions"]["code"] == "CONFLICT"
    err = await server.error("mutation($id: ID!) { updateDataset(id: $id, input: {description: \"x\", tags: [\"a,b\"]}) { id } }", {"id": ds["id"]})
    assert err["extensions"]["code"] == "BAD_USER_INPUT" and err["extensions"]["field"].startswith("tags")
    gone = await server.execute("mutation($id: ID!) { deleteDataset(id: $id) { deletedIds } }", {"id": ds["id"]})
    assert set(gone["deleteDataset"]["deletedIds"]) == {ds["id"], f["id"]}
    assert await count(server, "Field") == 0


async def test_null_in_an_update_removes_an_optional_field_but_not_a_required_one(server):
    p = await project(server, "P", description="first")
    upd = "mutation($id: ID!, $i: UpdateProjectInput!) { updateProject(id: $id, input: $i) { description name } }"
    assert (await server.execute(upd, {"id": p["id"], "i": {"description": None}}))["updateProject"] == {"description": None, "name": "P"}
    err = await server.error(upd, {"id": p["id"], "i": {"name": None}})
    assert err["extensions"] == {"code": "BAD_USER_INPUT", "field": "name"}
