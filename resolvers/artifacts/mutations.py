"""Artifacts: registerArtifact, updateArtifact, deleteArtifact, logArtifactUsage (a project's use of one).

Two classes only because schema.py merges root fields in the order schema.graphql has always
listed them: each node type's edits first, in label order, each domain's own verbs after.
"""

from datetime import datetime
from typing import Annotated, Optional

import strawberry

from maestro_graph.domain.graph import Label
from resolvers import crud
from resolvers.artifacts.types import Artifact, CreateArtifactInput, UpdateArtifactInput
from resolvers.context import Info
from resolvers.crud import DeletePayload, to_props
from resolvers.nodes import to_type
from resolvers.permissions import EDITOR
from resolvers.relay import from_global_id


@strawberry.type
class ArtifactEditMutation:
    @strawberry.mutation(description="Change fields of an Artifact; null removes an optional field.", permission_classes=EDITOR)
    async def update_artifact(self, info: Info, id: strawberry.ID, input: UpdateArtifactInput) -> Artifact:
        return await crud.update_node(info, Label.ARTIFACT, id, input)

    @strawberry.mutation(description="Delete an Artifact and its relationships.", permission_classes=EDITOR)
    async def delete_artifact(self, info: Info, id: strawberry.ID) -> DeletePayload:
        return await crud.delete_node(info, Label.ARTIFACT, id)


@strawberry.type
class ArtifactMutation:
    @strawberry.mutation(description="Register a reusable artifact. CONFLICT if the same name and version exist.", permission_classes=EDITOR)
    async def register_artifact(self, info: Info, input: CreateArtifactInput) -> Artifact:
        ctx = info.context
        author = from_global_id(input.created_by, Label.PERSON, field="createdBy")[1] if input.created_by else None
        node = await ctx.services.artifacts.register(ctx.principal, to_props(Label.ARTIFACT, input), author)
        ctx.loaders.forget()
        return to_type(node)

    @strawberry.mutation(description=(
        "Record that a project uses an artifact, with the impact it had there. An artifact's usageCount "
        "counts distinct projects: logging a project that already uses it counts nothing again and "
        "replaces that project's score, so each project keeps the last score it logged. The "
        "artifact's impactScore is the mean of those last scores."), permission_classes=EDITOR)
    async def log_artifact_usage(
        self, info: Info, project_id: strawberry.ID, artifact_id: strawberry.ID,
        impact_score: Annotated[float, strawberry.argument(description=(
            "This project's score for the artifact, 0 to 10 (BAD_USER_INPUT outside); replaces any it logged before."))],
        at: Annotated[Optional[datetime], strawberry.argument(description="When it was used; default now.")] = None,
    ) -> Artifact:
        ctx = info.context
        pid = from_global_id(project_id, Label.PROJECT, field="projectId")[1]
        aid = from_global_id(artifact_id, Label.ARTIFACT, field="artifactId")[1]
        node = await ctx.services.artifacts.log_usage(ctx.principal, pid, aid, impact_score, at.isoformat() if at else None)
        ctx.loaders.forget()
        return to_type(node)
