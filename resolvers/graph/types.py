"""GraphQL object types for every node label, and their relationship fields (resolvers/nodes.py)."""

from __future__ import annotations

import dataclasses
from datetime import datetime
from typing import Any, Generic, Optional, TypeVar

import strawberry
from strawberry import relay
from strawberry.scalars import JSON

from maestro_graph.domain.graph import Label, Neighbour, Rel
from maestro_graph.services.projects import summarise, velocity
from resolvers.context import Info
from resolvers.graph.enums import (
    ArtifactType, DeploymentStatus, DerivationType, MetricType, ModelStage, PredictionTarget,
    ProblemClass, ProjectStatus, RunState, TrainingRunner, TrainingStatus,
)
from resolvers.nodes import IN, OUT, EdgeKind, StoredNode, related, related_one, to_type  # noqa: F401 (to_type: re-exported)
from resolvers.relay import Connection, EdgeBase, PageInfo

T = TypeVar("T")


# -- relationship pages whose edges carry the relationship's props -------------------------------
@strawberry.type
class MemberEdge(EdgeBase, Generic[T]):
    node: T
    role: str


@strawberry.type
class MemberConnection(Generic[T]):
    edges: list[MemberEdge[T]]
    page_info: PageInfo
    total_count: int


MEMBER = EdgeKind(MemberConnection, MemberEdge, lambda nb: {"role": str(nb.edge.props.get("role", "member"))})


@strawberry.type
class UsageEdge(EdgeBase, Generic[T]):
    node: T
    impact_score: float
    at: Optional[datetime]


@strawberry.type
class UsageConnection(Generic[T]):
    edges: list[UsageEdge[T]]
    page_info: PageInfo
    total_count: int


USAGE = EdgeKind(UsageConnection, UsageEdge, lambda nb: {
    "impact_score": float(nb.edge.props.get("impact_score", 0.0)), "at": nb.edge.props.get("at")})


@strawberry.type
class DerivationEdge(EdgeBase, Generic[T]):
    node: T
    type: DerivationType  # type: ignore[valid-type]
    subtype: Optional[str]
    description: Optional[str]
    masking: bool
    job: Optional[str]


@strawberry.type
class DerivationConnection(Generic[T]):
    edges: list[DerivationEdge[T]]
    page_info: PageInfo
    total_count: int


def _derivation_props(nb: Neighbour) -> dict[str, Any]:
    p = nb.edge.props
    return {"type": DerivationType(p.get("type", "DIRECT")), "subtype": p.get("subtype"),
            "description": p.get("description"), "masking": bool(p.get("masking", False)), "job": p.get("job")}


DERIVATION = EdgeKind(DerivationConnection, DerivationEdge, _derivation_props)


# -- node types -------------------------------------------------------------------------------------
@strawberry.type(description="A person: a project member, an artifact author, an owner to notify.")
class Person(StoredNode, relay.Node):
    id: relay.NodeID[str]
    name: str
    email: str
    created_at: datetime
    updated_at: datetime
    projects: MemberConnection["Project"] = related(Rel.MEMBER_OF, OUT, kind=MEMBER, description="Projects this person is a member of, with their role.")
    teams: Connection["Team"] = related(Rel.IN_TEAM, OUT, description="Teams this person belongs to.")
    artifacts_created: Connection["Artifact"] = related(Rel.CREATED_BY, IN, description="Artifacts this person created.")


@strawberry.type(description="A team of people.")
class Team(StoredNode, relay.Node):
    id: relay.NodeID[str]
    name: str
    description: Optional[str]
    created_at: datetime
    updated_at: datetime
    members: Connection[Person] = related(Rel.IN_TEAM, IN, description="People in this team.")


@strawberry.type(description="How a process metric has gone over a project's life.")
class MetricSummary:
    type: MetricType  # type: ignore[valid-type]
    count: int
    latest: float
    latest_at: datetime
    mean: float
    min: float
    max: float


@strawberry.type(description="Development velocity, from the project's commits_per_week series.")
class Velocity:
    commits_per_week: Optional[float]
    trend_per_week: Optional[float] = strawberry.field(description="Least-squares slope of commits/week, per week.")
    trend: str = strawberry.field(description="accelerating | steady | slowing | unknown (fewer than 2 samples).")
    avg_pr_merge_hours: Optional[float]
    ci_success_rate: Optional[float]
    samples: int


@strawberry.type(description="An ML project: who works on it, what it reuses, how it is going.")
class Project(StoredNode, relay.Node):
    id: relay.NodeID[str]
    name: str
    problem_class: ProblemClass  # type: ignore[valid-type]
    complexity_score: int
    team_size: Optional[int]
    status: ProjectStatus  # type: ignore[valid-type]
    started_at: Optional[datetime]
    finished_at: Optional[datetime]
    success_score: Optional[float]
    duration_days: Optional[float]
    cost: Optional[float]
    description: Optional[str]
    metadata: JSON
    created_at: datetime
    updated_at: datetime
    members: MemberConnection[Person] = related(Rel.MEMBER_OF, IN, kind=MEMBER, description="Members with their role.")
    artifacts: UsageConnection["Artifact"] = related(Rel.USES, OUT, kind=USAGE, description="Artifacts this project uses, with the impact score it logged.")
    datasets: Connection["Dataset"] = related(Rel.OWNS, OUT, labels=[Label.DATASET], description="Datasets this project owns.")
    models: Connection["Model"] = related(Rel.OWNS, OUT, labels=[Label.MODEL], description="Models this project owns.")
    jobs: Connection["Job"] = related(Rel.OWNS, OUT, labels=[Label.JOB], description="Pipelines (jobs) this project owns.")
    training_jobs: Connection["TrainingJob"] = related(Rel.OWNS, OUT, labels=[Label.TRAINING_JOB], description="Training jobs this project owns.")
    deployments: Connection["Deployment"] = related(Rel.OWNS, OUT, labels=[Label.DEPLOYMENT], description="Deployments this project owns.")
    metrics: Connection["Metric"] = related(Rel.HAS_METRIC, OUT, description="Recorded process metrics.")
    predictions: Connection["Prediction"] = related(Rel.HAS_PREDICTION, OUT, description="Meta-model predictions made for this project.")
    owners: Connection[Person] = related(Rel.OWNS, IN, labels=[Label.PERSON], description="People who own this project.")

    @strawberry.field(description="Per metric type: count, latest, mean, min, max.")
    async def metrics_summary(self, info: Info) -> list[MetricSummary]:
        nbs = await info.context.loaders.neighbours(Rel.HAS_METRIC, OUT).load(self.id)
        return [MetricSummary(type=MetricType(s.type), count=s.count, latest=s.latest, latest_at=s.latest_at,  # type: ignore[arg-type]
                              mean=s.mean, min=s.min, max=s.max) for s in summarise([nb.node for nb in nbs])]

    @strawberry.field(description="Development velocity from the recorded process metrics.")
    async def velocity(self, info: Info) -> Velocity:
        nbs = await info.context.loaders.neighbours(Rel.HAS_METRIC, OUT).load(self.id)
        return Velocity(**dataclasses.asdict(velocity([nb.node for nb in nbs])))


@strawberry.type(description="A reusable artifact: feature pipeline, model template, schema, notebook.")
class Artifact(StoredNode, relay.Node):
    id: relay.NodeID[str]
    name: str
    type: ArtifactType  # type: ignore[valid-type]
    version: str
    tags: list[str]
    storage_path: Optional[str]
    impact_score: float = strawberry.field(description="Mean over the projects using it of the last impact score each logged (0-10).")
    usage_count: int = strawberry.field(description="How many distinct projects use it: logging a project's use again does not count it twice.")
    description: Optional[str]
    metadata: JSON
    created_at: datetime
    updated_at: datetime
    created_by: Optional[Person] = related_one(Rel.CREATED_BY, OUT, description="Who created it.")
    used_by: UsageConnection[Project] = related(Rel.USES, IN, kind=USAGE, description="Projects using it.")
    owners: Connection[Person] = related(Rel.OWNS, IN, labels=[Label.PERSON], description="People who own it.")


@strawberry.type(description="A dataset, identified as in OpenLineage by (namespace, name).")
class Dataset(StoredNode, relay.Node):
    id: relay.NodeID[str]
    namespace: str
    name: str
    description: Optional[str]
    tags: list[str]
    created_at: datetime
    updated_at: datetime
    fields: Connection["Field"] = related(Rel.HAS_FIELD, OUT, description="Its columns.")
    read_by: Connection["Job"] = related(Rel.READS, IN, description="Jobs reading it.")
    written_by: Connection["Job"] = related(Rel.WRITES, IN, description="Jobs writing it.")
    upstream: Connection["Dataset"] = related(Rel.FEEDS, IN, description="Datasets that feed it directly.")
    downstream: Connection["Dataset"] = related(Rel.FEEDS, OUT, description="Datasets it feeds directly.")
    owners: Connection[Person] = related(Rel.OWNS, IN, labels=[Label.PERSON], description="People who own it.")


@strawberry.type(description="A column of a dataset; nested columns have a dotted path.")
class Field(StoredNode, relay.Node):
    id: relay.NodeID[str]
    path: str
    name: str
    type: Optional[str]
    description: Optional[str]
    created_at: datetime
    updated_at: datetime
    dataset: Optional[Dataset] = related_one(Rel.HAS_FIELD, IN, description="The dataset it belongs to.")
    upstream: DerivationConnection["Field"] = related(Rel.DERIVES, IN, kind=DERIVATION, description="Columns it is derived from directly.")
    downstream: DerivationConnection["Field"] = related(Rel.DERIVES, OUT, kind=DERIVATION, description="Columns derived from it directly.")


@strawberry.type(description="A pipeline step (OpenLineage job).")
class Job(StoredNode, relay.Node):
    id: relay.NodeID[str]
    namespace: str
    name: str
    description: Optional[str]
    created_at: datetime
    updated_at: datetime
    inputs: Connection[Dataset] = related(Rel.READS, OUT, description="Datasets it reads.")
    outputs: Connection[Dataset] = related(Rel.WRITES, OUT, description="Datasets it writes.")
    runs: Connection["Run"] = related(Rel.OF_JOB, IN, description="Its runs.")


@strawberry.type(description="One run of a job.")
class Run(StoredNode, relay.Node):
    id: relay.NodeID[str]
    run_id: str
    state: RunState  # type: ignore[valid-type]
    started_at: Optional[datetime]
    ended_at: Optional[datetime]
    facets: JSON
    created_at: datetime
    updated_at: datetime
    job: Optional[Job] = related_one(Rel.OF_JOB, OUT, description="The job this is a run of.")


@strawberry.type(description="A model, with its versions.")
class Model(StoredNode, relay.Node):
    id: relay.NodeID[str]
    name: str
    description: Optional[str]
    tags: list[str]
    created_at: datetime
    updated_at: datetime
    versions: Connection["ModelVersion"] = related(Rel.VERSION_OF, IN, description="Its versions.")
    owners: Connection[Person] = related(Rel.OWNS, IN, labels=[Label.PERSON], description="People who own it.")


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
    deployments: Connection["Deployment"] = related(Rel.SERVES, IN, description="Deployments serving it.")
    produced_by: Optional["TrainingJob"] = related_one(Rel.PRODUCED, IN, description="The training job that produced it.")


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


@strawberry.type(description="One recorded value of a project process metric.")
class Metric(StoredNode, relay.Node):
    id: relay.NodeID[str]
    type: MetricType  # type: ignore[valid-type]
    value: float
    at: datetime
    created_at: datetime
    updated_at: datetime


@strawberry.type(description="A meta-model prediction for a project.")
class Prediction(StoredNode, relay.Node):
    id: relay.NodeID[str]
    target: PredictionTarget  # type: ignore[valid-type]
    value: float
    lower: Optional[float]
    upper: Optional[float]
    model_version: Optional[str]
    inputs: JSON
    explanation: JSON
    created_at: datetime
    updated_at: datetime


TYPES: dict[Label, type] = {
    Label.PERSON: Person, Label.TEAM: Team, Label.PROJECT: Project, Label.ARTIFACT: Artifact,
    Label.DATASET: Dataset, Label.FIELD: Field, Label.JOB: Job, Label.RUN: Run, Label.MODEL: Model,
    Label.MODEL_VERSION: ModelVersion, Label.TRAINING_JOB: TrainingJob, Label.DEPLOYMENT: Deployment,
    Label.METRIC: Metric, Label.PREDICTION: Prediction,
}
assert set(TYPES) == set(Label), "every label needs a GraphQL type"
assert all(cls.__name__ == label.value for label, cls in TYPES.items()), "type names are label names"
