"""Model cards end to end, on every backend: a graph built through the API (a project with members in a
team, datasets and column lineage from OpenLineage events on /api/v1/lineage, a model with two versions,
their training data and features, a deployment of v2), then the card over GraphQL and as Markdown, HTML
and PDF over HTTP, with its auth and errors."""

from __future__ import annotations

import shutil
import subprocess
import uuid

import httpx
import pytest

from maestro_graph.auth.principal import Role
from maestro_graph.domain.graph import Label
from resolvers.relay import to_global_id
from tests.e2e.tokens import token

NS = "postgres://prod:5432"
PIPELINE = [  # raw.orders -> mart.customer_facts -> ml.churn_features (what v1 and v2 train on)
    ("load_customer_facts", "raw.orders", "mart.customer_facts", ["customer_id", "revenue"]),
    ("build_churn_features", "mart.customer_facts", "ml.churn_features", ["customer_id", "revenue", "orders"]),
    ("build_geo_features", "raw.geo", "ml.geo_features", ["region"]),
]


def event(job: str, source: str, target: str, cols: list[str]) -> dict:
    return {
        "eventType": "COMPLETE", "eventTime": "2026-11-01T10:00:00Z", "producer": "https://example.com/tests",
        "schemaURL": "https://openlineage.io/spec/2-0-2/OpenLineage.json#/$defs/RunEvent",
        "run": {"runId": str(uuid.uuid4())}, "job": {"namespace": "airflow", "name": job},
        "inputs": [{"namespace": NS, "name": source}],
        "outputs": [{"namespace": NS, "name": target, "facets": {"schema": {
            "_producer": "https://example.com/tests",
            "_schemaURL": "https://openlineage.io/spec/facets/1-1-1/SchemaDatasetFacet.json#/$defs/SchemaDatasetFacet",
            "fields": [{"name": c, "type": "double"} for c in cols]}}}],
    }


async def make(server, mutation: str, input: dict) -> str:
    got = await server.execute(f"mutation($i: {mutation[0].upper() + mutation[1:]}Input!) {{ {mutation}(input: $i) {{ id }} }}",
                               {"i": input})
    return got[mutation]["id"]


async def link(server, rel: str, src: str, dst: str, props: dict | None = None) -> None:
    await server.execute("mutation($i: LinkInput!) { link(input: $i) { relationship } }",
                         {"i": {"relationship": rel, "sourceId": src, "targetId": dst, "properties": props}})


async def build_graph(server) -> dict[str, str]:
    async with httpx.AsyncClient(timeout=30, headers=server.headers) as client:
        r = await client.post(server.url + "/api/v1/lineage", json=[event(*p) for p in PIPELINE])
        assert r.status_code == 201, r.text
    got = await server.execute("{ datasets(first: 100) { edges { node { id name fields(first: 100) { edges { node { id path } } } } } } }")
    ids: dict[str, str] = {}
    for e in got["datasets"]["edges"]:
        ids[e["node"]["name"]] = e["node"]["id"]
        for f in e["node"]["fields"]["edges"]:
            ids[e["node"]["name"] + "." + f["node"]["path"]] = f["node"]["id"]

    ids["ada"] = await make(server, "createPerson", {"name": "Ada Lovelace", "email": "ada@example.com"})
    ids["bob"] = await make(server, "createPerson", {"name": "Bob Stone", "email": "bob@example.com"})
    ids["dora"] = await make(server, "createPerson", {"name": "Dora Data", "email": "dora@example.com"})
    ids["team"] = await make(server, "createTeam", {"name": "Retention science"})
    await link(server, "IN_TEAM", ids["ada"], ids["team"])
    ids["project"] = await make(server, "createProject", {
        "name": "Churn", "problemClass": "CLASSIFICATION", "complexityScore": 5,
        "members": [{"personId": ids["ada"], "role": "lead"}, {"personId": ids["bob"]}]})
    ids["model"] = await make(server, "createModel", {
        "name": "churn", "description": "Predicts which customers leave next month.",
        "intendedUse": "Rank customers by **churn risk** for the retention team."})
    await link(server, "OWNS", ids["project"], ids["model"])
    await link(server, "OWNS", ids["project"], ids["ml.churn_features"])  # its members are the data's owners
    await link(server, "OWNS", ids["dora"], ids["ml.geo_features"])  # a person owns this one
    ids["v1"] = await make(server, "createModelVersion", {"modelId": ids["model"], "version": "1.0.0", "stage": "ARCHIVED",
                                                         "metrics": {"auc": 0.81, "logloss": 0.42}})
    ids["v2"] = await make(server, "createModelVersion", {"modelId": ids["model"], "version": "2.0.0", "stage": "PRODUCTION",
                                                         "metrics": {"auc": 0.86, "logloss": 0.42, "f1": 0.7}})
    for v, datasets, features in (
        ("v1", ["ml.churn_features"], ["ml.churn_features.revenue", "ml.churn_features.customer_id"]),
        ("v2", ["ml.churn_features", "ml.geo_features"], ["ml.churn_features.revenue", "ml.churn_features.orders",
                                                          "ml.geo_features.region"]),
    ):
        for d in datasets:
            await link(server, "TRAINED_ON", ids[v], ids[d])
        for f in features:
            await link(server, "USES_FEATURE", ids[v], ids[f])
    ids["deployment"] = await make(server, "createDeployment", {"name": "churn-api", "environment": "prod",
                                                                "endpoint": "https://churn.example.com/predict"})
    await server.execute("mutation($d: ID!, $v: ID!) { deployModelVersion(deploymentId: $d, modelVersionId: $v) { id } }",
                         {"d": ids["deployment"], "v": ids["v2"]})
    return ids


CARD = """query($id: ID!) { modelCard(modelVersionId: $id) {
  details { modelName version stage description trainingJob { name } }
  intendedUse { text source } limitations { text source }
  trainingData { dataset { name namespace } upstream { dataset { name } distance job feedsId }
                 owners { person { name role } project { name } } }
  features { path type dataset { name } }
  metrics { name value } parameters { name value }
  deployments { name environment endpoint }
  ownership { projects { name } owners { name } members { name role } teams { name } }
  history { version current metricChanges { name before after delta } featuresAdded featuresRemoved datasetsAdded datasetsRemoved }
  completeness { filled missing score }
} }"""


async def get_card(server, version_id: str, fmt: str | None = None, accept: str | None = None,
                   bearer: str | None = "same") -> httpx.Response:
    headers = {}
    if bearer == "same":
        headers.update(server.headers)
    elif bearer:
        headers["Authorization"] = f"Bearer {bearer}"
    if accept:
        headers["Accept"] = accept
    async with httpx.AsyncClient(timeout=60) as client:
        return await client.get(f"{server.url}/models/{version_id}/card", params={"format": fmt} if fmt else None,
                                headers=headers)


def pdf_text(data: bytes, tmp_path) -> str:
    pdftotext = shutil.which("pdftotext")
    assert pdftotext, "pdftotext (Debian's poppler-utils) is needed to read the card's PDF: tests/run.sh installs it"
    path = tmp_path / "card.pdf"
    path.write_bytes(data)
    return subprocess.run([pdftotext, "-layout", str(path), "-"], capture_output=True, text=True, check=True,
                          timeout=60).stdout


async def test_a_model_card_is_read_from_the_graph(server):
    ids = await build_graph(server)
    card = (await server.as_(Role.VIEWER).execute(CARD, {"id": ids["v2"]}))["modelCard"]

    assert card["details"] == {"modelName": "churn", "version": "2.0.0", "stage": "production",
                               "description": "Predicts which customers leave next month.", "trainingJob": None}
    assert card["intendedUse"] == {"text": "Rank customers by **churn risk** for the retention team.", "source": "model"}
    assert card["limitations"] == {"text": None, "source": None}

    by_name = {t["dataset"]["name"]: t for t in card["trainingData"]}
    assert sorted(by_name) == ["ml.churn_features", "ml.geo_features"]
    churn = by_name["ml.churn_features"]
    assert [(u["dataset"]["name"], u["distance"], u["job"]) for u in churn["upstream"]] == [
        ("mart.customer_facts", 1, "airflow/build_churn_features"), ("raw.orders", 2, "airflow/load_customer_facts")]
    assert churn["upstream"][1]["feedsId"] == ids["mart.customer_facts"]
    assert sorted((o["person"]["name"], o["person"]["role"], o["project"]["name"]) for o in churn["owners"]) == [
        ("Ada Lovelace", "lead", "Churn"), ("Bob Stone", "member", "Churn")]
    geo = by_name["ml.geo_features"]
    assert [(u["dataset"]["name"], u["distance"]) for u in geo["upstream"]] == [("raw.geo", 1)]
    assert geo["owners"] == [{"person": {"name": "Dora Data", "role": None}, "project": None}]

    assert [(f["dataset"]["name"], f["path"], f["type"]) for f in card["features"]] == [
        ("ml.churn_features", "orders", "double"), ("ml.churn_features", "revenue", "double"),
        ("ml.geo_features", "region", "double")]
    assert card["metrics"] == [{"name": "auc", "value": 0.86}, {"name": "f1", "value": 0.7}, {"name": "logloss", "value": 0.42}]
    assert card["parameters"] == []
    assert card["deployments"] == [{"name": "churn-api", "environment": "prod", "endpoint": "https://churn.example.com/predict"}]
    assert card["ownership"] == {"projects": [{"name": "Churn"}], "owners": [],
                                 "members": [{"name": "Ada Lovelace", "role": "lead"}, {"name": "Bob Stone", "role": "member"}],
                                 "teams": [{"name": "Retention science"}]}

    first, second = card["history"]
    assert (first["version"], first["current"], second["version"], second["current"]) == ("1.0.0", False, "2.0.0", True)
    assert first["metricChanges"] == [] and first["featuresAdded"] == []
    changes = {m["name"]: m for m in second["metricChanges"]}
    assert sorted(changes) == ["auc", "f1"]  # logloss did not change
    assert changes["auc"]["before"] == 0.81 and changes["auc"]["after"] == 0.86
    assert changes["auc"]["delta"] == pytest.approx(0.05)
    assert changes["f1"] == {"name": "f1", "before": None, "after": 0.7, "delta": None}
    assert second["featuresAdded"] == ["ml.churn_features.orders", "ml.geo_features.region"]
    assert second["featuresRemoved"] == ["ml.churn_features.customer_id"]
    assert (second["datasetsAdded"], second["datasetsRemoved"]) == (["ml.geo_features"], [])

    done = card["completeness"]
    assert done["missing"] == ["LIMITATIONS", "TRAINING_JOB"]
    assert "INTENDED_USE" in done["filled"] and "DEPLOYMENTS" in done["filled"]
    assert done["score"] == pytest.approx(7 / 9)

    # The reads are batched: a fixed number of store calls whatever the number of datasets, owners or versions.
    server.store.calls.clear()
    await server.execute(CARD, {"id": ids["v2"]})
    assert sorted(set(server.store.calls)) == ["get_nodes", "neighbours", "walk"], server.store.calls
    assert len(server.store.calls) <= 13, server.store.calls

    # A version's own text stands over its model's; the card is read anew on each request.
    await server.execute("mutation($id: ID!) { updateModelVersion(id: $id, input: {limitations: \"Not for credit decisions.\"}) { id } }",
                         {"id": ids["v2"]})
    again = (await server.execute(CARD, {"id": ids["v2"]}))["modelCard"]
    assert again["limitations"] == {"text": "Not for credit decisions.", "source": "version"}
    assert again["completeness"]["missing"] == ["TRAINING_JOB"]
    # v1: no deployment, so that is missing; the history is the same list, v1 marked as the card's own.
    v1 = (await server.execute(CARD, {"id": ids["v1"]}))["modelCard"]
    assert "DEPLOYMENTS" in v1["completeness"]["missing"]
    assert [h["current"] for h in v1["history"]] == [True, False]


async def test_a_model_card_as_markdown_html_and_pdf(server, tmp_path):
    ids = await build_graph(server)
    viewer = token(server.tenant, Role.VIEWER)

    md = await get_card(server, ids["v2"], bearer=viewer)  # no Accept: Markdown
    assert md.status_code == 200, md.text
    assert md.headers["content-type"].startswith("text/markdown")
    text = md.text
    for heading in ("# Model card: churn 2.0.0", "## Model details", "## Intended use", "## Limitations",
                    "## Training data", "## Features used", "## Evaluation metrics", "## Deployments",
                    "## Owning project and team", "## Version history", "## Completeness"):
        assert heading in text, heading
    assert "Rank customers by **churn risk** for the retention team." in text
    assert "ml.churn\\_features" in text and "mart.customer\\_facts" in text and "churn-api" in text
    assert "auc 0.81 → 0.86 (+0.05)" in text
    assert "Missing: limitations, training job." in text
    assert "- **Missing:** Limitations, Training job" in text and "- **Filled:** Description, Intended use," in text

    html = await get_card(server, ids["v2"], accept="text/html,application/xhtml+xml,*/*;q=0.8", bearer=viewer)
    assert html.status_code == 200 and html.headers["content-type"].startswith("text/html")
    assert html.text.startswith("<!DOCTYPE html>") and "<h2>Training data</h2>" in html.text
    assert "<strong>churn risk</strong>" in html.text and "<table>" in html.text
    assert "style-src 'sha256-" in html.headers["content-security-policy"]  # its inline CSS, and nothing else
    assert (await get_card(server, ids["v2"], fmt="html")).headers["content-type"].startswith("text/html")

    pdf = await get_card(server, ids["v2"], accept="application/pdf")
    assert pdf.status_code == 200 and pdf.headers["content-type"] == "application/pdf"
    assert pdf.content.startswith(b"%PDF-")
    assert 'filename="model-card-churn-2.0.0.pdf"' in pdf.headers["content-disposition"]
    words = " ".join(pdf_text(pdf.content, tmp_path).split())
    for expected in ("Model card: churn 2.0.0", "Intended use", "Rank customers by churn risk for the retention team.",
                     "Training data", "ml.churn_features", "mart.customer_facts", "airflow/build_churn_features",
                     "Ada Lovelace", "Features used", "Evaluation metrics", "0.86", "Deployments", "churn-api",
                     "Owning project and team", "Retention science", "Version history", "1.0.0", "Completeness"):
        assert expected in words, expected

    # ?format= stands over Accept.
    assert (await get_card(server, ids["v2"], fmt="md", accept="application/pdf")).headers["content-type"].startswith("text/markdown")


async def test_a_model_card_over_http_refuses_who_may_not_see_it(server):
    ids = await build_graph(server)
    gone = await get_card(server, ids["v2"], bearer=None)
    assert gone.status_code == 401 and gone.json()["error"]["code"] == "UNAUTHENTICATED"
    assert "churn" not in gone.text

    # Another tenant's version is not found, exactly as a version that does not exist.
    other = await get_card(server, ids["v2"], bearer=token("other-" + server.tenant, Role.ADMIN))
    assert other.status_code == 404
    assert other.json() == {"error": {"message": f"no ModelVersion with id {ids['v2']}", "code": "NOT_FOUND", "field": "id"}}
    unknown_id = to_global_id(Label.MODEL_VERSION, str(uuid.uuid4()))
    missing = await get_card(server, unknown_id)
    assert missing.status_code == 404
    assert missing.json() == {"error": {"message": f"no ModelVersion with id {unknown_id}", "code": "NOT_FOUND", "field": "id"}}

    bad = await get_card(server, "not-an-id")
    assert bad.status_code == 400 and bad.json()["error"] == {
        "message": "id: 'not-an-id' is not a Maestro Graph id", "code": "BAD_USER_INPUT", "field": "id"}
    wrong_label = await get_card(server, ids["model"])
    assert wrong_label.status_code == 400 and wrong_label.json()["error"]["field"] == "id"
    bad_format = await get_card(server, ids["v2"], fmt="docx")
    assert bad_format.status_code == 400 and bad_format.json()["error"]["field"] == "format"

    err = await server.error("query($id: ID!) { modelCard(modelVersionId: $id) { details { version } } }",
                             {"id": to_global_id(Label.MODEL_VERSION, str(uuid.uuid4()))})
    assert err["extensions"]["code"] == "NOT_FOUND"
    other_graphql = await server.as_(Role.VIEWER, "other-" + server.tenant).error(
        "query($id: ID!) { modelCard(modelVersionId: $id) { details { version } } }", {"id": ids["v2"]})
    assert other_graphql["extensions"]["code"] == "NOT_FOUND"
