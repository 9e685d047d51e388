"""lineage and impactAnalysis: a few lines each; the walking is services/lineage.py's."""

from typing import Optional

import strawberry

from maestro_graph.types import Granularity as G, LineageDirection as D
from resolvers.context import Info
from resolvers.permissions import VIEWER
from resolvers.lineage.types import Granularity, ImpactReport, LineageDirection, LineageGraph
from resolvers.relay import from_global_id

# Default walk limits over GraphQL: a walk's answer is priced as `limit` items (resolvers/limits.py),
# so these let a drawing's usual selection fit the default query cost. Ask more with `limit`.
LINEAGE_LIMIT = 2_000
IMPACT_LIMIT = 5_000


@strawberry.type
class LineageQuery:
    @strawberry.field(description="The lineage subgraph around a dataset or field (depth at most 20), ready to draw.", permission_classes=VIEWER)
    async def lineage(self, info: Info, id: strawberry.ID, direction: LineageDirection = D.BOTH,  # type: ignore[valid-type, assignment]
                      depth: int = 3, granularity: Granularity = G.FIELD,  # type: ignore[valid-type, assignment]
                      limit: int = LINEAGE_LIMIT) -> LineageGraph:
        ctx = info.context
        _, node_id = from_global_id(id)
        graph = await ctx.services.lineage.lineage(ctx.tenant, node_id, D(direction.value), depth, G(granularity.value), limit)
        return LineageGraph.of(graph)

    @strawberry.field(description="If this field or dataset changes, what breaks and who to tell. Depth defaults to the whole downstream closure.", permission_classes=VIEWER)
    async def impact_analysis(self, info: Info, id: strawberry.ID, depth: Optional[int] = None,
                              limit: int = IMPACT_LIMIT) -> ImpactReport:
        ctx = info.context
        _, node_id = from_global_id(id)
        report = await ctx.services.lineage.impact(ctx.tenant, node_id, depth, limit)
        return await ImpactReport.of(report, info)
