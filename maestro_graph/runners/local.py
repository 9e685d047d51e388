"""The local runner: each job a subprocess of the server, in a process group of its own and a
working directory under the data dir. At most `max_parallel` run at once; the rest wait, in the
order they came, as PENDING. Cancel and timeout send the group SIGTERM, then SIGKILL after a
grace period, so a job's children go with it.

A job's environment is its own variables (with MLFLOW_TRACKING_URI when the server has one), the
runner's (MAESTRO_TRAINING_JOB_ID, MAESTRO_TENANT) and the few of the server's named in
`pass_env` (PATH, HOME, ...): never the server's whole environment, which holds its secrets.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import signal
from collections import deque
from dataclasses import dataclass
from pathlib import Path

from maestro_graph.domain.errors import BadInput
from maestro_graph.runners.base import Finish, Launch, Reporter
from maestro_graph.types import NodeId, Tenant

log = logging.getLogger("maestro_graph.runners.local")
LINE_LIMIT = 1 << 20  # a longer stdout line is read in pieces of this size


@dataclass
class _Running:
    launch: Launch
    process: asyncio.subprocess.Process | None = None
    cancelled: bool = False
    task: asyncio.Task[None] | None = None


class LocalRunner:
    name = "local"

    def __init__(self, root: Path, max_parallel: int = 2, grace_seconds: float = 10.0,
                 pass_env: tuple[str, ...] = ("PATH", "HOME", "LANG", "LC_ALL", "TZ", "TMPDIR")) -> None:
        self.root, self.max_parallel, self.grace = root, max_parallel, grace_seconds
        self.pass_env = pass_env
        self.reporter: Reporter | None = None
        self._queue: deque[_Running] = deque()
        self._jobs: dict[tuple[Tenant, NodeId], _Running] = {}
        self._running = 0
        self._closing = False

    async def start(self, reporter: Reporter) -> None:
        self.reporter = reporter

    def holds(self, tenant: Tenant, job_id: NodeId) -> bool:
        """Whether this runner has the job, queued or running."""
        return (tenant, job_id) in self._jobs

    async def submit(self, launch: Launch) -> None:
        if launch.image is not None and not launch.command:
            raise BadInput("the local runner runs a command; this template names only an image", field="runner")
        job = _Running(launch)
        self._jobs[(launch.tenant, launch.job_id)] = job
        self._queue.append(job)
        self._next()

    def _next(self) -> None:
        while self._queue and self._running < self.max_parallel:
            job = self._queue.popleft()
            self._running += 1
            job.task = asyncio.create_task(self._run(job), name=f"training job {job.launch.job_id}")

    async def _run(self, job: _Running) -> None:
        launch, reporter = job.launch, self.reporter
        assert reporter is not None, "start() comes before submit()"
        finish: Finish
        try:
            workdir = launch.workdir or self.root / launch.tenant / launch.job_id
            workdir.mkdir(parents=True, exist_ok=True)
            env = {k: os.environ[k] for k in self.pass_env if k in os.environ}
            env.update(launch.env)
            env.update(launch.secret_env)
            env.update(MAESTRO_TRAINING_JOB_ID=launch.job_id, MAESTRO_TENANT=launch.tenant, PYTHONUNBUFFERED="1")
            try:
                job.process = await asyncio.create_subprocess_exec(
                    *launch.command, cwd=workdir, env=env, stdin=asyncio.subprocess.DEVNULL,
                    stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT,
                    start_new_session=True, limit=LINE_LIMIT)  # a session of its own: its own process group
            except OSError as err:
                finish = Finish(None, f"could not start {launch.command[0]!r}: {err.strerror or err}")
            else:
                await reporter.started(launch.tenant, launch.job_id, f"pid {job.process.pid}")
                finish = await self._follow(job)
        except Exception as err:  # a bug here must end the job, not leave it RUNNING for ever
            log.exception("local training job failed in the runner", extra={"job": launch.job_id})
            finish = Finish(None, f"the runner failed: {type(err).__name__}")
        finally:
            self._running -= 1
            self._jobs.pop((launch.tenant, launch.job_id), None)
            self._next()
        await reporter.finished(launch.tenant, launch.job_id, finish)

    async def _follow(self, job: _Running) -> Finish:
        process, launch, reporter = job.process, job.launch, self.reporter
        assert process is not None and process.stdout is not None and reporter is not None
        timed_out = False

        async def lines() -> None:
            assert process.stdout is not None
            while True:
                try:
                    raw = await process.stdout.readline()
                except ValueError:  # longer than LINE_LIMIT: take what is buffered as one line
                    raw = await process.stdout.read(LINE_LIMIT)
                if not raw:
                    return
                await reporter.line(launch.tenant, launch.job_id, raw.decode("utf-8", "replace").rstrip("\r\n"))

        reading = asyncio.create_task(lines())
        try:
            await asyncio.wait_for(asyncio.shield(reading), launch.timeout_seconds)
        except asyncio.TimeoutError:
            timed_out = True
            await self._stop(process)
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(reading, self.grace)
        code = await process.wait()
        _kill_group(process.pid, signal.SIGKILL)  # whatever the job left behind in its group goes too
        if self._closing:
            return Finish(None, "the server stopped while it ran")
        if timed_out:
            return Finish(code, f"timed out after {launch.timeout_seconds:g} s", timed_out=True)
        if job.cancelled:
            return Finish(code, "cancelled", cancelled=True)
        return Finish(code)

    async def cancel(self, tenant: Tenant, job_id: NodeId) -> None:
        job = self._jobs.get((tenant, job_id))
        if job is None:
            return
        job.cancelled = True
        if job.process is None and job in self._queue:  # never started
            self._queue.remove(job)
            self._jobs.pop((tenant, job_id), None)
            assert self.reporter is not None
            await self.reporter.finished(tenant, job_id, Finish(None, "cancelled before it started", cancelled=True))
        elif job.process is not None:
            asyncio.create_task(self._stop(job.process))

    async def _stop(self, process: asyncio.subprocess.Process) -> None:
        """SIGTERM to the group, SIGKILL after the grace period if it is still there."""
        _kill_group(process.pid, signal.SIGTERM)
        try:
            await asyncio.wait_for(process.wait(), self.grace)
        except asyncio.TimeoutError:
            _kill_group(process.pid, signal.SIGKILL)

    async def close(self) -> None:
        """The server stops: its jobs stop too (their output would have nowhere to go) and are
        reported FAILED. A server that dies without closing leaves that to the next start's
        reconciliation (services/training.py)."""
        self._closing = True
        queued = list(self._queue)
        self._queue.clear()
        assert self.reporter is not None or not self._jobs
        for job in queued:
            self._jobs.pop((job.launch.tenant, job.launch.job_id), None)
            with contextlib.suppress(Exception):  # the store may be failing too; reconciliation remains
                await self.reporter.finished(job.launch.tenant, job.launch.job_id,  # type: ignore[union-attr]
                                             Finish(None, "the server stopped before it started"))
        tasks = [job.task for job in self._jobs.values() if job.task is not None]
        for job in list(self._jobs.values()):
            if job.process is not None:
                asyncio.create_task(self._stop(job.process))
        if tasks:
            await asyncio.wait(tasks, timeout=self.grace + 5)


def _kill_group(pgid: int, sig: int) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pgid, sig)


def group_alive(pgid: int) -> bool:
    """Whether any process of the group is still there."""
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def stop_group(pgid: int) -> None:
    """A leftover job's group, after a restart: SIGTERM now, SIGKILL if it lingers (blocking, brief)."""
    import time

    _kill_group(pgid, signal.SIGTERM)
    for _ in range(50):
        if not group_alive(pgid):
            return
        time.sleep(0.1)
    _kill_group(pgid, signal.SIGKILL)
