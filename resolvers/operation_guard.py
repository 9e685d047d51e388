"""What HTTP's guard (maestro_graph/guard.py) checks once per request, checked per operation on a
WebSocket: a socket lives longer than one request, so its token can expire and its operations
must count against the same rate limit."""

from __future__ import annotations

from collections.abc import Callable, Iterator

from graphql import GraphQLError
from strawberry.extensions import SchemaExtension
from strawberry.types import ExecutionResult

from maestro_graph.domain.errors import MaestroError


class OperationGuard(SchemaExtension):
    """Runs the context's `operation_check` (set for WebSocket connections) before an operation
    executes, and gives the operation DataLoaders of its own; a refusal is the operation's error
    and nothing runs."""

    def on_execute(self) -> Iterator[None]:
        ctx = self.execution_context
        check: Callable[[], None] | None = getattr(ctx.context, "operation_check", None)
        if check is not None:
            try:
                check()
                ctx.context.fresh_loaders()  # this operation's own, in its own task
            except MaestroError as err:
                ctx.result = ExecutionResult(data=None, errors=[GraphQLError(err.message, extensions=err.extensions)])
        yield
