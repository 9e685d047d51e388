"""The meta-model's answers: predictions with intervals and what drives them, recommendations,
similar projects, and how the model does."""

from __future__ import annotations

import math
from datetime import datetime
from typing import TYPE_CHECKING, Annotated, Any, Optional

import strawberry

from maestro_graph.services.metamodel import Draft, Outcome
from resolvers.context import Info
from resolvers.nodes import to_type
from resolvers.projects.types import PredictionTarget, ProblemClass
from resolvers.relay import from_global_id

if TYPE_CHECKING:
    from resolvers.artifacts.types import Artifact
    from resolvers.people.types import Person
    from resolvers.projects.types import Prediction, Project


def _finite(value: float) -> Optional[float]:
    return value if value is not None and math.isfinite(value) else None


@strawberry.type(description="One feature's part in a prediction (its SHAP value from XGBoost's pred_contribs).")
class FeatureContribution:
    feature: str
    value: Optional[float] = strawberry.field(description="The feature's value for this project (null: unknown).")
    contribution: float = strawberry.field(description="What it adds to the prediction.")


@strawberry.type(description="A predicted outcome with its 80% interval.")
class OutcomePrediction:
    target: PredictionTarget  # type: ignore[valid-type]
    value: float = strawberry.field(description="The median prediction.")
    lower: float = strawberry.field(description="The interval's low end: about 10% of outcomes fall below.")
    upper: float = strawberry.field(description="The interval's high end: about 10% of outcomes fall above.")
    bias: float = strawberry.field(description="The model's base value: bias plus every contribution is the value.")
    all_contributions: strawberry.Private[list[tuple[str, float, float]]]

    @strawberry.field(description="The features that move this prediction most, largest first; all of them with the "
                                  "bias add up to the value.")
    def contributions(self, first: int = 8) -> list[FeatureContribution]:
        return [FeatureContribution(feature=f, value=_finite(v), contribution=c) for f, v, c in self.all_contributions[:max(first, 0)]]

    @classmethod
    def of(cls, o: Outcome) -> "OutcomePrediction":
        return cls(target=PredictionTarget(o.target), value=o.value, lower=o.lower, upper=o.upper,  # type: ignore[misc]
                   bias=o.bias, all_contributions=o.contributions)


@strawberry.type(description="How a project will go, as the meta-model sees it.")
class ProjectPrediction:
    model_version: int
    as_of: datetime = strawberry.field(description="The time the prediction is made as of: a finished project's start, else now.")
    success_score: OutcomePrediction
    duration_days: OutcomePrediction
    cost: OutcomePrediction
    project_id: strawberry.Private[Optional[str]]
    stored_ids: strawberry.Private[list[str]]

    @strawberry.field(description="The project (null for a draft).")
    async def project(self, info: Info) -> Optional[Annotated["Project", strawberry.lazy("resolvers.projects.types")]]:
        node = await info.context.loaders.node.load(self.project_id) if self.project_id else None
        return to_type(node) if node is not None else None

    @strawberry.field(description="The Prediction nodes stored for the project (none for a draft).")
    async def predictions(self, info: Info) -> list[Annotated["Prediction", strawberry.lazy("resolvers.projects.types")]]:
        nodes = await info.context.loaders.node.load_many(self.stored_ids)
        return [to_type(n) for n in nodes if n is not None]


@strawberry.type(description="Predicted outcomes for one team size.")
class TeamSizeOption:
    team_size: int
    success_score: OutcomePrediction
    duration_days: OutcomePrediction
    cost: OutcomePrediction


@strawberry.type(description="Predicted outcomes for team sizes 1 to 10, the project otherwise as it is.")
class TeamSizeRecommendation:
    best: int = strawberry.field(description="The size with the highest predicted success score.")
    model_version: int
    options: list[TeamSizeOption]


@strawberry.type(description="An artifact the project does not use yet, and what adding it is predicted to do.")
class ArtifactRecommendation:
    uplift: float = strawberry.field(description="Predicted success score with it, minus without it.")
    success_score: float = strawberry.field(description="Predicted success score with it.")
    why: list[FeatureContribution] = strawberry.field(description="The features whose contributions change most, and by how much.")
    artifact_id: strawberry.Private[str]

    @strawberry.field
    async def artifact(self, info: Info) -> Annotated["Artifact", strawberry.lazy("resolvers.artifacts.types")]:
        return to_type(await info.context.loaders.node.load(self.artifact_id))  # type: ignore[return-value]


@strawberry.type(description="A finished project near this one on the meta-model's features.")
class SimilarProject:
    distance: float = strawberry.field(description="Distance on the features, each scaled by its spread (0: identical).")
    project_id: strawberry.Private[str]
    member_ids: strawberry.Private[list[str]]
    artifact_ids: strawberry.Private[list[str]]

    @strawberry.field
    async def project(self, info: Info) -> Annotated["Project", strawberry.lazy("resolvers.projects.types")]:
        return to_type(await info.context.loaders.node.load(self.project_id))  # type: ignore[return-value]

    @strawberry.field(description="Members the two projects share.")
    async def shared_members(self, info: Info) -> list[Annotated["Person", strawberry.lazy("resolvers.people.types")]]:
        return [to_type(n) for n in await info.context.loaders.node.load_many(self.member_ids) if n is not None]

    @strawberry.field(description="Artifacts both use.")
    async def shared_artifacts(self, info: Info) -> list[Annotated["Artifact", strawberry.lazy("resolvers.artifacts.types")]]:
        return [to_type(n) for n in await info.context.loaders.node.load_many(self.artifact_ids) if n is not None]


@strawberry.type(description="A target's scores: mean absolute error, R² and the 80% interval's coverage.")
class TargetScores:
    target: PredictionTarget  # type: ignore[valid-type]
    mae: Optional[float]
    r2: Optional[float]
    coverage: Optional[float] = strawberry.field(description="The share of outcomes inside the 80% interval.")
    n: int


@strawberry.type(description="The tenant's trained meta-model and how it does.")
class MetaModelInfo:
    version: int
    trained_at: datetime
    features: list[str]
    training_size: int = strawberry.field(description="Finished projects it was trained on.")
    cross_validated: list[TargetScores] = strawberry.field(description="5-fold cross-validation on its training set.")
    tenant: strawberry.Private[str]

    @strawberry.field(description="Its stored predictions scored against the outcomes of projects that finished after "
                                  "them: how it does on projects it had not seen. Read afresh on each request.")
    async def live(self, info: Info) -> list[TargetScores]:
        scores = await info.context.services.metamodel.live(self.tenant)
        return [TargetScores(target=PredictionTarget(t), mae=_finite(s["mae"]), r2=None,  # type: ignore[misc]
                             coverage=_finite(s["coverage"]), n=int(s["n"])) for t, s in scores.items()]


@strawberry.input(description="A project not yet created, to ask the meta-model about.")
class ProjectDraftInput:
    problem_class: ProblemClass  # type: ignore[valid-type]
    complexity_score: int
    member_ids: Optional[list[strawberry.ID]] = None
    artifact_ids: Optional[list[strawberry.ID]] = None
    team_size: Optional[int] = strawberry.field(default=None, description="Default: the number of members.")


def draft_of(d: Optional[ProjectDraftInput]) -> Optional[Draft]:
    if d is None:
        return None
    from maestro_graph.domain.graph import Label

    return Draft(d.problem_class.value, d.complexity_score,  # type: ignore[attr-defined]
                 [from_global_id(i, Label.PERSON, field="memberIds")[1] for i in d.member_ids or []],
                 [from_global_id(i, Label.ARTIFACT, field="artifactIds")[1] for i in d.artifact_ids or []],
                 d.team_size)



def model_info(model: Any, tenant: str) -> MetaModelInfo:
    """A trained model (domain/metamodel.py MetaModel) as the API shows it."""
    cv = [TargetScores(target=PredictionTarget(t), mae=m.cv["mae"], r2=m.cv["r2"], coverage=m.cv["coverage"],  # type: ignore[misc]
                       n=int(m.cv["n"])) for t, m in model.targets.items()]
    return MetaModelInfo(version=model.version, trained_at=model.trained_at, features=model.features,
                         training_size=model.n, cross_validated=cv, tenant=tenant)
