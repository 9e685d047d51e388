"""Relay plumbing: global ids, cursors, connections with totalCount."""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Callable, Sequence
from contextvars import ContextVar
from typing import Generic, TypeVar

import orjson
import strawberry
from strawberry import relay

from maestro_graph.domain.errors import BadInput
from maestro_graph.domain.graph import Label, Node, Page
from maestro_graph.domain.text import check_text
from maestro_graph.services.graph import MAX_CURSOR_TEXT
from maestro_graph.types import Cursor, NodeId

T = TypeVar("T")
DEFAULT_PAGE = 20
MAX_ID = 100  # node ids are uuids (36 characters): a longer id names no node the graph made


# The ids this request's client sent, by the store id they decode to: an error names a node by
# what the client sent, not by our internal id (resolvers/errors.py).
SENT_IDS: ContextVar[dict[str, str] | None] = ContextVar("sent_ids", default=None)


def to_global_id(label: Label, node_id: NodeId) -> str:
    return str(relay.GlobalID(label.value, node_id))


def from_global_id(value: str, expected: Label | None = None, field: str = "id") -> tuple[Label, NodeId]:
    """Decode an opaque id; refuse one that is malformed or names another type.

    >>> from_global_id(to_global_id(Label.TEAM, "42"))
    (<Label.TEAM: 'Team'>, '42')
    """
    try:
        gid = relay.GlobalID.from_id(value)
        label = Label(gid.type_name)
    except (ValueError, TypeError, binascii.Error):
        raise BadInput(f"{field}: {value!r} is not a Maestro Graph id", field=field) from None
    check_text(gid.node_id, field, MAX_ID)
    if expected is not None and label is not expected:
        raise BadInput(f"{field}: expected a {expected.value} id, got a {label.value} id", field=field)
    sent = SENT_IDS.get()
    if sent is not None:
        sent[gid.node_id] = value
    return label, gid.node_id


def encode_cursor(cursor: Cursor) -> str:
    return base64.urlsafe_b64encode(orjson.dumps(cursor)).decode()


def decode_cursor(value: str | None, field: str = "after") -> Cursor | None:
    if value is None:
        return None
    try:
        name, node_id = json.loads(base64.urlsafe_b64decode(value.encode()))
        cursor = str(name), str(node_id)
    except (ValueError, TypeError, binascii.Error):
        raise BadInput(f"{field}: {value!r} is not a cursor this server gave out", field=field) from None
    for part in cursor:
        check_text(part, field, MAX_CURSOR_TEXT)
    return cursor


def cursor_of(node: Node) -> Cursor:
    """Where a node sits in every listing and relationship page: (Node.name, id), the order the
    stores keep (domain.graph.node_name)."""
    return (node.name, node.id)


@strawberry.type
class PageInfo:
    has_next_page: bool
    has_previous_page: bool
    start_cursor: str | None
    end_cursor: str | None


@strawberry.type
class EdgeBase:
    """An edge knows where it sits; its opaque cursor is only encoded if a query asks for it."""

    key: strawberry.Private[Cursor]

    @strawberry.field
    def cursor(self) -> str:
        return encode_cursor(self.key)


@strawberry.type
class Edge(EdgeBase, Generic[T]):
    node: T


@strawberry.type
class Connection(Generic[T]):
    edges: list[Edge[T]]
    page_info: PageInfo
    total_count: int


def page_info(edges: Sequence[EdgeBase], has_next: bool, has_previous: bool) -> PageInfo:
    return PageInfo(has_next_page=has_next, has_previous_page=has_previous,
                    start_cursor=encode_cursor(edges[0].key) if edges else None,
                    end_cursor=encode_cursor(edges[-1].key) if edges else None)


def connection_from_page(page: Page, after: str | None, to_type: Callable[[Node], T]) -> Connection[T]:
    edges = [Edge(key=cursor_of(n), node=to_type(n)) for n in page.nodes]
    return Connection(edges=edges, page_info=page_info(edges, page.has_next, after is not None),
                      total_count=page.total)

