"""metaModel, recommendTeamSize, recommendArtifacts, similarProjects: the meta-model's reads
(services/metamodel.py)."""

from typing import Optional

import strawberry

from maestro_graph.domain.graph import Label
from resolvers.context import Info
from maestro_graph.domain.errors import BadInput
from resolvers.metamodel.types import (ArtifactRecommendation, FeatureContribution, MetaModelInfo, OutcomePrediction,
                                       ProjectDraftInput, SimilarProject, TeamSizeOption, TeamSizeRecommendation, draft_of,
                                       model_info)
from resolvers.permissions import VIEWER
from resolvers.relay import from_global_id

MAX_FIRST = 100


def project_of(project_id: Optional[strawberry.ID]) -> Optional[str]:
    return from_global_id(project_id, Label.PROJECT, field="projectId")[1] if project_id else None


def _first(first: int) -> int:
    if not 1 <= first <= MAX_FIRST:
        raise BadInput(f"first: from 1 to {MAX_FIRST}, got {first}", field="first")
    return first


@strawberry.type
class MetaModelQuery:
    @strawberry.field(description="The tenant's latest meta-model: version, when trained, on how many projects, its "
                                  "cross-validated scores and its live scores. NOT_FOUND until one is trained.",
                      permission_classes=VIEWER)
    async def meta_model(self, info: Info) -> MetaModelInfo:
        ctx = info.context
        return model_info(await ctx.services.metamodel.model(ctx.tenant), ctx.tenant)

    @strawberry.field(description="Predicted outcomes for team sizes 1 to 10 and the best one, for a project or a draft.",
                      permission_classes=VIEWER)
    async def recommend_team_size(self, info: Info, project_id: Optional[strawberry.ID] = None,
                                  draft: Optional[ProjectDraftInput] = None) -> TeamSizeRecommendation:
        ctx = info.context
        best, options, version = await ctx.services.metamodel.team_sizes(ctx.tenant, project_of(project_id), draft_of(draft))
        return TeamSizeRecommendation(best=best, model_version=version, options=[
            TeamSizeOption(team_size=size, success_score=OutcomePrediction.of(o["success_score"]),
                           duration_days=OutcomePrediction.of(o["duration_days"]), cost=OutcomePrediction.of(o["cost"]))
            for size, o in options])

    @strawberry.field(description="Artifacts the project (or draft) does not use yet, ranked by how much each is "
                                  "predicted to raise its success score, with why.", permission_classes=VIEWER)
    async def recommend_artifacts(self, info: Info, project_id: Optional[strawberry.ID] = None,
                                  draft: Optional[ProjectDraftInput] = None, first: int = 5) -> list[ArtifactRecommendation]:
        ctx = info.context
        recs, _ = await ctx.services.metamodel.recommend_artifacts(ctx.tenant, project_of(project_id), draft_of(draft), _first(first))
        return [ArtifactRecommendation(uplift=r.uplift, success_score=r.success, artifact_id=r.artifact.id,
                                       why=[FeatureContribution(feature=f, value=v, contribution=c) for f, v, c in r.why])
                for r in recs]

    @strawberry.field(description="The finished projects nearest this one (or a draft) on the meta-model's features, "
                                  "with the members and artifacts they share.", permission_classes=VIEWER)
    async def similar_projects(self, info: Info, project_id: Optional[strawberry.ID] = None,
                               draft: Optional[ProjectDraftInput] = None, first: int = 5) -> list[SimilarProject]:
        ctx = info.context
        found, _ = await ctx.services.metamodel.similar(ctx.tenant, project_of(project_id), draft_of(draft), _first(first))
        return [SimilarProject(distance=s.distance, project_id=s.project.id, member_ids=s.shared_members,
                               artifact_ids=s.shared_artifacts) for s in found]
