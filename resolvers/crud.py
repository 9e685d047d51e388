"""The one implementation behind every node type's listing, create, update and delete.

Each domain's queries.py and mutations.py write their root fields out (name, arguments, types,
description, permission) and call these, so that `createDataset` is found in
resolvers/datasets/mutations.py and every node type's fields still behave the same way.
"""

from __future__ import annotations

import dataclasses
import enum
from datetime import datetime
from typing import Any, Optional

import strawberry

from maestro_graph.domain.graph import Label, NodeQuery
from maestro_graph.domain.props import SPECS
from maestro_graph.domain.graph import PARENTS
from maestro_graph.types import Props
from resolvers.context import Info
from resolvers.nodes import to_type
from resolvers.relay import Connection, connection_from_page, decode_cursor, from_global_id, to_global_id


@strawberry.input(description="Match by name.")
class NameFilter:
    text: Optional[str] = strawberry.field(default=None, description="Case-insensitive substring of the name.")

    def query(self) -> dict[str, Any]:
        return {"text": self.text}


@strawberry.type
class DeletePayload:
    deleted_ids: list[strawberry.ID] = strawberry.field(description="Every node removed, including those that hung off it (a dataset's fields, a model's versions).")


async def list_nodes(info: Info, label: Label, first: int, after: Optional[str], filter: Optional[NameFilter]) -> Connection[Any]:
    """One page of a label's nodes in name order, matching the filter (a NameFilter or a subclass)."""
    ctx = info.context
    args = {k: v for k, v in (filter.query() if filter else {}).items() if v}
    page = await ctx.services.graph.find(ctx.tenant, NodeQuery(label, first=first, after=decode_cursor(after), **args))
    return connection_from_page(page, after, to_type)


async def create_node(info: Info, label: Label, input: Any) -> Any:
    """Create one node from a Create<Label>Input; CONFLICT if its natural key is taken."""
    ctx = info.context
    node = (await ctx.services.graph.create(ctx.principal, label, [to_props(label, input)]))[0]
    ctx.loaders.forget()
    return to_type(node)


async def update_node(info: Info, label: Label, id: strawberry.ID, input: Any) -> Any:
    """Change the fields an Update<Label>Input sets on the node `id` (of `label`); null removes."""
    ctx = info.context
    _, node_id = from_global_id(id, label)
    node = (await ctx.services.graph.update(ctx.principal, label, [(node_id, to_props(label, input, partial=True))]))[0]
    ctx.loaders.forget()
    return to_type(node)


async def delete_node(info: Info, label: Label, id: strawberry.ID) -> DeletePayload:
    """Delete the node `id` (of `label`), its relationships and what hangs off it."""
    ctx = info.context
    _, node_id = from_global_id(id, label)
    gone = await ctx.services.graph.delete(ctx.principal, label, [node_id])
    ctx.loaders.forget()
    return DeletePayload(deleted_ids=[strawberry.ID(to_global_id(n.label, n.id)) for n in gone])


def _plain(value: Any) -> Any:
    if isinstance(value, enum.Enum):
        return value.value
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, list):
        return [_plain(v) for v in value]
    return value


def to_props(label: Label, data: Any, *, partial: bool = False) -> Props:
    """Domain props from a create/update input: enums to values, global ids to node ids.

    Input field names are the domain's prop names, and validation is the domain's
    (maestro_graph/domain/props.py), not repeated here. Create inputs drop unset optional
    fields (the domain fills defaults); update inputs keep explicit nulls, which remove the prop."""
    props: Props = {}
    known = SPECS[label].schema.model_fields
    parent = PARENTS.get(label)
    for f in dataclasses.fields(data):
        value = getattr(data, f.name)
        if f.name not in known or value is strawberry.UNSET or (value is None and not partial):
            continue
        if parent is not None and f.name == parent.prop:
            value = from_global_id(str(value), parent.label, field=f.name)[1]
        props[f.name] = _plain(value)
    return props
