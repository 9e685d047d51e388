"""models, trainingJobs, trainingJob, deployments: listings in name order."""

from typing import Optional

import strawberry

from maestro_graph.domain.graph import Label
from resolvers import crud
from resolvers.context import Info
from resolvers.crud import NameFilter
from resolvers.models.types import Deployment, Model, TrainingJob, TrainingStatus
from resolvers.nodes import to_type
from resolvers.permissions import VIEWER
from resolvers.relay import DEFAULT_PAGE, Connection, connection_from_page, decode_cursor, from_global_id


@strawberry.type
class ModelQuery:
    @strawberry.field(description="Model nodes, ordered by name.", permission_classes=VIEWER)
    async def models(self, info: Info, first: int = DEFAULT_PAGE, after: Optional[str] = None,
                     filter: Optional[NameFilter] = None) -> Connection[Model]:
        return await crud.list_nodes(info, Label.MODEL, first, after, filter)

    @strawberry.field(description="Training jobs, ordered by name: of one project, in some statuses, when asked.",
                      permission_classes=VIEWER)
    async def training_jobs(self, info: Info, project_id: Optional[strawberry.ID] = None,
                            status: Optional[list[TrainingStatus]] = None,  # type: ignore[valid-type]
                            first: int = DEFAULT_PAGE, after: Optional[str] = None) -> Connection[TrainingJob]:
        ctx = info.context
        project = from_global_id(project_id, Label.PROJECT, field="projectId")[1] if project_id else None
        page = await ctx.services.training.list(ctx.tenant, project, [s.value for s in status or []], first,
                                                decode_cursor(after))
        return connection_from_page(page, after, to_type)

    @strawberry.field(description="One training job.", permission_classes=VIEWER)
    async def training_job(self, info: Info, id: strawberry.ID) -> Optional[TrainingJob]:
        _, node_id = from_global_id(id, Label.TRAINING_JOB)
        node = await info.context.loaders.node.load(node_id)
        return to_type(node) if node is not None and node.label is Label.TRAINING_JOB else None

    @strawberry.field(description="Deployment nodes, ordered by name.", permission_classes=VIEWER)
    async def deployments(self, info: Info, first: int = DEFAULT_PAGE, after: Optional[str] = None,
                          filter: Optional[NameFilter] = None) -> Connection[Deployment]:
        return await crud.list_nodes(info, Label.DEPLOYMENT, first, after, filter)
