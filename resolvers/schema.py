"""The schema: each domain's Query and Mutation merged into one, with the extensions we run."""

from __future__ import annotations

import logging

import strawberry
from graphql import GraphQLError
from strawberry.extensions import MaskErrors
from strawberry.schema.config import StrawberryConfig
from strawberry.tools import merge_types
from strawberry.types import ExecutionContext

from maestro_graph.domain.errors import MaestroError
from resolvers.artifacts.mutations import ArtifactMutation
from resolvers.errors import add_code
from resolvers.graph.mutations import GraphMutation
from resolvers.graph.queries import GraphQuery
from resolvers.graph.types import TYPES
from resolvers.limits import QueryLimits
from resolvers.lineage.mutations import LineageMutation
from resolvers.lineage.queries import LineageQuery
from resolvers.scalars import SCALAR_MAP
from resolvers.projects.mutations import ProjectMutation

log = logging.getLogger("maestro_graph.graphql")

Query = merge_types("Query", (GraphQuery, LineageQuery))
Mutation = merge_types("Mutation", (GraphMutation, ProjectMutation, ArtifactMutation, LineageMutation))


def should_mask(error: GraphQLError) -> bool:
    """Hide internals: only our own errors and GraphQL's own (syntax, validation) reach clients."""
    original = error.original_error
    return original is not None and not isinstance(original, (MaestroError, GraphQLError))


class Schema(strawberry.Schema):
    def process_errors(self, errors: list[GraphQLError], execution_context: ExecutionContext | None = None) -> None:
        for error in errors:
            add_code(error)
        super().process_errors(errors, execution_context)


def build_schema(*, max_page: int = 100, max_depth: int = 12) -> strawberry.Schema:
    return Schema(
        query=Query,
        mutation=Mutation,
        types=list(TYPES.values()),
        config=StrawberryConfig(scalar_map=SCALAR_MAP),
        extensions=[lambda: QueryLimits(max_page=max_page, max_depth=max_depth), lambda: MaskErrors(should_mask_error=should_mask)],
    )
