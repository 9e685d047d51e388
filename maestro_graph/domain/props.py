"""Per-label property schemas and their validation: every write passes through `validate_props`,
whichever API or importer it came from. How each label is keyed and indexed is its LabelSpec."""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, ValidationError, ValidationInfo, field_validator, model_validator
from pydantic_core import PydanticCustomError

from maestro_graph.domain.errors import BadInput
from maestro_graph.domain.graph import Label, Rel, node_name
from maestro_graph.domain.text import NUL, Tag, fold, refuse_nul
from maestro_graph.domain.vocabulary import (
    ARTIFACT_TYPES, DEPLOYMENT_STATUSES, DERIVATION_TYPES, METRIC_RANGES, METRIC_TYPES, MODEL_STAGES, PREDICTION_TARGETS,
    PROBLEM_CLASSES, PROJECT_STATUSES, RUN_STATES, TRAINING_RUNNERS, TRAINING_STATUSES, metric_range,
)
from maestro_graph.types import Props

Name = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=300)]
Text = Annotated[str, StringConstraints(max_length=10_000)]
# Semver-ish: 1, 1.2, 1.2.3, v1.2.3, 1.2.3-rc.1, 1.2.3+build.5
VERSION_RE = r"^v?\d+(\.\d+){0,2}([-+][0-9A-Za-z.-]+)?$"
Version = Annotated[str, StringConstraints(strip_whitespace=True, max_length=100, pattern=VERSION_RE)]
Timestamp = datetime
# A time kept exactly as domain/clock.py writes it, compared as text (never re-formatted).
Stamp = Annotated[str, StringConstraints(max_length=40)]


class _Props(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)


class PersonProps(_Props):
    name: Name
    email: Annotated[str, StringConstraints(strip_whitespace=True, to_lower=True, max_length=254,  # RFC 5321's limit
                                            pattern=r"^[^@\s]+@[^@\s]+\.[^@\s]+$")]


class TeamProps(_Props):
    name: Name
    description: Text | None = None


class ProjectProps(_Props):
    name: Name
    problem_class: Literal[PROBLEM_CLASSES]  # type: ignore[valid-type]
    complexity_score: int = Field(ge=1, le=10)
    team_size: int | None = Field(default=None, ge=0, le=10_000)
    status: Literal[PROJECT_STATUSES] = "active"  # type: ignore[valid-type]
    started_at: Timestamp | None = None
    finished_at: Timestamp | None = None
    success_score: float | None = Field(default=None, ge=0, le=100)
    duration_days: float | None = Field(default=None, ge=0)
    cost: float | None = Field(default=None, ge=0)
    description: Text | None = None
    metadata: dict[str, Any] = Field(default_factory=dict)


class ArtifactProps(_Props):
    name: Name
    type: Literal[ARTIFACT_TYPES]  # type: ignore[valid-type]
    version: Version = "1.0.0"
    tags: list[Tag] = Field(default_factory=list, max_length=50)
    storage_path: Annotated[str, StringConstraints(max_length=2000)] | None = None
    # A model_template's entrypoint ({"command": [...], "image": ...}, domain/training.py
    # Entrypoint): set by an admin only (ArtifactService.set_entrypoint).
    entrypoint: dict[str, Any] | None = None
    impact_score: float = Field(default=0.0, ge=0, le=10)
    usage_count: int = Field(default=0, ge=0)
    description: Text | None = None
    metadata: dict[str, Any] = Field(default_factory=dict)

    @field_validator("tags")
    @classmethod
    def _unique_tags(cls, tags: list[str]) -> list[str]:
        return sorted(set(tags))


Short = Annotated[str, StringConstraints(strip_whitespace=True, max_length=100)]


class DatasetAlias(_Props):
    """Another name of a dataset: an OpenLineage `symlinks` identifier, e.g. the table
    default.orders of the path file:/warehouse/orders."""

    namespace: Name
    name: Name
    type: Short | None = None


def alias_order(alias: Props) -> tuple[str, str, str]:
    return (alias["namespace"], alias["name"], alias.get("type") or "")


class DatasetProps(_Props):
    namespace: Name
    name: Name
    description: Text | None = None
    tags: list[Tag] = Field(default_factory=list, max_length=50)
    aliases: list[DatasetAlias] = Field(default_factory=list, max_length=100)
    # Schema versions (domain/schema_versions.py), written by ingestion only.
    schema_version: int | None = None
    schema_at: Stamp | None = None
    schema_run: str | None = None
    schema_history: list[dict[str, Any]] | None = None
    schema_removed: dict[str, int] | None = None  # column path -> the version that dropped it

    _unique_tags = field_validator("tags")(ArtifactProps._unique_tags.__func__)  # type: ignore[attr-defined]

    @field_validator("aliases")
    @classmethod
    def _unique_aliases(cls, aliases: list[DatasetAlias]) -> list[DatasetAlias]:
        # One order whatever the events' order: the stored list is the same after any replay.
        unique = {alias_order(a.model_dump()): a for a in aliases}
        return [unique[k] for k in sorted(unique)]


class FieldProps(_Props):
    dataset_id: Name
    path: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=1000)]
    name: Name
    type: Annotated[str, StringConstraints(max_length=200)] | None = None
    description: Text | None = None
    removed_in: int | None = None  # the dataset schema version that dropped this column (None: present)

    @model_validator(mode="before")
    @classmethod
    def _name_from_path(cls, data: Any) -> Any:
        # A nested column "address.city" is named "city"; its path says where it sits.
        if isinstance(data, dict) and not data.get("name") and isinstance(data.get("path"), str):
            return {**data, "name": data["path"].strip().rsplit(".", 1)[-1]}
        return data


class JobProps(_Props):
    namespace: Name
    name: Name
    description: Text | None = None
    # OpenLineage's jobType facet: what a job is, e.g. a Spark APPLICATION or one of its SQL_JOBs.
    integration: Short | None = None  # SPARK, DBT, AIRFLOW, FLINK, ...
    processing_type: Short | None = None  # BATCH or STREAMING
    job_type: Short | None = None  # QUERY, COMMAND, DAG, TASK, JOB, MODEL, SQL_JOB, APPLICATION, ...


class RunProps(_Props):
    run_id: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=100)]
    job_id: Name
    state: Literal[RUN_STATES] = "OTHER"  # type: ignore[valid-type]
    state_at: Timestamp | None = None  # eventTime of the event that set `state`
    started_at: Timestamp | None = None
    ended_at: Timestamp | None = None
    producer: str | None = None
    facets: dict[str, Any] = Field(default_factory=dict)


MlflowTags = dict[Annotated[str, StringConstraints(max_length=250)], Annotated[str, StringConstraints(max_length=5000)]]


class ModelProps(_Props):
    name: Name
    description: Text | None = None
    tags: list[Tag] = Field(default_factory=list, max_length=50)
    # What a model card says a person wrote (services/model_cards.py): edited through the API,
    # never written by an importer, so a sync from MLflow leaves them as they are.
    intended_use: Text | None = None
    limitations: Text | None = None
    # Written by the MLflow sync (services/mlflow_sync.py): the registered model it mirrors.
    mlflow_name: Name | None = None
    mlflow_tags: MlflowTags | None = None


class ModelVersionProps(_Props):
    model_id: Name
    version: Version
    stage: Literal[MODEL_STAGES] = "none"  # type: ignore[valid-type]
    metrics: dict[str, float] = Field(default_factory=dict)
    mlflow_run_id: str | None = None
    mlflow_model_uri: str | None = None
    # As on ModelProps; a version's own, when set, stands over its model's on the card.
    intended_use: Text | None = None
    limitations: Text | None = None
    # Written by the MLflow sync (services/mlflow_sync.py): what MLflow's registry and the
    # version's run say about it.
    mlflow_model_id: Short | None = None  # the logged model (MLflow 3) the version was registered from
    mlflow_aliases: list[Short] | None = None  # (not `aliases`: a Dataset's aliases are names search matches)
    mlflow_tags: MlflowTags | None = None
    params: MlflowTags | None = None  # the run's parameters
    description: Text | None = None
    created_by: Annotated[str, StringConstraints(max_length=300)] | None = None
    registered_at: Timestamp | None = None
    # What it was made with ("sklearn 1.5.2"): a person's word, or the MLflow sync's from the logged
    # model's flavors when no one has written one (the sync never overwrites it).
    framework: Short | None = None


class TrainingJobProps(_Props):
    """A training job (domain/training.py has its rules; services/training.py writes status,
    progress and what follows from them, never a client)."""

    name: Name
    status: Literal[TRAINING_STATUSES] = "PENDING"  # type: ignore[valid-type]
    runner: Literal[TRAINING_RUNNERS] = "local"  # type: ignore[valid-type]
    project_id: str | None = None
    spec: dict[str, Any] = Field(default_factory=dict)  # what runs: never a secret value
    progress: float = Field(default=0.0, ge=0, le=1)
    epoch: int | None = None
    metrics: dict[str, float] = Field(default_factory=dict)  # the latest value of each
    metrics_history: list[dict[str, Any]] = Field(default_factory=list, max_length=400)
    message: Annotated[str, StringConstraints(max_length=1000)] | None = None
    log_tail: list[str] = Field(default_factory=list, max_length=200)
    exit_code: int | None = None
    reason: Text | None = None  # why it FAILED or was CANCELLED, with its last log lines
    owner: Annotated[str, StringConstraints(max_length=300)] | None = None  # the server process running it (local)
    where: Annotated[str, StringConstraints(max_length=300)] | None = None  # "pid 1234", "pod train-x-7f2k"
    cancel_requested: bool | None = None
    submitted_by: Annotated[str, StringConstraints(max_length=300)] | None = None
    started_at: Timestamp | None = None
    finished_at: Timestamp | None = None


class DeploymentProps(_Props):
    name: Name
    environment: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=100)]
    endpoint: Annotated[str, StringConstraints(max_length=2000)] | None = None
    replicas: int = Field(default=1, ge=0, le=10_000)
    status: Literal[DEPLOYMENT_STATUSES] = "pending"  # type: ignore[valid-type]


class MetricProps(_Props):
    type: Literal[METRIC_TYPES]  # type: ignore[valid-type]
    value: float
    at: Timestamp = Field(default_factory=lambda: datetime.now(timezone.utc))

    @field_validator("value")
    @classmethod
    def _in_range(cls, value: float, info: ValidationInfo) -> float:
        kind = info.data.get("type")  # absent when the type itself was refused
        if kind in METRIC_RANGES:
            lo, hi = METRIC_RANGES[kind]
            if not (math.isfinite(value) and lo <= value and (hi is None or value <= hi)):
                raise PydanticCustomError("metric_range", "{kind} must be {allowed}, got {value}",
                                          {"kind": kind, "allowed": metric_range(kind), "value": value})
        return value


class PredictionProps(_Props):
    target: Literal[PREDICTION_TARGETS]  # type: ignore[valid-type]
    value: float
    lower: float | None = None
    upper: float | None = None
    model_version: str | None = None
    inputs: dict[str, Any] = Field(default_factory=dict)
    explanation: dict[str, float] = Field(default_factory=dict)


@dataclass(frozen=True)
class LabelSpec:
    """How one label is validated, keyed and indexed.

    key:      props forming the natural key, unique per tenant; () means none (the id is the key).
    identity: the natural key IS the identity (OpenLineage datasets, fields, jobs, runs): it
              cannot be changed, and writers merge by it rather than conflict. Ingestion finds
              such nodes by key and mints ids for new ones (services/identities.py); the API
              derives the id from the key (identity_id).
    kind:     the prop listings filter by as a "type" (artifact type, problem class, ...).
    score:    the prop listings filter by with a minimum (impact score, success score).
    """

    label: Label
    schema: type[_Props]
    key: tuple[str, ...] = ("name",)
    identity: bool = False
    kind: str | None = None
    score: str | None = None


SPECS: dict[Label, LabelSpec] = {
    spec.label: spec
    for spec in (
        LabelSpec(Label.PERSON, PersonProps, key=("email",)),
        LabelSpec(Label.TEAM, TeamProps),
        LabelSpec(Label.PROJECT, ProjectProps, kind="problem_class", score="success_score"),
        LabelSpec(Label.ARTIFACT, ArtifactProps, key=("name", "version"), kind="type", score="impact_score"),
        LabelSpec(Label.DATASET, DatasetProps, key=("namespace", "name"), identity=True),
        LabelSpec(Label.FIELD, FieldProps, key=("dataset_id", "path"), identity=True, kind="type"),
        LabelSpec(Label.JOB, JobProps, key=("namespace", "name"), identity=True),
        LabelSpec(Label.RUN, RunProps, key=("run_id",), identity=True, kind="state"),
        LabelSpec(Label.MODEL, ModelProps),
        LabelSpec(Label.MODEL_VERSION, ModelVersionProps, key=("model_id", "version"), kind="stage"),
        LabelSpec(Label.TRAINING_JOB, TrainingJobProps, key=(), kind="status"),
        LabelSpec(Label.DEPLOYMENT, DeploymentProps, key=("environment", "name"), kind="environment"),
        LabelSpec(Label.METRIC, MetricProps, key=(), kind="type"),
        LabelSpec(Label.PREDICTION, PredictionProps, key=(), kind="target"),
    )
}
assert set(SPECS) == set(Label), "every label needs a LabelSpec"
_PLAIN_DEFAULTS: dict[Label, Props] = {}  # filled below, once the schemas' defaults are known

# Relationship props: a schema where a relationship carries any.
class MemberOfProps(_Props):
    role: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=100)] = "member"


class UsesProps(_Props):
    impact_score: float = Field(default=0.0, ge=0, le=10)
    at: Timestamp | None = None


class Transformation(_Props):
    """One job's word on a column edge (domain/derivations.py Contribution)."""

    job: str = ""
    type: Literal[DERIVATION_TYPES] | None = None  # type: ignore[valid-type]  # None: the producer did not say
    subtype: Annotated[str, StringConstraints(max_length=50)] | None = None
    description: Text | None = None
    masking: bool | None = None  # only true is stored


class DerivesProps(_Props):
    # The strongest of `transformations` (DIRECT over INDIRECT over unknown), for readers of one
    # value; None: no producer said what the edge does.
    type: Literal[DERIVATION_TYPES] | None = None  # type: ignore[valid-type]
    subtype: Annotated[str, StringConstraints(max_length=50)] | None = None
    description: Text | None = None
    masking: bool | None = None  # only true is stored: absent means false
    job: str | None = None
    transformations: list[Transformation] | None = None  # every (job, type, subtype) that produced it


class WritesProps(_Props):
    # Which run's column lineage stands for this job's output (domain/derivations.py).
    lineage: Annotated[str, StringConstraints(max_length=200)] | None = None  # "<at> <run> <digest>"


class FeedsProps(_Props):
    job: str | None = None  # the first of by_job, for readers of one value
    # Whether column lineage says which columns of the source feed the target. Where it does not
    # (absent or unknown), impact analysis from a column crosses this edge at dataset level.
    # From OpenLineage: true only when every job that feeds it this way reports column lineage.
    column_lineage: bool | None = None
    by_job: dict[str, bool] | None = None  # each job feeding it -> whether it reports column lineage


class EmptyProps(_Props):
    pass


REL_SCHEMAS: dict[Rel, type[_Props]] = {
    Rel.MEMBER_OF: MemberOfProps,
    Rel.USES: UsesProps,
    Rel.DERIVES: DerivesProps,
    Rel.FEEDS: FeedsProps,
    Rel.WRITES: WritesProps,
}


def _to_json(model: _Props) -> Props:
    # JSON mode turns datetimes into ISO strings: the stored form is identical on every backend.
    return model.model_dump(mode="json", exclude_none=True)


def _bad_input(what: str, err: ValidationError) -> BadInput:
    first = err.errors()[0]
    loc = ".".join(str(p) for p in first["loc"]) or what
    msg = first["msg"]
    if first["type"] == "extra_forbidden":
        msg = "is not a known property"
    elif first["type"] == "missing":
        msg = "is required"
    elif first["type"] == "string_pattern_mismatch" and loc.endswith("version"):
        msg = "must be a version such as 1.2.3, v2 or 1.0.0-rc.1"
    return BadInput(f"{what}.{loc}: {msg}", field=loc)


# Lineage ingestion validates tens of nodes per event, mostly plain strings. For these labels a
# plain-string property set is checked by hand (same rules as the schemas above); anything else,
# and anything the hand check refuses, goes through pydantic, which also words the error.
_PLAIN_LIMITS: dict[Label, dict[str, tuple[int, int]]] = {  # prop -> (min, max) length after strip
    Label.DATASET: {"namespace": (1, 300), "name": (1, 300), "description": (0, 10_000)},
    Label.JOB: {"namespace": (1, 300), "name": (1, 300), "description": (0, 10_000), "integration": (0, 100),
                "processing_type": (0, 100), "job_type": (0, 100)},
    Label.FIELD: {"dataset_id": (1, 300), "path": (1, 1000), "name": (1, 300), "type": (0, 200),
                  "description": (0, 10_000)},
}
_PLAIN_REQUIRED = {Label.DATASET: ("namespace", "name"), Label.JOB: ("namespace", "name"),
                   Label.FIELD: ("dataset_id", "path")}


def _plain(label: Label, props: Props) -> Props | None:
    limits = _PLAIN_LIMITS[label]
    out: Props = {}
    for k, v in props.items():
        if v is None:
            continue
        if type(v) is not str or k not in limits:
            return None
        v = v.strip()
        lo, hi = limits[k]
        if NUL in v:  # schema_validate words the refusal
            return None
        if not lo <= len(v) <= hi:
            return None
        out[k] = v
    if label is Label.FIELD and "path" in out and not out.get("name"):
        out["name"] = out["path"].rsplit(".", 1)[-1].strip()  # as FieldProps._name_from_path
        if not 1 <= len(out["name"]) <= 300:
            return None
    if not all(k in out for k in _PLAIN_REQUIRED[label]):
        return None
    return out


def validate_props(label: Label, props: Props) -> Props:
    """Validate a label's full property set and return it in stored (JSON) form.

    >>> validate_props(Label.TEAM, {"name": " ml-platform "})
    {'name': 'ml-platform'}
    >>> validate_props(Label.FIELD, {"dataset_id": "d1", "path": "address.city"})
    {'dataset_id': 'd1', 'path': 'address.city', 'name': 'city'}
    """
    if label in _PLAIN_LIMITS and (plain := _plain(label, props)) is not None:
        return {**_PLAIN_DEFAULTS[label], **plain}
    return schema_validate(label, props)


def schema_validate(label: Label, props: Props) -> Props:
    """validate_props without the plain-string shortcut (tests hold the two to the same answers)."""
    refuse_nul(label.value, props)
    try:
        return _to_json(SPECS[label].schema.model_validate(props))
    except ValidationError as err:
        raise _bad_input(label.value, err) from None


def validate_rel_props(rel: Rel, props: Props | None) -> Props:
    refuse_nul(rel.value, props or {})
    try:
        return _to_json(REL_SCHEMAS.get(rel, EmptyProps).model_validate(props or {}))
    except ValidationError as err:
        raise _bad_input(rel.value, err) from None


def defaults(label: Label) -> Props:
    """Values of props a stored node may lack (nodes merged from partial data, e.g. lineage)."""
    out: Props = {}
    for name, f in SPECS[label].schema.model_fields.items():
        if not f.is_required():
            out[name] = f.get_default(call_default_factory=True)
    return out


def index_values(label: Label, props: Props) -> tuple[str, str | None, float | None, list[str]]:
    """(name, kind, score, tags): the values listings filter and sort by."""
    spec = SPECS[label]
    name = node_name(props)
    kind = props.get(spec.kind) if spec.kind else None
    score = props.get(spec.score) if spec.score else None
    tags = list(props.get("tags") or [])
    return name, (str(kind) if kind is not None else None), (float(score) if score is not None else None), tags

# Props that merge as a union: what an identity-keyed node is told about them adds to what is
# stored, in any order, rather than replacing it (a dataset's aliases gathered from many events).
UNION_PROPS: dict[Label, tuple[str, ...]] = {Label.DATASET: ("aliases",)}
_UNION_ORDER = {(Label.DATASET, "aliases"): alias_order}


def with_unions(label: Label, old: Props, new: Props) -> Props:
    """`new` as a patch over `old`: its union props joined with old's (UNION_PROPS).

    >>> a, b = {"namespace": "hive", "name": "default.orders"}, {"namespace": "s3", "name": "orders"}
    >>> with_unions(Label.DATASET, {"aliases": [b]}, {"name": "x", "aliases": [a]})["aliases"] == [a, b]
    True
    """
    out = new
    for prop in UNION_PROPS.get(label, ()):
        mine, theirs = new.get(prop), old.get(prop)
        if mine and theirs and mine != theirs:
            order = _UNION_ORDER[(label, prop)]
            unique = {order(v): v for v in (*theirs, *mine)}
            out = {**out, prop: [unique[k] for k in sorted(unique)]}
    return out


# Name filters compare a node's folded name, and each of its aliases' names, against the folded
# filter; the stores keep them as one string, joined by a character no name is expected to hold
# (a filter holding it could match across two of them).
SEARCH_SEPARATOR = "\x1f"


def search_text(props: Props, name: str) -> str:
    """What name filters match: fold(name), then fold of each alias's name.

    >>> search_text({"aliases": [{"namespace": "hive", "name": "Default.Orders"}]}, "warehouse/orders").split(SEARCH_SEPARATOR)
    ['warehouse/orders', 'default.orders']
    """
    text = fold(name)
    for alias in props.get("aliases") or ():
        text += SEARCH_SEPARATOR + fold(alias["name"])
    return text


_PLAIN_DEFAULTS.update({label: _to_json(SPECS[label].schema.model_construct()) for label in _PLAIN_LIMITS})
