"""models, trainingJobs, deployments: listings in name order."""

from typing import Optional

import strawberry

from maestro_graph.domain.graph import Label
from resolvers import crud
from resolvers.context import Info
from resolvers.crud import NameFilter
from resolvers.models.types import Deployment, Model, TrainingJob
from resolvers.permissions import VIEWER
from resolvers.relay import DEFAULT_PAGE, Connection


@strawberry.type
class ModelQuery:
    @strawberry.field(description="Model nodes, ordered by name.", permission_classes=VIEWER)
    async def models(self, info: Info, first: int = DEFAULT_PAGE, after: Optional[str] = None,
                     filter: Optional[NameFilter] = None) -> Connection[Model]:
        return await crud.list_nodes(info, Label.MODEL, first, after, filter)

    @strawberry.field(description="TrainingJob nodes, ordered by name.", permission_classes=VIEWER)
    async def training_jobs(self, info: Info, first: int = DEFAULT_PAGE, after: Optional[str] = None,
                            filter: Optional[NameFilter] = None) -> Connection[TrainingJob]:
        return await crud.list_nodes(info, Label.TRAINING_JOB, first, after, filter)

    @strawberry.field(description="Deployment nodes, ordered by name.", permission_classes=VIEWER)
    async def deployments(self, info: Info, first: int = DEFAULT_PAGE, after: Optional[str] = None,
                          filter: Optional[NameFilter] = None) -> Connection[Deployment]:
        return await crud.list_nodes(info, Label.DEPLOYMENT, first, after, filter)
