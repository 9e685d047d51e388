"""The Kubernetes runner against the stand-in API server (tests/kubernetes_standin.py): the jobs
run for real as local processes, the runner sees them only through the API: watches, pod logs."""

from __future__ import annotations

import asyncio
import hashlib
import json
import socket
import sys
from pathlib import Path
from typing import Any, Callable

import pytest

from kubernetes import client, config

from maestro_graph.domain.errors import BadInput, RunnerUnavailable
from maestro_graph.runners.base import Finish, Launch, Resources
from maestro_graph.runners.kubernetes import ANNOTATION_CANCELLED, KubernetesRunner, job_name
from tests.kubernetes_standin import KubernetesStandIn

TENANT = "acme corp/ü"  # not a valid label value: the labels carry a hash
WAIT = 30.0

# Prints a progress line and a log line, waits for the file GATE (if given), then prints a hash of
# the secret it was given (its value is nowhere in the Job) and a last progress line, and exits
# with EXIT.
SCRIPT = """
import hashlib, json, os, pathlib, sys, time
print(json.dumps({"progress": 0.5, "epoch": 1, "metrics": {"loss": 0.3}}), flush=True)
print("line one", flush=True)
gate = os.environ.get("GATE")
for _ in range(600):
    if not gate or pathlib.Path(gate).exists():
        break
    time.sleep(0.05)
print("secret " + hashlib.sha256(os.environ.get("TOKEN", "").encode()).hexdigest()[:12], flush=True)
print(json.dumps({"progress": 1.0}), flush=True)
sys.exit(int(os.environ.get("EXIT", "0")))
"""
SECRET = "s3cret-value"
LINES = ['{"progress": 0.5, "epoch": 1, "metrics": {"loss": 0.3}}', "line one",
         "secret " + hashlib.sha256(SECRET.encode()).hexdigest()[:12],
         '{"progress": 1.0}']


class Recorder:
    """A Reporter that keeps every call, in order."""

    def __init__(self) -> None:
        self.calls: list[tuple] = []

    async def started(self, tenant: str, job_id: str, where: str) -> None:
        self.calls.append(("started", tenant, job_id, where))

    async def line(self, tenant: str, job_id: str, text: str) -> None:
        self.calls.append(("line", tenant, job_id, text))

    async def finished(self, tenant: str, job_id: str, finish: Finish) -> None:
        self.calls.append(("finished", tenant, job_id, finish))

    def lines(self, job_id: str) -> list[str]:
        return [c[3] for c in self.calls if c[0] == "line" and c[2] == job_id]

    def finish(self, job_id: str) -> Finish | None:
        ends = [c[3] for c in self.calls if c[0] == "finished" and c[2] == job_id]
        return ends[0] if ends else None


class SharedLease:
    """One lease several runners compete for, as a lease in the store would be."""

    def __init__(self) -> None:
        self.holder: str | None = None

    def for_(self, me: str) -> Any:
        shared = self

        class Lease:
            async def hold(self) -> bool:
                if shared.holder in (None, me):
                    shared.holder = me
                return shared.holder == me

            async def release(self) -> None:
                if shared.holder == me:
                    shared.holder = None

        return Lease()


async def until(check: Callable[[], Any], what: str) -> Any:
    async def poll() -> Any:
        while not (value := check()):
            await asyncio.sleep(0.05)
        return value
    try:
        return await asyncio.wait_for(poll(), WAIT)
    except asyncio.TimeoutError:
        raise AssertionError(f"waited {WAIT} s for {what}") from None


@pytest.fixture
def standin():
    server = KubernetesStandIn().start()
    yield server
    server.stop()


@pytest.fixture
async def runners(standin, tmp_path):
    made: list[KubernetesRunner] = []
    kubeconfig = standin.kubeconfig(tmp_path / "kubeconfig")

    async def make(reporter: Recorder, lease: Any = None, **options: Any) -> KubernetesRunner:
        runner = KubernetesRunner("default", str(kubeconfig), lease, watch_seconds=5, lease_seconds=0.2,
                                  retry_seconds=0.2, request_seconds=10, **options)
        made.append(runner)
        await runner.start(reporter)
        return runner

    yield make
    for runner in made:
        await asyncio.wait_for(runner.close(), WAIT)


def launch(job_id: str, tmp_path: Path, *, exit_code: int = 0, gate: Path | None = None,
           timeout: float = 120, image: str | None = "python:3.11") -> Launch:
    env = {"EXIT": str(exit_code), "PYTHONUNBUFFERED": "1"}
    if gate is not None:
        env["GATE"] = str(gate)
    return Launch(tenant=TENANT, job_id=job_id, name="train", command=[sys.executable, "-c", SCRIPT],
                  env=env, secret_env={"TOKEN": SECRET}, image=image,
                  resources=Resources(cpu="500m", memory="256Mi", gpus=1), timeout_seconds=timeout)


async def watching(standin: KubernetesStandIn) -> None:
    await until(lambda: {"job", "pod"} <= {kind for kind, _ in standin.watches}, "the runner to watch")


async def test_a_job_runs_to_its_end_and_reports_each_line_once_in_order(standin, runners, tmp_path):
    reporter = Recorder()
    runner = await runners(reporter)
    await watching(standin)
    await runner.submit(launch("TrainingJob:ok", tmp_path))
    finish = await until(lambda: reporter.finish("TrainingJob:ok"), "the job's end")

    assert finish == Finish(exit_code=0)
    ours = [c for c in reporter.calls if c[2] == "TrainingJob:ok"]
    assert ours[0][0] == "started" and ours[0][3].startswith("pod train-trainingjob-ok-")
    assert [c[3] for c in ours[1:-1]] == LINES and ours[-1][0] == "finished"
    assert all(c[1] == TENANT for c in ours)

    body = standin.jobs_received[0]
    name = job_name(TENANT, "TrainingJob:ok")
    assert body["metadata"]["name"] == name
    labels, annotations = body["metadata"]["labels"], body["metadata"]["annotations"]
    assert labels["app.kubernetes.io/managed-by"] == "maestro-graph"
    assert annotations["maestro.graph/tenant"] == TENANT
    assert annotations["maestro.graph/job-id"] == "TrainingJob:ok"
    assert TENANT not in labels.values() and "TrainingJob:ok" not in labels.values()
    spec = body["spec"]
    assert (spec["backoffLimit"], spec["activeDeadlineSeconds"], spec["ttlSecondsAfterFinished"]) == (0, 120, 3600)
    pod = spec["template"]["spec"]
    assert pod["restartPolicy"] == "Never" and spec["template"]["metadata"]["labels"] == labels
    container = pod["containers"][0]
    assert container["image"] == "python:3.11"
    assert container["resources"] == {"requests": {"cpu": "500m", "memory": "256Mi"},
                                      "limits": {"cpu": "500m", "memory": "256Mi", "nvidia.com/gpu": "1"}}
    # The secret's value is in the Secret, never in the Job.
    assert SECRET not in json.dumps(body)
    token = next(e for e in container["env"] if e["name"] == "TOKEN")
    assert token == {"name": "TOKEN", "valueFrom": {"secretKeyRef": {"key": "TOKEN", "name": name}}}
    secret = standin.secrets[("default", name)]
    assert [ref.uid for ref in secret.metadata.owner_references] == [standin.jobs[("default", name)].metadata.uid]


async def test_a_failing_command_reports_its_exit_code(standin, runners, tmp_path):
    reporter = Recorder()
    runner = await runners(reporter)
    await runner.submit(launch("TrainingJob:bad", tmp_path, exit_code=3))
    finish = await until(lambda: reporter.finish("TrainingJob:bad"), "the job's end")

    assert finish.exit_code == 3 and not finish.cancelled and not finish.timed_out
    assert "exited with code 3" in finish.reason and "BackoffLimitExceeded" in finish.reason
    assert reporter.lines("TrainingJob:bad") == LINES


async def test_a_dropped_watch_resumes_from_the_last_resource_version(standin, runners, tmp_path):
    reporter = Recorder()
    runner = await runners(reporter)
    await watching(standin)
    gate = tmp_path / "gate"
    await runner.submit(launch("TrainingJob:drop", tmp_path, gate=gate))
    await until(lambda: "line one" in reporter.lines("TrainingJob:drop"), "the first lines")
    lists, watches = len(standin.lists), len(standin.watches)

    await asyncio.to_thread(standin.drop_watches)
    await asyncio.to_thread(standin.drop_logs)
    dropped = dict(standin.dropped)
    assert dropped.get("job") and dropped.get("pod"), standin.dropped
    # Both watches come back from the version their dropped stream had reached: no re-list.
    await until(lambda: {("job", dropped["job"]), ("pod", dropped["pod"])} <= set(standin.watches[watches:]),
                "the watches to resume")
    assert len(standin.lists) == lists
    gate.touch()
    finish = await until(lambda: reporter.finish("TrainingJob:drop"), "the job's end")

    assert finish == Finish(exit_code=0)
    assert reporter.lines("TrainingJob:drop") == LINES
    assert [c[0] for c in reporter.calls].count("started") == 1


async def test_410_gone_lists_again_and_still_reports_the_end(standin, runners, tmp_path):
    reporter = Recorder()
    runner = await runners(reporter)
    await watching(standin)
    gate = tmp_path / "gate"
    await runner.submit(launch("TrainingJob:gone", tmp_path, gate=gate))
    await until(lambda: "line one" in reporter.lines("TrainingJob:gone"), "the first lines")
    lists = standin.lists.count("job")

    await asyncio.to_thread(standin.expire_history)
    await asyncio.to_thread(standin.drop_watches)
    await until(lambda: standin.lists.count("job") > lists, "a re-list after 410 Gone")
    gate.touch()
    finish = await until(lambda: reporter.finish("TrainingJob:gone"), "the job's end")

    assert finish == Finish(exit_code=0)
    assert reporter.lines("TrainingJob:gone") == LINES


async def test_a_cancel_from_another_replica_is_reported_as_cancelled(standin, runners, tmp_path):
    lease = SharedLease()
    watcher, other = Recorder(), Recorder()
    runner = await runners(watcher, lease.for_("a"))
    await until(lambda: lease.holder == "a", "replica a to hold the lease")
    replica = await runners(other, lease.for_("b"))
    await watching(standin)
    await runner.submit(launch("TrainingJob:cancel", tmp_path, gate=tmp_path / "never"))
    await until(lambda: "line one" in watcher.lines("TrainingJob:cancel"), "the first lines")
    name = job_name(TENANT, "TrainingJob:cancel")
    assert standin.process_alive("default", name)

    await replica.cancel(TENANT, "TrainingJob:cancel")
    finish = await until(lambda: watcher.finish("TrainingJob:cancel"), "the cancel to be reported")

    assert finish.cancelled and finish.exit_code is None
    assert not standin.process_alive("default", name)
    assert ("default", name) not in standin.jobs and ("default", name) not in standin.secrets
    assert not [p for p in standin.pods.values() if p.metadata.labels["job-name"] == name]
    assert other.calls == []  # the replica without the lease watched nothing
    # The mark that told the watching replica it was a cancel, on the Job as it was deleted:
    deleted = [o for _, kind, _, type_, o in standin.history
               if kind == "job" and type_ == "DELETED" and o["metadata"]["name"] == name]
    assert deleted[0]["metadata"]["annotations"][ANNOTATION_CANCELLED] == "true"
    await replica.cancel(TENANT, "TrainingJob:cancel")  # gone: nothing to do
    await replica.cancel(TENANT, "TrainingJob:unknown")


async def test_a_job_deleted_by_someone_else_is_reported_deleted_not_cancelled(standin, runners, tmp_path):
    reporter = Recorder()
    runner = await runners(reporter)
    await runner.submit(launch("TrainingJob:kubectl", tmp_path, gate=tmp_path / "never"))
    await until(lambda: "line one" in reporter.lines("TrainingJob:kubectl"), "the first lines")
    name = job_name(TENANT, "TrainingJob:kubectl")
    api = config.new_client_from_config(config_file=str(tmp_path / "kubeconfig"))
    try:  # what `kubectl delete job` does
        await asyncio.to_thread(client.BatchV1Api(api).delete_namespaced_job, name, "default",
                                propagation_policy="Background")
    finally:
        api.close()
    finish = await until(lambda: reporter.finish("TrainingJob:kubectl"), "the deletion to be reported")

    assert finish == Finish(exit_code=None, reason="its Kubernetes Job was deleted")
    assert not standin.process_alive("default", name)


async def test_only_the_lease_holder_watches_and_another_takes_over(standin, runners, tmp_path):
    lease = SharedLease()
    first, second = Recorder(), Recorder()
    runner = await runners(first, lease.for_("a"))
    await until(lambda: lease.holder == "a", "replica a to hold the lease")
    await runners(second, lease.for_("b"))
    gate = tmp_path / "gate"
    await runner.submit(launch("TrainingJob:lease", tmp_path, gate=gate))
    await until(lambda: "line one" in first.lines("TrainingJob:lease"), "the first lines")
    assert second.calls == []

    await asyncio.wait_for(runner.close(), WAIT)  # releases the lease, as a stopping server does
    await until(lambda: second.lines("TrainingJob:lease"), "replica b to take over")
    gate.touch()
    finish = await until(lambda: second.finish("TrainingJob:lease"), "replica b to report the end")

    assert finish == Finish(exit_code=0)
    assert first.finish("TrainingJob:lease") is None
    # The new watcher read the log from its start: it knows nothing of what the first one sent.
    assert second.lines("TrainingJob:lease") == LINES
    assert second.calls[0][0] == "started"


async def test_a_job_past_its_deadline_is_reported_timed_out(standin, runners, tmp_path):
    reporter = Recorder()
    runner = await runners(reporter)
    await runner.submit(launch("TrainingJob:slow", tmp_path, gate=tmp_path / "never", timeout=1))
    finish = await until(lambda: reporter.finish("TrainingJob:slow"), "the timeout")

    assert finish.timed_out and not finish.cancelled
    assert "timed out after 1 s" in finish.reason
    assert not standin.process_alive("default", job_name(TENANT, "TrainingJob:slow"))


async def test_a_job_without_an_image_is_refused(runners, tmp_path):
    runner = await runners(Recorder())
    with pytest.raises(BadInput) as refused:
        await runner.submit(launch("TrainingJob:noimage", tmp_path, image=None))
    assert refused.value.extensions == {"code": "BAD_USER_INPUT", "field": "image"}


async def test_an_api_server_that_is_down_is_a_sentence_not_a_traceback(tmp_path):
    with socket.socket() as s:  # a port nothing listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    down = KubernetesStandIn()
    down.port = port
    runner = KubernetesRunner("default", str(down.kubeconfig(tmp_path / "kubeconfig")), request_seconds=5)
    with pytest.raises(RunnerUnavailable) as refused:
        await runner.submit(launch("TrainingJob:down", tmp_path))
    error = refused.value
    assert error.extensions == {"code": "SERVICE_UNAVAILABLE"}
    assert error.message.startswith(f"the Kubernetes API server at http://127.0.0.1:{port} cannot be reached")
    assert "Connection refused" in error.message and "Traceback" not in error.message
    assert error.__cause__ is None
    await runner.close()
