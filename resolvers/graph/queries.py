"""node, nodes, nodeCounts, search: any node by its global id, how many of each type there are, and
nodes of the kinds people look for by name (the rules are services/search.py's)."""

from typing import Optional

import strawberry
from strawberry import relay

from maestro_graph.domain.errors import LimitExceeded
from resolvers.context import Info
from resolvers.graph.search import SearchKind, SearchResult
from resolvers.graph.types import LabelCount
from resolvers.nodes import prefetch_pages, to_type
from resolvers.permissions import VIEWER
from resolvers.relay import DEFAULT_PAGE, from_global_id

MAX_NODES = 100


@strawberry.type
class GraphQuery:
    @strawberry.field(description="The node with this id, or null if there is none (in your tenant).", permission_classes=VIEWER)
    async def node(self, info: Info, id: strawberry.ID) -> Optional[relay.Node]:
        label, node_id = from_global_id(id)
        prefetch_pages(info, label, [node_id])
        found = await info.context.loaders.node.load(node_id)
        return to_type(found) if found is not None and found.label is label else None

    @strawberry.field(description=f"The nodes with these ids (at most {MAX_NODES}), in order; null for each id with no node.", permission_classes=VIEWER)
    async def nodes(self, info: Info, ids: list[strawberry.ID]) -> list[Optional[relay.Node]]:
        if len(ids) > MAX_NODES:
            raise LimitExceeded(f"ids: at most {MAX_NODES} at a time, got {len(ids)}", field="ids", limit=MAX_NODES)
        decoded = [from_global_id(i, field="ids") for i in ids]
        for label in {label for label, _ in decoded}:
            prefetch_pages(info, label, [node_id for of, node_id in decoded if of is label])
        found = await info.context.loaders.node.load_many([i for _, i in decoded])
        return [to_type(n) if n is not None and n.label is label else None for (label, _), n in zip(decoded, found)]

    @strawberry.field(description="How many nodes of each type your tenant has.", permission_classes=VIEWER)
    async def node_counts(self, info: Info) -> list[LabelCount]:
        counts = await info.context.services.graph.counts(info.context.tenant)
        return [LabelCount(label=label.value, count=n) for label, n in sorted(counts.items(), key=lambda kv: kv[0].value)]

    @strawberry.field(description="Nodes whose name holds `text` (case-insensitive): up to `first` of each kind, "
                                  "grouped by kind (every searchable kind when `kinds` is null), with how many match.",
                      permission_classes=VIEWER)
    async def search(self, info: Info, text: str, kinds: Optional[list[SearchKind]] = None,
                     first: int = DEFAULT_PAGE) -> SearchResult:
        ctx = info.context
        labels = [k.label for k in kinds] if kinds is not None else None
        return SearchResult.of(await ctx.services.search.search(ctx.tenant, text, labels, first))
