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
from resolvers.context import Info
from resolvers.nodes import IN, OUT, StoredNode, related, related_one, to_type
from resolvers.relay import Connection

if TYPE_CHECKING:  # the lazy annotations below name these; importing them here would be circular
    from resolvers.jobs.types import Run
    from resolvers.people.types import Person
    from resolvers.projects.types import Project

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
    intended_use: Optional[str] = strawberry.field(description="What it is for and for whom (a model card's section; kept across syncs).")
    limitations: Optional[str] = strawberry.field(description="Where it should not be used or is known to fail (a model card's section; kept across syncs).")
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
    framework: Optional[str] = strawberry.field(description=(
        'What it was made with, e.g. "sklearn 1.5.2": as written, else filled by the MLflow sync from the logged '
        "model's flavors (a sync never overwrites one)."))
    intended_use: Optional[str] = strawberry.field(description=(
        "What this version is for, when it differs from its model's (a model card's section; kept across syncs)."))
    limitations: Optional[str] = strawberry.field(description=(
        "Where this version should not be used, when it differs from its model's (a model card's section; kept across syncs)."))
    created_at: datetime
    updated_at: datetime
    model: Optional[Model] = related_one(Rel.VERSION_OF, OUT, description="The model it is a version of.")
    trained_on: Connection[Dataset] = related(Rel.TRAINED_ON, OUT, description="Datasets it was trained on.")
    features: Connection[Field] = related(Rel.USES_FEATURE, OUT, description="Columns it uses as features.")
    deployments: Connection[Deployment] = related(Rel.SERVES, IN, description="Deployments serving it.")
    produced_by: Optional[TrainingJob] = related_one(Rel.PRODUCED, IN, description="The training job that produced it.")


@strawberry.type(description="One point of a training job's metrics history.")
class MetricPoint:
    at: datetime
    metrics: JSON
    epoch: Optional[int] = None


@strawberry.type(description=(
    "A training job and its live status. Its status, progress, metrics and log tail are written by the "
    "server as the job runs (submitTrainingJob, cancelTrainingJob); subscribe with trainingJobUpdated."))
class TrainingJob(StoredNode, relay.Node):
    id: relay.NodeID[str]
    name: str
    status: TrainingStatus  # type: ignore[valid-type]
    runner: TrainingRunner  # type: ignore[valid-type]
    spec: JSON = strawberry.field(description=(
        "What runs: command (with the template's entrypoint), args, env, the NAMES of its secret variables "
        "(never their values), resources, datasetIds, image, timeout."))
    progress: float = strawberry.field(description="0 to 1, from the job's last progress line.")
    epoch: Optional[int]
    metrics: JSON = strawberry.field(description="The latest value of each metric the job reported.")
    metrics_history: list[MetricPoint] = strawberry.field(description=(
        "The metrics as reported over time: the first points as they came, then an even sample, at most a few hundred."))
    message: Optional[str] = strawberry.field(description="The last message of a progress line.")
    log_tail: list[str] = strawberry.field(description="The job's last log lines (stdout lines that are not progress lines).")
    exit_code: Optional[int]
    reason: Optional[str] = strawberry.field(description="Why it failed or was cancelled; a failure quotes its last log lines.")
    where: Optional[str] = strawberry.field(description="Where it runs: a pid (local) or a pod (Kubernetes).")
    cancel_requested: Optional[bool] = strawberry.field(description="True once someone asked to cancel it.")
    submitted_by: Optional[str]
    started_at: Optional[datetime]
    finished_at: Optional[datetime]
    created_at: datetime
    updated_at: datetime
    produced: Connection[ModelVersion] = related(Rel.PRODUCED, OUT, description="Model versions it produced.")
    mlflow_run: Optional[Annotated["Run", strawberry.lazy("resolvers.jobs.types")]] = related_one(
        Rel.TRACKED_AS, OUT, description=(
            "The MLflow run it ran as (TRACKED_AS), once the MLflow sync has seen a run tagged maestro.training_job "
            "with its id; if several runs name it, the first by id."))

    @strawberry.field(description="The project that owns it.")
    async def project(self, info: Info) -> Optional[Annotated["Project", strawberry.lazy("resolvers.projects.types")]]:
        owners = await info.context.loaders.neighbours(Rel.OWNS, IN).load(self.id)
        return next((to_type(nb.node) for nb in owners if nb.node.label is Label.PROJECT), None)

    @strawberry.field(description="The datasets it trains on (its model version is TRAINED_ON them).")
    async def datasets(self, info: Info) -> list[Dataset]:
        ids = [str(i) for i in (self.spec or {}).get("dataset_ids") or []]
        found = await info.context.loaders.node.load_many(ids)
        return [to_type(n) for n in found if n is not None]


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
    intended_use: Optional[str] = None
    limitations: Optional[str] = None


@strawberry.input(description="Fields to change on a Model; null removes an optional field.")
class UpdateModelInput:
    name: Optional[str] = strawberry.UNSET
    description: Optional[str] = strawberry.UNSET
    tags: Optional[list[str]] = strawberry.UNSET
    intended_use: Optional[str] = strawberry.UNSET
    limitations: Optional[str] = strawberry.UNSET


@strawberry.input
class CreateModelVersionInput:
    model_id: strawberry.ID
    version: str
    stage: Optional[ModelStage] = None  # type: ignore[valid-type]
    metrics: Optional[JSON] = None
    mlflow_run_id: Optional[str] = None
    mlflow_model_uri: Optional[str] = None
    framework: Optional[str] = None
    intended_use: Optional[str] = None
    limitations: Optional[str] = None


@strawberry.input(description="Fields to change on a ModelVersion; null removes an optional field.")
class UpdateModelVersionInput:
    version: Optional[str] = strawberry.UNSET
    stage: Optional[ModelStage] = strawberry.UNSET  # type: ignore[valid-type]
    metrics: Optional[JSON] = strawberry.UNSET
    mlflow_run_id: Optional[str] = strawberry.UNSET
    mlflow_model_uri: Optional[str] = strawberry.UNSET
    framework: Optional[str] = strawberry.UNSET
    intended_use: Optional[str] = strawberry.UNSET
    limitations: Optional[str] = strawberry.UNSET


@strawberry.input(description="Fields to change on a TrainingJob. Its status and progress are the server's to write.")
class UpdateTrainingJobInput:
    name: Optional[str] = strawberry.UNSET


@strawberry.input(description="Kubernetes-style resource requests (the local runner records them).")
class ResourcesInput:
    cpu: Optional[str] = strawberry.field(default=None, description='CPU, a Kubernetes quantity: "500m", "2".')
    memory: Optional[str] = strawberry.field(default=None, description='Memory, a Kubernetes quantity: "512Mi", "4Gi".')
    gpus: int = 0


@strawberry.input(description="A training job to run: from a model template's entrypoint (or, where the operator allows it, a command).")
class SubmitTrainingJobInput:
    project_id: strawberry.ID
    name: str
    template_id: Optional[strawberry.ID] = strawberry.field(default=None, description=(
        "A model_template artifact with an entrypoint: what runs. Give this or command."))
    command: Optional[list[str]] = strawberry.field(default=None, description=(
        "argv to run instead of a template: refused (FORBIDDEN) unless the server runs with MAESTRO_RUNNER_ALLOW_COMMANDS=true."))
    args: Optional[list[str]] = strawberry.field(default=None, description="Appended to the entrypoint's command.")
    env: Optional[JSON] = strawberry.field(default=None, description="Environment variables: an object of names to strings.")
    secret_env: Optional[JSON] = strawberry.field(default=None, description=(
        "Secret environment variables (an object of names to strings): write-only, given to the job and never returned, "
        "logged, audited or published; the job's spec lists their names only."))
    resources: Optional[ResourcesInput] = None
    dataset_ids: Optional[list[strawberry.ID]] = strawberry.field(default=None, description=(
        "Datasets it trains on: the model version it produces is TRAINED_ON them."))
    runner: TrainingRunner = strawberry.field(default=s.TrainingRunner.LOCAL)  # type: ignore[valid-type]
    model: Optional[str] = strawberry.field(default=None, description=(
        "The model whose new version a success registers (made if new, owned by the project); default the job's name."))
    timeout_seconds: Optional[float] = strawberry.field(default=None, description="Stop it as FAILED after this long; default the server's.")


@strawberry.input(description="What a model_template runs.")
class EntrypointInput:
    command: list[str] = strawberry.field(description="argv (Kubernetes: the container's command); the job's args follow it.")
    image: Optional[str] = strawberry.field(default=None, description="The container image (the Kubernetes runner needs one).")


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
