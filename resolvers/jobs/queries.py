"""jobs: the listing of pipeline steps (OpenLineage jobs), in name order."""

from typing import Optional

import strawberry

from maestro_graph.domain.graph import Label
from resolvers import crud
from resolvers.context import Info
from resolvers.crud import NameFilter
from resolvers.jobs.types import Job
from resolvers.permissions import VIEWER
from resolvers.relay import DEFAULT_PAGE, Connection


@strawberry.type
class JobQuery:
    @strawberry.field(description="Job nodes, ordered by name.", permission_classes=VIEWER)
    async def jobs(self, info: Info, first: int = DEFAULT_PAGE, after: Optional[str] = None,
                   filter: Optional[NameFilter] = None) -> Connection[Job]:
        return await crud.list_nodes(info, Label.JOB, first, after, filter)
