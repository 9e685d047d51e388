"""Refuse over-limit queries before validation and before any resolver runs: page sizes, query
depth, query cost, walks per request, and which operation to run.

Checked on the parsed document with the request's variables, so `first: $n` is caught too.

Cost: every field costs 1, times the page sizes of the lists around it, so
`projects(first: 50) { edges { node { members(first: 100) { edges { node { name } } } } } }`
costs about 50 + 50*100 fields. A connection without `first` counts as the default page (20).
Introspection fields count too, with the schema's own list sizes (a `__schema { types }` lists
every type). A lineage walk (`lineage`, `impactAnalysis`) costs its `limit` / WALK_NODES_PER_POINT
for the walking, and its answer is priced as `limit` items: so the cost bounds the answer's size.

The checker is linear in the document: each fragment is summed once (memoised) however often it
is spread, so fragments that fan out 2^n ways cost n steps to refuse, not 2^n.
"""

from __future__ import annotations

import asyncio
import math
from collections import OrderedDict
from collections.abc import AsyncIterator, Iterator, Mapping
from dataclasses import dataclass, field as dc_field
from typing import Any

from graphql import (
    FieldNode, FragmentDefinitionNode, FragmentSpreadNode, GraphQLError, GraphQLSchema, InlineFragmentNode,
    OperationDefinitionNode, SelectionSetNode, VariableNode, is_enum_type, is_input_object_type, is_interface_type,
    is_object_type, is_union_type, value_from_ast_untyped,
)
from strawberry.extensions import ParserCache, SchemaExtension
from strawberry.schema.schema import validate_document

from resolvers.lineage.queries import IMPACT_LIMIT, LINEAGE_LIMIT
from resolvers.relay import DEFAULT_PAGE

PAGE_ARGS = ("first", "last")
# Relay's wrappers are not levels of the graph: depth counts projects -> members -> projects, not
# edges/node. `ofType` unwraps a type reference (NonNull of List of ...): GraphiQL asks 7 deep.
PLUMBING = frozenset({"edges", "node", "pageInfo", "ofType"})
INTROSPECTION_ROOTS = frozenset({"__schema", "__type"})
# Walking a node in the lineage index is far cheaper than resolving a field of the answer.
WALK_NODES_PER_POINT = 10


@dataclass(frozen=True)
class WalkField:
    default_limit: int
    lists: frozenset[str]  # the answer's lists, each up to `limit` items
    shared: bool  # the lists split the reached nodes between them (their cost is the largest one's)


WALKS: dict[str, WalkField] = {
    "lineage": WalkField(LINEAGE_LIMIT, frozenset({"nodes", "edges"}), shared=False),
    "impactAnalysis": WalkField(IMPACT_LIMIT, frozenset(
        {"fields", "datasets", "modelVersions", "models", "deployments", "projects", "people"}), shared=True),
}


@dataclass(frozen=True)
class Limits:
    max_page: int = 100
    max_depth: int = 12
    max_cost: int = 50_000
    max_walks: int = 3  # lineage/impactAnalysis fields in one request
    max_mutations: int = 100  # mutation fields in one request: they run one after the other
    max_tokens: int = 5_000  # parsing stops there; validation of a big document is slow Python
    # Item counts of introspection's lists, from the schema (see introspection_sizes).
    introspection: Mapping[str, float] = dc_field(default_factory=dict)


def introspection_sizes(schema: GraphQLSchema) -> dict[str, float]:
    """How many items each introspection list holds in this schema, on average per parent: all
    of them for `types` and `directives`; per type for a type's lists (most types have none of
    a kind, so `types { fields }` costs about the schema's field count); per field for `args`."""
    types = list(schema.type_map.values())
    with_fields = [t for t in types if is_object_type(t) or is_interface_type(t)]
    fields = [f for t in with_fields for f in t.fields.values()]  # type: ignore[attr-defined]
    per_type = len(types) or 1
    refs = [f.type for f in fields] + [a.type for f in fields for a in f.args.values()]
    wrappers = sum(_wrappers(t) for t in refs) / (len(refs) or 1)
    return {
        # Each `ofType` level is there for fewer references: priced so the whole chain sums to
        # the mean number of wrappers (NonNull, List) a type reference has.
        "ofType": wrappers / (1 + wrappers),
        "types": len(types),
        "directives": len(schema.directives),
        "fields": len(fields) / per_type,
        "args": sum(len(f.args) for f in fields) / (len(fields) or 1),
        "inputFields": sum(len(t.fields) for t in types if is_input_object_type(t)) / per_type,  # type: ignore[attr-defined]
        "enumValues": sum(len(t.values) for t in types if is_enum_type(t)) / per_type,  # type: ignore[attr-defined]
        "interfaces": sum(len(t.interfaces) for t in with_fields) / per_type,  # type: ignore[attr-defined]
        "possibleTypes": sum(len(schema.get_possible_types(t)) for t in types  # type: ignore[arg-type]
                             if is_interface_type(t) or is_union_type(t)) / per_type,
    }


def _wrappers(t: Any) -> int:
    n = 0
    while hasattr(t, "of_type"):
        t, n = t.of_type, n + 1
    return n


class _Refused(Exception):
    def __init__(self, error: GraphQLError) -> None:
        self.error = error


def _limit(message: str, limit: int, field: str | None = None) -> _Refused:
    extensions: dict[str, Any] = {"code": "LIMIT_EXCEEDED", "limit": limit}
    if field:
        extensions["field"] = field
    return _Refused(GraphQLError(message, extensions=extensions))


@dataclass(frozen=True)
class _Sum:
    """What a selection set costs at weight 1, and how deep it goes (its top fields are level 1)."""

    cost: float = 0  # fractional where introspection lists are priced by their mean size
    depth: int = 0
    deepest: str = ""  # a field at that depth, to name in the error
    walks: int = 0
    # In a walk's answer: what one item of its lists costs, summed over the lists and their largest.
    items_sum: float = 0
    items_max: float = 0
    fields: int = 0  # fields at its own level, fragments included (a root selection's: mutations)

    def plus(self, other: "_Sum") -> "_Sum":
        deeper = other.depth > self.depth
        return _Sum(self.cost + other.cost, other.depth if deeper else self.depth,
                    other.deepest if deeper else self.deepest, self.walks + other.walks,
                    self.items_sum + other.items_sum, max(self.items_max, other.items_max),
                    self.fields + other.fields)


def _arg(node: FieldNode, name: str, variables: Mapping[str, Any]) -> Any:
    for arg in node.arguments or ():
        if arg.name.value == name:
            if isinstance(arg.value, VariableNode):
                return variables.get(arg.value.name.value)
            return value_from_ast_untyped(arg.value)
    return None


class _Checker:
    def __init__(self, fragments: dict[str, FragmentDefinitionNode], variables: Mapping[str, Any], limits: Limits) -> None:
        self.fragments, self.variables, self.limits = fragments, variables, limits
        self.memo: dict[tuple[str, bool, WalkField | None], _Sum] = {}
        self.open: set[str] = set()  # fragments being summed: a cycle (invalid anyway) stops here

    def fan_out(self, node: FieldNode, introspecting: bool) -> float:
        """How many items a field's children resolve for: its page size if it is a connection
        (has `first`/`last`, or selects `edges`), the length of `ids` for `nodes`, the schema's
        list size for introspection lists, else 1. (Walks are priced by `field`.)"""
        name = node.name.value
        if introspecting:
            return self.limits.introspection.get(name, 1)  # ofType, too, has no selection of its own
        sizes = [v for v in (_arg(node, a, self.variables) for a in PAGE_ARGS) if isinstance(v, int)]
        if sizes:
            return max(0, max(sizes))
        ids = _arg(node, "ids", self.variables)
        if isinstance(ids, list):
            return len(ids)
        selections = node.selection_set.selections if node.selection_set else ()
        if any(isinstance(s, FieldNode) and s.name.value == "edges" for s in selections):
            return DEFAULT_PAGE
        return 1

    def page_sizes(self, node: FieldNode) -> None:
        for arg in PAGE_ARGS:
            value = _arg(node, arg, self.variables)
            if isinstance(value, int) and value > self.limits.max_page:
                raise _limit(f"{node.name.value}({arg}: {value}): at most {self.limits.max_page} per page",
                             self.limits.max_page, arg)

    def walk_limit(self, node: FieldNode, walk: WalkField) -> int:
        value = _arg(node, "limit", self.variables)
        return value if isinstance(value, int) and value > 0 else walk.default_limit

    def selection(self, selection_set: SelectionSetNode | None, introspecting: bool = False,
                  walk: WalkField | None = None) -> _Sum:
        """The sum of a selection set. Under a walk's answer (`walk`), its lists are priced per item
        here and multiplied by the walk's limit by the caller."""
        total = _Sum()
        if selection_set is None:
            return total
        for sel in selection_set.selections:
            if isinstance(sel, FieldNode):
                total = total.plus(self.field(sel, introspecting, walk))
            elif isinstance(sel, InlineFragmentNode):
                total = total.plus(self.selection(sel.selection_set, introspecting, walk))
            elif isinstance(sel, FragmentSpreadNode):
                total = total.plus(self.spread(sel.name.value, introspecting, walk))
        return total

    def spread(self, name: str, introspecting: bool, walk: WalkField | None) -> _Sum:
        key = (name, introspecting, walk)  # a fragment prices differently inside a walk's answer
        if key in self.memo:
            return self.memo[key]
        fragment = self.fragments.get(name)
        if fragment is None or name in self.open:
            return _Sum()
        self.open.add(name)
        try:
            result = self.memo[key] = self.selection(fragment.selection_set, introspecting, walk)
        finally:
            self.open.discard(name)
        return result

    def field(self, node: FieldNode, introspecting: bool, walk: WalkField | None) -> _Sum:
        name = node.name.value
        self.page_sizes(node)
        introspecting = introspecting or name in INTROSPECTION_ROOTS
        step = 0 if name in PLUMBING else 1
        if walk is not None and name in walk.lists:  # a list of a walk's answer: priced per item
            item = self.selection(node.selection_set, introspecting)
            return _Sum(1, max(1, step + item.depth), item.deepest or name, item.walks, item.cost, item.cost, 1)
        if name in WALKS and not introspecting:
            spec = WALKS[name]
            limit = self.walk_limit(node, spec)
            answer = self.selection(node.selection_set, introspecting, spec)
            per_item = answer.items_max if spec.shared else answer.items_sum
            cost = 1 + math.ceil(limit / WALK_NODES_PER_POINT) + answer.cost + limit * per_item
            return _Sum(cost, max(1, step + answer.depth), answer.deepest or name, answer.walks + 1, fields=1)
        child = self.selection(node.selection_set, introspecting)
        fan = self.fan_out(node, introspecting) if node.selection_set else 1
        return _Sum(1 + fan * child.cost, max(1, step + child.depth), child.deepest or name, child.walks, fields=1)


def _operation(document: Any, operation_name: str | None) -> OperationDefinitionNode:
    operations = [d for d in document.definitions if isinstance(d, OperationDefinitionNode)]
    if operation_name is None:
        if len(operations) > 1:
            raise _Refused(GraphQLError("the document holds several operations: say which to run in operationName",
                                        extensions={"code": "BAD_USER_INPUT", "field": "operationName"}))
        if not operations:
            raise _Refused(GraphQLError("the document holds no operation to run",
                                        extensions={"code": "BAD_USER_INPUT", "field": "query"}))
        return operations[0]
    for op in operations:
        if op.name is not None and op.name.value == operation_name:
            return op
    raise _Refused(GraphQLError(f"the document holds no operation named {operation_name[:64]!r}",
                                extensions={"code": "BAD_USER_INPUT", "field": "operationName"}))


def check_limits(document: Any, variables: Mapping[str, Any] | None, limits: Limits,
                 operation_name: str | None = None) -> GraphQLError | None:
    """The first limit the operation to run breaks, or None. Page sizes name a field, so they are
    reported first, then depth, walks, mutations and cost."""
    fragments = {d.name.value: d for d in document.definitions if isinstance(d, FragmentDefinitionNode)}
    try:
        op = _operation(document, operation_name)
        total = _Checker(fragments, variables or {}, limits).selection(op.selection_set)
        if op.operation.value == "mutation" and total.fields > limits.max_mutations:
            raise _limit(f"at most {limits.max_mutations} mutations in one request, got {total.fields}: "
                         f"send them in several requests", limits.max_mutations)
        if total.depth > limits.max_depth:
            raise _limit(f"query depth exceeds {limits.max_depth} at field {total.deepest}", limits.max_depth)
        if total.walks > limits.max_walks:
            raise _limit(f"at most {limits.max_walks} lineage or impactAnalysis fields in one request, "
                         f"got {total.walks}: send them in separate requests", limits.max_walks)
        if total.cost > limits.max_cost:
            raise _limit(f"query cost exceeds {limits.max_cost}: this one costs {_round(total.cost)} (each field costs 1, times "
                         f"the page sizes or walk limits around it): ask for smaller pages, a smaller limit or "
                         f"fewer nested lists", limits.max_cost)
    except _Refused as refused:
        return refused.error
    return None


def _round(cost: float) -> str:
    return f"{math.ceil(cost):,}" if cost < 10**12 else f"over {10**12:,}"


# Documents found valid, most recently used last: (schema, document text). Bounded in count and
# in the length of a document it keeps.
VALID_CACHE_SIZE, VALID_CACHE_TEXT = 2_000, 20_000
_VALID: "OrderedDict[tuple[int, str], None]" = OrderedDict()
# Parsed documents are kept smaller than the validation marks: a parsed document is tens of times
# its text. 256 x 10,000 characters stays within tens of MB however hostile the texts.
PARSE_CACHE_SIZE, PARSE_CACHE_TEXT = 256, 10_000


class DocumentCache(ParserCache):
    """strawberry's ParserCache (an LRU keyed by the text and the parse options, max_tokens
    included) for texts up to PARSE_CACHE_TEXT characters; a longer one is parsed each time.
    Front-ends send the same few documents with new variables, and parsing is the first cost of
    every request. Only the syntax tree is shared between requests: the limits (QueryLimits) are
    checked on it with each request's own variables, and graphql-core never changes it."""

    def __init__(self) -> None:
        super().__init__(maxsize=PARSE_CACHE_SIZE)

    def on_parse(self) -> Iterator[None]:
        query = self.execution_context.query
        if query and len(query) <= PARSE_CACHE_TEXT:
            yield from super().on_parse()
        else:
            yield  # strawberry parses it


class QueryLimits(SchemaExtension):
    """Bounds parsing, then checks the limits where validation would run: a refused document is
    never validated (validating a hostile document can cost far more than this check) nor
    executed. Validation itself runs in a worker thread: some of its rules are quadratic in the
    fields that share a name, and a document under the token limit still must not hold the
    event loop that serves everyone else."""

    def __init__(self, limits: Limits) -> None:
        self.limits = limits

    def on_operation(self) -> Iterator[None]:
        ctx = self.execution_context
        ctx.parse_options = {**(ctx.parse_options or {}), "max_tokens": self.limits.max_tokens}
        yield

    async def on_validate(self) -> AsyncIterator[None]:
        ctx = self.execution_context
        if ctx.graphql_document is not None and ctx.pre_execution_errors is None:
            # The name the client sent: strawberry's operation_name falls back to the first operation's.
            error = check_limits(ctx.graphql_document, ctx.variables, self.limits, ctx._provided_operation_name)
            if error is not None:
                ctx.pre_execution_errors = [error]  # strawberry then skips validation and execution
            elif ctx.validation_rules:
                # Setting pre_execution_errors (an empty list when valid) tells strawberry that
                # validation has run. A document found valid once is valid again: validation
                # depends on the schema and the document alone (not on variables), and costs
                # a millisecond or more even for a one-line mutation.
                key = (id(ctx.schema), ctx.query) if ctx.query and len(ctx.query) <= VALID_CACHE_TEXT else None
                if key is not None and key in _VALID:
                    _VALID.move_to_end(key)
                    ctx.pre_execution_errors = []
                else:
                    ctx.pre_execution_errors = await asyncio.to_thread(
                        validate_document, ctx.schema._schema, ctx.graphql_document, ctx.validation_rules)
                    if key is not None and not ctx.pre_execution_errors:
                        _VALID[key] = None
                        if len(_VALID) > VALID_CACHE_SIZE:
                            _VALID.popitem(last=False)
        yield
