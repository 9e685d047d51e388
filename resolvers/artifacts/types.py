"""Reusable artifacts and their use by projects: GraphQL types, enums and inputs."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Annotated, Any, Generic, Optional, TypeVar

import strawberry
from strawberry import relay
from strawberry.scalars import JSON

from maestro_graph.domain import vocabulary as s
from maestro_graph.domain.graph import Label, Rel
from resolvers.crud import NameFilter
from resolvers.nodes import IN, OUT, EdgeKind, StoredNode, related, related_one
from resolvers.relay import Connection, EdgeBase, PageInfo

if TYPE_CHECKING:  # the lazy annotations below name these; importing them here would be circular
    from resolvers.people.types import Person
    from resolvers.projects.types import Project

T = TypeVar("T")

ArtifactType = strawberry.enum(s.ArtifactType, description=s.ArtifactType.__doc__)


# -- usage: a relationship page whose edges carry the impact score a project logged ----------------
@strawberry.type
class UsageEdge(EdgeBase, Generic[T]):
    node: T
    impact_score: float
    at: Optional[datetime]


@strawberry.type
class UsageConnection(Generic[T]):
    edges: list[UsageEdge[T]]
    page_info: PageInfo
    total_count: int


USAGE = EdgeKind(UsageConnection, UsageEdge, lambda nb: {
    "impact_score": float(nb.edge.props.get("impact_score", 0.0)), "at": nb.edge.props.get("at")})


# -- types ----------------------------------------------------------------------------------------
@strawberry.type(description="A reusable artifact: feature pipeline, model template, schema, notebook.")
class Artifact(StoredNode, relay.Node):
    id: relay.NodeID[str]
    name: str
    type: ArtifactType  # type: ignore[valid-type]
    version: str
    tags: list[str]
    storage_path: Optional[str]
    impact_score: float = strawberry.field(description="Mean over the projects using it of the last impact score each logged (0-10).")
    usage_count: int = strawberry.field(description="How many distinct projects use it: logging a project's use again does not count it twice.")
    description: Optional[str]
    metadata: JSON
    entrypoint: Optional[JSON] = strawberry.field(description=(
        "A model_template's entrypoint, {command, image}: what its training jobs run. Set by an admin (setArtifactEntrypoint)."))
    created_at: datetime
    updated_at: datetime
    created_by: Optional[Annotated["Person", strawberry.lazy("resolvers.people.types")]] = related_one(
        Rel.CREATED_BY, OUT, description="Who created it.")
    used_by: UsageConnection[Annotated["Project", strawberry.lazy("resolvers.projects.types")]] = related(
        Rel.USES, IN, kind=USAGE, description="Projects using it.")
    owners: Connection[Annotated["Person", strawberry.lazy("resolvers.people.types")]] = related(
        Rel.OWNS, IN, labels=[Label.PERSON], description="People who own it.")


# -- filters and inputs ---------------------------------------------------------------------------
@strawberry.input
class ArtifactFilter(NameFilter):
    types: Optional[list[ArtifactType]] = None  # type: ignore[valid-type]
    tags: Optional[list[str]] = strawberry.field(default=None, description="Artifacts having all of these tags.")
    min_impact_score: Optional[float] = None

    def query(self) -> dict[str, Any]:
        return {"text": self.text, "kinds": tuple(t.value for t in self.types or ()),
                "tags": tuple(self.tags or ()), "min_score": self.min_impact_score}


@strawberry.input
class CreateArtifactInput:
    name: str
    type: ArtifactType  # type: ignore[valid-type]
    version: Optional[str] = None
    tags: Optional[list[str]] = None
    storage_path: Optional[str] = None
    description: Optional[str] = None
    metadata: Optional[JSON] = None
    created_by: Optional[strawberry.ID] = strawberry.field(default=None, description="The Person who created it.")


@strawberry.input(description="Fields to change on an Artifact; null removes an optional field.")
class UpdateArtifactInput:
    name: Optional[str] = strawberry.UNSET
    type: Optional[ArtifactType] = strawberry.UNSET  # type: ignore[valid-type]
    version: Optional[str] = strawberry.UNSET
    tags: Optional[list[str]] = strawberry.UNSET
    storage_path: Optional[str] = strawberry.UNSET
    description: Optional[str] = strawberry.UNSET
    metadata: Optional[JSON] = strawberry.UNSET
