"""Projects, their members, process metrics and predictions: GraphQL types, enums and inputs."""

from __future__ import annotations

import dataclasses
from datetime import datetime
from typing import TYPE_CHECKING, Annotated, Any, Generic, Optional, TypeVar

import strawberry
from strawberry import relay
from strawberry.scalars import JSON

from maestro_graph.domain import vocabulary as s
from maestro_graph.domain.graph import Label, Rel
from maestro_graph.services.projects import summarise, velocity
from resolvers.artifacts.types import USAGE, UsageConnection
from resolvers.context import Info
from resolvers.crud import NameFilter
from resolvers.nodes import IN, OUT, EdgeKind, StoredNode, related
from resolvers.relay import Connection, EdgeBase, PageInfo

if TYPE_CHECKING:  # the lazy annotations below name these; importing them here would be circular
    from resolvers.artifacts.types import Artifact
    from resolvers.datasets.types import Dataset
    from resolvers.jobs.types import Job
    from resolvers.models.types import Deployment, Model, TrainingJob
    from resolvers.people.types import Person

T = TypeVar("T")

ProblemClass = strawberry.enum(s.ProblemClass, description=s.ProblemClass.__doc__)
ProjectStatus = strawberry.enum(s.ProjectStatus, description=s.ProjectStatus.__doc__)
MetricType = strawberry.enum(s.MetricType, description="A process metric recorded for a project. Its values: "
                             + "; ".join(f"{kind} {s.metric_range(kind)}" for kind in s.METRIC_TYPES) + " (BAD_USER_INPUT outside).")
PredictionTarget = strawberry.enum(s.PredictionTarget, description=s.PredictionTarget.__doc__)


# -- membership: a relationship page whose edges carry the member's role --------------------------
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


# -- types ----------------------------------------------------------------------------------------
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
    members: MemberConnection[Annotated["Person", strawberry.lazy("resolvers.people.types")]] = related(
        Rel.MEMBER_OF, IN, kind=MEMBER, description="Members with their role.")
    artifacts: UsageConnection[Annotated["Artifact", strawberry.lazy("resolvers.artifacts.types")]] = related(
        Rel.USES, OUT, kind=USAGE, description="Artifacts this project uses, with the impact score it logged.")
    datasets: Connection[Annotated["Dataset", strawberry.lazy("resolvers.datasets.types")]] = related(
        Rel.OWNS, OUT, labels=[Label.DATASET], description="Datasets this project owns.")
    models: Connection[Annotated["Model", strawberry.lazy("resolvers.models.types")]] = related(
        Rel.OWNS, OUT, labels=[Label.MODEL], description="Models this project owns.")
    jobs: Connection[Annotated["Job", strawberry.lazy("resolvers.jobs.types")]] = related(
        Rel.OWNS, OUT, labels=[Label.JOB], description="Pipelines (jobs) this project owns.")
    training_jobs: Connection[Annotated["TrainingJob", strawberry.lazy("resolvers.models.types")]] = related(
        Rel.OWNS, OUT, labels=[Label.TRAINING_JOB], description="Training jobs this project owns.")
    deployments: Connection[Annotated["Deployment", strawberry.lazy("resolvers.models.types")]] = related(
        Rel.OWNS, OUT, labels=[Label.DEPLOYMENT], description="Deployments this project owns.")
    metrics: Connection[Metric] = related(Rel.HAS_METRIC, OUT, description="Recorded process metrics.")
    predictions: Connection[Prediction] = related(Rel.HAS_PREDICTION, OUT, description="Meta-model predictions made for this project.")
    owners: Connection[Annotated["Person", strawberry.lazy("resolvers.people.types")]] = related(
        Rel.OWNS, IN, labels=[Label.PERSON], description="People who own this project.")

    @strawberry.field(description="Per metric type: count, latest, mean, min, max.")
    async def metrics_summary(self, info: Info) -> list[MetricSummary]:
        nbs = await info.context.loaders.neighbours(Rel.HAS_METRIC, OUT).load(self.id)
        return [MetricSummary(type=MetricType(m.type), count=m.count, latest=m.latest, latest_at=m.latest_at,  # type: ignore[arg-type]
                              mean=m.mean, min=m.min, max=m.max) for m in summarise([nb.node for nb in nbs])]

    @strawberry.field(description="Development velocity from the recorded process metrics.")
    async def velocity(self, info: Info) -> Velocity:
        nbs = await info.context.loaders.neighbours(Rel.HAS_METRIC, OUT).load(self.id)
        return Velocity(**dataclasses.asdict(velocity([nb.node for nb in nbs])))


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


# -- filters and inputs ---------------------------------------------------------------------------
@strawberry.input
class ProjectFilter(NameFilter):
    problem_classes: Optional[list[ProblemClass]] = None  # type: ignore[valid-type]
    min_success_score: Optional[float] = None

    def query(self) -> dict[str, Any]:
        return {"text": self.text, "kinds": tuple(p.value for p in self.problem_classes or ()), "min_score": self.min_success_score}


@strawberry.input
class MemberInput:
    person_id: strawberry.ID
    role: str = "member"


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


@strawberry.input(description="Fields to change on a Project; null removes an optional field.")
class UpdateProjectInput:
    name: Optional[str] = strawberry.UNSET
    problem_class: Optional[ProblemClass] = strawberry.UNSET  # type: ignore[valid-type]
    complexity_score: Optional[int] = strawberry.UNSET
    team_size: Optional[int] = strawberry.UNSET
    status: Optional[ProjectStatus] = strawberry.UNSET  # type: ignore[valid-type]
    started_at: Optional[datetime] = strawberry.UNSET
    finished_at: Optional[datetime] = strawberry.UNSET
    success_score: Optional[float] = strawberry.UNSET
    duration_days: Optional[float] = strawberry.UNSET
    cost: Optional[float] = strawberry.UNSET
    description: Optional[str] = strawberry.UNSET
    metadata: Optional[JSON] = strawberry.UNSET


@strawberry.input
class CreateMetricInput:
    type: MetricType  # type: ignore[valid-type]
    value: float
    at: Optional[datetime] = strawberry.field(default=None, description="When it was measured; default now.")


@strawberry.input(description="Fields to change on a Metric; null removes an optional field.")
class UpdateMetricInput:
    type: Optional[MetricType] = strawberry.UNSET  # type: ignore[valid-type]
    value: Optional[float] = strawberry.UNSET
    at: Optional[datetime] = strawberry.UNSET


@strawberry.input
class CreatePredictionInput:
    target: PredictionTarget  # type: ignore[valid-type]
    value: float
    lower: Optional[float] = None
    upper: Optional[float] = None
    model_version: Optional[str] = None
    inputs: Optional[JSON] = None
    explanation: Optional[JSON] = None


@strawberry.input(description="Fields to change on a Prediction; null removes an optional field.")
class UpdatePredictionInput:
    target: Optional[PredictionTarget] = strawberry.UNSET  # type: ignore[valid-type]
    value: Optional[float] = strawberry.UNSET
    lower: Optional[float] = strawberry.UNSET
    upper: Optional[float] = strawberry.UNSET
    model_version: Optional[str] = strawberry.UNSET
    inputs: Optional[JSON] = strawberry.UNSET
    explanation: Optional[JSON] = strawberry.UNSET
