"""What every node type shares: building a GraphQL object from a stored node, relay's node
resolution, and the relationship fields.

A relationship field is written where its type is, as `name: Connection[Other] = related(...)`:
the annotation is the field's GraphQL type, `related` supplies the resolver. Each loads through the
request's DataLoaders, so a level of a nested query costs one store call however many nodes it has.
"""

from __future__ import annotations

import dataclasses
import enum
import typing
from collections.abc import Callable, Iterable
from datetime import datetime
from functools import cache
from typing import Any, Optional

import strawberry

from maestro_graph.domain.graph import Label, Neighbour, Node, Rel
from maestro_graph.domain.schemas import defaults
from maestro_graph.types import Direction
from resolvers.context import Info
from resolvers.relay import DEFAULT_PAGE, Connection, Edge, cursor_of, decode_cursor, page_info

OUT, IN = Direction.OUT, Direction.IN


@cache
def node_types() -> dict[Label, type]:
    """Every label's GraphQL type. Imported here, when first needed, because those modules use
    this one (their resolvers call `to_type`)."""
    from resolvers.graph import types as g

    types: dict[Label, type] = {label: getattr(g, label.value) for label in Label}
    assert all(cls.__name__ == label.value for label, cls in types.items()), "type names are label names"
    return types


def _time(value: Any) -> Any:
    # Stored timestamps are ISO strings already; the DateTime scalar serialises them unchanged.
    return value


@cache
def _converters(cls: type) -> dict[str, Callable[[Any], Any]]:
    """For each plain field of a node type: how to turn the stored prop into the GraphQL value."""
    hints = typing.get_type_hints(cls)
    out: dict[str, Callable[[Any], Any]] = {}
    for f in dataclasses.fields(cls):
        if not f.init or f.name in ("id", "created_at", "updated_at"):
            continue
        hint = hints[f.name]
        args = [a for a in typing.get_args(hint) if a is not type(None)]
        base = args[0] if args and typing.get_origin(hint) in (typing.Union, getattr(__import__("types"), "UnionType")) else hint
        if isinstance(base, type) and issubclass(base, enum.Enum):
            out[f.name] = lambda v, E=base: None if v is None else E(v)
        elif base is datetime:
            out[f.name] = _time
        else:
            out[f.name] = lambda v: v
    return out


@cache
def _defaults(label: Label) -> dict[str, Any]:
    return defaults(label)


def to_type(node: Node) -> Any:
    """The GraphQL object for a stored node."""
    cls = node_types()[node.label]
    fallback = _defaults(node.label)
    values = {name: conv(node.props.get(name, fallback.get(name))) for name, conv in _converters(cls).items()}
    return cls(id=node.id, created_at=node.created_at, updated_at=node.updated_at, **values)


class StoredNode:
    """Base of every node type: relay's node resolution through the request's loader."""

    @classmethod
    async def resolve_nodes(cls, *, info: Info, node_ids: Iterable[str], required: bool = False) -> list[Any]:
        nodes = await info.context.loaders.node.load_many(list(node_ids))
        return [to_type(n) if n is not None and n.label.value == cls.__name__ else None for n in nodes]


@dataclasses.dataclass(frozen=True)
class EdgeKind:
    """What a relationship page is made of: its connection and edge types, and the edge fields
    taken from the relationship's props."""

    connection: type
    edge: type
    props: Callable[[Neighbour], dict[str, Any]]


PLAIN = EdgeKind(Connection, Edge, lambda nb: {})


def related(rel: Rel, direction: Direction, *, kind: EdgeKind = PLAIN, labels: Iterable[Label] = (),
            description: str) -> Any:
    """The resolver of a paginated relationship field: `rel` followed in `direction` (to nodes of
    `labels` only, when given). Each page is cut in the store, for every node of the level at once."""
    only = frozenset(labels)

    async def resolve(root: Any, info: Info, first: int = DEFAULT_PAGE, after: Optional[str] = None):  # type: ignore[no-untyped-def]
        loader = info.context.loaders.neighbour_pages(rel, direction, only, first, decode_cursor(after))
        page = await loader.load(root.id)
        out = [kind.edge(key=cursor_of(nb.node), node=to_type(nb.node), **kind.props(nb)) for nb in page.items]
        return kind.connection(edges=out, page_info=page_info(out, page.has_next, after is not None), total_count=page.total)

    return strawberry.field(resolver=resolve, description=description)


def related_one(rel: Rel, direction: Direction, *, description: str) -> Any:
    """The resolver of a to-one relationship field (the first node at the other end, or null)."""

    async def resolve(root: Any, info: Info):  # type: ignore[no-untyped-def]
        nbs = await info.context.loaders.neighbours(rel, direction).load(root.id)
        return to_type(nbs[0].node) if nbs else None

    return strawberry.field(resolver=resolve, description=description)


