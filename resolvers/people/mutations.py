"""createPerson, updatePerson, deletePerson, createTeam, updateTeam, deleteTeam."""

import strawberry

from maestro_graph.domain.graph import Label
from resolvers import crud
from resolvers.context import Info
from resolvers.crud import DeletePayload
from resolvers.people.types import CreatePersonInput, CreateTeamInput, Person, Team, UpdatePersonInput, UpdateTeamInput
from resolvers.permissions import EDITOR


@strawberry.type
class PeopleMutation:
    @strawberry.mutation(description="Create a Person. CONFLICT if its natural key is taken.", permission_classes=EDITOR)
    async def create_person(self, info: Info, input: CreatePersonInput) -> Person:
        return await crud.create_node(info, Label.PERSON, input)

    @strawberry.mutation(description="Change fields of a Person; null removes an optional field.", permission_classes=EDITOR)
    async def update_person(self, info: Info, id: strawberry.ID, input: UpdatePersonInput) -> Person:
        return await crud.update_node(info, Label.PERSON, id, input)

    @strawberry.mutation(description="Delete a Person and its relationships.", permission_classes=EDITOR)
    async def delete_person(self, info: Info, id: strawberry.ID) -> DeletePayload:
        return await crud.delete_node(info, Label.PERSON, id)

    @strawberry.mutation(description="Create a Team. CONFLICT if its natural key is taken.", permission_classes=EDITOR)
    async def create_team(self, info: Info, input: CreateTeamInput) -> Team:
        return await crud.create_node(info, Label.TEAM, input)

    @strawberry.mutation(description="Change fields of a Team; null removes an optional field.", permission_classes=EDITOR)
    async def update_team(self, info: Info, id: strawberry.ID, input: UpdateTeamInput) -> Team:
        return await crud.update_node(info, Label.TEAM, id, input)

    @strawberry.mutation(description="Delete a Team and its relationships.", permission_classes=EDITOR)
    async def delete_team(self, info: Info, id: strawberry.ID) -> DeletePayload:
        return await crud.delete_node(info, Label.TEAM, id)
