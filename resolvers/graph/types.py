"""GraphQL object types for every node label, and their relationship fields.

Relationship fields are built by `related`/`related_one`: each loads through the request's
neighbour DataLoader, so a level of a nested query costs one store call however many nodes it has.
"""

from __future__ import annotations

import dataclasses
import enum
import typing
from collections.abc import Callable, Iterable
from datetime import datetime
from functools import cache
from typing import Any, Generic, Optional, TypeVar

import strawberry
from strawberry import relay
from strawberry.scalars import JSON

from maestro_graph.domain.graph import Label, Neighbour, Node, Rel
from maestro_graph.domain.props import defaults
from maestro_graph.services.projects import summarise, velocity
from maestro_graph.types import Direction
from resolvers.context import Info
from resolvers.graph.enums import (  # noqa: F401 (names used in string annotations)
    ArtifactType, DeploymentStatus, DerivationType, MetricType, ModelStage, PredictionTarget,
    ProblemClass, ProjectStatus, RunState, TrainingRunner, TrainingStatus,
)
from resolvers.relay import DEFAULT_PAGE, Connection, Edge, EdgeBase, PageInfo, cursor_of, decode_cursor, page_info  # noqa: F401

T = TypeVar("T")


# -- building GraphQL objects from stored nodes -------------------------------------------------
def _time(value: Any) -> Any:
    # Stored timestamps are ISO strings already; the DateTime scalar serialises them unchanged.
    return value


@cache
def _converters(cls: type) -> dict[str, Callable[[Any], Any]]:
    """For each plain field of a node type: how to turn the stored prop into the GraphQL value."""
    hints = typing.get_type_hints(cls)
    out: dict[str, Callable[[Any], Any]] = {}
    for f in dataclasses.fields(cls):
        if not f.init or f.name in ("id", "created_at", "updated_at"):
            continue
        hint = hints[f.name]
        args = [a for a in typing.get_args(hint) if a is not type(None)]
        base = args[0] if args and typing.get_origin(hint) in (typing.Union, getattr(__import__("types"), "UnionType")) else hint
        if isinstance(base, type) and issubclass(base, enum.Enum):
            out[f.name] = lambda v, E=base: None if v is None else E(v)
        elif base is datetime:
            out[f.name] = _time
        else:
            out[f.name] = lambda v: v
    return out


@cache
def _defaults(label: Label) -> dict[str, Any]:
    return defaults(label)


def to_type(node: Node) -> Any:
    """The GraphQL object for a stored node."""
    cls = TYPES[node.label]
    fallback = _defaults(node.label)
    values = {name: conv(node.props.get(name, fallback.get(name))) for name, conv in _converters(cls).items()}
    return cls(id=node.id, created_at=node.created_at, updated_at=node.updated_at, **values)


@strawberry.type
class MemberEdge(EdgeBase, Generic[T]):
    node: T
    role: str


@strawberry.type
class MemberConnection(Generic[T]):
    edges: list[MemberEdge[T]]
    page_info: PageInfo
    total_count: int


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


def _member_props(nb: Neighbour) -> dict[str, Any]:
    return {"role": str(nb.edge.props.get("role", "member"))}


def _usage_props(nb: Neighbour) -> dict[str, Any]:
    return {"impact_score": float(nb.edge.props.get("impact_score", 0.0)), "at": nb.edge.props.get("at")}  # type: ignore[arg-type]


def _derivation_props(nb: Neighbour) -> dict[str, Any]:
    p = nb.edge.props
    return {"type": DerivationType(p.get("type", "DIRECT")), "subtype": p.get("subtype"),
            "description": p.get("description"), "masking": bool(p.get("masking", False)), "job": p.get("job")}


EDGE_KINDS: dict[str, tuple[type, type, Callable[[Neighbour], dict[str, Any]]]] = {
    "plain": (Connection, Edge, lambda nb: {}),
    "member": (MemberConnection, MemberEdge, _member_props),
    "usage": (UsageConnection, UsageEdge, _usage_props),
    "derivation": (DerivationConnection, DerivationEdge, _derivation_props),
}


def related(rel: Rel, direction: Direction, of: str, *, edges: str = "plain",
            labels: Iterable[Label] = (), description: str) -> Any:
    """A paginated relationship field: `rel` followed in `direction` to nodes of type `of` (of
    `labels` only, when given). Each page is cut in the store, for every node of the level at once."""
    conn_cls, edge_cls, edge_props = EDGE_KINDS[edges]
    only = frozenset(labels)

    async def resolve(root: Any, info: Info, first: int = DEFAULT_PAGE, after: Optional[str] = None) -> Any:
        loader = info.context.loaders.neighbour_pages(rel, direction, only, first, decode_cursor(after))
        page = await loader.load(root.id)
        out = [edge_cls(key=cursor_of(nb.node), node=to_type(nb.node), **edge_props(nb)) for nb in page.items]
        return conn_cls(edges=out, page_info=page_info(out, page.has_next, after is not None), total_count=page.total)

    resolve.__annotations__["return"] = f"{conn_cls.__name__}[{of}]"
    return strawberry.field(resolver=resolve, description=description)


def related_one(rel: Rel, direction: Direction, of: str, *, description: str) -> Any:
    """A to-one relationship field (the first node at the other end, or null)."""

    async def resolve(root: Any, info: Info) -> Any:
        nbs = await info.context.loaders.neighbours(rel, direction).load(root.id)
        return to_type(nbs[0].node) if nbs else None

    resolve.__annotations__["return"] = f"Optional[{of}]"
    return strawberry.field(resolver=resolve, description=description)


class _Stored:
    """What every node type shares: relay's node resolution through the request's loader."""

    @classmethod
    async def resolve_nodes(cls, *, info: Info, node_ids: Iterable[str], required: bool = False) -> list[Any]:
        nodes = await info.context.loaders.node.load_many(list(node_ids))
        return [to_type(n) if n is not None and n.label.value == cls.__name__ else None for n in nodes]


OUT, IN = Direction.OUT, Direction.IN


# -- node types -------------------------------------------------------------------------------------
@strawberry.type(description="A person: a project member, an artifact author, an owner to notify.")
class Person(_Stored, relay.Node):
    id: relay.NodeID[str]
    name: str
    email: str
    created_at: datetime
    updated_at: datetime
    projects: MemberConnection["Project"] = related(Rel.MEMBER_OF, OUT, "Project", edges="member", description="Projects this person is a member of, with their role.")
    teams: Connection["Team"] = related(Rel.IN_TEAM, OUT, "Team", description="Teams this person belongs to.")
    artifacts_created: Connection["Artifact"] = related(Rel.CREATED_BY, IN, "Artifact", description="Artifacts this person created.")


@strawberry.type(description="A team of people.")
class Team(_Stored, relay.Node):
    id: relay.NodeID[str]
    name: str
    description: Optional[str]
    created_at: datetime
    updated_at: datetime
    members: Connection[Person] = related(Rel.IN_TEAM, IN, "Person", description="People in this team.")


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
class Project(_Stored, relay.Node):
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
    members: MemberConnection[Person] = related(Rel.MEMBER_OF, IN, "Person", edges="member", description="Members with their role.")
    artifacts: UsageConnection["Artifact"] = related(Rel.USES, OUT, "Artifact", edges="usage", description="Artifacts this project uses, with the impact score it logged.")
    datasets: Connection["Dataset"] = related(Rel.OWNS, OUT, "Dataset", labels=[Label.DATASET], description="Datasets this project owns.")
    models: Connection["Model"] = related(Rel.OWNS, OUT, "Model", labels=[Label.MODEL], description="Models this project owns.")
    jobs: Connection["Job"] = related(Rel.OWNS, OUT, "Job", labels=[Label.JOB], description="Pipelines (jobs) this project owns.")
    training_jobs: Connection["TrainingJob"] = related(Rel.OWNS, OUT, "TrainingJob", labels=[Label.TRAINING_JOB], description="Training jobs this project owns.")
    deployments: Connection["Deployment"] = related(Rel.OWNS, OUT, "Deployment", labels=[Label.DEPLOYMENT], description="Deployments this project owns.")
    metrics: Connection["Metric"] = related(Rel.HAS_METRIC, OUT, "Metric", description="Recorded process metrics.")
    predictions: Connection["Prediction"] = related(Rel.HAS_PREDICTION, OUT, "Prediction", description="Meta-model predictions made for this project.")
    owners: Connection[Person] = related(Rel.OWNS, IN, "Person", labels=[Label.PERSON], description="People who own this project.")

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
class Artifact(_Stored, relay.Node):
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
    created_by: Optional[Person] = related_one(Rel.CREATED_BY, OUT, "Person", description="Who created it.")
    used_by: UsageConnection[Project] = related(Rel.USES, IN, "Project", edges="usage", description="Projects using it.")
    owners: Connection[Person] = related(Rel.OWNS, IN, "Person", labels=[Label.PERSON], description="People who own it.")


@strawberry.type(description="A dataset, identified as in OpenLineage by (namespace, name).")
class Dataset(_Stored, relay.Node):
    id: relay.NodeID[str]
    namespace: str
    name: str
    description: Optional[str]
    tags: list[str]
    created_at: datetime
    updated_at: datetime
    fields: Connection["Field"] = related(Rel.HAS_FIELD, OUT, "Field", description="Its columns.")
    read_by: Connection["Job"] = related(Rel.READS, IN, "Job", description="Jobs reading it.")
    written_by: Connection["Job"] = related(Rel.WRITES, IN, "Job", description="Jobs writing it.")
    upstream: Connection["Dataset"] = related(Rel.FEEDS, IN, "Dataset", description="Datasets that feed it directly.")
    downstream: Connection["Dataset"] = related(Rel.FEEDS, OUT, "Dataset", description="Datasets it feeds directly.")
    owners: Connection[Person] = related(Rel.OWNS, IN, "Person", labels=[Label.PERSON], description="People who own it.")


@strawberry.type(description="A column of a dataset; nested columns have a dotted path.")
class Field(_Stored, relay.Node):
    id: relay.NodeID[str]
    path: str
    name: str
    type: Optional[str]
    description: Optional[str]
    created_at: datetime
    updated_at: datetime
    dataset: Optional[Dataset] = related_one(Rel.HAS_FIELD, IN, "Dataset", description="The dataset it belongs to.")
    upstream: DerivationConnection["Field"] = related(Rel.DERIVES, IN, "Field", edges="derivation", description="Columns it is derived from directly.")
    downstream: DerivationConnection["Field"] = related(Rel.DERIVES, OUT, "Field", edges="derivation", description="Columns derived from it directly.")


@strawberry.type(description="A pipeline step (OpenLineage job).")
class Job(_Stored, relay.Node):
    id: relay.NodeID[str]
    namespace: str
    name: str
    description: Optional[str]
    created_at: datetime
    updated_at: datetime
    inputs: Connection[Dataset] = related(Rel.READS, OUT, "Dataset", description="Datasets it reads.")
    outputs: Connection[Dataset] = related(Rel.WRITES, OUT, "Dataset", description="Datasets it writes.")
    runs: Connection["Run"] = related(Rel.OF_JOB, IN, "Run", description="Its runs.")


@strawberry.type(description="One run of a job.")
class Run(_Stored, relay.Node):
    id: relay.NodeID[str]
    run_id: str
    state: RunState  # type: ignore[valid-type]
    started_at: Optional[datetime]
    ended_at: Optional[datetime]
    facets: JSON
    created_at: datetime
    updated_at: datetime
    job: Optional[Job] = related_one(Rel.OF_JOB, OUT, "Job", description="The job this is a run of.")


@strawberry.type(description="A model, with its versions.")
class Model(_Stored, relay.Node):
    id: relay.NodeID[str]
    name: str
    description: Optional[str]
    tags: list[str]
    created_at: datetime
    updated_at: datetime
    versions: Connection["ModelVersion"] = related(Rel.VERSION_OF, IN, "ModelVersion", description="Its versions.")
    owners: Connection[Person] = related(Rel.OWNS, IN, "Person", labels=[Label.PERSON], description="People who own it.")


@strawberry.type(description="One trained version of a model.")
class ModelVersion(_Stored, relay.Node):
    id: relay.NodeID[str]
    version: str
    stage: ModelStage  # type: ignore[valid-type]
    metrics: JSON
    mlflow_run_id: Optional[str]
    mlflow_model_uri: Optional[str]
    created_at: datetime
    updated_at: datetime
    model: Optional[Model] = related_one(Rel.VERSION_OF, OUT, "Model", description="The model it is a version of.")
    trained_on: Connection[Dataset] = related(Rel.TRAINED_ON, OUT, "Dataset", description="Datasets it was trained on.")
    features: Connection[Field] = related(Rel.USES_FEATURE, OUT, "Field", description="Columns it uses as features.")
    deployments: Connection["Deployment"] = related(Rel.SERVES, IN, "Deployment", description="Deployments serving it.")
    produced_by: Optional["TrainingJob"] = related_one(Rel.PRODUCED, IN, "TrainingJob", description="The training job that produced it.")


@strawberry.type(description="A training job and its live status.")
class TrainingJob(_Stored, relay.Node):
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
    produced: Connection[ModelVersion] = related(Rel.PRODUCED, OUT, "ModelVersion", description="Model versions it produced.")


@strawberry.type(description="A running deployment of a model version.")
class Deployment(_Stored, relay.Node):
    id: relay.NodeID[str]
    name: str
    environment: str
    endpoint: Optional[str]
    replicas: int
    status: DeploymentStatus  # type: ignore[valid-type]
    created_at: datetime
    updated_at: datetime
    serves: Connection[ModelVersion] = related(Rel.SERVES, OUT, "ModelVersion", description="Model versions it serves.")


@strawberry.type(description="One recorded value of a project process metric.")
class Metric(_Stored, relay.Node):
    id: relay.NodeID[str]
    type: MetricType  # type: ignore[valid-type]
    value: float
    at: datetime
    created_at: datetime
    updated_at: datetime


@strawberry.type(description="A meta-model prediction for a project.")
class Prediction(_Stored, relay.Node):
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
