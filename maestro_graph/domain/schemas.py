"""Per-label property schemas: validation, natural keys and index columns, in one place.

Every write passes through `validate_props`, whichever API or importer it came from.
"""

from __future__ import annotations

import enum
import hashlib
import json
import math
import random
import time
import unicodedata
import uuid
from dataclasses import dataclass
from datetime import datetime, timezone
from functools import lru_cache
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, TypeAdapter, ValidationError, ValidationInfo, field_validator, model_validator
from pydantic_core import PydanticCustomError

from maestro_graph.domain.errors import BadInput
from maestro_graph.domain.graph import Label, Rel, node_name
from maestro_graph.types import NodeId, Props, Tenant

Name = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=300)]
Text = Annotated[str, StringConstraints(max_length=10_000)]
Tag = Annotated[str, StringConstraints(strip_whitespace=True, to_lower=True, min_length=1, max_length=64, pattern=r"^[^,]+$")]
# Semver-ish: 1, 1.2, 1.2.3, v1.2.3, 1.2.3-rc.1, 1.2.3+build.5
VERSION_RE = r"^v?\d+(\.\d+){0,2}([-+][0-9A-Za-z.-]+)?$"
Version = Annotated[str, StringConstraints(strip_whitespace=True, max_length=100, pattern=VERSION_RE)]
Timestamp = datetime


class ArtifactType(enum.Enum):
    """What kind of reusable artifact this is."""
    FEATURE_PIPELINE = "feature_pipeline"
    MODEL_TEMPLATE = "model_template"
    SCHEMA = "schema"
    NOTEBOOK = "notebook"
    OTHER = "other"


class ProblemClass(enum.Enum):
    """The kind of ML problem a project solves."""
    CLASSIFICATION = "classification"
    REGRESSION = "regression"
    FORECASTING = "forecasting"
    RANKING = "ranking"
    RECOMMENDATION = "recommendation"
    NLP = "nlp"
    COMPUTER_VISION = "computer_vision"
    ANOMALY_DETECTION = "anomaly_detection"
    CLUSTERING = "clustering"
    OTHER = "other"


class ProjectStatus(enum.Enum):
    """Where a project is in its life."""
    PLANNED = "planned"
    ACTIVE = "active"
    FINISHED = "finished"
    CANCELLED = "cancelled"


class RunState(enum.Enum):
    """OpenLineage run state."""
    START = "START"
    RUNNING = "RUNNING"
    COMPLETE = "COMPLETE"
    ABORT = "ABORT"
    FAIL = "FAIL"
    OTHER = "OTHER"


class TrainingStatus(enum.Enum):
    """Training job status."""
    PENDING = "PENDING"
    RUNNING = "RUNNING"
    SUCCEEDED = "SUCCEEDED"
    FAILED = "FAILED"
    CANCELLED = "CANCELLED"


class TrainingRunner(enum.Enum):
    """Where a training job runs."""
    LOCAL = "local"
    KUBERNETES = "kubernetes"


class ModelStage(enum.Enum):
    """Model version stage."""
    NONE = "none"
    STAGING = "staging"
    PRODUCTION = "production"
    ARCHIVED = "archived"


class DeploymentStatus(enum.Enum):
    """Deployment status."""
    PENDING = "pending"
    RUNNING = "running"
    DEGRADED = "degraded"
    STOPPED = "stopped"


class PredictionTarget(enum.Enum):
    """What a prediction predicts."""
    SUCCESS_SCORE = "success_score"
    DURATION_DAYS = "duration_days"
    COST = "cost"


class DerivationType(enum.Enum):
    """OpenLineage column-lineage transformation type."""
    DIRECT = "DIRECT"
    INDIRECT = "INDIRECT"


def values(kind: type[enum.Enum]) -> tuple[str, ...]:
    """An enum's stored values, in order: what a prop of that kind may hold.

    >>> values(TrainingRunner)
    ('local', 'kubernetes')
    """
    return tuple(member.value for member in kind)


ARTIFACT_TYPES = values(ArtifactType)
PROBLEM_CLASSES = values(ProblemClass)
PROJECT_STATUSES = values(ProjectStatus)
RUN_STATES = values(RunState)
TRAINING_STATUSES = values(TrainingStatus)
TRAINING_RUNNERS = values(TrainingRunner)
MODEL_STAGES = values(ModelStage)
DEPLOYMENT_STATUSES = values(DeploymentStatus)
PREDICTION_TARGETS = values(PredictionTarget)
DERIVATION_TYPES = values(DerivationType)

# Each project process metric type and the values it can take: (lowest, highest), None for no
# highest. Rates and coverage are fractions: a CI success rate of 7.5 is a mistake, as is a
# negative commit count; both are refused (MetricProps).
METRIC_RANGES: dict[str, tuple[float, float | None]] = {
    "commits_per_week": (0, None),
    "avg_pr_merge_hours": (0, None),
    "ci_success_rate": (0, 1),  # the fraction of CI runs that passed
    "open_issues": (0, None),
    "deploys_per_week": (0, None),
    "test_coverage": (0, 1),  # the fraction of code covered by tests
    "story_points_per_sprint": (0, None),
}
# One member per METRIC_RANGES key: a metric type and its range are stated once, above.
MetricType = enum.Enum("MetricType", {kind.upper(): kind for kind in METRIC_RANGES})  # type: ignore[misc]
METRIC_TYPES = values(MetricType)


def metric_range(kind: str) -> str:
    """A metric type's allowed values, in words.

    >>> metric_range("ci_success_rate"), metric_range("open_issues")
    ('from 0 to 1', 'at least 0')
    """
    lo, hi = METRIC_RANGES[kind]
    return f"at least {lo:g}" if hi is None else f"from {lo:g} to {hi:g}"


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
    impact_score: float = Field(default=0.0, ge=0, le=10)
    usage_count: int = Field(default=0, ge=0)
    description: Text | None = None
    metadata: dict[str, Any] = Field(default_factory=dict)

    @field_validator("tags")
    @classmethod
    def _unique_tags(cls, tags: list[str]) -> list[str]:
        return sorted(set(tags))


class DatasetProps(_Props):
    namespace: Name
    name: Name
    description: Text | None = None
    tags: list[Tag] = Field(default_factory=list, max_length=50)

    _unique_tags = field_validator("tags")(ArtifactProps._unique_tags.__func__)  # type: ignore[attr-defined]


class FieldProps(_Props):
    dataset_id: Name
    path: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=1000)]
    name: Name
    type: Annotated[str, StringConstraints(max_length=200)] | None = None
    description: Text | None = None

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


class RunProps(_Props):
    run_id: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=100)]
    job_id: Name
    state: Literal[RUN_STATES] = "OTHER"  # type: ignore[valid-type]
    state_at: Timestamp | None = None  # eventTime of the event that set `state`
    started_at: Timestamp | None = None
    ended_at: Timestamp | None = None
    producer: str | None = None
    facets: dict[str, Any] = Field(default_factory=dict)


class ModelProps(_Props):
    name: Name
    description: Text | None = None
    tags: list[Tag] = Field(default_factory=list, max_length=50)


class ModelVersionProps(_Props):
    model_id: Name
    version: Version
    stage: Literal[MODEL_STAGES] = "none"  # type: ignore[valid-type]
    metrics: dict[str, float] = Field(default_factory=dict)
    mlflow_run_id: str | None = None
    mlflow_model_uri: str | None = None


class TrainingJobProps(_Props):
    name: Name
    status: Literal[TRAINING_STATUSES] = "PENDING"  # type: ignore[valid-type]
    runner: Literal[TRAINING_RUNNERS] = "local"  # type: ignore[valid-type]
    spec: dict[str, Any] = Field(default_factory=dict)
    progress: float = Field(default=0.0, ge=0, le=1)
    metrics: dict[str, float] = Field(default_factory=dict)
    log_tail: list[str] = Field(default_factory=list, max_length=200)


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


class DerivesProps(_Props):
    type: Literal[DERIVATION_TYPES] = "DIRECT"  # type: ignore[valid-type]
    subtype: Annotated[str, StringConstraints(max_length=50)] | None = None
    description: Text | None = None
    masking: bool = False
    job: str | None = None


class FeedsProps(_Props):
    job: str | None = None
    # Whether column lineage says which columns of the source feed the target. Where it does not
    # (absent or unknown), impact analysis from a column crosses this edge at dataset level.
    column_lineage: bool | None = None


class EmptyProps(_Props):
    pass


REL_SCHEMAS: dict[Rel, type[_Props]] = {
    Rel.MEMBER_OF: MemberOfProps,
    Rel.USES: UsesProps,
    Rel.DERIVES: DerivesProps,
    Rel.FEEDS: FeedsProps,
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
    Label.JOB: {"namespace": (1, 300), "name": (1, 300), "description": (0, 10_000)},
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


# -- strings the graph refuses --------------------------------------------------------------------
# U+0000 is refused in every string the graph is given (props, relationship props, ids, filters,
# cursors): PostgreSQL cannot store it in text or JSONB, and one rule for every backend keeps
# their answers the same.
NUL = "\x00"


def _nul_at(value: Any) -> list[str] | None:
    """Where in a JSON-like value a string (or a dict key) holds U+0000: the path of keys and
    indexes to it ([] for the value itself), or None.

    >>> _nul_at({"a": ["x", "y" + NUL]})
    ['a', '1']
    """
    if type(value) is str:
        return [] if NUL in value else None
    if isinstance(value, dict):
        for k, v in value.items():
            if NUL in str(k):
                return []
            if (where := _nul_at(v)) is not None:
                return [str(k), *where]
    elif isinstance(value, (list, tuple)):
        for i, v in enumerate(value):
            if (where := _nul_at(v)) is not None:
                return [str(i), *where]
    return None


def refuse_nul(what: str, props: Props) -> None:
    """BadInput naming the first prop (path) that holds U+0000, if any."""
    if (where := _nul_at(props)) is not None:
        loc = ".".join(where) or what
        raise BadInput(f"{what}.{loc}: must not contain the character U+0000 (NUL)", field=loc)


def fold(text: str) -> str:
    """Text as name filters compare it, on every backend: Unicode case folding of its NFKC form,
    so a filter finds a name however either was cased or composed (ß and SS, É and é, Σ and ς).
    Stores keep fold(name) beside the name and compare fold(filter) against it.

    >>> fold("Straße") == fold("STRASSE"), fold("ÉCOLE") == fold("école"), fold("İ")
    (True, True, 'i̇')
    """
    if text.isascii():
        return text.lower()
    return unicodedata.normalize("NFKC", unicodedata.normalize("NFKC", text).casefold())


def check_text(value: str, field: str, max_length: int) -> str:
    """A free-text argument (a filter, a cursor, an id): refused when longer than `max_length`
    characters or holding U+0000.

    >>> check_text("churn", "text", 300)
    'churn'
    """
    if len(value) > max_length:
        raise BadInput(f"{field}: at most {max_length} characters, got {len(value)}", field=field)
    if NUL in value:
        raise BadInput(f"{field}: must not contain the character U+0000 (NUL)", field=field)
    return value


_TAG = TypeAdapter(Tag)


def check_tag(value: str, field: str = "tags") -> str:
    """A tag to filter by, normalised as stored tags are (stripped, lower case); BadInput if no
    tag could be stored as it (empty, longer than 64 characters, a comma, U+0000).

    >>> check_tag(" PII ")
    'pii'
    """
    if NUL in value:
        raise BadInput(f"{field}: must not contain the character U+0000 (NUL)", field=field)
    try:
        return _TAG.validate_python(value)
    except ValidationError as err:
        raise BadInput(f"{field}: not a tag: {err.errors()[0]['msg']}", field=field) from None


def defaults(label: Label) -> Props:
    """Values of props a stored node may lack (nodes merged from partial data, e.g. lineage)."""
    out: Props = {}
    for name, f in SPECS[label].schema.model_fields.items():
        if not f.is_required():
            out[name] = f.get_default(call_default_factory=True)
    return out


def natural_key(label: Label, props: Props, node_id: NodeId | None = None) -> str:
    """The natural key as one string: a JSON list of the key props (unambiguous, readable).

    >>> natural_key(Label.DATASET, {"namespace": "pg://db", "name": "orders"})
    '["pg://db", "orders"]'
    """
    fields = SPECS[label].key
    if not fields:
        assert node_id is not None, f"{label.value} has no natural key: pass its id"
        return node_id
    values = [props[f] for f in fields]
    for v in values:  # a plain loop, not all(...): ingestion keys tens of nodes an event
        if type(v) is not str:
            return _KEY_JSON(values)
    return "[" + ", ".join(map(_key_part, values)) + "]"  # what json.dumps gives, value by value


_KEY_JSON = json.JSONEncoder(ensure_ascii=False).encode  # json.dumps builds an encoder per call


def field_key(dataset_id: str, path: str) -> str:
    """natural_key(Label.FIELD, ...) from its two parts: ingestion keys tens of fields an event,
    and column paths recur across datasets, so the path's part is made once.

    >>> field_key("d1", 'a."b"') == natural_key(Label.FIELD, {"dataset_id": "d1", "path": 'a."b"'})
    True
    """
    return "[" + _key_part(dataset_id) + ", " + _path_part(path) + "]"


def _key_part(v: str) -> str:
    """One string key value as it stands in natural_key's JSON list: JSON-encoded only when it
    needs escaping (the encoder costs more than the check)."""
    if '"' in v or "\\" in v or not v.isprintable():
        return _KEY_JSON(v)
    return '"' + v + '"'


_path_part = lru_cache(maxsize=50_000)(_key_part)
_URL_NAMESPACE = uuid.NAMESPACE_URL.bytes


def uuid5(name: str) -> str:
    """str(uuid.uuid5(uuid.NAMESPACE_URL, name)), without building UUID objects (ingestion makes
    tens of ids per event).

    >>> uuid5("maestro:t:Dataset:x") == str(uuid.uuid5(uuid.NAMESPACE_URL, "maestro:t:Dataset:x"))
    True
    """
    h = bytearray(hashlib.sha1(_URL_NAMESPACE + name.encode()).digest()[:16])
    h[6] = (h[6] & 0x0F) | 0x50  # version 5
    h[8] = (h[8] & 0x3F) | 0x80  # RFC 4122 variant
    x = h.hex()
    return f"{x[:8]}-{x[8:12]}-{x[12:16]}-{x[16:20]}-{x[20:]}"


def new_id(tenant: Tenant, label: Label, props: Props) -> NodeId:
    """Identity-keyed labels get a stable id from their key, so every writer agrees on it."""
    if SPECS[label].identity:
        return identity_id(tenant, label, natural_key(label, props))
    return str(uuid.uuid4())


def identity_id(tenant: Tenant, label: Label, key: str) -> NodeId:
    """The id an identity-keyed node gets when it is created through the API: derived from its
    natural key. Ingestion finds nodes by key instead, and mints time-ordered ids for new ones
    (minted_id): either kind of id is found by its key."""
    return uuid5(f"maestro:{tenant}:{label.value}:{key}")


_last_minted = 0


def minted_id() -> NodeId:
    """A new time-ordered id (a UUIDv7: 48 bits of Unix milliseconds, then a sequence, then
    random bits), ascending within this process.

    Why: ids lead every index (nodes by id, relationships by src and by dst). Ids made at the
    same time sit together at the end of each index, so a batch of new nodes and their
    relationships touches a few pages; random ids touch a page per row. Measured on 1M fields
    (SQLite, 13 nodes and 34 relationships an event): 6.1 ms an event with random ids, 0.9 ms
    with these.

    >>> a, b = minted_id(), minted_id()
    >>> a < b and uuid.UUID(a).version == 7
    True
    """
    global _last_minted
    _last_minted = max(time.time_ns() // 1_000_000 << 12, _last_minted + 1)  # ms, then a 12-bit sequence
    # Version 7, the RFC 9562 variant, then 62 random bits. The ids need to be unique, not
    # unguessable: the module's generator is 10x cheaper than os.urandom, and a forked worker
    # reseeds it. One hex conversion and plain joins: this runs for every new node.
    x = "%032x" % ((_last_minted >> 12) << 80 | 7 << 76 | (_last_minted & 0xFFF) << 64 | 2 << 62 | random.getrandbits(62))
    return x[:8] + "-" + x[8:12] + "-" + x[12:16] + "-" + x[16:20] + "-" + x[20:]


def index_values(label: Label, props: Props) -> tuple[str, str | None, float | None, list[str]]:
    """(name, kind, score, tags): the values listings filter and sort by."""
    spec = SPECS[label]
    name = node_name(props)
    kind = props.get(spec.kind) if spec.kind else None
    score = props.get(spec.score) if spec.score else None
    tags = list(props.get("tags") or [])
    return name, (str(kind) if kind is not None else None), (float(score) if score is not None else None), tags


def now() -> str:
    """UTC timestamps as fixed-width ISO strings: they sort the same in every store."""
    return datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


_PLAIN_DEFAULTS.update({label: _to_json(SPECS[label].schema.model_construct()) for label in _PLAIN_LIMITS})
