"""datasets: the listing of datasets, in name order."""

from typing import Optional

import strawberry

from maestro_graph.domain.graph import Label
from maestro_graph.services.paging import DEFAULT_MAX_PAGE, check_page_size
from resolvers import crud
from resolvers.context import Info
from resolvers.datasets.schema import SchemaVersion, schema_version
from resolvers.datasets.types import Dataset, DatasetFilter
from resolvers.permissions import VIEWER
from resolvers.relay import DEFAULT_PAGE, Connection, from_global_id


@strawberry.type
class DatasetQuery:
    @strawberry.field(description="Dataset nodes, ordered by name.", permission_classes=VIEWER)
    async def datasets(self, info: Info, first: int = DEFAULT_PAGE, after: Optional[str] = None,
                       filter: Optional[DatasetFilter] = None) -> Connection[Dataset]:
        return await crud.list_nodes(info, Label.DATASET, first, after, filter)

    @strawberry.field(description="The changes of a dataset's schema, newest first: each version that added, removed, "
                                  "retyped or renamed columns, with what a breaking one reached when it was stored.",
                      permission_classes=VIEWER)
    async def schema_changes(self, info: Info, dataset_id: strawberry.ID, first: int = DEFAULT_PAGE) -> list[SchemaVersion]:
        _, node_id = from_global_id(dataset_id, Label.DATASET, field="datasetId")
        check_page_size(first, DEFAULT_MAX_PAGE)
        node = (await info.context.services.graph.require(info.context.tenant, [node_id], Label.DATASET, "datasetId"))[node_id]
        changes = [e for e in node.props.get("schema_history") or [] if "diff" in e]
        return [schema_version(e, node_id) for e in reversed(changes)][:first]
