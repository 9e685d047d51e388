"""search over GraphQL: one box finds datasets, columns (with their dataset), jobs, projects,
artifacts and models by name, grouped by kind; blank or over-long text is bad input naming `text`."""

from __future__ import annotations

import httpx
import pytest

from maestro_graph.auth.principal import Role

from tests.e2e.test_graph_api import artifact, project
from tests.e2e.test_model_cards import event, make

SEARCH = """query($t: String!, $k: [SearchKind!], $n: Int! = 20) { search(text: $t, kinds: $k, first: $n) {
  hits { kind name node { id __typename } dataset { id name } }
  totals { kind count } } }"""


async def build(server) -> None:
    async with httpx.AsyncClient(timeout=30, headers=server.headers) as client:
        r = await client.post(server.url + "/api/v1/lineage", json=[
            event("load_revenue_facts", "raw.orders", "mart.revenue_facts", ["revenue", "revenue_usd", "orders"]),
            event("build_geo", "raw.geo", "ml.geo_features", ["region"]),
        ])
        assert r.status_code == 201, r.text
    await project(server, "Revenue forecast")
    await artifact(server, "revenue-notebook")
    await make(server, "createModel", {"name": "Revenue model"})


async def test_one_search_finds_every_kind_by_name_grouped_by_kind(server):
    await build(server)
    got = (await server.execute(SEARCH, {"t": "REVENUE"}))["search"]
    hits = [(h["kind"], h["name"]) for h in got["hits"]]
    assert hits == [
        ("DATASET", "mart.revenue_facts"),
        ("FIELD", "revenue"), ("FIELD", "revenue_usd"),
        ("JOB", "load_revenue_facts"),
        ("PROJECT", "Revenue forecast"),
        ("ARTIFACT", "revenue-notebook"),
        ("MODEL", "Revenue model"),
    ]
    assert {t["kind"]: t["count"] for t in got["totals"]} == {
        "DATASET": 1, "FIELD": 2, "JOB": 1, "PROJECT": 1, "ARTIFACT": 1, "MODEL": 1}
    kinds = {h["kind"]: h["node"]["__typename"] for h in got["hits"]}
    assert kinds == {"DATASET": "Dataset", "FIELD": "Field", "JOB": "Job", "PROJECT": "Project",
                     "ARTIFACT": "Artifact", "MODEL": "Model"}
    # a column says which dataset it is in; nothing else has one
    dataset = next(h for h in got["hits"] if h["kind"] == "DATASET")["node"]["id"]
    assert {h["dataset"]["id"] for h in got["hits"] if h["kind"] == "FIELD"} == {dataset}
    assert all(h["dataset"] is None for h in got["hits"] if h["kind"] != "FIELD")


async def test_kinds_and_first_narrow_the_search_and_totals_still_count_all(server):
    await build(server)
    got = (await server.execute(SEARCH, {"t": "revenue", "k": ["MODEL", "FIELD", "FIELD"], "n": 1}))["search"]
    assert [(h["kind"], h["name"]) for h in got["hits"]] == [("MODEL", "Revenue model"), ("FIELD", "revenue")]
    assert got["totals"] == [{"kind": "MODEL", "count": 1}, {"kind": "FIELD", "count": 2}]
    nothing = (await server.execute(SEARCH, {"t": "no such name"}))["search"]
    assert nothing["hits"] == [] and all(t["count"] == 0 for t in nothing["totals"])


@pytest.mark.parametrize(("variables", "field"), [
    ({"t": ""}, "text"),
    ({"t": "   "}, "text"),
    ({"t": "x" * 301}, "text"),
    ({"t": "a\x00b"}, "text"),
    ({"t": "revenue", "k": []}, "kinds"),
])
async def test_text_that_cannot_match_is_bad_input_naming_the_field(server, variables, field):
    err = await server.error(SEARCH, variables)
    assert err["extensions"]["code"] == "BAD_USER_INPUT", err
    assert err["extensions"]["field"] == field, err


async def test_a_page_over_the_limit_is_refused_before_any_work(server):
    err = await server.error(SEARCH, {"t": "revenue", "n": 101})
    assert err["extensions"]["code"] == "LIMIT_EXCEEDED", err


async def test_search_sees_only_the_callers_tenant(server):
    await build(server)
    other = server.as_(Role.VIEWER, tenant=server.tenant + "-other")
    got = (await other.execute(SEARCH, {"t": "revenue"}))["search"]
    assert got["hits"] == []
