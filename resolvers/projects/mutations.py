"""Projects and what hangs off them: createProject (with members), updateProject, deleteProject,
addProjectMembers, recordProjectMetrics, updateMetric, deleteMetric, createPrediction,
updatePrediction, deletePrediction.

Three classes only because schema.py merges root fields in the order schema.graphql has always
listed them: each node type's edits first, in label order, each domain's own verbs after.
"""

from typing import Optional

import strawberry

from maestro_graph.domain.graph import Label
from resolvers import crud
from resolvers.context import Info
from resolvers.crud import DeletePayload, to_props
from resolvers.nodes import to_type
from resolvers.permissions import EDITOR
from resolvers.projects.types import (
    CreateMetricInput, CreatePredictionInput, CreateProjectInput, MemberInput, Metric, Prediction, Project,
    UpdateMetricInput, UpdatePredictionInput, UpdateProjectInput,
)
from resolvers.relay import from_global_id


def _members(members: Optional[list[MemberInput]]) -> list[tuple[str, str]]:
    return [(from_global_id(m.person_id, Label.PERSON, field="members.personId")[1], m.role) for m in members or ()]


@strawberry.type
class ProjectEditMutation:
    @strawberry.mutation(description="Change fields of a Project; null removes an optional field.", permission_classes=EDITOR)
    async def update_project(self, info: Info, id: strawberry.ID, input: UpdateProjectInput) -> Project:
        return await crud.update_node(info, Label.PROJECT, id, input)

    @strawberry.mutation(description="Delete a Project and its relationships.", permission_classes=EDITOR)
    async def delete_project(self, info: Info, id: strawberry.ID) -> DeletePayload:
        return await crud.delete_node(info, Label.PROJECT, id)


@strawberry.type
class ProjectRecordEditMutation:
    """Metrics and predictions are created under their project (recordProjectMetrics, createPrediction)."""

    @strawberry.mutation(description="Change fields of a Metric; null removes an optional field.", permission_classes=EDITOR)
    async def update_metric(self, info: Info, id: strawberry.ID, input: UpdateMetricInput) -> Metric:
        return await crud.update_node(info, Label.METRIC, id, input)

    @strawberry.mutation(description="Delete a Metric and its relationships.", permission_classes=EDITOR)
    async def delete_metric(self, info: Info, id: strawberry.ID) -> DeletePayload:
        return await crud.delete_node(info, Label.METRIC, id)

    @strawberry.mutation(description="Change fields of a Prediction; null removes an optional field.", permission_classes=EDITOR)
    async def update_prediction(self, info: Info, id: strawberry.ID, input: UpdatePredictionInput) -> Prediction:
        return await crud.update_node(info, Label.PREDICTION, id, input)

    @strawberry.mutation(description="Delete a Prediction and its relationships.", permission_classes=EDITOR)
    async def delete_prediction(self, info: Info, id: strawberry.ID) -> DeletePayload:
        return await crud.delete_node(info, Label.PREDICTION, id)


@strawberry.type
class ProjectMutation:
    @strawberry.mutation(description="Create a project, with its members, in one transaction.", permission_classes=EDITOR)
    async def create_project(self, info: Info, input: CreateProjectInput) -> Project:
        ctx = info.context
        node = await ctx.services.projects.create(ctx.principal, to_props(Label.PROJECT, input), _members(input.members))
        ctx.loaders.forget()
        return to_type(node)

    @strawberry.mutation(description="Add people to a project (or change their role).", permission_classes=EDITOR)
    async def add_project_members(self, info: Info, project_id: strawberry.ID, members: list[MemberInput]) -> Project:
        ctx = info.context
        pid = from_global_id(project_id, Label.PROJECT, field="projectId")[1]
        await ctx.services.projects.add_members(ctx.principal, pid, _members(members))
        ctx.loaders.forget()
        return to_type(await ctx.loaders.node.load(pid))

    @strawberry.mutation(description="Record process metrics (commits_per_week, avg_pr_merge_hours, ...) for a project. A value outside its type's range (see MetricType) is refused with BAD_USER_INPUT naming `value`, and none of the metrics is recorded.", permission_classes=EDITOR)
    async def record_project_metrics(self, info: Info, project_id: strawberry.ID, metrics: list[CreateMetricInput]) -> list[Metric]:
        ctx = info.context
        pid = from_global_id(project_id, Label.PROJECT, field="projectId")[1]
        nodes = await ctx.services.projects.record_metrics(ctx.principal, pid, [to_props(Label.METRIC, m) for m in metrics])
        ctx.loaders.forget()
        return [to_type(n) for n in nodes]

    @strawberry.mutation(description="Store a prediction for a project.", permission_classes=EDITOR)
    async def create_prediction(self, info: Info, project_id: strawberry.ID, input: CreatePredictionInput) -> Prediction:
        ctx = info.context
        pid = from_global_id(project_id, Label.PROJECT, field="projectId")[1]
        node = (await ctx.services.projects.add_predictions(ctx.principal, pid, [to_props(Label.PREDICTION, input)]))[0]
        ctx.loaders.forget()
        return to_type(node)
