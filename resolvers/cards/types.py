"""The model card's GraphQL types: one per section of domain/model_card.py's ModelCard, ids global."""

from __future__ import annotations

from typing import Optional

import strawberry

from maestro_graph.domain import model_card as mc
from maestro_graph.domain.graph import Label
from resolvers.relay import to_global_id

CardField = strawberry.enum(mc.CardField, description=mc.CardField.__doc__)


@strawberry.type(description="A dataset named on a card.")
class CardDataset:
    id: strawberry.ID
    namespace: str
    name: str

    @classmethod
    def of(cls, d: mc.DatasetRef) -> "CardDataset":
        return cls(id=strawberry.ID(to_global_id(Label.DATASET, d.id)), namespace=d.namespace, name=d.name)


@strawberry.type(description="A person named on a card; role is their role in a project where that applies.")
class CardPerson:
    id: strawberry.ID
    name: str
    email: Optional[str]
    role: Optional[str]

    @classmethod
    def of(cls, p: mc.PersonRef) -> "CardPerson":
        return cls(id=strawberry.ID(to_global_id(Label.PERSON, p.id)), name=p.name, email=p.email, role=p.role)


@strawberry.type(description="A project named on a card.")
class CardProject:
    id: strawberry.ID
    name: str
    status: Optional[str]

    @classmethod
    def of(cls, p: mc.ProjectRef) -> "CardProject":
        return cls(id=strawberry.ID(to_global_id(Label.PROJECT, p.id)), name=p.name, status=p.status)


@strawberry.type(description="A team named on a card.")
class CardTeam:
    id: strawberry.ID
    name: str


@strawberry.type(description="The training job that produced the version.")
class CardTrainingJob:
    id: strawberry.ID
    name: str
    status: str
    submitted_by: Optional[str]
    started_at: Optional[str]
    finished_at: Optional[str]
    mlflow_run_id: Optional[str] = strawberry.field(description=(
        "The MLflow run id of the run the job is TRACKED_AS (the MLflow sync links them), if any."))


@strawberry.type(description="What the model and version are: names, stage, who made it and when, and how.")
class ModelCardDetails:
    model_id: strawberry.ID
    model_name: str
    version_id: strawberry.ID
    version: str
    stage: str
    created_at: str
    description: Optional[str]
    created_by: Optional[str] = strawberry.field(description="Who submitted its training job (or MLflow's user, when synced).")
    training_job: Optional[CardTrainingJob]
    aliases: list[str]
    framework: Optional[str]
    tags: list[str]
    mlflow_run_id: Optional[str]
    mlflow_model_uri: Optional[str]


@strawberry.type(description="Text people wrote: the version's own, else its model's (source says which; null when unwritten).")
class CardText:
    text: Optional[str]
    source: Optional[str] = strawberry.field(description='"version", "model", or null when nobody wrote it.')


@strawberry.type(description="Someone to ask about a dataset: a person who owns it, or a member of a project that owns it.")
class CardOwner:
    person: CardPerson
    project: Optional[CardProject] = strawberry.field(description="The owning project they are a member of; null: they own it.")


@strawberry.type(description="A dataset upstream of training data.")
class CardUpstreamDataset:
    dataset: CardDataset
    distance: int = strawberry.field(description="Hops up from the training dataset.")
    feeds_id: strawberry.ID = strawberry.field(description="The dataset one hop nearer the training data.")
    job: Optional[str] = strawberry.field(description="The job that feeds it on, as namespace/name.")


@strawberry.type(description="A dataset the version was trained on, its upstream lineage and its owners.")
class CardTrainingDataset:
    dataset: CardDataset
    description: Optional[str]
    upstream: list[CardUpstreamDataset]
    owners: list[CardOwner]


@strawberry.type(description="A column the version uses as a feature.")
class CardFeature:
    id: strawberry.ID
    path: str
    type: Optional[str]
    dataset: Optional[CardDataset]


@strawberry.type(description="A named value: an evaluation metric.")
class CardMetric:
    name: str
    value: float


@strawberry.type(description="A training parameter (from an MLflow run, when synced).")
class CardParameter:
    name: str
    value: str


@strawberry.type(description="A deployment serving the version.")
class CardDeployment:
    id: strawberry.ID
    name: str
    environment: str
    status: str
    replicas: int
    endpoint: Optional[str]


@strawberry.type(description="Who owns the model: projects owning it, people owning it or the version, the projects' members and their teams.")
class CardOwnership:
    projects: list[CardProject]
    owners: list[CardPerson]
    members: list[CardPerson]
    teams: list[CardTeam]


@strawberry.type(description="A metric's value in the version before and in this one (null where a version lacks it).")
class CardMetricChange:
    name: str
    before: Optional[float]
    after: Optional[float]
    delta: Optional[float]


@strawberry.type(description="One version of the model, and what changed since the version before it.")
class CardVersion:
    id: strawberry.ID
    version: str
    stage: str
    created_at: str
    current: bool = strawberry.field(description="True for the card's own version.")
    metric_changes: list[CardMetricChange]
    features_added: list[str] = strawberry.field(description="As dataset.column.")
    features_removed: list[str]
    datasets_added: list[str]
    datasets_removed: list[str]


@strawberry.type(description="Which of the card's fields are filled and which are missing, and the filled fraction.")
class CardCompleteness:
    filled: list[CardField]  # type: ignore[valid-type]
    missing: list[CardField]  # type: ignore[valid-type]
    score: float = strawberry.field(description="0 to 1: filled / (filled + missing).")


@strawberry.type(description=(
    "A model version's card, generated from the graph on each request (never stored). Also served as Markdown, "
    "HTML or PDF at GET /models/{id}/card."))
class ModelCard:
    details: ModelCardDetails
    intended_use: CardText
    limitations: CardText
    training_data: list[CardTrainingDataset]
    lineage_truncated: bool = strawberry.field(description="True when the upstream lineage reaches further than a card shows.")
    features: list[CardFeature]
    metrics: list[CardMetric]
    parameters: list[CardParameter]
    deployments: list[CardDeployment]
    ownership: CardOwnership
    history: list[CardVersion] = strawberry.field(description="The model's versions in release order.")
    history_truncated: bool = strawberry.field(description="True when older versions are left out of the history.")
    completeness: CardCompleteness
    generated_at: str


def gid(label: Label, node_id: str) -> strawberry.ID:
    return strawberry.ID(to_global_id(label, node_id))


def to_card(card: mc.ModelCard) -> ModelCard:
    """The GraphQL card of a built one."""
    d = card.details
    job = d.training_job
    return ModelCard(
        details=ModelCardDetails(
            model_id=gid(Label.MODEL, d.model_id), model_name=d.model_name, version_id=gid(Label.MODEL_VERSION, d.version_id),
            version=d.version, stage=d.stage, created_at=d.created_at, description=d.description, created_by=d.created_by,
            training_job=CardTrainingJob(id=gid(Label.TRAINING_JOB, job.id), name=job.name, status=job.status,
                                         submitted_by=job.submitted_by, started_at=job.started_at,
                                         finished_at=job.finished_at, mlflow_run_id=job.mlflow_run_id) if job else None,
            aliases=d.aliases, framework=d.framework, tags=d.tags, mlflow_run_id=d.mlflow_run_id,
            mlflow_model_uri=d.mlflow_model_uri),
        intended_use=CardText(text=card.intended_use.text, source=card.intended_use.source),
        limitations=CardText(text=card.limitations.text, source=card.limitations.source),
        training_data=[CardTrainingDataset(
            dataset=CardDataset.of(t.dataset), description=t.description,
            upstream=[CardUpstreamDataset(dataset=CardDataset.of(u.dataset), distance=u.distance,
                                          feeds_id=gid(Label.DATASET, u.feeds), job=u.job) for u in t.upstream],
            owners=[CardOwner(person=CardPerson.of(o.person), project=CardProject.of(o.project) if o.project else None)
                    for o in t.owners]) for t in card.training_data],
        lineage_truncated=card.lineage_truncated,
        features=[CardFeature(id=gid(Label.FIELD, f.field_id), path=f.path, type=f.type,
                              dataset=CardDataset.of(f.dataset) if f.dataset else None) for f in card.features],
        metrics=[CardMetric(name=m.name, value=m.value) for m in card.metrics],
        parameters=[CardParameter(name=p.name, value=p.value) for p in card.parameters],
        deployments=[CardDeployment(id=gid(Label.DEPLOYMENT, x.id), name=x.name, environment=x.environment, status=x.status,
                                    replicas=x.replicas, endpoint=x.endpoint) for x in card.deployments],
        ownership=CardOwnership(projects=[CardProject.of(p) for p in card.ownership.projects],
                                owners=[CardPerson.of(p) for p in card.ownership.owners],
                                members=[CardPerson.of(p) for p in card.ownership.members],
                                teams=[CardTeam(id=gid(Label.TEAM, t.id), name=t.name) for t in card.ownership.teams]),
        history=[CardVersion(id=gid(Label.MODEL_VERSION, v.id), version=v.version, stage=v.stage, created_at=v.created_at,
                             current=v.current,
                             metric_changes=[CardMetricChange(name=m.name, before=m.before, after=m.after, delta=m.delta)
                                             for m in v.metrics],
                             features_added=v.features_added, features_removed=v.features_removed,
                             datasets_added=v.datasets_added, datasets_removed=v.datasets_removed) for v in card.history],
        history_truncated=card.history_truncated,
        completeness=CardCompleteness(filled=card.completeness.filled, missing=card.completeness.missing,
                                      score=card.completeness.score),
        generated_at=card.generated_at,
    )
