"""Top-level reads: relay node lookups, filtered listings of each node type, counts."""

from typing import Any, Optional

import strawberry
from strawberry import relay

from maestro_graph.domain.errors import LimitExceeded
from maestro_graph.domain.graph import Label, NodeQuery
from resolvers.context import Info
from resolvers.graph.types import LabelCount
from resolvers.nodes import node_types, to_type
from resolvers.permissions import VIEWER
from resolvers.relay import DEFAULT_PAGE, Connection, connection_from_page, decode_cursor, from_global_id

MAX_NODES = 100
TYPES = node_types()


def _listing(label: Label, filter_cls: type) -> Any:
    async def resolve(info: Info, first: int = DEFAULT_PAGE, after: Optional[str] = None, filter: Any = None) -> Any:
        ctx = info.context
        args = {k: v for k, v in (filter.query() if filter else {}).items() if v}
        page = await ctx.services.graph.find(ctx.tenant, NodeQuery(label, first=first, after=decode_cursor(after), **args))
        return connection_from_page(page, after, to_type)

    resolve.__annotations__.update(info=Info, filter=Optional[filter_cls])
    resolve.__annotations__["return"] = Connection[TYPES[label]]  # type: ignore[valid-type]
    return strawberry.field(resolver=resolve, description=f"{label.value} nodes, ordered by name.", permission_classes=VIEWER)


LISTINGS = {
}


async def node(info: Info, id: strawberry.ID) -> Optional[relay.Node]:
    """The node with this id, or null if there is none (in your tenant)."""
    label, node_id = from_global_id(id)
    found = await info.context.loaders.node.load(node_id)
    return to_type(found) if found is not None and found.label is label else None


async def nodes(info: Info, ids: list[strawberry.ID]) -> list[Optional[relay.Node]]:
    """The nodes with these ids, in order; null for each id with no node."""
    if len(ids) > MAX_NODES:
        raise LimitExceeded(f"ids: at most {MAX_NODES} at a time, got {len(ids)}", field="ids", limit=MAX_NODES)
    decoded = [from_global_id(i, field="ids") for i in ids]
    found = await info.context.loaders.node.load_many([i for _, i in decoded])
    return [to_type(n) if n is not None and n.label is label else None for (label, _), n in zip(decoded, found)]


async def node_counts(info: Info) -> list[LabelCount]:
    """How many nodes of each type your tenant has."""
    counts = await info.context.services.graph.counts(info.context.tenant)
    return [LabelCount(label=label.value, count=n) for label, n in sorted(counts.items(), key=lambda kv: kv[0].value)]


_fields: dict[str, Any] = {name: _listing(label, f) for name, (label, f) in LISTINGS.items()}
_fields |= {"node": strawberry.field(resolver=node, permission_classes=VIEWER),
            "nodes": strawberry.field(resolver=nodes, permission_classes=VIEWER),
            "node_counts": strawberry.field(resolver=node_counts, permission_classes=VIEWER)}
GraphQuery = strawberry.type(type("GraphQuery", (), _fields))
