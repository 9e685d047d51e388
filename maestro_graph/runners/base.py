"""What every runner takes and reports. The runner never writes to the store: it calls its
Reporter, and the training jobs service decides what the report means for the job's status."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

from maestro_graph.types import NodeId, Tenant


@dataclass(frozen=True)
class Resources:
    cpu: str | None = None  # Kubernetes quantity: "500m", "2"
    memory: str | None = None  # Kubernetes quantity: "512Mi", "4Gi"
    gpus: int = 0


@dataclass(frozen=True)
class Launch:
    """One job to start. `secret_env` is write-only: a runner passes it to the process (local) or
    keeps it in a Secret (Kubernetes) and never logs, stores or reports it."""

    tenant: Tenant
    job_id: NodeId
    name: str
    command: list[str]  # argv, with the submission's args already appended
    env: dict[str, str] = field(default_factory=dict)
    secret_env: dict[str, str] = field(default_factory=dict, repr=False)
    image: str | None = None  # Kubernetes only
    resources: Resources = Resources()
    timeout_seconds: float = 24 * 3600
    workdir: Path | None = None  # local only: the job's working directory, created by the runner


@dataclass(frozen=True)
class Finish:
    """How a job ended, as the runner saw it."""

    exit_code: int | None  # None: no exit code is known (deleted, timed out before starting, ...)
    reason: str | None = None  # a sentence for a user: "timed out after 60 s", "pod evicted", ...
    cancelled: bool = False  # ended because cancel() asked it to
    timed_out: bool = False


class Reporter(Protocol):
    """What a runner tells the training jobs service. Each call may come more than once (a
    re-listed watch, a restart): the service ignores what it already knows."""

    async def started(self, tenant: Tenant, job_id: NodeId, where: str) -> None:
        """The job's process or pod runs (`where`: "pid 1234", "pod train-abc-x7f2k")."""

    async def line(self, tenant: Tenant, job_id: NodeId, text: str) -> None:
        """One line the job wrote to stdout (a JSON progress line or a log line), in order."""

    async def finished(self, tenant: Tenant, job_id: NodeId, finish: Finish) -> None:
        """The job ended."""


class Runner(Protocol):
    name: str  # "local" | "kubernetes": TrainingJob.runner

    async def start(self, reporter: Reporter) -> None:
        """Begin work (watches, queues); called once, before submit."""

    async def submit(self, launch: Launch) -> None:
        """Start the job, or queue it; returns once the runner took it (BadInput/
        ServiceUnavailable-style domain errors if it cannot)."""

    async def cancel(self, tenant: Tenant, job_id: NodeId) -> None:
        """Stop the job (a queued one never starts); its end is reported through finished() with
        cancelled=True. Cancelling an unknown or ended job does nothing."""

    async def close(self) -> None:
        """Stop watching; running jobs are left to a restart's reconciliation."""
