"""Training jobs: the life of a job's status, what a submission may ask for, and the progress
protocol a job speaks on stdout. No I/O here: services/training.py applies these rules.

A job prints JSON lines such as

    {"progress": 0.4, "epoch": 3, "metrics": {"loss": 0.31}, "message": "epoch 3 done"}

and any other line is a log line. The node keeps the latest progress, metrics and message, a
metrics history and a log tail, both bounded, so a job that runs for days keeps a node of bounded
size.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from typing import Annotated, Any

import orjson
from pydantic import BaseModel, ConfigDict, Field, StringConstraints, ValidationError, field_validator, model_validator

from maestro_graph.domain.errors import BadInput, Conflict
from maestro_graph.domain.vocabulary import TrainingStatus

PENDING, RUNNING = TrainingStatus.PENDING.value, TrainingStatus.RUNNING.value
SUCCEEDED, FAILED, CANCELLED = TrainingStatus.SUCCEEDED.value, TrainingStatus.FAILED.value, TrainingStatus.CANCELLED.value
ACTIVE = (PENDING, RUNNING)  # a job in these may still change; the others are final
# Where a status may go. A queued job can fail (it could not start) or be cancelled before it ran.
TRANSITIONS: dict[str, frozenset[str]] = {
    PENDING: frozenset({RUNNING, FAILED, CANCELLED}),
    RUNNING: frozenset({SUCCEEDED, FAILED, CANCELLED}),
    SUCCEEDED: frozenset(), FAILED: frozenset(), CANCELLED: frozenset(),
}

LOG_TAIL = 100  # log lines a job's node keeps, the newest
LOG_LINE_CHARS = 1000  # a longer log line is cut (a job printing a megabyte on one line keeps a bounded node)
HISTORY = 200  # metrics history points a node keeps: the first ones, then thinned evenly (see Tally)
FAILED_LINES = 20  # log lines a FAILED job's reason quotes
MAX_METRICS = 50  # metrics one progress line may carry
# Props the change feed leaves out of a TrainingJob's entry (domain/feed.py): they change with
# nearly every progress write and a subscriber reads them from the node.
BULKY = frozenset({"log_tail", "metrics_history"})


def check_transition(current: str, new: str) -> None:
    """Conflict unless a job in `current` may go to `new`.

    >>> check_transition("PENDING", "RUNNING")
    >>> check_transition("SUCCEEDED", "CANCELLED")
    Traceback (most recent call last):
    ...
    maestro_graph.domain.errors.Conflict: the training job is SUCCEEDED: it cannot become CANCELLED
    """
    if new not in TRANSITIONS[current]:
        raise Conflict(f"the training job is {current}: it cannot become {new}", field="status")


# -- the progress protocol -------------------------------------------------------------------
@dataclass(frozen=True)
class Progress:
    """One JSON progress line, its fields checked (a field of the wrong type is dropped)."""

    progress: float | None = None
    epoch: int | None = None
    metrics: dict[str, float] = field(default_factory=dict)
    message: str | None = None


PROTOCOL_KEYS = frozenset({"progress", "epoch", "metrics", "message"})


def parse_line(text: str) -> Progress | None:
    """The progress line `text` holds, or None for a log line. A JSON object with at least one of
    progress, epoch, metrics, message is a progress line; anything else (plain text, other JSON)
    is a log line.

    >>> parse_line('{"progress": 0.4, "epoch": 3, "metrics": {"loss": 0.31, "note": "x"}}')
    Progress(progress=0.4, epoch=3, metrics={'loss': 0.31}, message=None)
    >>> parse_line('{"progress": 7}').progress, parse_line("epoch 3: loss 0.31") is None
    (1.0, True)
    """
    stripped = text.strip()
    if not (stripped.startswith("{") and stripped.endswith("}")):
        return None
    try:
        data = orjson.loads(stripped)
    except orjson.JSONDecodeError:
        return None
    if not isinstance(data, dict) or not PROTOCOL_KEYS & data.keys():
        return None
    raw = data.get("progress")
    progress = min(1.0, max(0.0, float(raw))) if _number(raw) else None
    epoch = data.get("epoch") if isinstance(data.get("epoch"), int) and not isinstance(data.get("epoch"), bool) else None
    metrics = data.get("metrics") if isinstance(data.get("metrics"), dict) else {}
    clean = {str(k)[:100]: float(v) for k, v in list(metrics.items())[:MAX_METRICS] if _number(v)}
    message = data.get("message")
    return Progress(progress, epoch, clean, message[:LOG_LINE_CHARS] if isinstance(message, str) else None)


def _number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


class Tally:
    """What a running job reported so far, as its node's props. The service writes `patch()` at
    most a few times a second, however fast the job prints."""

    def __init__(self, props: dict[str, Any] | None = None) -> None:
        props = props or {}
        self.progress: float = float(props.get("progress") or 0.0)
        self.metrics: dict[str, float] = dict(props.get("metrics") or {})
        self.history: list[dict[str, Any]] = list(props.get("metrics_history") or [])
        self.log: list[str] = list(props.get("log_tail") or [])
        self.message: str | None = props.get("message")
        self.epoch: int | None = props.get("epoch")
        self.dirty = False

    def take(self, text: str, at: str) -> None:
        line = parse_line(text)
        self.dirty = True
        if line is None:
            self.log.append(text[:LOG_LINE_CHARS])
            del self.log[:-LOG_TAIL]
            return
        if line.progress is not None:
            self.progress = line.progress
        if line.epoch is not None:
            self.epoch = line.epoch
        if line.message is not None:
            self.message = line.message
        if line.metrics:
            self.metrics.update(line.metrics)
            point: dict[str, Any] = {"at": at, "metrics": line.metrics}
            if self.epoch is not None:
                point["epoch"] = self.epoch
            self.history.append(point)
            if len(self.history) > HISTORY:
                # Keep the first half as it came and thin the rest by half: a long run keeps its
                # start and an even sample of what followed, never more than HISTORY points.
                keep = HISTORY // 2
                self.history = self.history[:keep] + self.history[keep::2]

    def patch(self) -> dict[str, Any]:
        self.dirty = False
        return {"progress": self.progress, "metrics": dict(self.metrics), "metrics_history": list(self.history),
                "log_tail": list(self.log), "message": self.message, "epoch": self.epoch}


# -- what a submission may ask for -------------------------------------------------------------
ENV_NAME = re.compile(r"\A[A-Za-z_][A-Za-z0-9_]{0,127}\Z")
# Kubernetes quantities: "500m", "2", "1.5", "512Mi", "4Gi", "1e3"
QUANTITY = r"^[0-9]+(\.[0-9]+)?([eE][0-9]+|m|k|M|G|T|P|E|Ki|Mi|Gi|Ti|Pi|Ei)?$"
Arg = Annotated[str, StringConstraints(max_length=4096)]
EnvValue = Annotated[str, StringConstraints(max_length=32_768)]
Quantity = Annotated[str, StringConstraints(strip_whitespace=True, max_length=20, pattern=QUANTITY)]
# Variables a job may not set: the runner sets them, or they would change what runs.
RESERVED_ENV = frozenset({"MAESTRO_TRAINING_JOB_ID", "MAESTRO_TENANT", "MLFLOW_TRACKING_URI", "LD_PRELOAD",
                          "LD_LIBRARY_PATH", "PYTHONSTARTUP"})


class _Checked(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=False)


class ResourcesSpec(_Checked):
    cpu: Quantity | None = None
    memory: Quantity | None = None
    gpus: int = Field(default=0, ge=0, le=64)


class Entrypoint(_Checked):
    """What a model_template runs: argv (Kubernetes: the container's command) and, for
    Kubernetes, its image. Set by an admin (setArtifactEntrypoint)."""

    command: list[Arg] = Field(min_length=1, max_length=100)
    image: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=500)] | None = None

    @field_validator("command")
    @classmethod
    def _program(cls, command: list[str]) -> list[str]:
        if not command[0].strip():
            raise ValueError("the first word is the program to run and cannot be empty")
        return command


def _env(values: dict[str, str]) -> dict[str, str]:
    if len(values) > 100:
        raise ValueError(f"at most 100 variables, got {len(values)}")
    for name in values:
        if not ENV_NAME.match(name):
            raise ValueError(f"{name[:50]!r} is not a variable name (letters, digits and _, not first a digit)")
        if name in RESERVED_ENV:
            raise ValueError(f"{name} is set by the runner and cannot be set by a job")
    return values


class Submission(_Checked):
    """A submitTrainingJob input, checked. `secret_env` never leaves the service except to the
    runner (see Launch)."""

    name: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=300)]
    project_id: str
    template_id: str | None = None
    command: list[Arg] | None = Field(default=None, min_length=1, max_length=100)
    args: list[Arg] = Field(default_factory=list, max_length=100)
    env: dict[str, EnvValue] = Field(default_factory=dict)
    secret_env: dict[str, EnvValue] = Field(default_factory=dict, repr=False)
    resources: ResourcesSpec = Field(default_factory=ResourcesSpec)
    dataset_ids: list[str] = Field(default_factory=list, max_length=100)
    runner: str = "local"
    model: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=300)] | None = None
    timeout_seconds: float | None = Field(default=None, gt=0, le=30 * 86400)

    @field_validator("env", "secret_env")
    @classmethod
    def _names(cls, values: dict[str, str]) -> dict[str, str]:
        return _env(values)

    @model_validator(mode="after")
    def _one_source(self) -> "Submission":
        if (self.template_id is None) == (self.command is None):
            raise ValueError("give exactly one of templateId and command")
        overlap = sorted(self.env.keys() & self.secret_env.keys())
        if overlap:
            raise ValueError(f"{overlap[0]} is in both env and secretEnv")
        return self


# The API's names for Submission's fields, for error messages that name what the client sent.
API_NAMES = {"project_id": "projectId", "template_id": "templateId", "secret_env": "secretEnv",
             "dataset_ids": "datasetIds", "timeout_seconds": "timeoutSeconds"}


def checked(model: type[BaseModel], data: dict[str, Any], what: str) -> Any:
    """`model` validated from `data`, or BadInput naming the field as the API spells it. A
    refused secretEnv value is never quoted back."""
    try:
        return model.model_validate(data)
    except ValidationError as err:
        first = err.errors()[0]
        path = [API_NAMES.get(str(p), str(p)) for p in first["loc"]]
        where = ".".join([what, *path]) if path else what
        if path and path[0] == "secretEnv" and len(path) > 1:
            where = f"{what}.secretEnv"  # the key is a name, fine; never a value
        message = first["msg"].removeprefix("Value error, ")
        if first["type"] == "extra_forbidden":
            message = "is not a known field"
        raise BadInput(f"{where}: {message}", field=path[-1] if path else what) from None


def spec_of(sub: Submission, command: list[str], image: str | None, timeout: float) -> dict[str, Any]:
    """What the node keeps of a submission: everything but secret values (their names only)."""
    spec: dict[str, Any] = {"command": command, "args": sub.args, "env": sub.env,
                            "secret_env_names": sorted(sub.secret_env), "resources": sub.resources.model_dump(exclude_none=True),
                            "dataset_ids": sub.dataset_ids, "timeout_seconds": timeout}
    if sub.template_id is not None:
        spec["template_id"] = sub.template_id
    if image is not None:
        spec["image"] = image
    if sub.model is not None:
        spec["model"] = sub.model
    return spec


def failure_reason(exit_code: int | None, reason: str | None, log_tail: list[str]) -> str:
    """A FAILED job's reason: what happened, then its last log lines.

    >>> failure_reason(3, None, ["loading", "ValueError: bad column"])
    'exited with code 3; last log lines:\\nloading\\nValueError: bad column'
    """
    head = reason or (f"exited with code {exit_code}" if exit_code is not None else "ended without an exit code")
    lines = log_tail[-FAILED_LINES:]
    return head + ("; last log lines:\n" + "\n".join(lines) if lines else "")
