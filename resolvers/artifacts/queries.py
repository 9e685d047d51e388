"""artifacts: the listing of reusable artifacts, in name order."""

from typing import Optional

import strawberry

from maestro_graph.domain.graph import Label
from resolvers import crud
from resolvers.artifacts.types import Artifact, ArtifactFilter
from resolvers.context import Info
from resolvers.permissions import VIEWER
from resolvers.relay import DEFAULT_PAGE, Connection


@strawberry.type
class ArtifactQuery:
    @strawberry.field(description="Artifact nodes, ordered by name.", permission_classes=VIEWER)
    async def artifacts(self, info: Info, first: int = DEFAULT_PAGE, after: Optional[str] = None,
                        filter: Optional[ArtifactFilter] = None) -> Connection[Artifact]:
        return await crud.list_nodes(info, Label.ARTIFACT, first, after, filter)
