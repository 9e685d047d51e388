"""Models, their versions, the training jobs that produce them and the deployments that serve
them: GraphQL types, enums and inputs."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Annotated, Optional

import strawberry
from strawberry import relay
from strawberry.scalars import JSON

from maestro_graph.domain import vocabulary as s
from maestro_graph.domain.graph import Label, Rel
from resolvers.datasets.types import Dataset, Field
from resolvers.nodes import IN, OUT, StoredNode, related, related_one
from resolvers.relay import Connection

if TYPE_CHECKING:  # the lazy annotations below name these; importing them here would be circular
    from resolvers.people.types import Person

ModelStage = strawberry.enum(s.ModelStage, description=s.ModelStage.__doc__)
TrainingStatus = strawberry.enum(s.TrainingStatus, description=s.TrainingStatus.__doc__)
TrainingRunner = strawberry.enum(s.TrainingRunner, description=s.TrainingRunner.__doc__)
DeploymentStatus = strawberry.enum(s.DeploymentStatus, description=s.DeploymentStatus.__doc__)


@strawberry.type(description="A model, with its versions.")
class Model(StoredNode, relay.Node):
    id: relay.NodeID[str]
    name: str
    description: Optional[str]
    tags: list[str]
    created_at: datetime
    updated_at: datetime
    versions: Connection[ModelVersion] = related(Rel.VERSION_OF, IN, description="Its versions.")
    owners: Connection[Annotated["Person", strawberry.lazy("resolvers.people.types")]] = related(
        Rel.OWNS, IN, labels=[Label.PERSON], description="People who own it.")


@strawberry.type(description="One trained version of a model.")
class ModelVersion(StoredNode, relay.Node):
    id: relay.NodeID[str]
    version: str
    stage: ModelStage  # type: ignore[valid-type]
    metrics: JSON
    mlflow_run_id: Optional[str]
    mlflow_model_uri: Optional[str]
    created_at: datetime
    updated_at: datetime
    model: Optional[Model] = related_one(Rel.VERSION_OF, OUT, description="The model it is a version of.")
    trained_on: Connection[Dataset] = related(Rel.TRAINED_ON, OUT, description="Datasets it was trained on.")
    features: Connection[Field] = related(Rel.USES_FEATURE, OUT, description="Columns it uses as features.")
    deployments: Connection[Deployment] = related(Rel.SERVES, IN, description="Deployments serving it.")
    produced_by: Optional[TrainingJob] = related_one(Rel.PRODUCED, IN, description="The training job that produced it.")


@strawberry.type(description="A training job and its live status.")
class TrainingJob(StoredNode, relay.Node):
    id: relay.NodeID[str]
    name: str
    status: TrainingStatus  # type: ignore[valid-type]
    runner: TrainingRunner  # type: ignore[valid-type]
    spec: JSON
    progress: float
    metrics: JSON
    log_tail: list[str]
    created_at: datetime
    updated_at: datetime
    produced: Connection[ModelVersion] = related(Rel.PRODUCED, OUT, description="Model versions it produced.")


@strawberry.type(description="A running deployment of a model version.")
class Deployment(StoredNode, relay.Node):
    id: relay.NodeID[str]
    name: str
    environment: str
    endpoint: Optional[str]
    replicas: int
    status: DeploymentStatus  # type: ignore[valid-type]
    created_at: datetime
    updated_at: datetime
    serves: Connection[ModelVersion] = related(Rel.SERVES, OUT, description="Model versions it serves.")


@strawberry.input
class CreateModelInput:
    name: str
    description: Optional[str] = None
    tags: Optional[list[str]] = None


@strawberry.input(description="Fields to change on a Model; null removes an optional field.")
class UpdateModelInput:
    name: Optional[str] = strawberry.UNSET
    description: Optional[str] = strawberry.UNSET
    tags: Optional[list[str]] = strawberry.UNSET


@strawberry.input
class CreateModelVersionInput:
    model_id: strawberry.ID
    version: str
    stage: Optional[ModelStage] = None  # type: ignore[valid-type]
    metrics: Optional[JSON] = None
    mlflow_run_id: Optional[str] = None
    mlflow_model_uri: Optional[str] = None


@strawberry.input(description="Fields to change on a ModelVersion; null removes an optional field.")
class UpdateModelVersionInput:
    version: Optional[str] = strawberry.UNSET
    stage: Optional[ModelStage] = strawberry.UNSET  # type: ignore[valid-type]
    metrics: Optional[JSON] = strawberry.UNSET
    mlflow_run_id: Optional[str] = strawberry.UNSET
    mlflow_model_uri: Optional[str] = strawberry.UNSET


@strawberry.input
class CreateTrainingJobInput:
    name: str
    status: Optional[TrainingStatus] = None  # type: ignore[valid-type]
    runner: Optional[TrainingRunner] = None  # type: ignore[valid-type]
    spec: Optional[JSON] = None
    progress: Optional[float] = None
    metrics: Optional[JSON] = None


@strawberry.input(description="Fields to change on a TrainingJob; null removes an optional field.")
class UpdateTrainingJobInput:
    name: Optional[str] = strawberry.UNSET
    status: Optional[TrainingStatus] = strawberry.UNSET  # type: ignore[valid-type]
    runner: Optional[TrainingRunner] = strawberry.UNSET  # type: ignore[valid-type]
    spec: Optional[JSON] = strawberry.UNSET
    progress: Optional[float] = strawberry.UNSET
    metrics: Optional[JSON] = strawberry.UNSET


@strawberry.input
class CreateDeploymentInput:
    name: str
    environment: str
    endpoint: Optional[str] = None
    replicas: Optional[int] = None
    status: Optional[DeploymentStatus] = None  # type: ignore[valid-type]


@strawberry.input(description="Fields to change on a Deployment; null removes an optional field.")
class UpdateDeploymentInput:
    name: Optional[str] = strawberry.UNSET
    environment: Optional[str] = strawberry.UNSET
    endpoint: Optional[str] = strawberry.UNSET
    replicas: Optional[int] = strawberry.UNSET
    status: Optional[DeploymentStatus] = strawberry.UNSET  # type: ignore[valid-type]
