"""datasets: the listing of datasets, in name order."""

from typing import Optional

import strawberry

from maestro_graph.domain.graph import Label
from resolvers import crud
from resolvers.context import Info
from resolvers.datasets.types import Dataset, DatasetFilter
from resolvers.permissions import VIEWER
from resolvers.relay import DEFAULT_PAGE, Connection


@strawberry.type
class DatasetQuery:
    @strawberry.field(description="Dataset nodes, ordered by name.", permission_classes=VIEWER)
    async def datasets(self, info: Info, first: int = DEFAULT_PAGE, after: Optional[str] = None,
                       filter: Optional[DatasetFilter] = None) -> Connection[Dataset]:
        return await crud.list_nodes(info, Label.DATASET, first, after, filter)
