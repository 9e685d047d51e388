"""Training jobs end to end, on each backend: real subprocess jobs on the local runner, submitted
over HTTP and followed by real GraphQL subscribers (gql over graphql-transport-ws), against a real
server. The job is tests/fixtures/training/train.py, run from a model template's entrypoint."""

from __future__ import annotations

import asyncio
import hashlib
import json
import logging
import sys
import uuid
from pathlib import Path
from typing import Any

import pytest

from maestro_graph.auth.principal import Role
from maestro_graph.logs import JsonFormatter
from resolvers.relay import from_global_id
from tests.e2e.conftest import serve
from tests.e2e.test_subscriptions import Subscribed

TRAIN = str(Path(__file__).resolve().parents[1] / "fixtures" / "training" / "train.py")
WAIT = 30  # seconds a job may take to reach a status before a test gives up (never reached when it passes)

JOB_FIELDS = """id name status runner progress epoch metrics message logTail exitCode reason where cancelRequested
  spec startedAt finishedAt metricsHistory { at epoch metrics }
  produced { edges { node { id version metrics model { name } trainedOn { edges { node { id name } } } } } }"""
EVENTS = """subscription($project: ID!) { trainingJobs(projectId: $project) {
  cursor kind id status progress epoch metrics message exitCode reason changedProperties } }"""
JOB_EVENTS = """subscription($id: ID!) { trainingJobUpdated(id: $id) {
  cursor kind id status progress metrics reason job { status logTail } } }"""
SUBMIT = f"""mutation($input: SubmitTrainingJobInput!) {{ submitTrainingJob(input: $input) {{ {JOB_FIELDS} }} }}"""


async def setup(server, *, entrypoint: list[str] | None = None) -> dict[str, str]:
    """A project, a dataset with columns, and a model template whose entrypoint runs train.py."""
    suffix = uuid.uuid4().hex[:6]
    got = await server.execute(f"""mutation {{
      createProject(input: {{name: "churn-{suffix}", problemClass: CLASSIFICATION, complexityScore: 4}}) {{ id }}
      createDataset(input: {{namespace: "warehouse", name: "features_{suffix}"}}) {{ id }}
      registerArtifact(input: {{name: "xgb-template-{suffix}", type: MODEL_TEMPLATE}}) {{ id }} }}""")
    ids = {"project": got["createProject"]["id"], "dataset": got["createDataset"]["id"],
           "template": got["registerArtifact"]["id"]}
    await server.execute("""mutation($id: ID!, $e: EntrypointInput!) { setArtifactEntrypoint(id: $id, entrypoint: $e) { id } }""",
                         {"id": ids["template"], "e": {"command": entrypoint or [sys.executable, TRAIN]}})
    return ids


async def submit(server, ids: dict[str, str], args: list[str], **extra: Any) -> dict[str, Any]:
    payload = {"projectId": ids["project"], "name": extra.pop("name", "train churn"), "templateId": ids["template"],
               "args": args, "datasetIds": [ids["dataset"]], **extra}
    return (await server.execute(SUBMIT, {"input": payload}))["submitTrainingJob"]


async def job(server, job_id: str) -> dict[str, Any]:
    return (await server.execute(f"query($id: ID!) {{ trainingJob(id: $id) {{ {JOB_FIELDS} }} }}", {"id": job_id}))["trainingJob"]


async def until(server, job_id: str, *statuses: str) -> dict[str, Any]:
    for _ in range(WAIT * 20):
        got = await job(server, job_id)
        if got["status"] in statuses:
            return got
        await asyncio.sleep(0.05)
    raise AssertionError(f"job {job_id} stayed {got['status']}, never {statuses}: {got}")


def statuses(events: list[dict[str, Any]], key: str = "trainingJobs") -> list[str]:
    """The distinct statuses events show, in order (a status repeats across progress events)."""
    out: list[str] = []
    for e in events:
        if not out or out[-1] != e[key]["status"]:
            out.append(e[key]["status"])
    return out


async def test_a_job_runs_to_success_while_a_subscriber_sees_every_status_in_order_with_progress(server):
    ids = await setup(server)
    async with Subscribed(server, EVENTS, {"project": ids["project"]}) as sub:
        submitted = await submit(server, ids, ["--epochs", "4", "--sleep", "0.3"], model="churn-xgb")
        done = await until(server, submitted["id"], "SUCCEEDED", "FAILED", "CANCELLED")
        events = await sub.wait_for(3)
        for _ in range(WAIT * 20):  # the last event may trail the read above
            if events[-1]["trainingJobs"]["status"] == "SUCCEEDED":
                break
            await asyncio.sleep(0.05)
    assert done["status"] == "SUCCEEDED", done
    assert statuses(events) == ["PENDING", "RUNNING", "SUCCEEDED"], events
    assert events[0]["trainingJobs"]["kind"] == "CREATED"
    progress = [e["trainingJobs"]["progress"] for e in events]
    assert progress == sorted(progress) and progress[-1] == 1.0, progress
    assert any(0 < p < 1 for p in progress), "a subscriber sees progress between start and end"
    cursors = [int(e["trainingJobs"]["cursor"]) for e in events]
    assert cursors == sorted(cursors)
    assert events[-1]["trainingJobs"]["metrics"] == {"loss": 0.2, "accuracy": 0.9}
    # The node keeps what the job reported, and a model version of what it produced.
    assert done["epoch"] == 4 and done["message"] == "epoch 4 done" and done["exitCode"] == 0
    assert [p["epoch"] for p in done["metricsHistory"]] == [1, 2, 3, 4]
    assert done["logTail"][0].startswith("starting job") and done["logTail"][-1] == "done"
    assert "epoch 4: loss 0.2" in done["logTail"]
    assert done["where"].startswith("pid ") and done["startedAt"] and done["finishedAt"]
    [version] = [e["node"] for e in done["produced"]["edges"]]
    assert version["model"]["name"] == "churn-xgb" and version["version"] == "1"
    assert version["metrics"] == {"loss": 0.2, "accuracy": 0.9}
    assert [e["node"]["id"] for e in version["trainedOn"]["edges"]] == [ids["dataset"]]
    # Impact analysis from the dataset reaches the model version the job produced.
    impact = await server.execute("""query($id: ID!) { impactAnalysis(id: $id) {
        modelVersions { node { id } } models { node { name } } } }""", {"id": ids["dataset"]})
    assert [m["node"]["name"] for m in impact["impactAnalysis"]["models"]] == ["churn-xgb"]
    assert [m["node"]["id"] for m in impact["impactAnalysis"]["modelVersions"]] == [version["id"]]
    # The template's use by the project is logged.
    used = await server.execute("query($id: ID!) { node(id: $id) { ... on Artifact { usageCount } } }", {"id": ids["template"]})
    assert used["node"]["usageCount"] == 1
    # A second success of the same model is its version 2.
    again = await submit(server, ids, ["--epochs", "1", "--sleep", "0"], model="churn-xgb")
    second = await until(server, again["id"], "SUCCEEDED", "FAILED")
    assert [e["node"]["version"] for e in second["produced"]["edges"]] == ["2"]


async def test_a_queued_job_waits_pending_and_its_own_subscriber_sees_each_status(store, tenant, tmp_path):
    hold = tmp_path / "go"
    async with serve(store, tenant, tmp_path, runner_max_parallel=1) as server:
        ids = await setup(server)
        blocker = await submit(server, ids, ["--hold", str(hold), "--epochs", "1", "--sleep", "0"], name="blocker")
        queued = await submit(server, ids, ["--epochs", "2", "--sleep", "0.2"], name="queued")
        await until(server, blocker["id"], "RUNNING")
        assert (await job(server, queued["id"]))["status"] == "PENDING"  # one at a time: it waits
        async with Subscribed(server, JOB_EVENTS, {"id": queued["id"]}) as sub:
            hold.write_text("go")
            await until(server, queued["id"], "SUCCEEDED", "FAILED")
            events = await sub.wait_for(2)
            for _ in range(WAIT * 20):
                if events[-1]["trainingJobUpdated"]["status"] == "SUCCEEDED":
                    break
                await asyncio.sleep(0.05)
        assert statuses(events, "trainingJobUpdated") == ["RUNNING", "SUCCEEDED"], events
        assert events[-1]["trainingJobUpdated"]["job"]["logTail"][-1] == "done"
        listed = await server.execute("""query($p: ID!) { trainingJobs(projectId: $p, status: [SUCCEEDED]) {
            totalCount edges { node { name } } } }""", {"p": ids["project"]})
        assert sorted(e["node"]["name"] for e in listed["trainingJobs"]["edges"]) == ["blocker", "queued"]


def live_members(pgid: int) -> list[int]:
    """The processes of a process group that are alive (a zombie waiting for its parent is not)."""
    out = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text()
            except OSError:
                continue
            state, _ppid, group = stat.rsplit(")", 1)[1].split()[:3]
            if int(group) == pgid and state not in ("Z", "X"):
                out.append(int(entry.name))
    return out


async def test_cancel_arrives_as_cancelled_and_the_process_group_is_gone(store, tenant, tmp_path):
    async with serve(store, tenant, tmp_path, runner_grace_seconds=2.0) as server:
        ids = await setup(server)
        async with Subscribed(server, EVENTS, {"project": ids["project"]}) as sub:
            running = await submit(server, ids, ["--child", "--epochs", "1000", "--sleep", "0.5"])
            seen = await until(server, running["id"], "RUNNING")
            for _ in range(WAIT * 20):  # the child has started once it said so
                seen = await job(server, running["id"])
                if any(line.startswith("child pid") for line in seen["logTail"]):
                    break
                await asyncio.sleep(0.05)
            pid = int(seen["where"].split()[1])
            child = int(next(line for line in seen["logTail"] if line.startswith("child pid")).split()[2])
            asked = await server.execute("mutation($id: ID!) { cancelTrainingJob(id: $id) { status cancelRequested } }",
                                         {"id": running["id"]})
            assert asked["cancelTrainingJob"]["cancelRequested"] is True
            done = await until(server, running["id"], "CANCELLED", "FAILED", "SUCCEEDED")
            events = await sub.wait_for(3)
            for _ in range(WAIT * 20):
                if events[-1]["trainingJobs"]["status"] == "CANCELLED":
                    break
                await asyncio.sleep(0.05)
        assert done["status"] == "CANCELLED" and done["reason"] == "cancelled", done
        assert statuses(events) == ["PENDING", "RUNNING", "CANCELLED"]
        assert live_members(pid) == [], "the job's process group is gone, its child with it"
        assert child not in live_members(pid)
        # An ended job cannot be cancelled again, and can now be deleted.
        err = await server.error("mutation($id: ID!) { cancelTrainingJob(id: $id) { id } }", {"id": running["id"]})
        assert err["extensions"]["code"] == "CONFLICT" and "CANCELLED" in err["message"]


async def test_a_failing_job_arrives_as_failed_with_its_exit_code_and_last_log_lines(server):
    ids = await setup(server)
    submitted = await submit(server, ids, ["--fail", "3", "--sleep", "0"])
    done = await until(server, submitted["id"], "FAILED", "SUCCEEDED")
    assert done["status"] == "FAILED" and done["exitCode"] == 3
    assert done["reason"].startswith("exited with code 3; last log lines:")
    assert done["reason"].endswith("ValueError: column 'amount' has nulls")
    assert done["produced"]["edges"] == []


async def test_a_running_job_cannot_be_deleted_and_its_status_is_not_the_clients_to_set(server):
    ids = await setup(server)
    hold = Path(server.services.training.workdir) / "never"
    running = await submit(server, ids, ["--hold", str(hold)])
    await until(server, running["id"], "RUNNING")
    err = await server.error("mutation($id: ID!) { deleteTrainingJob(id: $id) { deletedIds } }", {"id": running["id"]})
    assert err["extensions"]["code"] == "CONFLICT" and "cancel it" in err["message"]
    err = await server.error('mutation($id: ID!) { updateTrainingJob(id: $id, input: {status: SUCCEEDED}) { id } }',
                             {"id": running["id"]})
    assert "status" in err["message"]  # not a field of UpdateTrainingJobInput: GraphQL refuses it
    await server.execute("mutation($id: ID!) { cancelTrainingJob(id: $id) { id } }", {"id": running["id"]})
    await until(server, running["id"], "CANCELLED")
    deleted = await server.execute("mutation($id: ID!) { deleteTrainingJob(id: $id) { deletedIds } }", {"id": running["id"]})
    assert deleted["deleteTrainingJob"]["deletedIds"] == [running["id"]]


async def test_a_chatty_job_is_written_a_few_times_not_once_a_line(server):
    ids = await setup(server)
    head = await server.services.store.feed_head(server.tenant)
    submitted = await submit(server, ids, ["--chatty", "3000", "--epochs", "1", "--sleep", "0"])
    done = await until(server, submitted["id"], "SUCCEEDED", "FAILED")
    assert done["status"] == "SUCCEEDED" and done["progress"] == 1.0 and done["metrics"]["step"] == 2999
    entries = await server.services.store.feed_since(server.tenant, head, 10_000)
    writes = [e for e in entries if submitted["id"] in e.updated.get("TrainingJob", [])]
    assert len(writes) < 100, f"{len(writes)} writes for 3,000 progress lines"
    assert len(done["metricsHistory"]) <= 400 and done["metricsHistory"][0]["metrics"] == {"step": 0}


async def test_who_may_do_what(store, tenant, tmp_path):
    async with serve(store, tenant, tmp_path) as server:
        ids = await setup(server)
        payload = {"projectId": ids["project"], "name": "j", "templateId": ids["template"]}
        viewer, editor = server.as_(Role.VIEWER), server.as_(Role.EDITOR)
        err = await viewer.error(SUBMIT, {"input": payload})
        assert err["extensions"]["code"] == "FORBIDDEN"
        err = await editor.error("""mutation($id: ID!) { setArtifactEntrypoint(id: $id, entrypoint: {command: ["sh"]}) { id } }""",
                                 {"id": ids["template"]})
        assert err["extensions"]["code"] == "FORBIDDEN"
        free = {"projectId": ids["project"], "name": "free", "command": [sys.executable, TRAIN]}
        err = await editor.error(SUBMIT, {"input": free})
        assert err["extensions"]["code"] == "FORBIDDEN" and "MAESTRO_RUNNER_ALLOW_COMMANDS" in err["message"]
        assert err["extensions"]["field"] == "command"
        ok = (await editor.execute(SUBMIT, {"input": payload}))["submitTrainingJob"]
        assert (await until(server, ok["id"], "SUCCEEDED", "FAILED"))["status"] == "SUCCEEDED"
        assert ok["spec"]["command"] == [sys.executable, TRAIN]
    async with serve(store, tenant, tmp_path, runner_allow_commands=True, mlflow_tracking_uri="http://127.0.0.1:5999") as server:
        done = (await server.as_(Role.EDITOR).execute(SUBMIT, {"input": {**free, "args": ["--epochs", "1", "--sleep", "0"]}}))
        ran = await until(server, done["submitTrainingJob"]["id"], "SUCCEEDED", "FAILED")
        assert ran["status"] == "SUCCEEDED"
        assert "mlflow at http://127.0.0.1:5999" in ran["logTail"]  # a configured tracking server reaches the job


@pytest.mark.parametrize(("change", "field", "words"), [
    ({"env": {"1BAD": "x"}}, "env", "not a variable name"),
    ({"env": {"MAESTRO_TRAINING_JOB_ID": "x"}}, "env", "set by the runner"),
    ({"env": {"A": "1"}, "secretEnv": {"A": "2"}}, "input", "both env and secretEnv"),
    ({"command": ["sh"]}, "input", "exactly one of templateId and command"),
    ({"resources": {"cpu": "lots"}}, "cpu", "should match pattern"),
    ({"runner": "KUBERNETES"}, "runner", "not enabled"),
    ({"timeoutSeconds": -1}, "timeoutSeconds", "greater than 0"),
    ({"env": ["A=1"]}, "env", "valid dictionary"),
])
async def test_bad_submissions_are_refused_naming_the_field_and_change_nothing(server, change, field, words):
    ids = await setup(server)
    payload = {"projectId": ids["project"], "name": "j", "templateId": ids["template"], **change}
    head = await server.services.store.feed_head(server.tenant)
    err = await server.error(SUBMIT, {"input": payload})
    assert err["extensions"]["code"] == "BAD_USER_INPUT" and err["extensions"]["field"] == field, err
    assert words in err["message"], err["message"]
    assert await server.services.store.feed_head(server.tenant) == head  # nothing written


async def test_a_template_must_be_a_model_template_with_an_entrypoint(server):
    ids = await setup(server)
    got = await server.execute("""mutation { registerArtifact(input: {name: "bare", type: MODEL_TEMPLATE}) { id }
        schema: registerArtifact(input: {name: "orders-schema", type: SCHEMA}) { id } }""")
    for template, words in ((got["registerArtifact"]["id"], "has no entrypoint"), (got["schema"]["id"], "not a model_template")):
        err = await server.error(SUBMIT, {"input": {"projectId": ids["project"], "name": "j", "templateId": template}})
        assert err["extensions"]["field"] == "templateId" and words in err["message"]
    err = await server.error("""mutation($id: ID!) { setArtifactEntrypoint(id: $id, entrypoint: {command: [""]}) { id } }""",
                             {"id": got["registerArtifact"]["id"]})
    assert err["extensions"]["code"] == "BAD_USER_INPUT" and "program to run" in err["message"]


CLIENT_LOGGERS = ("gql", "websockets.client", "httpx", "httpcore")


class Lines(logging.Handler):
    """Every log line the server writes, formatted as it writes them (JSON)."""

    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.setFormatter(JsonFormatter())
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        if not record.name.startswith(CLIENT_LOGGERS):  # the test's own clients log what they send
            self.lines.append(self.format(record))


async def test_secret_env_reaches_the_job_and_nowhere_else(store, tenant, tmp_path):
    secret = f"s3cr3t-{uuid.uuid4().hex}"
    lines, root = Lines(), logging.getLogger()
    root.addHandler(lines)
    level = root.level
    root.setLevel(logging.DEBUG)
    try:
        seen = await _run_with_secret(store, tenant, tmp_path, secret)
    finally:
        root.removeHandler(lines)
        root.setLevel(level)
    seen += lines.lines
    assert any("submitTrainingJob" in s for s in seen), "the audit log and feed were read"
    assert any("maestro_graph" in s for s in lines.lines), lines.lines[:5]
    leaks = [s[:200] for s in seen if secret in s]
    assert not leaks, leaks


async def _run_with_secret(store, tenant, tmp_path, secret: str) -> list[str]:
    async with serve(store, tenant, tmp_path) as server:
        ids = await setup(server)
        seen: list[str] = []
        async with Subscribed(server, EVENTS.replace("changedProperties", "changedProperties"), {"project": ids["project"]}) as sub:
            async with Subscribed(server, "subscription { changes { operation created { id changedProperties } "
                                          "updated { id changedProperties } } }") as feed:
                sha = hashlib.sha256(secret.encode()).hexdigest()
                submitted = await submit(server, ids, ["--epochs", "1", "--sleep", "0"],
                                         env={"TRAIN_TOKEN_SHA": sha}, secretEnv={"TRAIN_TOKEN": secret})
                seen.append(json.dumps(submitted))
                done = await until(server, submitted["id"], "SUCCEEDED", "FAILED")
                await asyncio.sleep(0.5)
                seen += [json.dumps(e) for e in sub.events + feed.events]
        assert done["status"] == "SUCCEEDED" and "secret token matches" in done["logTail"], done
        assert done["spec"]["secret_env_names"] == ["TRAIN_TOKEN"]
        seen.append(json.dumps(done))
        audit = await server.execute("{ auditLog(first: 100) { edges { node { operation actor nodeIds outcome } } } }")
        seen.append(json.dumps(audit))
        entries = await server.services.store.feed_since(server.tenant, 0, 10_000)
        seen += [e.to_json() for e in entries]
        nodes = await server.services.store.get_nodes(server.tenant, [submitted["id"]])
        seen += [json.dumps(n.props) for n in nodes.values()]
    return seen


async def test_a_job_running_when_its_server_is_killed_is_reconciled_by_the_next_start(store, store_settings, tenant, tmp_path):
    """A real `maestro-graph serve` runs the job and is killed (SIGKILL: nothing of it runs on);
    the next start on the same store finds the job RUNNING with its owner gone, stops the job's
    process group that outlived it, and marks it FAILED."""
    from tests.e2e.test_feed_processes import graphql, process

    class Via:  # what setup() and submit() need of a server: execute
        def __init__(self, p) -> None:
            self.p = p

        async def execute(self, document: str, variables: dict | None = None) -> dict:
            return await graphql(self.p, tenant, document, variables)

    async with process("first", store_settings, tmp_path) as first:
        ids = await setup(Via(first))
        running = await submit(Via(first), ids, ["--child", "--hold", str(tmp_path / "never")])
        seen = await until(Via(first), running["id"], "RUNNING")
        for _ in range(WAIT * 20):
            seen = await job(Via(first), running["id"])
            if any(line.startswith("child pid") for line in seen["logTail"]):
                break
            await asyncio.sleep(0.05)
        pid = int(seen["where"].split()[1])
        first.proc.kill()
        first.proc.wait(20)
    assert live_members(pid), "the job outlived its server"
    async with process("second", store_settings, tmp_path) as second:
        done = await until(Via(second), running["id"], "FAILED", "SUCCEEDED", "CANCELLED")
    assert done["status"] == "FAILED" and done["reason"].startswith("the server restarted while it ran"), done
    assert live_members(pid) == []


async def test_a_local_job_is_marked_for_the_next_start_before_its_submission_commits(store, tenant, tmp_path):
    """What a next start reconciles is what the data dir marks: the marker must be there from the
    moment the job is committed, or a server dying right after the commit leaves it PENDING for
    ever. Held just after the commit (the submission waits to follow the tenant's feed), the
    committed job is already marked; a submission refused before committing leaves no marker."""
    async with serve(store, tenant, tmp_path) as server:
        ids = await setup(server)
        training = server.services.training
        held, release = asyncio.Event(), asyncio.Event()

        class Held:  # the service's feed, holding follow() until released
            def __init__(self, feed: Any) -> None:
                self.inner = feed

            def __getattr__(self, name: str) -> Any:
                return getattr(self.inner, name)

            async def follow(self, t: str) -> int:
                held.set()
                await release.wait()
                return await self.inner.follow(t)

        training.feed = Held(training.feed)
        try:
            submitting = asyncio.create_task(submit(server, ids, [], name="held"))
            await asyncio.wait_for(held.wait(), WAIT)
            page = await server.execute("query($p: ID) { trainingJobs(projectId: $p) { edges { node { id status } } } }",
                                        {"p": ids["project"]})
            (committed,) = [e["node"] for e in page["trainingJobs"]["edges"]]
            assert committed["status"] == "PENDING"
            marker = tmp_path / "training" / tenant / from_global_id(committed["id"])[1] / "maestro-job"
            assert marker.exists(), "a committed local job has no marker yet"
        finally:
            release.set()
            training.feed = training.feed.inner
        await submitting
        with pytest.raises(Exception, match="timeoutSeconds"):
            await submit(server, ids, [], name="refused", timeoutSeconds=-1)
        markers = list((tmp_path / "training" / tenant).glob("*/maestro-job"))
        assert all(m.parent.name == from_global_id(committed["id"])[1] for m in markers), markers


async def test_a_server_that_stops_fails_its_jobs_instead_of_leaving_them_running(store, tenant, tmp_path):
    async with serve(store, tenant, tmp_path, runner_max_parallel=1, runner_grace_seconds=2.0) as server:
        ids = await setup(server)
        running = await submit(server, ids, ["--hold", str(tmp_path / "never")], name="running")
        queued = await submit(server, ids, [], name="queued")
        await until(server, running["id"], "RUNNING")
    async with serve(store, tenant, tmp_path) as server:
        ran, waited = await job(server, running["id"]), await job(server, queued["id"])
    assert (ran["status"], waited["status"]) == ("FAILED", "FAILED")
    assert ran["reason"].startswith("the server stopped while it ran")
    assert waited["reason"] == "the server stopped before it started"


async def test_a_kubernetes_job_runs_and_is_cancelled_through_the_api(store, tenant, tmp_path):
    """The Kubernetes runner as the server wires it (a lease in the store), against the stand-in
    API server (tests/kubernetes_standin.py: no real one can run here), which runs each pod's
    command as a local process."""
    from tests.kubernetes_standin import KubernetesStandIn

    standin = KubernetesStandIn().start()
    try:
        kubeconfig = standin.kubeconfig(tmp_path / "kubeconfig", namespace="ml")
        async with serve(store, tenant, tmp_path, runners="local,kubernetes", kubeconfig=str(kubeconfig),
                         kubernetes_namespace="ml") as server:
            ids = await setup(server)
            await server.execute("""mutation($id: ID!, $e: EntrypointInput!) { setArtifactEntrypoint(id: $id, entrypoint: $e) { id } }""",
                                 {"id": ids["template"], "e": {"command": [sys.executable, TRAIN], "image": "python:3.11-slim"}})
            secret = f"k8s-{uuid.uuid4().hex}"
            sha = hashlib.sha256(secret.encode()).hexdigest()
            async with Subscribed(server, EVENTS, {"project": ids["project"]}) as sub:
                ran = await submit(server, ids, ["--epochs", "3", "--sleep", "0.2"], runner="KUBERNETES",
                                   env={"TRAIN_TOKEN_SHA": sha}, secretEnv={"TRAIN_TOKEN": secret},
                                   resources={"cpu": "500m", "memory": "256Mi"})
                done = await until(server, ran["id"], "SUCCEEDED", "FAILED", "CANCELLED")
                events = await sub.wait_for(3)
                for _ in range(WAIT * 20):
                    if events[-1]["trainingJobs"]["status"] == "SUCCEEDED":
                        break
                    await asyncio.sleep(0.05)
            assert done["status"] == "SUCCEEDED", done
            assert done["runner"] == "KUBERNETES" and done["where"].startswith("pod train-")
            assert statuses(events) == ["PENDING", "RUNNING", "SUCCEEDED"], events
            assert "secret token matches" in done["logTail"] and done["metrics"] == {"loss": 0.25, "accuracy": 0.875}
            assert [e["node"]["version"] for e in done["produced"]["edges"]] == ["1"]
            raw_id = from_global_id(ran["id"])[1]
            [body] = [b for b in standin.jobs_received if raw_id in json.dumps(b)]
            assert secret not in json.dumps(body)
            container = body["spec"]["template"]["spec"]["containers"][0]
            assert container["image"] == "python:3.11-slim" and container["resources"]["limits"] == {"cpu": "500m", "memory": "256Mi"}

            held = await submit(server, ids, ["--hold", str(tmp_path / "never")], runner="KUBERNETES", name="held")
            await until(server, held["id"], "RUNNING")
            await server.execute("mutation($id: ID!) { cancelTrainingJob(id: $id) { id } }", {"id": held["id"]})
            cancelled = await until(server, held["id"], "CANCELLED", "FAILED", "SUCCEEDED")
            assert cancelled["status"] == "CANCELLED", cancelled
    finally:
        standin.stop()


async def test_a_subscriber_on_another_replica_follows_a_job_and_that_replica_can_cancel(store, store_settings, tenant, tmp_path):
    """Two real `maestro-graph serve` processes on one store: a job runs on A; a subscriber on B
    sees each of its status changes in order (the feed carries them); a cancel sent to B stops
    the job A runs (A learns of it from the feed)."""
    from tests.e2e.test_feed_processes import graphql, process, subscribed

    class Via:
        def __init__(self, p) -> None:
            self.p = p

        async def execute(self, document: str, variables: dict | None = None) -> dict:
            return await graphql(self.p, tenant, document, variables)

    for name in ("a", "b"):
        (tmp_path / name).mkdir()
    async with process("a", store_settings, tmp_path / "a") as a, process("b", store_settings, tmp_path / "b") as b:
        ids = await setup(Via(a))
        async with subscribed(b, tenant, EVENTS, {"project": ids["project"]}) as events:
            ran = await submit(Via(a), ids, ["--epochs", "3", "--sleep", "0.2"])
            seen: list[dict] = []
            while not seen or seen[-1]["trainingJobs"]["status"] not in ("SUCCEEDED", "FAILED"):
                seen.append(await asyncio.wait_for(events.get(), WAIT))
        assert statuses(seen) == ["PENDING", "RUNNING", "SUCCEEDED"], seen
        assert all(e["trainingJobs"]["id"] == ran["id"] for e in seen)

        held = await submit(Via(a), ids, ["--hold", str(tmp_path / "never")], name="held")
        running = await until(Via(a), held["id"], "RUNNING")
        pid = int(running["where"].split()[1])
        await Via(b).execute("mutation($id: ID!) { cancelTrainingJob(id: $id) { id } }", {"id": held["id"]})
        done = await until(Via(b), held["id"], "CANCELLED", "FAILED", "SUCCEEDED")
        assert done["status"] == "CANCELLED" and live_members(pid) == []
