"""The training jobs service (services/training.py) on every backend, driven by a runner the test
steers by hand: what a runner reports becomes each status change once, in order, whatever is
repeated or raced between replicas; a cancel committed on one replica reaches the replica that
runs the job through the change feed. (The real runners are tested in tests/e2e and
tests/unit/test_kubernetes_runner.py; here the service's rules are.)"""

from __future__ import annotations

import asyncio

import pytest

from maestro_graph.auth.principal import Principal, Role
from maestro_graph.domain.audit import AuditQuery
from maestro_graph.domain.errors import Conflict
from maestro_graph.domain.graph import Label, Rel
from maestro_graph.runners.base import Finish, Launch, Reporter
from maestro_graph.services import Services
from maestro_graph.services.feed import FeedFollower
from maestro_graph.services.topology_cache import TopologyCache
from maestro_graph.types import Direction


class SteeredRunner:
    """A runner that starts nothing: it keeps what it was handed, and the test reports for it."""

    name = "local"

    def __init__(self) -> None:
        self.launched: list[Launch] = []
        self.cancelled: list[str] = []
        self.reporter: Reporter | None = None

    async def start(self, reporter: Reporter) -> None:
        self.reporter = reporter

    def holds(self, tenant: str, job_id: str) -> bool:
        return any(launch.job_id == job_id for launch in self.launched) and job_id not in self.cancelled

    async def submit(self, launch: Launch) -> None:
        self.launched.append(launch)

    async def cancel(self, tenant: str, job_id: str) -> None:
        self.cancelled.append(job_id)

    async def close(self) -> None:
        pass


def who(tenant: str, role: Role = Role.EDITOR) -> Principal:
    return Principal(role.label, tenant, frozenset({role}))


async def replica(store) -> tuple[Services, SteeredRunner]:
    runner = SteeredRunner()
    feed = FeedFollower(store, poll=0.05)
    services = Services.build(store, topology=TopologyCache(store, "off", feed=feed), runners={"local": runner},
                              allow_commands=True, coalesce=0.05)
    await feed.start()
    await services.training.start()
    return services, runner


async def close(services: Services) -> None:
    await services.training.close()
    await services.feed.close()


async def submitted(services: Services, tenant: str, **extra) -> str:
    project = (await services.graph.create(who(tenant), Label.PROJECT, [
        {"name": f"p-{len(extra)}-{id(extra)}", "problem_class": "classification", "complexity_score": 3}]))[0]
    dataset = (await services.graph.create(who(tenant), Label.DATASET, [{"namespace": "wh", "name": f"d{id(extra)}"}]))[0]
    job = await services.training.submit(who(tenant), {"name": "train", "project_id": project.id, "command": ["true"],
                                                       "dataset_ids": [dataset.id], **extra})
    return job.id


async def statuses_written(store, tenant: str, job_id: str) -> list[str]:
    entries = await store.feed_since(tenant, 0, 10_000)
    out = []
    for e in entries:
        status = (e.props.get(job_id) or {}).get("status")
        if status is not None and (not out or out[-1] != status):
            out.append(status)
    return out


async def test_repeated_reports_make_each_status_change_once(store, tenant):
    services, runner = await replica(store)
    try:
        job_id = await submitted(services, tenant)
        training = services.training
        await training.started(tenant, job_id, "pid 1")
        await training.started(tenant, job_id, "pid 1")  # a re-listed watch says it again
        for i in range(5):
            await training.line(tenant, job_id, f'{{"progress": {(i + 1) / 5}, "metrics": {{"loss": {1 / (i + 1)}}}}}')
        await training.finished(tenant, job_id, Finish(0))
        await training.finished(tenant, job_id, Finish(0))
        await training.line(tenant, job_id, "a line after the end is dropped")
        await training.finished(tenant, job_id, Finish(1, "too late"))
        job = (await services.graph.get(tenant, [job_id]))[job_id]
        assert job.props["status"] == "SUCCEEDED" and job.props["progress"] == 1.0 and job.props["metrics"] == {"loss": 0.2}
        assert "a line after the end is dropped" not in job.props.get("log_tail", [])
        assert await statuses_written(store, tenant, job_id) == ["PENDING", "RUNNING", "SUCCEEDED"]
        produced = (await store.neighbours(tenant, [job_id], Rel.PRODUCED, Direction.OUT))[job_id]
        assert len(produced) == 1 and produced[0].node.props["metrics"] == {"loss": 0.2}
        audit = await store.audit_log(tenant, AuditQuery(actor="maestro:runner", first=50))
        assert sorted(r.operation for r in audit.records) == ["trainingJobFinished", "trainingJobStarted"]
    finally:
        await close(services)


async def test_two_replicas_reporting_the_same_end_at_once_write_it_once(store, second_store, tenant):
    (one, _), (two, _) = await replica(store), await replica(second_store)
    try:
        job_id = await submitted(one, tenant)
        await one.training.started(tenant, job_id, "pod x")
        await asyncio.gather(one.training.finished(tenant, job_id, Finish(0)),
                             two.training.finished(tenant, job_id, Finish(0)))
        produced = (await store.neighbours(tenant, [job_id], Rel.PRODUCED, Direction.OUT))[job_id]
        assert len(produced) == 1, "one model version, not one per replica"
        audit = await store.audit_log(tenant, AuditQuery(operation="trainingJobFinished", first=50))
        assert len(audit.records) == 1
    finally:
        await close(one)
        await close(two)


async def test_a_cancel_on_another_replica_reaches_the_runner_that_holds_the_job(store, second_store, tenant):
    (owner, runner), (other, other_runner) = await replica(store), await replica(second_store)
    try:
        job_id = await submitted(owner, tenant)
        await owner.training.started(tenant, job_id, "pid 2")
        asked = await other.training.cancel(who(tenant), job_id)
        assert asked.props["status"] == "RUNNING" and asked.props["cancel_requested"] is True
        for _ in range(400):  # the owner learns of it from the feed
            if runner.cancelled:
                break
            await asyncio.sleep(0.025)
        assert runner.cancelled == [job_id] and other_runner.cancelled == []
        await owner.training.finished(tenant, job_id, Finish(-15, "cancelled", cancelled=True))
        job = (await store.get_nodes(tenant, [job_id]))[job_id]
        assert job.props["status"] == "CANCELLED" and job.props["exit_code"] == -15
        with pytest.raises(Conflict, match="only a PENDING or RUNNING job can be cancelled"):
            await other.training.cancel(who(tenant), job_id)
    finally:
        await close(owner)
        await close(other)


async def test_a_job_nobody_runs_any_more_is_cancelled_at_once(store, tenant):
    services, runner = await replica(store)
    try:
        job_id = await submitted(services, tenant)
        runner.launched.clear()  # as if its process had gone: no runner holds it, and its owner is this process
        job = await services.training.cancel(who(tenant), job_id)
        assert job.props["status"] == "CANCELLED"
    finally:
        await close(services)
