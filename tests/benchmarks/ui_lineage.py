"""How long the explorer takes to draw a 2,000-node column lineage graph, in Debian's Chromium.

    PYTHONPATH=. .venv/bin/python tests/benchmarks/ui_lineage.py [--runs 5] [--shot big.png]

Builds, through the OpenLineage endpoint of a server on loopback (SQLite), a root column feeding
10 layers of 200 columns each (column j of a layer derives from columns j and j+1 of the one
before): from the root, 10 hops downstream reach 2,000 columns, which is the view's node limit.
Then opens #/lineage/<root> at depth 10 as a person would, `runs` times, and reports per run
  answer: the lineage query's round trip as the page measured it;
  draw:   from the answer to the first frame showing the laid-out graph (merge, cytoscape, layout,
          the accessible lists);
then the median of each, and what dagre alone takes to lay out the same graph in the same page
(the layout the view uses for small graphs), for comparison. Bounded: one server, `runs` loads.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import tempfile
import uuid
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from maestro_graph.settings import Settings  # noqa: E402
from maestro_graph.store.factory import create_store  # noqa: E402
from tests.browser.conftest import chromium_path  # noqa: E402
from tests.e2e.conftest import serve  # noqa: E402

NS = "bench://warehouse"
PRODUCER = "https://example.com/maestro-ui-benchmark"
LAYERS, WIDTH = 10, 200


def event(layer: int) -> dict:
    """The job writing layer `layer` (1..LAYERS) from the one before (layer 0: the root's dataset)."""
    source = f"layer_{layer - 1:02d}"
    fields = {}
    for j in range(WIDTH):
        inputs = ["root"] if layer == 1 else [f"c{j:03d}", f"c{(j + 1) % WIDTH:03d}"]
        fields[f"c{j:03d}"] = {"inputFields": [{"namespace": NS, "name": source, "field": c, "transformations": [
            {"type": "DIRECT", "subtype": "TRANSFORMATION" if layer % 2 else "AGGREGATION"}]} for c in inputs]}
    return {
        "eventType": "COMPLETE", "eventTime": "2026-11-01T10:00:00Z", "producer": PRODUCER,
        "schemaURL": "https://openlineage.io/spec/2-0-2/OpenLineage.json#/$defs/RunEvent",
        "run": {"runId": str(uuid.uuid4())}, "job": {"namespace": "bench", "name": f"build_layer_{layer:02d}"},
        "inputs": [{"namespace": NS, "name": source}],
        "outputs": [{"namespace": NS, "name": f"layer_{layer:02d}", "facets": {
            "schema": {"_producer": PRODUCER,
                       "_schemaURL": "https://openlineage.io/spec/facets/1-1-1/SchemaDatasetFacet.json#/$defs/SchemaDatasetFacet",
                       "fields": [{"name": f"c{j:03d}", "type": "double"} for j in range(WIDTH)]},
            "columnLineage": {"_producer": PRODUCER,
                              "_schemaURL": "https://openlineage.io/spec/facets/1-2-0/ColumnLineageDatasetFacet.json#/$defs/ColumnLineageDatasetFacet",
                              "fields": fields}}}],
    }


DAGRE = """() => {
  const cy = window.maestroLineage;
  const started = performance.now();
  cy.layout({ name: "dagre", rankDir: "LR", nodeSep: 14, rankSep: 90, animate: false, fit: true }).run();
  return performance.now() - started;
}"""


async def main(runs: int, shot: str | None) -> None:
    from playwright.async_api import async_playwright

    path = chromium_path()
    assert path, "needs Chromium (apt-get install chromium)"
    with tempfile.TemporaryDirectory() as tmp:
        store = create_store(Settings(data_dir=Path(tmp) / "store"))
        await store.open()
        await store.migrate()
        tenant = f"bench-{uuid.uuid4().hex[:8]}"
        async with serve(store, tenant, Path(tmp), rate_limit_per_minute=100_000) as server:
            async with httpx.AsyncClient(timeout=120, headers=server.headers) as client:
                for layer in range(1, LAYERS + 1):
                    sent = await client.post(server.url + "/api/v1/lineage", json=event(layer))
                    assert sent.status_code == 201, sent.text
            found = await server.execute('{ search(text: "root", kinds: [FIELD]) { hits { node { id } dataset { name } } } }')
            root = next(h["node"]["id"] for h in found["search"]["hits"] if h["dataset"]["name"] == "layer_00")
            async with async_playwright() as p:
                browser = await p.chromium.launch(executable_path=path, args=["--no-sandbox", "--disable-dev-shm-usage"])
                page = await (await browser.new_context(viewport={"width": 1366, "height": 860})).new_page()
                await page.goto(server.url + "/ui/")
                await page.evaluate("(t) => sessionStorage.setItem('maestro.token', t)", server.bearer)
                answers, draws = [], []
                for i in range(runs):
                    await page.goto(f"{server.url}/ui/#/")
                    await page.reload()
                    await page.goto(f"{server.url}/ui/#/lineage/{root}?granularity=FIELD&direction=DOWNSTREAM&depth=10")
                    await page.wait_for_function("() => window.maestroLineageTimes", timeout=120_000)
                    t = await page.evaluate("window.maestroLineageTimes")
                    answers.append(t["fetched"])
                    draws.append(t["drawn"])
                    print(f"run {i + 1}: {t['nodes']} nodes, {t['edges']} edges ({t['layout']} layout): "
                          f"answer {t['fetched']:.0f} ms, draw {t['drawn']:.0f} ms", flush=True)
                if shot:
                    await page.screenshot(path=shot)
                dagre = await page.evaluate(DAGRE)
                await browser.close()
        await store.close()
    print(f"median of {runs}: answer {statistics.median(answers):.0f} ms, draw {statistics.median(draws):.0f} ms "
          f"(answer to laid-out graph on screen); dagre alone on the same graph: {dagre:.0f} ms")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--shot", help="save a screenshot of the drawn graph here (PNG)")
    args = parser.parse_args()
    asyncio.run(main(min(max(args.runs, 1), 20), args.shot))
