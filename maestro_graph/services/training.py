"""Training jobs: submission, cancellation, and every status change, which this service alone
makes (domain/training.py has the rules). Runners (maestro_graph/runners/) start and stop the
work and report what they see; this service turns their reports into writes:

- started  -> RUNNING (a compare-and-set on the stored status, so two writers cannot both move it);
- lines    -> progress, metrics, message, log tail: coalesced, at most one write per
              `coalesce` seconds per job however fast the job prints;
- finished -> SUCCEEDED (a ModelVersion registered: PRODUCED by the job, TRAINED_ON its datasets),
              FAILED (exit code, reason and last log lines) or CANCELLED.

Every change is committed through the one write path, so it reaches subscribers on every replica
through the change feed, in order.

Across replicas: a local job belongs to the process that runs it (`owner`); a cancel committed on
another replica reaches the owner through the feed (`cancel_requested`). Kubernetes jobs can be
cancelled from any replica; one replica at a time watches them (the runner's lease).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import socket
import time
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from maestro_graph.auth.principal import Principal, Role
from maestro_graph.domain import training as tr
from maestro_graph.domain.audit import record
from maestro_graph.domain.clock import now
from maestro_graph.domain.errors import BadInput, Conflict, Forbidden, MaestroError, NotFound
from maestro_graph.domain.feed import FeedEntry
from maestro_graph.domain.keys import natural_key
from maestro_graph.domain.graph import ChangeSet, Edge, Expect, Label, Node, NodeQuery, Page, Rel
from maestro_graph.domain.vocabulary import ArtifactType
from maestro_graph.runners.base import Finish, Launch, Resources, Runner
from maestro_graph.runners.local import group_alive, stop_group
from maestro_graph.services.artifacts import ArtifactService
from maestro_graph.services.feed import FeedFollower
from maestro_graph.services.graph import GraphService
from maestro_graph.store.base import GraphStore
from maestro_graph.types import Direction, NodeId, Props, Tenant

log = logging.getLogger("maestro_graph.training")
RUNNER_ACTOR = "maestro:runner"  # who the audit log and the feed say made a runner's writes
DEFAULT_TIMEOUT = 24 * 3600.0
MARKER = "maestro-job"  # a local job's marker file in its directory, while it may run


def instance_id() -> str:
    """This server process, as a local job's `owner` names it: host, pid, and a random part so a
    reused pid is not mistaken for the process that ran the job."""
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


class StoreLease:
    """The Kubernetes runner's lease (runners/kubernetes.py Lease), held in the store: one
    replica at a time watches the cluster's jobs, on the database's clock."""

    NAME = "kubernetes-runner"

    def __init__(self, store: GraphStore, holder: str, seconds: float = 15.0) -> None:
        self.store, self.holder, self.seconds = store, holder, seconds

    async def hold(self) -> bool:
        return await self.store.take_lease(self.NAME, self.holder, self.seconds)

    async def release(self) -> None:
        await self.store.release_lease(self.NAME, self.holder)


@dataclass
class _Live:
    """A job this process follows: what it reported since the last write, and its writes' order."""

    tally: tr.Tally
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)
    flush: asyncio.TimerHandle | None = None
    last_write: float = 0.0
    done: bool = False


class TrainingJobs:
    def __init__(self, graph: GraphService, artifacts: ArtifactService, feed: FeedFollower,
                 runners: Mapping[str, Runner], *, allow_commands: bool = False, coalesce: float = 0.25,
                 default_timeout: float = DEFAULT_TIMEOUT, mlflow_tracking_uri: str = "",
                 workdir: Path | None = None) -> None:
        self.graph, self.artifacts, self.feed = graph, artifacts, feed
        self.runners = dict(runners)
        self.allow_commands, self.coalesce, self.default_timeout = allow_commands, coalesce, default_timeout
        self.mlflow_tracking_uri, self.workdir = mlflow_tracking_uri, workdir
        self.instance = instance_id()
        self._live: dict[tuple[Tenant, NodeId], _Live] = {}
        self._stop_consuming = None
        self._tasks: set[asyncio.Task[Any]] = set()
        self.started_runners = False

    # -- life -------------------------------------------------------------------------------
    async def start(self) -> None:
        """Start the runners, follow the feed (cancels committed on other replicas) and reconcile
        what a previous process left PENDING or RUNNING."""
        self._stop_consuming = self.feed.consume(self._on_entry)
        for runner in self.runners.values():
            await runner.start(self)
        self.started_runners = True
        await self.reconcile()

    async def close(self) -> None:
        for runner in self.runners.values():
            with contextlib.suppress(Exception):
                await runner.close()
        for live in list(self._live.values()):
            if live.flush is not None:
                live.flush.cancel()
        if self._stop_consuming is not None:
            self._stop_consuming()
        for task in list(self._tasks):
            task.cancel()

    def _spawn(self, coro: Any) -> None:
        task = asyncio.create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    # -- what clients do --------------------------------------------------------------------
    async def submit(self, actor: Principal, data: dict[str, Any]) -> Node:
        """Record a PENDING job and hand it to its runner. A runner that cannot take it (its API
        server is down) leaves the job FAILED with the reason."""
        async with self.graph.commits.operation(actor, "submitTrainingJob") as op:
            tenant = actor.tenant
            if isinstance(data.get("project_id"), str):  # the project first: another tenant's is unknown, whatever else is sent
                await self.graph.require(tenant, [data["project_id"]], Label.PROJECT, field="projectId")
            sub: tr.Submission = tr.checked(tr.Submission, data, "input")
            runner = self.runners.get(sub.runner)
            if runner is None:
                raise BadInput(f"runner: {sub.runner} is not enabled on this server "
                               f"(enabled: {', '.join(sorted(self.runners)) or 'none'})", field="runner")
            if sub.dataset_ids:
                await self.graph.require(tenant, sub.dataset_ids, Label.DATASET, field="datasetIds")
            command, image, usage = await self._what_runs(actor, sub)
            if runner.name == "kubernetes" and image is None:
                raise BadInput("runner: the Kubernetes runner needs an image; this template's entrypoint has none "
                               "(an admin sets it with setArtifactEntrypoint)", field="runner")
            timeout = sub.timeout_seconds or self.default_timeout
            props: Props = {"name": sub.name, "status": tr.PENDING, "runner": runner.name, "project_id": sub.project_id,
                            "spec": tr.spec_of(sub, command, image, timeout), "submitted_by": actor.sub}
            if runner.name == "local":
                props["owner"] = self.instance
            job = self.graph.build(tenant, Label.TRAINING_JOB, props)
            changes = ChangeSet(create=[job], link=[Edge(Rel.OWNS, sub.project_id, job.id)])
            if usage is not None:
                changes = await self.artifacts.usage_changes(tenant, sub.project_id, usage, changes)
            if runner.name == "local":
                # before the commit: a process that dies right after it leaves a marker, and the
                # next start fails the job instead of leaving it PENDING for ever
                self._mark(tenant, job.id)
            try:
                written = await op.commit(changes, audit_ids=[job.id, sub.project_id])
            except BaseException:
                self._unmark(tenant, job.id)
                raise
        await self.feed.follow(tenant)  # a cancel committed on another replica reaches this one
        env = {**sub.env, **({"MLFLOW_TRACKING_URI": self.mlflow_tracking_uri} if self.mlflow_tracking_uri else {})}
        launch = Launch(tenant, job.id, sub.name, command + sub.args, env=env, secret_env=dict(sub.secret_env),
                        image=image, resources=Resources(sub.resources.cpu, sub.resources.memory, sub.resources.gpus),
                        timeout_seconds=timeout, workdir=self.workdir / tenant / job.id if self.workdir else None)
        try:
            await runner.submit(launch)
        except MaestroError as err:
            await self.finished(tenant, job.id, Finish(None, f"could not start: {err.message}"))
        return (await self.graph.get(tenant, [job.id])).get(job.id, written[job.id])

    async def _what_runs(self, actor: Principal, sub: tr.Submission) -> tuple[list[str], str | None, NodeId | None]:
        """(argv before the args, image, the template whose usage to log)."""
        if sub.template_id is None:
            if not self.allow_commands:
                raise Forbidden("command: this server runs only model templates' entrypoints; free commands are "
                                "off (the operator enables them with MAESTRO_RUNNER_ALLOW_COMMANDS=true)", field="command")
            assert sub.command is not None
            return list(sub.command), None, None
        template = (await self.graph.require(actor.tenant, [sub.template_id], Label.ARTIFACT, field="templateId"))[sub.template_id]
        if template.props.get("type") != ArtifactType.MODEL_TEMPLATE.value:
            raise BadInput(f"templateId: {template.props.get('name')!r} is a {template.props.get('type')}, "
                           "not a model_template", field="templateId")
        entrypoint = template.props.get("entrypoint")
        if not entrypoint:
            raise BadInput(f"templateId: the template {template.props.get('name')!r} has no entrypoint yet "
                           "(an admin sets it with setArtifactEntrypoint)", field="templateId")
        return list(entrypoint["command"]), entrypoint.get("image"), template.id

    async def cancel(self, actor: Principal, job_id: NodeId) -> Node:
        """Ask the job to stop: a queued one never starts, a running one is stopped; it becomes
        CANCELLED once its runner saw it end (at once for a queued local job)."""
        tenant = actor.tenant
        async with self.graph.commits.operation(actor, "cancelTrainingJob", ids=[job_id]) as op:
            job = (await self.graph.require(tenant, [job_id], Label.TRAINING_JOB))[job_id]
            status = job.props["status"]
            if status not in tr.ACTIVE:
                raise Conflict(f"the training job is {status}: only a PENDING or RUNNING job can be cancelled", field="id")
            await op.commit(ChangeSet(update=[(job_id, {"cancel_requested": True})],
                                      expect=[Expect(job_id, "status", tr.ACTIVE)]))
        await self._act_on_cancel(tenant, job)
        return (await self.graph.require(tenant, [job_id], Label.TRAINING_JOB))[job_id]

    async def _act_on_cancel(self, tenant: Tenant, job: Node) -> None:
        runner = self.runners.get(str(job.props.get("runner")))
        if runner is None:  # a runner this replica does not run: the replica that does acts on the feed
            return
        if runner.name != "local":
            await runner.cancel(tenant, job.id)  # any replica may: the watching one reports the end
            return
        if self._holds(tenant, job.id):
            await runner.cancel(tenant, job.id)
        elif not self._owner_alive(tenant, job):  # no process runs it any more: nobody else will end it
            await self.finished(tenant, job.id, Finish(None, "cancelled", cancelled=True))

    def _holds(self, tenant: Tenant, job_id: NodeId) -> bool:
        """Whether this process's local runner has the job, queued or running."""
        local = self.runners.get("local")
        return local is not None and getattr(local, "holds")(tenant, job_id)

    def _owner_alive(self, tenant: Tenant, job: Node) -> bool:
        """Whether the server process that owns a local job may still be running it."""
        owner = str(job.props.get("owner") or "")
        if owner == self.instance:
            return self._holds(tenant, job.id)
        host, _, rest = owner.partition(":")
        pid = rest.partition(":")[0]
        if host != socket.gethostname() or not pid.isdigit():
            return True  # another machine's process: only it can tell
        # This pid under another instance id: another service of this very process (tests run
        # replicas so); it may hold the job. Another pid: alive or gone.
        return int(pid) == os.getpid() or _pid_alive(int(pid))

    def _on_entry(self, entry: FeedEntry, stored: Mapping[NodeId, Node] | None) -> None:
        """Cancels committed anywhere: the local runner of this process stops its own jobs."""
        local = self.runners.get("local")
        if local is None or not self.started_runners:
            return
        for job_id, props in entry.props.items():
            if props.get("cancel_requested") is True and self._holds(entry.tenant, job_id):
                self._spawn(local.cancel(entry.tenant, job_id))

    async def deletable(self, actor: Principal, job_id: NodeId) -> None:
        """CONFLICT for a job that may still run: deleting it would leave a process nobody follows."""
        async with self.graph.commits.operation(actor, "deleteTrainingJob", ids=[job_id]):
            job = (await self.graph.require(actor.tenant, [job_id], Label.TRAINING_JOB))[job_id]
            if job.props.get("status") in tr.ACTIVE:
                raise Conflict(f"the training job is {job.props['status']}: cancel it before deleting it", field="id")

    async def set_entrypoint(self, actor: Principal, artifact_id: NodeId, entrypoint: dict[str, Any] | None) -> Node:
        """Register (or with None remove) what a model_template runs: an admin's act, since it
        decides what commands the server runs for every editor."""
        async with self.graph.commits.operation(actor, "setArtifactEntrypoint", Role.ADMIN, ids=[artifact_id]) as op:
            artifact = (await self.graph.require(actor.tenant, [artifact_id], Label.ARTIFACT))[artifact_id]
            if artifact.props.get("type") != ArtifactType.MODEL_TEMPLATE.value:
                raise BadInput(f"id: {artifact.props.get('name')!r} is a {artifact.props.get('type')}; only a "
                               "model_template has an entrypoint", field="id")
            clean = None if entrypoint is None else tr.checked(tr.Entrypoint, entrypoint, "entrypoint").model_dump(exclude_none=True)
            written = await op.commit(ChangeSet(update=[(artifact_id, {"entrypoint": clean})]))
            return written[artifact_id]

    async def list(self, tenant: Tenant, project_id: NodeId | None, statuses: Sequence[str], first: int,
                   after: tuple[str, str] | None) -> Page:
        """Jobs in name order, of one project and in some statuses if asked."""
        if project_id is None:
            return await self.graph.find(tenant, NodeQuery(Label.TRAINING_JOB, kinds=tuple(statuses), first=first, after=after))
        await self.graph.require(tenant, [project_id], Label.PROJECT, field="projectId")
        wanted, cursor, found, total = set(statuses), after, [], 0
        # The project's jobs page by page, filtered by status here: a project has few enough jobs
        # that reading past the ones another status holds costs a few pages at most.
        for _ in range(50):
            page = (await self.graph.neighbour_pages(tenant, [project_id], Rel.OWNS, Direction.OUT, first=first,
                                                     after=cursor, labels=[Label.TRAINING_JOB]))[project_id]
            total = page.total if not wanted else total
            for nb in page.items:
                if not wanted or nb.node.props.get("status") in wanted:
                    found.append(nb.node)
                    if len(found) > first:
                        return Page(found[:first], total if not wanted else -1, True)
            if not page.has_next or not page.items:
                break
            last = page.items[-1].node
            cursor = (last.name, last.id)
        return Page(found, total if not wanted else len(found), False)

    # -- what runners report (runners/base.py Reporter) -------------------------------------
    def _following(self, tenant: Tenant, job_id: NodeId, props: Props | None = None) -> _Live:
        live = self._live.get((tenant, job_id))
        if live is None:
            live = self._live[(tenant, job_id)] = _Live(tr.Tally(props))
        return live

    async def started(self, tenant: Tenant, job_id: NodeId, where: str) -> None:
        live = self._following(tenant, job_id)
        async with live.lock:
            await self._move(tenant, job_id, tr.RUNNING, {"where": where, "started_at": now()}, "trainingJobStarted")

    async def line(self, tenant: Tenant, job_id: NodeId, text: str) -> None:
        live = self._live.get((tenant, job_id))
        if live is None:  # first seen here (a watch another replica held): go on from what is stored
            job = (await self.graph.get(tenant, [job_id])).get(job_id)
            if job is None or job.props.get("status") not in tr.ACTIVE:
                return  # ended or gone: a re-read log's lines are not news
            live = self._following(tenant, job_id, dict(job.props))
        if live.done:
            return
        live.tally.take(text, now())
        if live.flush is None:
            wait = max(0.0, self.coalesce - (time.monotonic() - live.last_write))
            live.flush = asyncio.get_running_loop().call_later(wait, lambda: self._spawn(self._flush(tenant, job_id, live)))

    async def _flush(self, tenant: Tenant, job_id: NodeId, live: _Live) -> None:
        async with live.lock:
            live.flush = None
            if not live.tally.dirty or live.done:
                return
            live.last_write = time.monotonic()
            patch = live.tally.patch()
            try:  # progress is not an act of anyone's: committed without an audit record
                await self.graph.commits.commit(tenant, ChangeSet(
                    update=[(job_id, patch)], expect=[Expect(job_id, "status", tr.ACTIVE)]))
            except (Conflict, NotFound):  # ended or deleted meanwhile: nothing to show progress on
                live.done = True
                if self._live.get((tenant, job_id)) is live:
                    del self._live[(tenant, job_id)]
            except MaestroError as err:  # the store failing: the next flush or the end writes it
                live.tally.dirty = True
                log.warning("could not write a training job's progress", extra={"job": job_id, "error": err.message})

    async def finished(self, tenant: Tenant, job_id: NodeId, finish: Finish) -> None:
        live = self._following(tenant, job_id)
        async with live.lock:
            if live.flush is not None:
                live.flush.cancel()
                live.flush = None
            live.done = True
            job = (await self.graph.get(tenant, [job_id])).get(job_id)
            if job is None or job.props.get("status") not in tr.ACTIVE:
                self._live.pop((tenant, job_id), None)
                self._unmark(tenant, job_id)
                return
            patch: Props = {**(live.tally.patch() if live.tally.dirty else {}), "finished_at": now()}
            if finish.exit_code is not None:
                patch["exit_code"] = finish.exit_code
            tail = patch.get("log_tail", job.props.get("log_tail") or [])
            if finish.cancelled or job.props.get("cancel_requested"):
                status, patch["reason"] = tr.CANCELLED, finish.reason if finish.reason and finish.reason != "cancelled" else "cancelled"
            elif finish.exit_code == 0 and not finish.timed_out and finish.reason is None:
                status = tr.SUCCEEDED
            else:
                status, patch["reason"] = tr.FAILED, tr.failure_reason(finish.exit_code, finish.reason, tail)
            if job.props.get("status") == tr.PENDING and status == tr.SUCCEEDED:  # never seen running
                await self._move(tenant, job_id, tr.RUNNING, {}, "trainingJobStarted")
            extra = await self._model_version(tenant, job, {**job.props, **patch}) if status == tr.SUCCEEDED else None
            await self._move(tenant, job_id, status, patch, "trainingJobFinished", extra)
            self._live.pop((tenant, job_id), None)
            self._unmark(tenant, job_id)

    async def _move(self, tenant: Tenant, job_id: NodeId, status: str, patch: Props, operation: str,
                    extra: ChangeSet | None = None) -> bool:
        """Write the job's new status with `patch` (and `extra`), if its stored status allows it;
        whether it moved. A report that repeats what is stored (RUNNING twice) is ignored."""
        for _ in range(3):
            job = (await self.graph.get(tenant, [job_id])).get(job_id)
            if job is None:
                return False
            current = str(job.props.get("status"))
            if current == status or status not in tr.TRANSITIONS[current]:
                return False
            changes = extra or ChangeSet()
            changes.update.insert(0, (job_id, {**patch, "status": status}))
            changes.expect.append(Expect(job_id, "status", (current,)))
            changes.audit.append(record(RUNNER_ACTOR, operation, [job_id]))
            try:
                await self.graph.commits.commit(tenant, changes)
                return True
            except Conflict:  # another writer moved it first: look again
                changes.update.pop(0)
                changes.expect.pop()
                changes.audit.pop()
        return False

    async def _model_version(self, tenant: Tenant, job: Node, props: Props) -> ChangeSet:
        """A SUCCEEDED job's ModelVersion, of the model the submission named (or the job's name),
        numbered after the model's versions; a new model is owned by the job's project."""
        spec = props.get("spec") or {}
        name = str(spec.get("model") or props["name"])
        changes = ChangeSet()
        key = natural_key(Label.MODEL, {"name": name})
        model = (await self.graph.store.get_by_keys(tenant, Label.MODEL, [key])).get(key)
        if model is None:
            model = self.graph.build(tenant, Label.MODEL, {"name": name, "description": f"Trained by the job {props['name']!r}."})
            changes.create.append(model)
            if props.get("project_id"):
                changes.link.append(Edge(Rel.OWNS, str(props["project_id"]), model.id))
            number = 1
        else:
            versions = (await self.graph.neighbours(tenant, [model.id], Rel.VERSION_OF, Direction.IN))[model.id]
            number = 1 + max((int(v.node.props["version"]) for v in versions if str(v.node.props.get("version", "")).isdigit()),
                             default=0)
        version = self.graph.build(tenant, Label.MODEL_VERSION, {
            "model_id": model.id, "version": str(number), "metrics": dict(props.get("metrics") or {})})
        changes.create.append(version)
        changes.link += [Edge(Rel.VERSION_OF, version.id, model.id), Edge(Rel.PRODUCED, job.id, version.id)]
        datasets = [str(d) for d in spec.get("dataset_ids") or []]
        present = await self.graph.get(tenant, datasets) if datasets else {}
        changes.link += [Edge(Rel.TRAINED_ON, version.id, d) for d in datasets if d in present]
        return changes

    # -- after a restart --------------------------------------------------------------------
    async def reconcile(self) -> int:
        """Local jobs a previous server process left PENDING or RUNNING become FAILED ("the
        server restarted"), their process group stopped if it outlived the server. They are
        found by their markers in this data dir (`mark`), so a start costs what this machine ran,
        not a read of every tenant. Kubernetes jobs are watched again by the runner (it re-lists).
        How many were failed."""
        if self.workdir is None:
            return 0
        failed = 0
        for marker in sorted(self.workdir.glob(f"*/*/{MARKER}")):
            tenant, job_id = marker.parent.parent.name, marker.parent.name
            job = (await self.graph.get(tenant, [job_id])).get(job_id)
            if job is None or job.props.get("status") not in tr.ACTIVE:
                marker.unlink(missing_ok=True)
            elif job.props.get("runner") == "local" and not self._owner_alive(tenant, job):
                await asyncio.to_thread(_stop_leftover, job.props.get("where"))
                ran = job.props.get("status") == tr.RUNNING
                await self.finished(tenant, job.id, Finish(
                    None, "the server restarted while it ran" if ran else "the server restarted before it started"))
                failed += 1
        return failed

    def _mark(self, tenant: Tenant, job_id: NodeId) -> None:
        """Leave a marker in the job's directory while it may run: what reconcile() looks for."""
        if self.workdir is not None:
            folder = self.workdir / tenant / job_id
            folder.mkdir(parents=True, exist_ok=True)
            (folder / MARKER).write_text(self.instance)

    def _unmark(self, tenant: Tenant, job_id: NodeId) -> None:
        if self.workdir is not None:
            (self.workdir / tenant / job_id / MARKER).unlink(missing_ok=True)


def _stop_leftover(where: Any) -> None:
    """A job's process group that outlived its server (its output has nowhere to go now)."""
    word, _, pid = str(where or "").partition(" ")
    if word == "pid" and pid.isdigit() and group_alive(int(pid)):
        stop_group(int(pid))
