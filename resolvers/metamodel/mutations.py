"""trainMetaModel, predictProject, scoreArtifacts: the meta-model's writes (services/metamodel.py)."""

from typing import Optional

import strawberry

from resolvers.context import Info
from resolvers.metamodel.queries import project_of
from resolvers.metamodel.types import MetaModelInfo, OutcomePrediction, ProjectDraftInput, ProjectPrediction, draft_of, model_info
from resolvers.permissions import EDITOR


@strawberry.type
class MetaModelMutation:
    @strawberry.mutation(description=(
        "Train the meta-model on your tenant's finished projects (each as of its start: nothing it could not have known "
        "then), store it as a new version every server replica serves, and rescore artifacts from outcomes. "
        "BAD_USER_INPUT with fewer than 20 finished projects."), permission_classes=EDITOR)
    async def train_meta_model(self, info: Info) -> MetaModelInfo:
        ctx = info.context
        model = await ctx.services.metamodel.train(ctx.principal)
        ctx.loaders.forget()
        return model_info(model, ctx.tenant)

    @strawberry.mutation(description=(
        "Predict a project's (or a draft's) success score, duration and cost, each with an 80% interval and the "
        "features that drive it. A project's predictions are stored as its Prediction nodes, and scored once it "
        "finishes (metaModel.live)."), permission_classes=EDITOR)
    async def predict_project(self, info: Info, project_id: Optional[strawberry.ID] = None,
                              draft: Optional[ProjectDraftInput] = None) -> ProjectPrediction:
        ctx = info.context
        f = await ctx.services.metamodel.predict(ctx.principal, project_of(project_id), draft_of(draft))
        ctx.loaders.forget()
        o = f.outcomes
        return ProjectPrediction(model_version=f.model_version, as_of=f.as_of,  # type: ignore[arg-type]
                                 success_score=OutcomePrediction.of(o["success_score"]),
                                 duration_days=OutcomePrediction.of(o["duration_days"]), cost=OutcomePrediction.of(o["cost"]),
                                 project_id=f.project_id, stored_ids=[n.id for n in f.stored])

    @strawberry.mutation(description=(
        "Rescore every used artifact from the outcomes of the finished projects using it, shrunk towards the mean "
        "for artifacts few projects used (README: the meta-model). How many artifacts changed."), permission_classes=EDITOR)
    async def score_artifacts(self, info: Info) -> int:
        ctx = info.context
        changed = await ctx.services.metamodel.score_artifacts(ctx.principal)
        ctx.loaders.forget()
        return changed
