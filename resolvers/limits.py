"""Refuse over-limit queries before any resolver runs: page sizes, query depth and query cost.

Checked on the parsed document with the request's variables, so `first: $n` is caught too.

Cost: every field costs 1, times the page sizes of the connections around it, so
`projects(first: 50) { edges { node { members(first: 100) { edges { node { name } } } } } }`
costs about 50 + 50*100 fields. A connection without `first` counts as the default page (20).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from graphql import (
    ExecutionResult, FieldNode, FragmentDefinitionNode, FragmentSpreadNode, GraphQLError,
    InlineFragmentNode, OperationDefinitionNode, SelectionSetNode, VariableNode, value_from_ast_untyped,
)
from strawberry.extensions import SchemaExtension

from resolvers.relay import DEFAULT_PAGE

PAGE_ARGS = ("first", "last")
# Relay's wrappers are not levels of the graph: depth counts projects -> members -> projects, not edges/node.
PLUMBING = frozenset({"edges", "node", "pageInfo"})
# Fields visited before giving up: fragments spread many times can make a small document huge.
MAX_VISITS = 100_000


@dataclass(frozen=True)
class Limits:
    max_page: int = 100
    max_depth: int = 12
    max_cost: int = 50_000


@dataclass(frozen=True)
class _Visit:
    field: FieldNode
    depth: int  # top-level fields are 1; Relay plumbing adds no level
    weight: int  # how many times this field resolves: the product of the enclosing page sizes


def _arg(field: FieldNode, name: str, variables: dict[str, Any]) -> Any:
    for arg in field.arguments or ():
        if arg.name.value == name:
            if isinstance(arg.value, VariableNode):
                return variables.get(arg.value.name.value)
            return value_from_ast_untyped(arg.value)
    return None


def _fan_out(field: FieldNode, variables: dict[str, Any]) -> int:
    """How many items a field's children resolve for: its page size if it is a connection
    (has `first`/`last`, or selects `edges`), the length of `ids` for `nodes`, else 1."""
    sizes = [v for v in (_arg(field, a, variables) for a in PAGE_ARGS) if isinstance(v, int)]
    if sizes:
        return max(0, max(sizes))
    ids = _arg(field, "ids", variables)
    if isinstance(ids, list):
        return len(ids)
    selections = field.selection_set.selections if field.selection_set else ()
    if any(isinstance(s, FieldNode) and s.name.value == "edges" for s in selections):
        return DEFAULT_PAGE
    return 1


def _walk(selection_set: SelectionSetNode | None, fragments: dict[str, FragmentDefinitionNode], depth: int,
          weight: int, variables: dict[str, Any], seen: frozenset[str] = frozenset()) -> Iterator[_Visit]:
    """Every field with its depth and weight, through fragments; introspection is skipped."""
    if selection_set is None:
        return
    for sel in selection_set.selections:
        if isinstance(sel, FieldNode):
            if sel.name.value.startswith("__"):
                continue
            yield _Visit(sel, depth, weight)
            step = 0 if sel.name.value in PLUMBING else 1
            yield from _walk(sel.selection_set, fragments, depth + step, weight * _fan_out(sel, variables), variables, seen)
        elif isinstance(sel, InlineFragmentNode):
            yield from _walk(sel.selection_set, fragments, depth, weight, variables, seen)
        elif isinstance(sel, FragmentSpreadNode) and sel.name.value in fragments and sel.name.value not in seen:
            yield from _walk(fragments[sel.name.value].selection_set, fragments, depth, weight, variables,
                             seen | {sel.name.value})


def _limit(message: str, limit: int, field: str | None = None) -> GraphQLError:
    extensions: dict[str, Any] = {"code": "LIMIT_EXCEEDED", "limit": limit}
    if field:
        extensions["field"] = field
    return GraphQLError(message, extensions=extensions)


def check_limits(document: Any, variables: dict[str, Any] | None, limits: Limits) -> GraphQLError | None:
    """The first limit the document breaks, or None. Depth and page sizes name a field, so they are
    reported before cost (which a too-deep query usually breaks too)."""
    variables = variables or {}
    fragments = {d.name.value: d for d in document.definitions if isinstance(d, FragmentDefinitionNode)}
    for op in (d for d in document.definitions if isinstance(d, OperationDefinitionNode)):
        cost = visits = 0
        too_costly: GraphQLError | None = None
        for v in _walk(op.selection_set, fragments, 1, 1, variables):
            name = v.field.name.value
            if v.depth > limits.max_depth:
                return _limit(f"query depth exceeds {limits.max_depth} at field {name}", limits.max_depth)
            for arg in PAGE_ARGS:
                value = _arg(v.field, arg, variables)
                if isinstance(value, int) and value > limits.max_page:
                    return _limit(f"{name}({arg}: {value}): at most {limits.max_page} per page", limits.max_page, arg)
            cost += v.weight
            if cost > limits.max_cost and too_costly is None:
                too_costly = _limit(f"query cost exceeds {limits.max_cost} at field {name} (each field costs 1, "
                                    f"times the page sizes around it): ask for smaller pages or fewer nested lists",
                                    limits.max_cost)
            visits += 1
            if visits > MAX_VISITS:
                return too_costly or _limit(f"query has more than {MAX_VISITS} fields once fragments are expanded",
                                            MAX_VISITS)
        if too_costly is not None:
            return too_costly
    return None


class QueryLimits(SchemaExtension):
    def __init__(self, limits: Limits) -> None:
        self.limits = limits

    def on_execute(self) -> Iterator[None]:
        ctx = self.execution_context
        if ctx.graphql_document is not None:
            error = check_limits(ctx.graphql_document, ctx.variables, self.limits)
            if error is not None:
                ctx.result = ExecutionResult(data=None, errors=[error])  # strawberry then skips execution
        yield
