"""The explorer's search, lineage graph and impact panel in a real Chromium, against the demo graph:
what a person sees is checked against the API's own answers."""

from __future__ import annotations

import asyncio
import json
import uuid
from pathlib import Path

import httpx
from playwright.async_api import expect

from tests.browser.conftest import no_problems, shot, sign_in

NS = "postgres://prod-db:5432"  # the demo's shop.* namespace
PRODUCER = "https://example.com/maestro-ui-tests"

LINEAGE = """query($id: ID!, $g: Granularity!) { lineage(id: $id, direction: BOTH, depth: 3, granularity: $g) {
  nodes { node { id } } edges { sourceId targetId } } }"""
IMPACT = """query($id: ID!) { impactAnalysis(id: $id) {
  totals { fields datasets modelVersions models deployments projects people }
  fields { node { id } } datasets { node { id } } people { node { name } } } }"""


async def column(demo, name: str, dataset: str) -> str:
    found = await demo.execute('query($t: String!) { search(text: $t, kinds: [FIELD]) { hits { node { id } dataset { name } } } }', {"t": name})
    return next(h["node"]["id"] for h in found["search"]["hits"] if h["dataset"]["name"] == dataset)


async def drawn(page) -> set[str]:
    return set(await page.evaluate("window.maestroLineage.nodes().map((n) => n.id())"))


async def test_search_a_column_then_its_lineage_and_impact_match_the_api(demo, page):
    await sign_in(page, demo)
    await page.get_by_label("Search by name").fill("amount_usd")  # found as it is typed
    columns = page.locator("section.hits", has=page.get_by_role("heading", name="Columns"))
    await expect(columns.locator("li")).to_have_count(3)
    await expect(page.get_by_role("status").first).to_contain_text("3 columns")
    assert "q=amount_usd" in page.url  # Back comes back to these results
    await shot(page, "search")

    await columns.locator("li", has_text="marts.order_features").get_by_role("link", name="amount_usd").click()
    await page.wait_for_url("**/#/lineage/**")
    field = await column(demo, "amount_usd", "marts.order_features")
    await expect(page.locator(".lineage-status")).to_contain_text("nodes")
    api = (await demo.execute(LINEAGE, {"id": field, "g": "FIELD"}))["lineage"]
    assert await drawn(page) == {n["node"]["id"] for n in api["nodes"]}
    await expect(page.locator("#nodes-title")).to_contain_text(f"({len(api['nodes'])})")
    await expect(page.locator(".lineage-list").first).to_contain_text("shop.orders.amount")  # upstream, by name

    # the impact panel: its totals are the API's
    impact = page.locator("#impact")
    await expect(impact.get_by_role("heading", level=2)).to_contain_text("marts.order_features.amount_usd")
    report = (await demo.execute(IMPACT, {"id": field}))["impactAnalysis"]
    for kind, count in report["totals"].items():
        await expect(impact.locator(f"[data-total={kind}] .tile-n")).to_have_text(str(count))
    for person in report["people"]:
        await expect(impact).to_contain_text(person["node"]["name"])
    # a dataset it reaches lights up its path in the graph
    await impact.get_by_role("button", name="ml.fraud_training", exact=True).click()
    lit = await page.evaluate("window.maestroLineage.nodes('.path').map((n) => n.id())")
    assert field in lit and len(lit) >= 2
    await shot(page, "lineage-field")

    async with page.expect_download() as downloading:
        await impact.get_by_role("button", name="Export JSON").click()
    download = await downloading.value
    assert download.suggested_filename.startswith("impact-marts.order_features.amount_usd") and download.suggested_filename.endswith(".json")
    exported = json.loads(Path(await download.path()).read_text())
    assert exported["totals"] == report["totals"]
    assert [f["node"]["id"] for f in exported["fields"]] == [f["node"]["id"] for f in report["fields"]]

    # dataset granularity: the same view redrawn, the API's dataset graph
    await page.get_by_label("Granularity").select_option("DATASET")
    api = (await demo.execute(LINEAGE, {"id": field, "g": "DATASET"}))["lineage"]
    await expect(page.locator("#nodes-title")).to_contain_text(f"({len(api['nodes'])})")
    assert await drawn(page) == {n["node"]["id"] for n in api["nodes"]}
    assert "granularity=DATASET" in page.url
    # choosing from the list (the keyboard's way in) selects the node and shows its impact
    await page.locator(".lineage-list").first.get_by_role("button", name="shop.orders").press("Enter")
    await expect(page.locator("#details-title")).to_have_text("shop.orders")
    await expect(impact.get_by_role("heading", level=2)).to_contain_text("shop.orders")
    await expect(page.locator("#impact [data-total=datasets] .tile-n")).not_to_have_text("0")
    await shot(page, "lineage-dataset")
    no_problems(page)


def event(job: str, output: str, column: str, source: str) -> dict:
    """A run of `job` reading shop.orders and writing `output`.`column` from shop.orders.`source`."""
    return {
        "eventType": "COMPLETE", "eventTime": "2026-11-01T10:00:00Z", "producer": PRODUCER,
        "schemaURL": "https://openlineage.io/spec/2-0-2/OpenLineage.json#/$defs/RunEvent",
        "run": {"runId": str(uuid.uuid4())}, "job": {"namespace": "airflow", "name": job},
        "inputs": [{"namespace": NS, "name": "shop.orders"}],
        "outputs": [{"namespace": NS, "name": output, "facets": {"columnLineage": {
            "_producer": PRODUCER,
            "_schemaURL": "https://openlineage.io/spec/facets/1-2-0/ColumnLineageDatasetFacet.json#/$defs/ColumnLineageDatasetFacet",
            "fields": {column: {"inputFields": [{"namespace": NS, "name": "shop.orders", "field": source, "transformations": [
                {"type": "DIRECT", "subtype": "AGGREGATION", "description": "sum of discounts per day"}]}]}}}}}],
    }


async def test_a_lineage_change_appears_in_the_open_view_without_a_reload(demo, page):
    await sign_in(page, demo)
    discount = await column(demo, "discount", "shop.orders")
    await page.goto(f"{demo.url}/ui/#/lineage/{discount}?granularity=FIELD&direction=DOWNSTREAM&depth=3")
    await expect(page.locator(".lineage-status")).to_contain_text("live")
    before = await drawn(page)
    await page.evaluate("window.sameDocument = true")
    # The view subscribes to each dataset it shows; this page is the tenant's only subscriber, so
    # once the server counts exactly that many, a change now reaches the view.
    watching = int(await page.locator(".lineage-status").get_attribute("data-watching"))
    assert watching >= 1
    hub = demo.services.subscriptions
    for _ in range(200):
        if hub.count(demo.tenant) == watching:
            break
        await asyncio.sleep(0.05)
    assert hub.count(demo.tenant) == watching, "the view's subscriptions did not reach the server"

    report = f"marts.discount_report_{page.width_name}"
    async with httpx.AsyncClient(timeout=30, headers=demo.headers) as client:
        sent = await client.post(demo.url + "/api/v1/lineage", json=event(f"report_discounts_{page.width_name}", report, "discount_total", "discount"))
        assert sent.status_code == 201, sent.text
    await expect(page.locator(".lineage-list").first).to_contain_text(f"{report}.discount_total")
    after = await drawn(page)
    assert before < after and len(after - before) == 1
    assert await page.evaluate("window.sameDocument") is True  # no reload
    new_edge = page.locator(".lineage-list").nth(1).get_by_role("button", name=f"shop.orders.discount → {report}.discount_total")
    await new_edge.click()
    await expect(page.locator(".edge-description")).to_have_text("sum of discounts per day")
    await shot(page, "lineage-live")
    no_problems(page)
