"""Refuse over-limit queries before any resolver runs: page sizes and query depth.

Checked on the parsed document with the request's variables, so `first: $n` is caught too.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from graphql import (
    ExecutionResult, FieldNode, FragmentDefinitionNode, FragmentSpreadNode, GraphQLError,
    InlineFragmentNode, OperationDefinitionNode, SelectionSetNode, VariableNode, value_from_ast_untyped,
)
from strawberry.extensions import SchemaExtension

PAGE_ARGS = ("first", "last")
# Relay's wrappers are not levels of the graph: depth counts projects -> members -> projects, not edges/node.
PLUMBING = frozenset({"edges", "node", "pageInfo"})


def _walk(selection_set: SelectionSetNode | None, fragments: dict[str, FragmentDefinitionNode], depth: int,
          seen: frozenset[str] = frozenset()) -> Iterator[tuple[FieldNode, int]]:
    """Every field with its depth (top-level fields are depth 1, Relay plumbing adds none),
    through fragments; introspection is skipped."""
    if selection_set is None:
        return
    for sel in selection_set.selections:
        if isinstance(sel, FieldNode):
            if sel.name.value.startswith("__"):
                continue
            yield sel, depth
            step = 0 if sel.name.value in PLUMBING else 1
            yield from _walk(sel.selection_set, fragments, depth + step, seen)
        elif isinstance(sel, InlineFragmentNode):
            yield from _walk(sel.selection_set, fragments, depth, seen)
        elif isinstance(sel, FragmentSpreadNode) and sel.name.value in fragments and sel.name.value not in seen:
            yield from _walk(fragments[sel.name.value].selection_set, fragments, depth, seen | {sel.name.value})


def check_limits(document: Any, variables: dict[str, Any] | None, *, max_page: int, max_depth: int) -> GraphQLError | None:
    fragments = {d.name.value: d for d in document.definitions if isinstance(d, FragmentDefinitionNode)}
    for op in (d for d in document.definitions if isinstance(d, OperationDefinitionNode)):
        for field, depth in _walk(op.selection_set, fragments, 1):
            if depth > max_depth:
                return GraphQLError(f"query depth exceeds {max_depth} at field {field.name.value}",
                                    extensions={"code": "LIMIT_EXCEEDED", "limit": max_depth})
            for arg in field.arguments or ():
                if arg.name.value not in PAGE_ARGS:
                    continue
                value = (variables or {}).get(arg.value.name.value) if isinstance(arg.value, VariableNode) \
                    else value_from_ast_untyped(arg.value)
                if isinstance(value, int) and value > max_page:
                    return GraphQLError(
                        f"{field.name.value}({arg.name.value}: {value}): at most {max_page} per page",
                        extensions={"code": "LIMIT_EXCEEDED", "field": arg.name.value, "limit": max_page})
    return None


class QueryLimits(SchemaExtension):
    def __init__(self, *, max_page: int = 100, max_depth: int = 12) -> None:
        self.max_page, self.max_depth = max_page, max_depth

    def on_execute(self) -> Iterator[None]:
        ctx = self.execution_context
        if ctx.graphql_document is not None:
            error = check_limits(ctx.graphql_document, ctx.variables, max_page=self.max_page, max_depth=self.max_depth)
            if error is not None:
                ctx.result = ExecutionResult(data=None, errors=[error])  # strawberry then skips execution
        yield
