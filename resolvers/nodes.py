"""What every node type shares: building a GraphQL object from a stored node, relay's node
resolution, and the relationship fields.

A relationship field is written where its type is, as `name: Connection[Other] = related(...)`:
the annotation is the field's GraphQL type, `related` supplies the resolver. Each loads through the
request's DataLoaders, so a level of a nested query costs one store call however many nodes it has.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterable
from functools import cache
from typing import Any, Optional

import strawberry
from graphql import FieldNode, InlineFragmentNode, Undefined, value_from_ast
from strawberry.types.base import StrawberryList, StrawberryOptional
from strawberry.types.enum import StrawberryEnumDefinition

from maestro_graph.domain.graph import Label, Neighbour, Node, Rel
from maestro_graph.domain.props import defaults
from maestro_graph.types import Direction
from resolvers.context import Info
from resolvers.executor import direct
from resolvers.relay import DEFAULT_PAGE, Connection, Edge, cursor_of, decode_cursor, page_info

OUT, IN = Direction.OUT, Direction.IN


@cache
def node_types() -> dict[Label, type]:
    """Every label's GraphQL type, from its domain's types.py. Imported when first needed, not at
    the top: those modules build on this one."""
    from resolvers.artifacts.types import Artifact
    from resolvers.datasets.types import Dataset, Field
    from resolvers.jobs.types import Job, Run
    from resolvers.models.types import Deployment, Model, ModelVersion, TrainingJob
    from resolvers.people.types import Person, Team
    from resolvers.projects.types import Metric, Prediction, Project

    types: dict[Label, type] = {
        Label.PERSON: Person, Label.TEAM: Team, Label.PROJECT: Project, Label.ARTIFACT: Artifact,
        Label.DATASET: Dataset, Label.FIELD: Field, Label.JOB: Job, Label.RUN: Run, Label.MODEL: Model,
        Label.MODEL_VERSION: ModelVersion, Label.TRAINING_JOB: TrainingJob, Label.DEPLOYMENT: Deployment,
        Label.METRIC: Metric, Label.PREDICTION: Prediction,
    }
    assert set(types) == set(Label), "every label needs a GraphQL type"
    assert all(cls.__name__ == label.value for label, cls in types.items()), "type names are label names"
    return types


@cache
def _plan(label: Label) -> tuple[type, tuple[tuple[str, Any], ...], tuple[tuple[str, Callable[[Any], Any], Any], ...]]:
    """How to build a label's GraphQL object: its type, the plain fields of that type taken from
    the stored props as they are (name, default), and those converted (name, converter, default).
    Worked out once: an answer builds thousands of these."""
    cls = node_types()[label]
    fallback = defaults(label)
    plain: list[tuple[str, Any]] = []
    converted: list[tuple[str, Callable[[Any], Any], Any]] = []
    for f in cls.__strawberry_definition__.fields:  # type: ignore[attr-defined]
        if f.base_resolver is not None or f.python_name in ("id", "created_at", "updated_at"):
            continue
        name, default = f.python_name, fallback.get(f.python_name)
        kind = f.type.of_type if isinstance(f.type, StrawberryOptional) else f.type
        item = kind.of_type if isinstance(kind, StrawberryList) else None
        if item is not None and hasattr(item, "__strawberry_definition__"):  # a list of objects: stored as dicts
            converted.append((name, lambda v, T=item: [T(**x) for x in v or ()], default))
        elif isinstance(kind, StrawberryEnumDefinition):
            members = {m.value: m for m in kind.wrapped_cls}  # a lookup: calling the Enum is slow
            converted.append((name, lambda v, E=kind.wrapped_cls, M=members: None if v is None else M.get(v) or E(v), default))
        else:  # timestamps too: stored as ISO strings, which the DateTime scalar serialises unchanged
            plain.append((name, default))
    return cls, tuple(plain), tuple(converted)


def to_type(node: Node) -> Any:
    """The GraphQL object for a stored node."""
    cls, plain, converted = _plan(node.label)
    props = node.props
    values = {name: props.get(name, default) for name, default in plain}
    for name, convert, default in converted:
        values[name] = convert(props.get(name, default))
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

    @direct
    async def resolve(root: Any, info: Info, first: int = DEFAULT_PAGE, after: Optional[str] = None):  # type: ignore[no-untyped-def]
        loader = info.context.loaders.neighbour_pages(rel, direction, only, first, decode_cursor(after))
        page = await loader.load(root.id)
        out = [kind.edge(key=cursor_of(nb.node), node=to_type(nb.node), **kind.props(nb)) for nb in page.items]
        return kind.connection(edges=out, page_info=page_info(out, page.has_next, after is not None), total_count=page.total)

    resolve.__maestro_page__ = (rel, direction, only)  # type: ignore[attr-defined]  # what prefetch_pages reads
    return strawberry.field(resolver=resolve, description=description)


def prefetch_pages(info: Info, label: Label, node_ids: list[str]) -> None:
    """Look-ahead for `node` and `nodes`: the id says the node's type before it is read, so the
    relationship pages the query asks of that type are asked for now, with the node itself, not
    one round trip after it. They go through the request's loaders, so the fields' own resolvers
    find them there. Fields under a directive, or with an argument that does not coerce, are left
    to their resolvers."""
    raw = info._raw_info
    type_name = label.value
    fields = raw.schema.type_map[type_name].fields  # type: ignore[union-attr]
    loaders = info.context.loaders

    def wanted(selection_set: Any) -> Iterable[FieldNode]:
        for s in selection_set.selections if selection_set is not None else ():
            if s.directives:
                continue
            if isinstance(s, FieldNode):
                yield s
            elif isinstance(s, InlineFragmentNode):
                if s.type_condition is None or s.type_condition.name.value == type_name:
                    yield from wanted(s.selection_set)
            else:  # a fragment spread
                fragment = raw.fragments.get(s.name.value)
                if fragment is not None and fragment.type_condition.name.value == type_name:
                    yield from wanted(fragment.selection_set)

    for node in (n for field_node in raw.field_nodes for n in wanted(field_node.selection_set)):
        field = fields.get(node.name.value)
        spec = getattr(getattr(field, "resolve", None), "__maestro_page__", None)
        if spec is None:
            continue
        given = {a.name.value: value_from_ast(a.value, field.args[a.name.value].type, raw.variable_values)
                 for a in node.arguments or () if a.name.value in field.args}
        if any(v is Undefined for v in given.values()):
            continue
        rel, direction, only = spec
        try:
            loader = loaders.neighbour_pages(rel, direction, only, given.get("first", DEFAULT_PAGE),
                                             decode_cursor(given.get("after")))
        except Exception:  # noqa: BLE001  # a bad cursor: the field's resolver says so
            continue
        for node_id in node_ids:
            # Retrieved here so that a page nobody asks for after all (no such node) never warns.
            loader.load(node_id).add_done_callback(lambda f: f.cancelled() or f.exception())


def related_one(rel: Rel, direction: Direction, *, description: str) -> Any:
    """The resolver of a to-one relationship field (the first node at the other end, or null)."""

    @direct
    async def resolve(root: Any, info: Info):  # type: ignore[no-untyped-def]
        nbs = await info.context.loaders.neighbours(rel, direction).load(root.id)
        return to_type(nbs[0].node) if nbs else None

    return strawberry.field(resolver=resolve, description=description)


