"""people, teams: listings of people and teams, in name order."""

from typing import Optional

import strawberry

from maestro_graph.domain.graph import Label
from resolvers import crud
from resolvers.context import Info
from resolvers.crud import NameFilter
from resolvers.people.types import Person, Team
from resolvers.permissions import VIEWER
from resolvers.relay import DEFAULT_PAGE, Connection


@strawberry.type
class PeopleQuery:
    @strawberry.field(description="Person nodes, ordered by name.", permission_classes=VIEWER)
    async def people(self, info: Info, first: int = DEFAULT_PAGE, after: Optional[str] = None,
                     filter: Optional[NameFilter] = None) -> Connection[Person]:
        return await crud.list_nodes(info, Label.PERSON, first, after, filter)

    @strawberry.field(description="Team nodes, ordered by name.", permission_classes=VIEWER)
    async def teams(self, info: Info, first: int = DEFAULT_PAGE, after: Optional[str] = None,
                    filter: Optional[NameFilter] = None) -> Connection[Team]:
        return await crud.list_nodes(info, Label.TEAM, first, after, filter)
