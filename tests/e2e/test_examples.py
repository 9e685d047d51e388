"""Every example a user is shown runs as written, against a real server holding the demo graph
(what `maestro-graph serve --demo` serves):

- each ```graphql block of README.md, queries and mutations: no errors, and every list the
  answer holds is non-empty (an example that returns nothing on the demo teaches nothing); a
  block asking the meta-model runs in a tenant holding the README's generated history, trained;
- each ```bash block of README.md that curls the server on localhost, through bash, with
  MAESTRO_TOKEN set and the port changed to the test server's;
- each file in client-examples/, as a subprocess: bash for .sh, this venv's Python for .py,
  node for .ts once compiled by the TypeScript its package.json pins (`npm ci` from its
  package-lock.json into a temporary directory).

Placeholders a reader fills in are the only thing the test changes in an example:
`<id of DATASET.PATH>` becomes the id of that demo column, `<id of project NAME>` (artifact,
dataset) the id of the demo node of that name, and `export MAESTRO_TOKEN=<...>` is
dropped because the test sets MAESTRO_TOKEN. Any other `<...>` fails the test.
"""

from __future__ import annotations

import asyncio
import json
import os
import re
import shutil
import sys
import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from maestro_graph.demo import load_demo
from maestro_graph.store.base import GraphStore
from tests.conftest import IN_CI
from tests.e2e.conftest import Server, serve

ROOT = Path(__file__).resolve().parents[2]
README = ROOT / "README.md"
CLIENT_EXAMPLES = ROOT / "client-examples"
RUNS_FOR = 120  # seconds any one example may take before it counts as hung


def fenced_blocks(text: str, language: str) -> list[tuple[int, str]]:
    """(line number, body) of every ```language block of a Markdown text.

    >>> fenced_blocks("a\\n```graphql\\n{ x }\\n```\\n```bash\\nls\\n```\\n", "graphql")
    [(2, '{ x }\\n')]
    """
    blocks, lines = [], text.splitlines(keepends=True)
    i = 0
    while i < len(lines):
        if lines[i].rstrip() == "```" + language:
            start, body = i + 1, []
            i += 1
            while i < len(lines) and lines[i].rstrip() != "```":
                body.append(lines[i])
                i += 1
            assert i < len(lines), f"README.md:{start}: a ```{language} block is never closed"
            blocks.append((start, "".join(body)))
        i += 1
    return blocks


README_TEXT = README.read_text()
GRAPHQL_BLOCKS = fenced_blocks(README_TEXT, "graphql")
LOCAL = re.compile(r"\b(?:localhost|127\.0\.0\.1):8000\b")
CURL_BLOCKS = [(line, body) for line, body in fenced_blocks(README_TEXT, "bash") if "curl" in body and LOCAL.search(body)]
EXAMPLE_FILES = sorted(p for p in CLIENT_EXAMPLES.iterdir() if p.is_file() and p.suffix in (".sh", ".py", ".ts", ".ipynb"))
NODE_PROJECT = ("package.json", "package-lock.json", "tsconfig.json")  # what typescript_client.ts builds with
FIELD_ID = re.compile(r"<id of ([\w.-]+)\.([\w-]+)>")  # <id of shop.orders.amount>: dataset shop.orders, column amount
NAMED_ID = re.compile(r"<id of (artifact|project|dataset|person) ([^<>\n]+)>")  # <id of project Churn prediction>
LISTING = {"artifact": "artifacts", "project": "projects", "dataset": "datasets", "person": "people"}
# Blocks asking the meta-model run in a tenant holding the README's generated history (what
# `maestro-graph demo --projects 300 --seed 1 --tenant history` loads), trained.
METAMODEL = re.compile(r"\b(predictProject|recommendTeamSize|recommendArtifacts|similarProjects|metaModel|trainMetaModel)\b")
DEMO_BLOCKS = [(line, body) for line, body in GRAPHQL_BLOCKS if not METAMODEL.search(body)]
HISTORY_BLOCKS = [(line, body) for line, body in GRAPHQL_BLOCKS if METAMODEL.search(body)]
TOKEN_LINE = re.compile(r"^export MAESTRO_TOKEN=<[^>\n]*>[^\n]*\n", re.M)


def test_the_readme_and_client_examples_hold_the_examples_this_test_runs():
    """The extraction finds what it should: an example that stops matching would otherwise pass unrun."""
    assert len(GRAPHQL_BLOCKS) >= 6, GRAPHQL_BLOCKS
    assert len(CURL_BLOCKS) >= 2, CURL_BLOCKS
    assert {p.name for p in EXAMPLE_FILES} >= {"curl.sh", "python_client.py", "python_subscription.py", "typescript_client.ts",
                                               "openlineage_producer.py", "walkthrough.ipynb"}
    runnable = {p.name for p in EXAMPLE_FILES} | {*NODE_PROJECT, ".gitignore", "requirements-notebook.txt"}
    others = {p.name for p in CLIENT_EXAMPLES.iterdir() if p.is_file()} - runnable
    assert not others, f"client examples this test does not run: {others}"


def test_the_readme_gives_each_client_example_one_line():
    """Each runnable client in client-examples/ is documented in README, in a line of its own."""
    lines = README_TEXT.splitlines()
    for example in EXAMPLE_FILES:
        own = [line for line in lines if line.startswith(f"- `{example.name}`: ")]
        assert len(own) == 1, f"README.md needs one line `- `{example.name}`: ...` for client-examples/{example.name}"


@pytest.mark.parametrize("example", [p for p in EXAMPLE_FILES if p.suffix == ".py"], ids=lambda p: p.name)
def test_the_install_line_the_readme_gives_installs_what_the_python_clients_import(example: Path):
    """The README's `pip install '.[examples]'` must bring what each Python client imports: gql and
    the transports it uses, openlineage-python."""
    import tomllib

    assert ".venv/bin/pip install '.[examples]'" in " ".join(README_TEXT.split())
    extras = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["optional-dependencies"]
    wanted = {re.sub(r"[<>=].*", "", r) for r in extras.get("examples", [])}
    source = example.read_text()
    for module, extra in (("gql.transport.httpx", "httpx"), ("gql.transport.aiohttp", "aiohttp"),
                          ("gql.transport.websockets", "websockets")):
        if module in source:
            assert any(r.startswith("gql[") and extra in r for r in wanted), f"the examples extra lacks gql[{extra}]: {wanted}"
    if re.search(r"^(from|import) openlineage\.client\b", source, re.M):
        assert "openlineage-python" in wanted, f"the examples extra lacks openlineage-python: {wanted}"


def test_the_readme_configuration_table_names_every_setting():
    """Every MAESTRO_* variable Settings.from_env reads has a row in README's Configuration table."""
    from maestro_graph.settings import Settings

    section = README_TEXT.split("## Configuration", 1)[1].split("\n## ", 1)[0]
    named = {v for line in section.splitlines() if line.startswith("| `MAESTRO_")  # the first column of each row
             for v in re.findall(r"`(MAESTRO_\w+)`", line.split("|")[1])}
    wanted = {"MAESTRO_" + ("STORE" if name == "store_url" else name.upper()) for name in Settings.__dataclass_fields__}
    missing = sorted(wanted - named)
    assert not missing, f"README's Configuration table lacks {missing}"


def assert_returns_data(data: Any, where: str) -> None:
    """Every top-level field answered, and every list in it (or directly under it) non-empty."""
    assert isinstance(data, dict) and data, f"{where}: no data: {data!r}"
    for name, value in data.items():
        assert value is not None, f"{where}: {name} is null"
        if isinstance(value, list):
            assert value, f"{where}: {name} is empty"
        if isinstance(value, dict):
            for key, inner in value.items():
                assert not (isinstance(inner, list) and not inner), f"{where}: {name}.{key} is empty on the demo graph"


def assert_json_answers(output: str, where: str) -> list[dict[str, Any]]:
    """Each non-empty line of a command's output is a JSON answer; GraphQL ones return data."""
    answers = [json.loads(line) for line in output.splitlines() if line.strip()]
    assert answers, f"{where}: printed nothing"
    return answers


@pytest.fixture(scope="module")
async def demo(store: GraphStore, tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Server]:
    """A real server (uvicorn on a loopback port) with the demo graph in a tenant of its own;
    its client is an admin of that tenant, like the token `serve` prints."""
    tenant = f"t-{uuid.uuid4().hex[:12]}"
    async with serve(store, tenant, tmp_path_factory.mktemp("examples")) as server:
        assert await load_demo(server.services, tenant, progress=lambda _: None)
        yield server


@pytest.fixture(scope="module")
async def history(store: GraphStore, tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Server]:
    """A real server whose tenant holds the README's generated history, with a trained meta-model."""
    from maestro_graph.auth.principal import system
    from maestro_graph.history import load_history

    tenant = f"history-{uuid.uuid4().hex[:8]}"
    async with serve(store, tenant, tmp_path_factory.mktemp("history")) as server:
        assert await load_history(server.services, tenant, projects=300, seed=1, progress=lambda _: None)
        await server.services.metamodel.train(system(tenant))
        yield server


async def field_id(server: Server, dataset: str, path: str) -> str:
    answer = await server.execute("""query($d: String!) { datasets(first: 100, filter: {text: $d}) {
        edges { node { name fields(first: 100) { edges { node { id path } } } } } } }""", {"d": dataset})
    ids = [f["node"]["id"] for d in answer["datasets"]["edges"] if d["node"]["name"] == dataset
           for f in d["node"]["fields"]["edges"] if f["node"]["path"] == path]
    assert len(ids) == 1, f"the demo has no column {dataset}.{path}"
    return ids[0]


async def named_id(server: Server, kind: str, name: str) -> str:
    listing = LISTING[kind]
    answer = await server.execute(f"query($n: String!) {{ {listing}(first: 100, filter: {{text: $n}}) {{ edges {{ node {{ id name }} }} }} }}",
                                  {"n": name})
    ids = [e["node"]["id"] for e in answer[listing]["edges"] if e["node"]["name"] == name]
    assert len(ids) == 1, f"the demo has no {kind} named {name!r}"
    return ids[0]


async def filled_in(server: Server, block: str, where: str) -> str:
    """The block with its placeholders filled in; any placeholder the test cannot fill fails it."""
    for dataset, path in set(FIELD_ID.findall(block)):
        block = block.replace(f"<id of {dataset}.{path}>", await field_id(server, dataset, path))
    for kind, name in set(NAMED_ID.findall(block)):
        block = block.replace(f"<id of {kind} {name}>", await named_id(server, kind, name))
    block = TOKEN_LINE.sub("", block)
    left = re.findall(r"<[^<>\s][^<>\n]*>", block)
    assert not left, f"{where}: a placeholder this test cannot fill in: {left}"
    return block


async def run(argv: list[str], where: str, env: dict[str, str], cwd: Path | None = None) -> str:
    """Run a command to its end (its stdout), failing the test if it fails or hangs. It runs
    beside the server, which answers on this event loop: hence a subprocess that is awaited."""
    process = await asyncio.create_subprocess_exec(*argv, env={**os.environ, **env}, cwd=cwd,
                                                   stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
    try:
        out, err = await asyncio.wait_for(process.communicate(), RUNS_FOR)
    except TimeoutError:
        process.kill()
        await process.wait()
        pytest.fail(f"{where}: still running after {RUNS_FOR} s")
    assert process.returncode == 0, f"{where}: exit {process.returncode}\n{out.decode()}\n{err.decode()}"
    return out.decode()


@pytest.mark.parametrize("line,block", DEMO_BLOCKS, ids=[f"README.md:{line}" for line, _ in DEMO_BLOCKS])
async def test_readme_graphql_example_runs_on_the_demo_graph(demo: Server, line: int, block: str):
    await runs(demo, line, block)


@pytest.mark.parametrize("line,block", HISTORY_BLOCKS, ids=[f"README.md:{line}" for line, _ in HISTORY_BLOCKS])
async def test_readme_metamodel_example_runs_on_the_readmes_history(history: Server, line: int, block: str):
    await runs(history, line, block)


async def runs(demo: Server, line: int, block: str) -> None:
    where = f"README.md:{line}"
    document = await filled_in(demo, block, where)
    if document.lstrip().startswith("subscription"):  # over WebSocket, as a client subscribes: its first event
        from gql import Client, gql
        from gql.transport.websockets import WebsocketsTransport

        transport = WebsocketsTransport(url=demo.url.replace("http", "ws") + "/graphql",
                                        init_payload={"Authorization": f"Bearer {demo.bearer}"},
                                        subprotocols=[WebsocketsTransport.GRAPHQLWS_SUBPROTOCOL])
        async with Client(transport=transport) as session:
            async for event in session.subscribe(gql(document)):
                assert_returns_data(event, where)
                return
        raise AssertionError(f"{where}: the subscription ended without an event")
    response = await demo.post({"query": document})
    assert response.status_code == 200, f"{where}: HTTP {response.status_code} {response.text}"
    answer = response.json()
    assert "errors" not in answer, f"{where}: {answer['errors']}"
    assert_returns_data(answer.get("data"), where)


@pytest.mark.parametrize("line,block", CURL_BLOCKS, ids=[f"README.md:{line}" for line, _ in CURL_BLOCKS])
async def test_readme_curl_example_runs_against_the_server(demo: Server, line: int, block: str):
    where = f"README.md:{line}"
    port = demo.url.rsplit(":", 1)[1]
    script = LOCAL.sub(f"127.0.0.1:{port}", await filled_in(demo, block, where))
    for answer in assert_json_answers(await run(["bash", "-euo", "pipefail", "-c", script], where,
                                                {"MAESTRO_TOKEN": demo.bearer or ""}), where):
        assert "errors" not in answer and "error" not in answer, f"{where}: {answer}"
        if "data" in answer:
            assert_returns_data(answer["data"], where)


async def test_client_example_curl_sh(demo: Server):
    out = await run(["bash", str(CLIENT_EXAMPLES / "curl.sh"), demo.url], "curl.sh", {"MAESTRO_TOKEN": demo.bearer or ""})
    ready, counts, artifacts, refused = assert_json_answers(out, "curl.sh")
    assert ready["status"] == "ready", ready
    assert_returns_data(counts["data"], "curl.sh nodeCounts")
    assert_returns_data(artifacts["data"], "curl.sh artifacts")
    assert artifacts["data"]["artifacts"]["edges"]
    # The last request shows an error a client can act on: that is what it must print.
    (error,) = refused["errors"]
    assert error["extensions"]["code"] == "BAD_USER_INPUT" and error["extensions"]["field"] == "complexityScore", error


async def test_client_example_python_client(demo: Server):
    out = await run([sys.executable, str(CLIENT_EXAMPLES / "python_client.py"), demo.graphql_url], "python_client.py",
                    {"MAESTRO_TOKEN": demo.bearer or ""})
    assert "Example " in out and "'role': 'lead'" in out and "calendar-features-" in out, out


def assert_followed_to_success(job: str, events: list[dict[str, Any]]) -> None:
    """A client followed training job `job` (the demo template, 5 epochs) from before it started:
    its every status change in order, progress never going back and reaching 1.0, the last epoch's
    metrics, cursors strictly increasing."""
    assert events and all(e["id"] == job for e in events), events
    order = [s for i, s in enumerate(e["status"] for e in events) if i == 0 or s != events[i - 1]["status"]]
    assert order == ["PENDING", "RUNNING", "SUCCEEDED"], events
    progress = [e["progress"] for e in events]
    assert progress == sorted(progress) and progress[-1] == 1.0, progress
    assert set(events[-1]["metrics"]) == {"val_loss", "val_accuracy"} and events[-1]["epoch"] == 5
    cursors = [int(e["cursor"]) for e in events]
    assert cursors == sorted(set(cursors)), cursors


async def test_client_example_python_subscription(demo: Server):
    """gql's websockets transport (graphql-transport-ws): a query, the submit mutation, then
    trainingJobUpdated from the cursor read before submitting, to the job's end."""
    ws_url = demo.url.replace("http://", "ws://") + "/graphql"
    out = await run([sys.executable, str(CLIENT_EXAMPLES / "python_subscription.py"), ws_url], "python_subscription.py",
                    {"MAESTRO_TOKEN": demo.bearer or ""})
    lines = assert_json_answers(out, "python_subscription.py")
    answers = [line for line in lines if line.pop("from") == "answer"]
    events = [line["trainingJobUpdated"] for line in lines if "trainingJobUpdated" in line]
    assert len(answers) + len(events) == len(lines), out
    assert_returns_data(answers[0], "python_subscription.py query")
    job = answers[1]["submitTrainingJob"]
    assert job["status"] == "PENDING", job
    assert_followed_to_success(job["id"], events)


async def test_client_example_openlineage_producer(demo: Server):
    """openlineage-python's own client (HTTP transport, bearer token) emits START and COMPLETE with
    a columnLineage facet; the GraphQL API then shows the column edges, the run and the impact."""
    out = await run([sys.executable, str(CLIENT_EXAMPLES / "openlineage_producer.py"), demo.url], "openlineage_producer.py",
                    {"MAESTRO_TOKEN": demo.bearer or ""})
    start, complete = assert_json_answers(out, "openlineage_producer.py")
    assert (start["eventType"], complete["eventType"]) == ("START", "COMPLETE") and start["runId"] == complete["runId"], out

    amount, status = await field_id(demo, "billing.refunds", "amount"), await field_id(demo, "billing.refunds", "status")
    refunded = await field_id(demo, "marts.daily_refunds", "refunded")
    up = (await demo.execute("""query($id: ID!) { lineage(id: $id, direction: UPSTREAM, depth: 1, granularity: FIELD) {
        edges { sourceId targetId relationship transformationType transformationSubtype job } } }""", {"id": refunded}))["lineage"]
    edges = {e["sourceId"]: e for e in up["edges"] if e["targetId"] == refunded}
    assert edges.keys() == {amount, status}, up
    assert edges[amount] == {"sourceId": amount, "targetId": refunded, "relationship": "DERIVES", "transformationType": "DIRECT",
                             "transformationSubtype": "AGGREGATION", "job": "example/daily_refunds"}
    assert (edges[status]["transformationType"], edges[status]["transformationSubtype"]) == ("INDIRECT", "FILTER")

    impact = (await demo.execute("""query($id: ID!) { impactAnalysis(id: $id) { totals { fields datasets }
        fields { distance node { id path dataset { name } } } } }""", {"id": amount}))["impactAnalysis"]
    reached = {(f["distance"], f["node"]["dataset"]["name"], f["node"]["path"]) for f in impact["fields"]}
    assert reached == {(1, "marts.daily_refunds", "refunded")}, impact  # what it reaches; not the column itself
    assert impact["totals"]["fields"] == 1 and impact["totals"]["datasets"] == 2, impact  # its own dataset and the mart

    runs = await demo.execute("""{ jobs(filter: {text: "daily_refunds"}) { edges { node { namespace name
        runs(first: 10) { edges { node { runId state } } } } } } }""")
    (job,) = [e["node"] for e in runs["jobs"]["edges"] if e["node"]["name"] == "daily_refunds"]
    assert {"runId": start["runId"], "state": "COMPLETE"} in [r["node"] for r in job["runs"]["edges"]], job


@pytest.fixture(scope="module")
async def walkthrough(history: Server) -> Server:
    """The history tenant (trained meta-model) with the demo graph loaded beside it, as the
    notebook's first cell tells a reader to set up (the history must come first: it wants an empty
    tenant)."""
    await load_demo(history.services, history.tenant, progress=lambda _: None)
    return history


NUMBER = re.compile(r"-?\d+(?:\.\d+)?")


def cell_text(cell: Any) -> str:
    """What a cell showed: its printed streams and the text of its results."""
    return "".join(o.get("text", "") if o["output_type"] == "stream" else o.get("data", {}).get("text/plain", "")
                   for o in cell.get("outputs", []))


async def test_client_example_walkthrough_notebook(walkthrough: Server, tmp_path: Path):
    """walkthrough.ipynb, executed top to bottom by nbclient in a Python kernel, with MAESTRO_URL and
    MAESTRO_TOKEN set: no cell fails, and what it shows is what the API answers (search, impact
    totals and fields of shop.orders.amount, the prediction and its intervals)."""
    try:
        import ipykernel  # noqa: F401  # the kernel the notebook runs in
        import nbformat
        from nbclient import NotebookClient
        from nbclient.exceptions import CellExecutionError
    except ImportError as missing:
        if IN_CI:
            raise
        pytest.skip(f"nbclient, nbformat and ipykernel (the test extra) are needed to run walkthrough.ipynb: {missing}")
    path = CLIENT_EXAMPLES / "walkthrough.ipynb"
    notebook = nbformat.read(path, as_version=4)
    code = [c for c in notebook.cells if c.cell_type == "code"]
    assert all(not c.outputs and c.execution_count is None for c in code), "save walkthrough.ipynb without outputs"
    assert sum(c.cell_type == "markdown" for c in notebook.cells) >= len(code), "each step needs its explanation"

    client = NotebookClient(notebook, timeout=RUNS_FOR, kernel_name="python3", resources={"metadata": {"path": str(tmp_path)}})
    env = {**os.environ, "MAESTRO_URL": walkthrough.url, "MAESTRO_TOKEN": walkthrough.bearer or ""}
    try:
        await client.async_execute(env=env)
    except CellExecutionError as failed:
        pytest.fail(f"walkthrough.ipynb: a cell failed: {failed}")
    assert not [o for c in code for o in c.outputs if o["output_type"] == "error"]
    shown = {next(line for line in c.source.splitlines() if line.strip()): cell_text(c) for c in code}
    text = "\n".join(shown.values())

    # Search: the counts it prints are the API's.
    search = next(v for k, v in shown.items() if k.startswith("SEARCH ="))
    got = await walkthrough.execute("""{ datasets(filter: {text: "churn"}) { totalCount } projects(filter: {text: "churn"}) { totalCount }
        artifacts(filter: {text: "churn"}) { totalCount } models(filter: {text: "churn"}) { totalCount }
        jobs(filter: {text: "churn"}) { totalCount } }""")
    for kind, listing in got.items():
        assert f"{kind}: {listing['totalCount']} matching" in search, (kind, listing, search)
    assert all(got[kind]["totalCount"] for kind in ("datasets", "projects", "models", "jobs")), got

    # Impact: its totals and every field it lists are the API's.
    impact_cell = next(v for k, v in shown.items() if k.startswith("DATASET, COLUMN ="))
    column = await field_id(walkthrough, "shop.orders", "amount")
    impact = (await walkthrough.execute("""query($id: ID!) { impactAnalysis(id: $id) {
        totals { fields datasets modelVersions models deployments projects people }
        fields { distance node { path dataset { name } } } } }""", {"id": column}))["impactAnalysis"]
    (line,) = [ln for ln in impact_cell.splitlines() if ln.startswith("shop.orders.amount reaches: ")]
    assert json.loads(line.split(": ", 1)[1]) == impact["totals"], (line, impact["totals"])
    assert impact["totals"]["fields"] > 0 and impact["totals"]["models"] > 0, impact["totals"]
    rows = [ln.split() for ln in impact_cell.splitlines()[1:]]
    for f in impact["fields"]:
        assert [str(f["distance"]), f["node"]["dataset"]["name"], f["node"]["path"]] in [r[-3:] for r in rows], (f, impact_cell)

    # The prediction: the one it stored, with the meta-model's version, each value inside its interval.
    version = (await walkthrough.execute("{ metaModel { version } }"))["metaModel"]["version"]
    assert f"Claims classification #272: meta-model v{version}," in text, text
    project = await named_id(walkthrough, "project", "Claims classification #272")
    stored = (await walkthrough.execute("""query($id: ID!) { node(id: $id) { ... on Project {
        predictions(first: 100) { edges { node { target value lower upper modelVersion createdAt } } } } } }""",
                                        {"id": project}))["node"]["predictions"]["edges"]
    latest: dict[str, dict[str, Any]] = {}
    for p in sorted((e["node"] for e in stored if e["node"]["modelVersion"] == f"metamodel-v{version}"), key=lambda p: p["createdAt"]):
        latest[p["target"]] = p
    assert set(latest) == {"SUCCESS_SCORE", "DURATION_DAYS", "COST"}, stored
    numbers = [float(n) for n in NUMBER.findall(text)]
    for p in latest.values():
        assert p["lower"] <= p["value"] <= p["upper"], p
        for key in ("lower", "value", "upper"):
            assert any(abs(n - round(p[key], 2)) < 0.006 for n in numbers), (p, key, text)
    assert f"success score {latest['SUCCESS_SCORE']['value']:.1f}:" in text, text


async def test_client_example_typescript_client(demo: Server, tmp_path: Path):
    """The TypeScript client (graphql-ws over `ws`), installed with `npm ci` from its lock file and
    compiled by the TypeScript it pins (type errors fail the build): it queries, submits a training
    job from the demo's template, follows it with the trainingJobs subscription from a cursor to its
    end, then resumes trainingJobUpdated after the RUNNING event's cursor."""
    node, npm = shutil.which("node"), shutil.which("npm")
    if not (node and npm):
        message = "node and npm are needed to run client-examples/typescript_client.ts"
        if IN_CI:
            pytest.fail(message)
        pytest.skip(message)
    for name in ("typescript_client.ts", *NODE_PROJECT):
        shutil.copy(CLIENT_EXAMPLES / name, tmp_path / name)
    try:
        await run([npm, "ci", "--no-audit", "--no-fund", "--loglevel=error"], "npm ci", {}, cwd=tmp_path)
    except AssertionError as failed:  # no registry within reach: nothing to run the example with
        if IN_CI:
            raise
        pytest.skip(f"npm ci failed, so typescript_client.ts was NOT RUN: {failed}")
    await run([npm, "run", "build", "--silent"], "tsc (npm run build)", {}, cwd=tmp_path)
    ws_url = demo.url.replace("http://", "ws://") + "/graphql"
    out = await run([node, str(tmp_path / "dist" / "typescript_client.js"), ws_url], "typescript_client.ts",
                    {"MAESTRO_TOKEN": demo.bearer or ""})
    lines = assert_json_answers(out, "typescript_client.ts")
    by: dict[str, list[dict[str, Any]]] = {}
    for line in lines:
        by.setdefault(line.pop("from"), []).append(line)
    assert set(by) == {"answer", "job", "resumed"}, out
    answers, job_events = by["answer"], [e["trainingJobs"] for e in by["job"]]
    resumed = [e["trainingJobUpdated"] for e in by["resumed"]]
    assert_returns_data(answers[0], "typescript_client.ts query")
    job = next(a["submitTrainingJob"]["id"] for a in answers if "submitTrainingJob" in a)

    # graphql-ws from Node saw the job's every status change in order, with progress and metrics.
    assert_followed_to_success(job, job_events)

    # Resumed after the RUNNING event's cursor: every change since, once, in order, to the end.
    running = next(e for e in job_events if e["status"] == "RUNNING")
    assert [e["cursor"] for e in resumed] == [e["cursor"] for e in job_events if int(e["cursor"]) > int(running["cursor"])]
    assert resumed[-1]["status"] == "SUCCEEDED"
    assert resumed[-1]["job"]["produced"]["edges"][0]["node"]["metrics"] == job_events[-1]["metrics"]
    assert [e["status"] for e in resumed] == [e["status"] for e in job_events[-len(resumed):]]  # as of each change
