"""People and teams: their GraphQL types and the inputs that create and change them."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Annotated, Optional

import strawberry
from strawberry import relay

from maestro_graph.domain.graph import Rel
from resolvers.nodes import IN, OUT, StoredNode, related
from resolvers.projects.types import MEMBER, MemberConnection
from resolvers.relay import Connection

if TYPE_CHECKING:  # the lazy annotations below name these; importing them here would be circular
    from resolvers.artifacts.types import Artifact
    from resolvers.projects.types import Project


@strawberry.type(description="A person: a project member, an artifact author, an owner to notify.")
class Person(StoredNode, relay.Node):
    id: relay.NodeID[str]
    name: str
    email: str
    created_at: datetime
    updated_at: datetime
    projects: MemberConnection[Annotated["Project", strawberry.lazy("resolvers.projects.types")]] = related(
        Rel.MEMBER_OF, OUT, kind=MEMBER, description="Projects this person is a member of, with their role.")
    teams: Connection[Team] = related(Rel.IN_TEAM, OUT, description="Teams this person belongs to.")
    artifacts_created: Connection[Annotated["Artifact", strawberry.lazy("resolvers.artifacts.types")]] = related(
        Rel.CREATED_BY, IN, description="Artifacts this person created.")


@strawberry.type(description="A team of people.")
class Team(StoredNode, relay.Node):
    id: relay.NodeID[str]
    name: str
    description: Optional[str]
    created_at: datetime
    updated_at: datetime
    members: Connection[Person] = related(Rel.IN_TEAM, IN, description="People in this team.")


@strawberry.input
class CreatePersonInput:
    name: str
    email: str


@strawberry.input(description="Fields to change on a Person; null removes an optional field.")
class UpdatePersonInput:
    name: Optional[str] = strawberry.UNSET
    email: Optional[str] = strawberry.UNSET


@strawberry.input
class CreateTeamInput:
    name: str
    description: Optional[str] = None


@strawberry.input(description="Fields to change on a Team; null removes an optional field.")
class UpdateTeamInput:
    name: Optional[str] = strawberry.UNSET
    description: Optional[str] = strawberry.UNSET
