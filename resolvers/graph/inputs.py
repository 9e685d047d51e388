"""Input types for creating and updating nodes, and their translation into domain props.

Field names are the domain's prop names, so translation is mechanical; validation is the
domain's (maestro_graph/domain/props.py), not repeated here. Update inputs are derived from
create inputs: every field optional, identity fields left out, and null meaning "remove".
"""

import dataclasses
import enum
import typing
from datetime import datetime
from typing import Any, Optional

import strawberry
from strawberry.scalars import JSON

from maestro_graph.domain.graph import Label
from maestro_graph.domain.props import SPECS
from maestro_graph.domain.graph import PARENTS
from maestro_graph.types import Props
from resolvers.graph.enums import (
    ArtifactType, DeploymentStatus, MetricType, ModelStage, PredictionTarget, ProblemClass,
    ProjectStatus, RunState, TrainingRunner, TrainingStatus,
)
from resolvers.relay import from_global_id


@strawberry.input
class MemberInput:
    person_id: strawberry.ID
    role: str = "member"


@strawberry.input
class CreatePersonInput:
    name: str
    email: str


@strawberry.input
class CreateTeamInput:
    name: str
    description: Optional[str] = None


@strawberry.input
class CreateProjectInput:
    name: str
    problem_class: ProblemClass  # type: ignore[valid-type]
    complexity_score: int
    team_size: Optional[int] = None
    status: Optional[ProjectStatus] = None  # type: ignore[valid-type]
    started_at: Optional[datetime] = None
    finished_at: Optional[datetime] = None
    success_score: Optional[float] = None
    duration_days: Optional[float] = None
    cost: Optional[float] = None
    description: Optional[str] = None
    metadata: Optional[JSON] = None
    members: Optional[list[MemberInput]] = strawberry.field(default=None, description="People to add as members, in the same transaction.")


@strawberry.input
class CreateArtifactInput:
    name: str
    type: ArtifactType  # type: ignore[valid-type]
    version: Optional[str] = None
    tags: Optional[list[str]] = None
    storage_path: Optional[str] = None
    description: Optional[str] = None
    metadata: Optional[JSON] = None
    created_by: Optional[strawberry.ID] = strawberry.field(default=None, description="The Person who created it.")


@strawberry.input
class CreateDatasetInput:
    namespace: str
    name: str
    description: Optional[str] = None
    tags: Optional[list[str]] = None


@strawberry.input
class CreateFieldInput:
    dataset_id: strawberry.ID
    path: str = strawberry.field(description="Column name; nested columns as a dotted path, e.g. address.city.")
    type: Optional[str] = None
    description: Optional[str] = None


@strawberry.input
class CreateJobInput:
    namespace: str
    name: str
    description: Optional[str] = None


@strawberry.input
class CreateRunInput:
    job_id: strawberry.ID
    run_id: str
    state: Optional[RunState] = None  # type: ignore[valid-type]
    started_at: Optional[datetime] = None
    ended_at: Optional[datetime] = None
    facets: Optional[JSON] = None


@strawberry.input
class CreateModelInput:
    name: str
    description: Optional[str] = None
    tags: Optional[list[str]] = None


@strawberry.input
class CreateModelVersionInput:
    model_id: strawberry.ID
    version: str
    stage: Optional[ModelStage] = None  # type: ignore[valid-type]
    metrics: Optional[JSON] = None
    mlflow_run_id: Optional[str] = None
    mlflow_model_uri: Optional[str] = None


@strawberry.input
class CreateTrainingJobInput:
    name: str
    status: Optional[TrainingStatus] = None  # type: ignore[valid-type]
    runner: Optional[TrainingRunner] = None  # type: ignore[valid-type]
    spec: Optional[JSON] = None
    progress: Optional[float] = None
    metrics: Optional[JSON] = None


@strawberry.input
class CreateDeploymentInput:
    name: str
    environment: str
    endpoint: Optional[str] = None
    replicas: Optional[int] = None
    status: Optional[DeploymentStatus] = None  # type: ignore[valid-type]


@strawberry.input
class CreateMetricInput:
    type: MetricType  # type: ignore[valid-type]
    value: float
    at: Optional[datetime] = strawberry.field(default=None, description="When it was measured; default now.")


@strawberry.input
class CreatePredictionInput:
    target: PredictionTarget  # type: ignore[valid-type]
    value: float
    lower: Optional[float] = None
    upper: Optional[float] = None
    model_version: Optional[str] = None
    inputs: Optional[JSON] = None
    explanation: Optional[JSON] = None


CREATE_INPUTS: dict[Label, type] = {
    Label.PERSON: CreatePersonInput, Label.TEAM: CreateTeamInput, Label.PROJECT: CreateProjectInput,
    Label.ARTIFACT: CreateArtifactInput, Label.DATASET: CreateDatasetInput, Label.FIELD: CreateFieldInput,
    Label.JOB: CreateJobInput, Label.RUN: CreateRunInput, Label.MODEL: CreateModelInput,
    Label.MODEL_VERSION: CreateModelVersionInput, Label.TRAINING_JOB: CreateTrainingJobInput,
    Label.DEPLOYMENT: CreateDeploymentInput, Label.METRIC: CreateMetricInput, Label.PREDICTION: CreatePredictionInput,
}
assert set(CREATE_INPUTS) == set(Label), "every label needs a create input"


def _immutable(label: Label) -> set[str]:
    spec, parent = SPECS[label], PARENTS.get(label)
    return set(spec.key if spec.identity else ()) | ({parent.prop} if parent else set())


def _update_input(label: Label) -> type:
    create = CREATE_INPUTS[label]
    hints = typing.get_type_hints(create)
    props = SPECS[label].schema.model_fields
    names = [f.name for f in dataclasses.fields(create) if f.name in props and f.name not in _immutable(label)]
    ns: dict[str, Any] = {"__annotations__": {n: Optional[hints[n]] for n in names}}
    ns.update({n: strawberry.UNSET for n in names})
    cls = type(f"Update{label.value}Input", (), ns)
    return strawberry.input(cls, description=f"Fields to change on a {label.value}; null removes an optional field.")


UPDATE_INPUTS: dict[Label, type] = {label: _update_input(label) for label in Label}


def _plain(value: Any) -> Any:
    if isinstance(value, enum.Enum):
        return value.value
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, list):
        return [_plain(v) for v in value]
    return value


def to_props(label: Label, data: Any, *, partial: bool = False) -> Props:
    """Domain props from a create/update input: enums to values, global ids to node ids.

    Create inputs drop unset optional fields (the domain fills defaults); update inputs keep
    explicit nulls, which remove the prop."""
    props: Props = {}
    known = SPECS[label].schema.model_fields
    parent = PARENTS.get(label)
    for f in dataclasses.fields(data):
        value = getattr(data, f.name)
        if f.name not in known or value is strawberry.UNSET or (value is None and not partial):
            continue
        if parent is not None and f.name == parent.prop:
            value = from_global_id(str(value), parent.label, field=f.name)[1]
        props[f.name] = _plain(value)
    return props
