"""Datasets and their columns (fields), with column lineage: GraphQL types, enums and inputs."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Annotated, Any, Generic, Optional, TypeVar

import strawberry
from strawberry import relay

from maestro_graph.domain import vocabulary as s
from maestro_graph.domain.graph import Label, Neighbour, Rel
from resolvers.context import Info
from resolvers.crud import NameFilter
from resolvers.datasets.schema import SchemaVersion, schema_version
from resolvers.nodes import IN, OUT, EdgeKind, StoredNode, related, related_one
from resolvers.relay import Connection, EdgeBase, PageInfo

if TYPE_CHECKING:  # the lazy annotations below name these; importing them here would be circular
    from resolvers.jobs.types import Job
    from resolvers.people.types import Person

T = TypeVar("T")

DerivationType = strawberry.enum(s.DerivationType, description=s.DerivationType.__doc__)


# -- column lineage: a relationship page whose edges carry the transformation ---------------------
@strawberry.type
class DerivationEdge(EdgeBase, Generic[T]):
    node: T
    type: DerivationType  # type: ignore[valid-type]
    subtype: Optional[str]
    description: Optional[str]
    masking: bool
    job: Optional[str]


@strawberry.type
class DerivationConnection(Generic[T]):
    edges: list[DerivationEdge[T]]
    page_info: PageInfo
    total_count: int


def _derivation_props(nb: Neighbour) -> dict[str, Any]:
    p = nb.edge.props
    return {"type": DerivationType(p.get("type", "DIRECT")), "subtype": p.get("subtype"),
            "description": p.get("description"), "masking": bool(p.get("masking", False)), "job": p.get("job")}


DERIVATION = EdgeKind(DerivationConnection, DerivationEdge, _derivation_props)


# -- types ----------------------------------------------------------------------------------------
@strawberry.type(description="Another name of a dataset, from an OpenLineage symlinks facet: e.g. the table default.orders of the path file:/warehouse/orders.")
class DatasetAlias:
    namespace: str
    name: str
    type: Optional[str] = strawberry.field(default=None, description="TABLE, ... as the producer says.")


@strawberry.type(description="A dataset, identified as in OpenLineage by (namespace, name).")
class Dataset(StoredNode, relay.Node):
    id: relay.NodeID[str]
    namespace: str
    name: str
    description: Optional[str]
    tags: list[str]
    aliases: list[DatasetAlias] = strawberry.field(description="Other names it is known by (OpenLineage symlinks); the datasets filter's text matches them too.")
    created_at: datetime
    updated_at: datetime
    fields: Connection[Field] = related(Rel.HAS_FIELD, OUT, description="Its columns.")
    read_by: Connection[Annotated["Job", strawberry.lazy("resolvers.jobs.types")]] = related(
        Rel.READS, IN, description="Jobs reading it.")
    written_by: Connection[Annotated["Job", strawberry.lazy("resolvers.jobs.types")]] = related(
        Rel.WRITES, IN, description="Jobs writing it.")
    upstream: Connection[Dataset] = related(Rel.FEEDS, IN, description="Datasets that feed it directly.")
    downstream: Connection[Dataset] = related(Rel.FEEDS, OUT, description="Datasets it feeds directly.")
    owners: Connection[Annotated["Person", strawberry.lazy("resolvers.people.types")]] = related(
        Rel.OWNS, IN, labels=[Label.PERSON], description="People who own it.")
    schema_version: Optional[int] = strawberry.field(
        default=None, description="The number of its current schema version (null until a producer reported a schema).")

    @strawberry.field(description="A version of its schema: the current one by default, any past one by number "
                                  "(the last 100 are kept).")
    async def schema(self, info: Info, version: Optional[int] = None) -> Optional[SchemaVersion]:
        history = await _history(info, self.id)
        wanted = [e for e in history if version is None or e["version"] == version]
        return schema_version(wanted[-1], self.id) if wanted else None

    @strawberry.field(description="Every schema version kept, oldest first.")
    async def schema_versions(self, info: Info) -> list[SchemaVersion]:
        return [schema_version(e, self.id) for e in await _history(info, self.id)]


@strawberry.type(description="A column of a dataset; nested columns have a dotted path.")
class Field(StoredNode, relay.Node):
    id: relay.NodeID[str]
    path: str
    name: str
    type: Optional[str]
    description: Optional[str]
    removed_in: Optional[int] = strawberry.field(
        description="The dataset schema version that dropped this column; null while it is in the current schema.")
    created_at: datetime
    updated_at: datetime
    dataset: Optional[Dataset] = related_one(Rel.HAS_FIELD, IN, description="The dataset it belongs to.")
    upstream: DerivationConnection[Field] = related(Rel.DERIVES, IN, kind=DERIVATION, description="Columns it is derived from directly.")
    downstream: DerivationConnection[Field] = related(Rel.DERIVES, OUT, kind=DERIVATION, description="Columns derived from it directly.")


async def _history(info: Info, dataset_id: str) -> list[dict[str, Any]]:
    node = await info.context.loaders.node.load(dataset_id)
    return list(node.props.get("schema_history") or []) if node is not None else []


# -- filters and inputs ---------------------------------------------------------------------------
@strawberry.input
class DatasetFilter(NameFilter):
    tags: Optional[list[str]] = None

    def query(self) -> dict[str, Any]:
        return {"text": self.text, "tags": tuple(self.tags or ())}


@strawberry.input
class CreateDatasetInput:
    namespace: str
    name: str
    description: Optional[str] = None
    tags: Optional[list[str]] = None


@strawberry.input(description="Fields to change on a Dataset; null removes an optional field.")
class UpdateDatasetInput:
    description: Optional[str] = strawberry.UNSET
    tags: Optional[list[str]] = strawberry.UNSET


@strawberry.input
class CreateFieldInput:
    dataset_id: strawberry.ID
    path: str = strawberry.field(description="Column name; nested columns as a dotted path, e.g. address.city.")
    type: Optional[str] = None
    description: Optional[str] = None


@strawberry.input(description="Fields to change on a Field; null removes an optional field.")
class UpdateFieldInput:
    type: Optional[str] = strawberry.UNSET
    description: Optional[str] = strawberry.UNSET
