"""link, unlink: relationships between any two nodes that the graph model allows."""

import strawberry

from maestro_graph.domain.graph import Edge, Rel
from resolvers.context import Info
from resolvers.graph.types import Link, LinkInput, Relationship
from resolvers.nodes import to_type
from resolvers.permissions import EDITOR
from resolvers.relay import from_global_id


@strawberry.type
class GraphMutation:
    @strawberry.mutation(description="Create a relationship (or replace its properties). Both ends must exist and fit the graph model.",
                         permission_classes=EDITOR)
    async def link(self, info: Info, input: LinkInput) -> Link:
        ctx = info.context
        rel = Rel(input.relationship.value)
        (_, src), (_, dst) = from_global_id(input.source_id, field="sourceId"), from_global_id(input.target_id, field="targetId")
        edge = (await ctx.services.graph.link(ctx.principal, [Edge(rel, src, dst, dict(input.properties or {}))]))[0]
        ctx.loaders.forget()
        ends = await ctx.loaders.node.load_many([src, dst])
        return Link(relationship=input.relationship, source=to_type(ends[0]), target=to_type(ends[1]), properties=edge.props)

    @strawberry.mutation(description="Remove a relationship. True whether or not it existed (the ends must exist).", permission_classes=EDITOR)
    async def unlink(self, info: Info, relationship: Relationship, source_id: strawberry.ID, target_id: strawberry.ID) -> bool:  # type: ignore[valid-type]
        ctx = info.context
        src, dst = from_global_id(source_id, field="sourceId")[1], from_global_id(target_id, field="targetId")[1]
        await ctx.services.graph.unlink(ctx.principal, [Edge(Rel(relationship.value), src, dst)])
        ctx.loaders.forget()
        return True
