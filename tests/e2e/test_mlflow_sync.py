"""MLflow into the graph, against a real `mlflow server` (SQLite backend store, artifacts under the
test's tmp dir, a loopback port) filled by a real training script (tests/fixtures/mlflow/train.py):
after a sync, impact analysis from a column reaches the versions trained on it and the deployment
serving one; a second sync changes nothing; a run deleted in MLflow leaves the graph; MLflow
down is a clear error that writes nothing; the CLI syncs with progress. Runs on every backend."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from maestro_graph.auth.principal import system
from maestro_graph.domain.errors import IntegrationUnavailable
from maestro_graph.domain.graph import Label, Rel
from maestro_graph.domain.keys import natural_key
from maestro_graph.services.mlflow_sync import MlflowSync
from maestro_graph.types import Direction
from resolvers.relay import to_global_id
from tests.conftest import IN_CI
from tests.e2e.conftest import free_port, serve
from tests.e2e.test_model_cards import pdf_text

BIN = Path(sys.executable).parent
# The MLflow server and the training script run from a venv of their own (tests/run.sh makes it):
# the full `mlflow` pins graphql-core below 3.3 (through graphene), which strawberry cannot run on.
MLFLOW_PYTHON = os.environ.get("MAESTRO_TEST_MLFLOW_PYTHON", "")
TRAIN = Path(__file__).parents[1] / "fixtures" / "mlflow" / "train.py"
ENV = {**os.environ, "MLFLOW_DISABLE_TELEMETRY": "true", "PYTHONWARNINGS": "ignore"}
PG = "postgres://prod:5432"
PRODUCER = "https://github.com/maestro-graph/tests"


class MlflowServer:
    def __init__(self, root: Path) -> None:
        self.root = root
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log = open(root / "mlflow-server.log", "wb")
        self.proc = subprocess.Popen(
            [MLFLOW_PYTHON, "-m", "mlflow", "server", "--host", "127.0.0.1", "--port", str(self.port), "--workers", "1",
             "--backend-store-uri", f"sqlite:///{root / 'mlflow.db'}", "--default-artifact-root", str(root / "artifacts")],
            env=ENV, stdout=self.log, stderr=subprocess.STDOUT, start_new_session=True)
        deadline = time.monotonic() + 180
        while time.monotonic() < deadline:
            assert self.proc.poll() is None, f"mlflow server exited: {(root / 'mlflow-server.log').read_text()[-2000:]}"
            with contextlib.suppress(httpx.HTTPError):
                if httpx.get(self.url + "/health", timeout=2).status_code == 200:
                    return
            time.sleep(0.5)
        self.stop()
        raise AssertionError("mlflow server did not answer /health within 180 s")

    def stop(self) -> None:
        if self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(30)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait(30)
        self.log.close()


@pytest.fixture
def mlflow_server(tmp_path: Path) -> Iterator[MlflowServer]:
    if not MLFLOW_PYTHON:
        message = "MLflow NOT TESTED: set MAESTRO_TEST_MLFLOW_PYTHON to a python with `mlflow` (tests/run.sh makes one)"
        if IN_CI:
            pytest.fail(message)
        pytest.skip(message)
    root = tmp_path / "mlflow"
    root.mkdir()
    server = MlflowServer(root)
    try:
        yield server
    finally:
        server.stop()


def ol_event(job: str, output: tuple[str, str], columns: list[str], inputs: list[tuple[str, str, list[str]]]) -> dict:
    """A COMPLETE event: `job` reads `inputs` and writes `output`, each output column from the input
    column of the same name."""
    lineage = {c: {"inputFields": [{"namespace": ns, "name": n, "field": c} for ns, n, cols in inputs if c in cols]}
               for c in columns}
    return {"eventType": "COMPLETE", "eventTime": "2026-11-01T10:00:00Z", "producer": PRODUCER,
            "schemaURL": "https://openlineage.io/spec/2-0-2/OpenLineage.json#/$defs/RunEvent",
            "run": {"runId": "01900000-0000-7000-8000-00000000000" + str(len(job) % 10)}, "job": {"namespace": "airflow", "name": job},
            "inputs": [{"namespace": ns, "name": n} for ns, n, _ in inputs],
            "outputs": [{"namespace": output[0], "name": output[1], "facets": {
                "schema": {"_producer": PRODUCER, "_schemaURL": "https://openlineage.io/spec/facets/1-1-1/SchemaDatasetFacet.json",
                           "fields": [{"name": c, "type": "string"} for c in columns]},
                "columnLineage": {"_producer": PRODUCER,
                                  "_schemaURL": "https://openlineage.io/spec/facets/1-2-0/ColumnLineageDatasetFacet.json",
                                  "fields": {c: v for c, v in lineage.items() if v["inputFields"]}}}}]}


IMPACT = """query($id: ID!) { impactAnalysis(id: $id) {
  modelVersions { node { id version } } deployments { node { id name } } models { node { name } } } }"""


RUN_JOBS = "query($ids: [ID!]!) { nodes(ids: $ids) { ... on Run { trainingJob { id } } } }"
CARD = "query($id: ID!) { modelCard(modelVersionId: $id) { details { framework trainingJob { id mlflowRunId } } } }"


async def tracked_runs(server, job_gid: str) -> list[str]:
    """The MLflow run ids of the run the training job is TRACKED_AS, read through the API."""
    got = await server.execute("query($id: ID!) { node(id: $id) { ... on TrainingJob { mlflowRun { runId } } } }",
                               {"id": job_gid})
    run = got["node"]["mlflowRun"]
    return [run["runId"]] if run else []


async def field_id(store, tenant: str, namespace: str, name: str, path: str) -> str:
    ds = (await store.get_by_keys(tenant, Label.DATASET, [natural_key(Label.DATASET, {"namespace": namespace, "name": name})]))
    dataset = ds[natural_key(Label.DATASET, {"namespace": namespace, "name": name})]
    fields = (await store.neighbours(tenant, [dataset.id], Rel.HAS_FIELD, Direction.OUT))[dataset.id]
    return next(nb.node.id for nb in fields if nb.node.props["path"] == path)


def cli(store_settings, tenant: str, uri: str) -> subprocess.CompletedProcess:
    env = {**ENV, "MAESTRO_STORE": store_settings.store, "MAESTRO_NEO4J_PASSWORD": store_settings.neo4j_password,
           "MAESTRO_DATA_DIR": str(store_settings.data_dir), "PYTHONPATH": str(Path(__file__).parents[2])}
    return subprocess.run([str(BIN / "maestro-graph"), "mlflow", "sync", "--tracking-uri", uri, "--tenant", tenant],
                          env=env, capture_output=True, text=True, timeout=180)


async def test_mlflow_sync_reaches_impact_analysis_is_idempotent_follows_deletions_and_survives_mlflow_down(
        server, mlflow_server, store_settings, tenant, tmp_path):
    store = server.store.inner
    # The graph first knows the datasets and their columns through OpenLineage.
    events = [
        ol_event("load_orders", (PG, "warehouse.orders"), ["amount", "country", "label"],
                 [(PG, "raw.orders", ["amount", "country", "label"])]),
        ol_event("export_customers", ("s3://lake", "customers.parquet"), ["age", "tenure"], [(PG, "raw.customers", ["age", "tenure"])]),
    ]
    async with httpx.AsyncClient(timeout=30, headers=server.headers) as http:
        for ev in events:
            assert (await http.post(server.url + "/api/v1/lineage", json=ev)).status_code in (200, 201), ev["job"]
    project = (await server.execute('mutation { createProject(input: {name: "Churn", problemClass: CLASSIFICATION, '
                                    'complexityScore: 4}) { id } }'))["createProject"]["id"]

    # A training job of the graph, as the runner starts one: its id in MAESTRO_TRAINING_JOB_ID, which
    # the script tags its second run with (maestro.training_job).
    job = (await server.services.graph.create(system(tenant, "test"), Label.TRAINING_JOB, [
        {"name": "churn-train", "status": "SUCCEEDED", "runner": "local", "submitted_by": "ada"}]))[0]

    # A real training script logs three runs on two datasets and registers two versions.
    trained = await asyncio.to_thread(subprocess.run, [MLFLOW_PYTHON, str(TRAIN), "Churn"], capture_output=True, text=True,
                                      timeout=300, env={**ENV, "MLFLOW_TRACKING_URI": mlflow_server.url,
                                                        "MAESTRO_TRAINING_JOB_ID": job.id})
    assert trained.returncode == 0, trained.stderr[-3000:]
    runs = json.loads(trained.stdout.strip().splitlines()[-1])["runs"]

    # `serve` with a tracking URI syncs on its own (the replica holding the store's lease).
    model_key = natural_key(Label.MODEL, {"name": "churn-model"})
    (tmp_path / "follower").mkdir()
    async with serve(store, tenant, tmp_path / "follower", mlflow_tracking_uri=mlflow_server.url,
                     mlflow_sync_interval=1.0):
        for _ in range(1200):
            if await store.get_by_keys(tenant, Label.MODEL, [model_key]):
                break
            await asyncio.sleep(0.1)
    assert await store.get_by_keys(tenant, Label.MODEL, [model_key]), "serve's MLflow follower synced"

    sync = MlflowSync(server.services.graph, attempts=2, backoff=0.1)
    actor = system(tenant, "test")
    first = await sync.sync(actor, mlflow_server.url)
    assert (first.experiments, first.runs, first.models, first.versions) == (2, 3, 1, 2), first  # 2: with "Default"
    assert first.unmatched == [] and not first.changed  # the follower took it all in already

    model = (await store.get_by_keys(tenant, Label.MODEL, [natural_key(Label.MODEL, {"name": "churn-model"})]))
    model = next(iter(model.values()))
    versions = {nb.node.props["version"]: nb.node
                for nb in (await store.neighbours(tenant, [model.id], Rel.VERSION_OF, Direction.IN))[model.id]}
    assert sorted(versions) == ["1", "2"]
    v1, v2 = versions["1"], versions["2"]
    assert v2.props["mlflow_aliases"] == ["champion"] and "mlflow_aliases" not in v1.props
    assert (v1.props["mlflow_run_id"], v2.props["mlflow_run_id"]) == (runs[0], runs[1])
    assert v2.props["params"]["C"] == "1.0" and v2.props["metrics"]["loss"] == pytest.approx(0.2 + 0.2)
    # The framework, from the flavors of the logged model each version was registered from.
    assert re.fullmatch(r"sklearn \d+\.\d+(\.\d+)?\S*", v2.props["framework"]), v2.props.get("framework")
    assert v1.props["framework"] == v2.props["framework"]
    run_nodes = await store.get_by_keys(tenant, Label.RUN, [natural_key(Label.RUN, {"run_id": r}) for r in runs])
    assert len(run_nodes) == 3
    loss = run_nodes[natural_key(Label.RUN, {"run_id": runs[0]})].props["facets"]["mlflow"]["metrics"]["loss"]
    assert loss == {"last": pytest.approx(0.3), "min": pytest.approx(0.3), "max": pytest.approx(1.1), "steps": 5}
    owners = (await store.neighbours(tenant, [model.id], Rel.OWNS, Direction.IN))[model.id]
    assert [nb.node.props["name"] for nb in owners] == ["Churn"]  # by the run tag maestro.project
    features = (await store.neighbours(tenant, [v2.id], Rel.USES_FEATURE, Direction.OUT))[v2.id]
    assert sorted(nb.node.props["path"] for nb in features) == ["age", "amount", "country", "label", "tenure"]

    # The training job is linked to the MLflow run it ran as, both ways through the API, and PRODUCED v2.
    job_gid = to_global_id(Label.TRAINING_JOB, job.id)
    assert await tracked_runs(server, job_gid) == [runs[1]]
    run_gid = to_global_id(Label.RUN, run_nodes[natural_key(Label.RUN, {"run_id": runs[1]})].id)
    other_gid = to_global_id(Label.RUN, run_nodes[natural_key(Label.RUN, {"run_id": runs[0]})].id)
    got = await server.execute(RUN_JOBS, {"ids": [run_gid, other_gid]})
    assert [n["trainingJob"] and n["trainingJob"]["id"] for n in got["nodes"]] == [job_gid, None]
    produced = (await store.neighbours(tenant, [job.id], Rel.PRODUCED, Direction.OUT))[job.id]
    assert [nb.node.id for nb in produced] == [v2.id]

    # A deployment serves version 2; impact analysis from orders.amount reaches both versions and it.
    deployment = (await server.execute('mutation { createDeployment(input: {name: "churn-api", environment: "prod"}) { id } }'))
    deployment_id = deployment["createDeployment"]["id"]
    await server.execute("mutation($s: ID!, $t: ID!) { link(input: {relationship: SERVES, sourceId: $s, targetId: $t}) { __typename } }",
                         {"s": deployment_id, "t": to_global_id(Label.MODEL_VERSION, v2.id)})
    amount = await field_id(store, tenant, PG, "raw.orders", "amount")  # upstream of warehouse.orders.amount
    impact = (await server.execute(IMPACT, {"id": to_global_id(Label.FIELD, amount)}))["impactAnalysis"]
    assert sorted(mv["node"]["version"] for mv in impact["modelVersions"]) == ["1", "2"]
    assert [d["node"]["id"] for d in impact["deployments"]] == [deployment_id]
    tenure = await field_id(store, tenant, "s3://lake", "customers.parquet", "tenure")
    impact = (await server.execute(IMPACT, {"id": to_global_id(Label.FIELD, tenure)}))["impactAnalysis"]
    assert [mv["node"]["version"] for mv in impact["modelVersions"]] == ["2"]

    # The synced version's model card, in all three formats, with what MLflow and the graph say.
    card = f"{server.url}/models/{to_global_id(Label.MODEL_VERSION, v2.id)}/card"
    async with httpx.AsyncClient(timeout=60, headers=server.headers) as http:
        md, html, pdf = [await http.get(card, params={"format": f}) for f in ("md", "html", "pdf")]
    assert (md.status_code, html.status_code, pdf.status_code) == (200, 200, 200)
    for words in ("churn-model", "champion", "warehouse.orders", "customers.parquet", "churn-api", "loss", "Churn",
                  "churn-train", f"MLflow run `{runs[1]}`"):
        assert words in md.text, words
    details = (await server.execute(CARD, {"id": to_global_id(Label.MODEL_VERSION, v2.id)}))["modelCard"]["details"]
    assert details["trainingJob"] == {"id": job_gid, "mlflowRunId": runs[1]}
    assert details["framework"] == v2.props["framework"] and f"| Framework | {v2.props['framework']} |" in md.text
    assert "<html" in html.text.lower() and "champion" in html.text
    pdf_words = pdf_text(pdf.content, mlflow_server.root)
    assert "churn-model" in pdf_words and "champion" in pdf_words and "warehouse.orders" in pdf_words

    # A second sync changes nothing: no feed entry.
    head = (await store.feed_heads())[tenant]
    again = await sync.sync(actor, mlflow_server.url)
    assert not again.changed, again.summary()
    assert (await store.feed_heads())[tenant] == head

    # The CLI, as an operator runs it: progress on stderr, the summary on stdout; nothing to do.
    ran = await asyncio.to_thread(cli, store_settings, tenant, mlflow_server.url)
    assert ran.returncode == 0, ran.stderr[-3000:]
    assert "reading runs" in ran.stderr and "the graph was up to date" in ran.stdout, (ran.stdout, ran.stderr[-2000:])
    assert (await store.feed_heads())[tenant] == head

    # The training-job tag moves from the second run to the third: the link follows it.
    from mlflow import MlflowClient

    client = MlflowClient(mlflow_server.url)
    await asyncio.to_thread(client.set_tag, runs[2], "maestro.training_job", job.id)
    await asyncio.to_thread(client.delete_tag, runs[1], "maestro.training_job")
    # A framework a person wrote on a version stays through the syncs.
    await server.execute('mutation($id: ID!) { updateModelVersion(id: $id, input: {framework: "scikit-learn, by hand"}) { id } }',
                         {"id": to_global_id(Label.MODEL_VERSION, v1.id)})
    moved = await sync.sync(actor, mlflow_server.url)
    assert (moved.linked, moved.unlinked) == (1, 1), moved.summary()
    assert await tracked_runs(server, job_gid) == [runs[2]]
    got = await server.execute("query($ids: [ID!]!) { nodes(ids: $ids) { ... on ModelVersion { framework } } }",
                               {"ids": [to_global_id(Label.MODEL_VERSION, v.id) for v in (v1, v2)]})
    assert [n["framework"] for n in got["nodes"]] == ["scikit-learn, by hand", v2.props["framework"]]

    # A run deleted in MLflow leaves the graph at the next sync, and its link with it.
    await asyncio.to_thread(client.delete_run, runs[2])
    gone = await sync.sync(actor, mlflow_server.url)
    assert gone.deleted == 1 and gone.runs == 2, gone.summary()
    left = await store.get_by_keys(tenant, Label.RUN, [natural_key(Label.RUN, {"run_id": r}) for r in runs])
    assert sorted(n.props["run_id"] for n in left.values()) == sorted(runs[:2])
    assert await tracked_runs(server, job_gid) == []
    head = (await store.feed_heads())[tenant]

    # MLflow down: a clear error, nothing written, and the server keeps serving.
    mlflow_server.stop()
    with pytest.raises(IntegrationUnavailable) as down:
        await sync.sync(actor, mlflow_server.url)
    assert down.value.extensions["code"] == "SERVICE_UNAVAILABLE"
    assert f"the MLflow tracking server at {mlflow_server.url} could not be read" in down.value.message
    assert (await store.feed_heads())[tenant] == head
    ran = await asyncio.to_thread(cli, store_settings, tenant, mlflow_server.url)
    assert ran.returncode == 1 and "could not be read" in ran.stderr and "Nothing was written" in ran.stderr
    assert "Traceback" not in ran.stderr, ran.stderr[-2000:]
    assert (await store.feed_heads())[tenant] == head
    assert (await server.execute("{ models(first: 5) { totalCount } }"))["models"]["totalCount"] == 1
