"""GraphQL shapes of `search`: nodes of several kinds found by name, grouped by kind."""

import enum
from typing import Optional

import strawberry
from strawberry import relay

from maestro_graph.domain.graph import Label, Rel
from maestro_graph.services.search import SearchGroup
from maestro_graph.types import Direction
from resolvers.context import Info
from resolvers.datasets.types import Dataset
from resolvers.nodes import to_type


@strawberry.enum(description="A kind of node the search finds by name.")
class SearchKind(enum.Enum):
    DATASET = Label.DATASET.value
    FIELD = Label.FIELD.value
    JOB = Label.JOB.value
    PROJECT = Label.PROJECT.value
    ARTIFACT = Label.ARTIFACT.value
    MODEL = Label.MODEL.value

    @property
    def label(self) -> Label:
        return Label(self.value)


@strawberry.type(description="A node whose name holds the searched text.")
class SearchHit:
    kind: SearchKind
    name: str
    node: relay.Node
    node_id: strawberry.Private[str]

    @strawberry.field(description="For a field (a column): the dataset it belongs to; null for other kinds.")
    async def dataset(self, info: Info) -> Optional[Dataset]:
        if self.kind is not SearchKind.FIELD:
            return None
        owners = await info.context.loaders.neighbours(Rel.HAS_FIELD, Direction.IN).load(self.node_id)
        return to_type(owners[0].node) if owners else None


@strawberry.type(description="How many nodes of one kind match, of which `hits` holds the first.")
class SearchTotal:
    kind: SearchKind
    count: int


@strawberry.type(description="What a search found: hits grouped by kind (in the order asked), each kind in name order.")
class SearchResult:
    hits: list[SearchHit]
    totals: list[SearchTotal]

    @classmethod
    def of(cls, groups: list[SearchGroup]) -> "SearchResult":
        hits = [SearchHit(kind=SearchKind(g.label.value), name=str(n.props.get("name", "")), node=to_type(n), node_id=n.id)
                for g in groups for n in g.nodes]
        return cls(hits=hits, totals=[SearchTotal(kind=SearchKind(g.label.value), count=g.total) for g in groups])
