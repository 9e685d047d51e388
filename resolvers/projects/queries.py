"""projects: the listing of projects, in name order."""

from typing import Optional

import strawberry

from maestro_graph.domain.graph import Label
from resolvers import crud
from resolvers.context import Info
from resolvers.permissions import VIEWER
from resolvers.projects.types import Project, ProjectFilter
from resolvers.relay import DEFAULT_PAGE, Connection


@strawberry.type
class ProjectQuery:
    @strawberry.field(description="Project nodes, ordered by name.", permission_classes=VIEWER)
    async def projects(self, info: Info, first: int = DEFAULT_PAGE, after: Optional[str] = None,
                       filter: Optional[ProjectFilter] = None) -> Connection[Project]:
        return await crud.list_nodes(info, Label.PROJECT, first, after, filter)
