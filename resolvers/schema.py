"""The schema: each domain's Query and Mutation merged into one, with the extensions we run."""

from __future__ import annotations

import dataclasses
import logging

import strawberry
from graphql import GraphQLError
from strawberry.extensions import DisableIntrospection, MaskErrors
from strawberry.schema.config import StrawberryConfig
from strawberry.permission import PermissionExtension
from strawberry.tools import merge_types
from strawberry.types import ExecutionContext

from maestro_graph.domain.errors import MaestroError
from resolvers.admin.mutations import AdminMutation
from resolvers.admin.queries import AdminQuery
from resolvers.artifacts.mutations import ArtifactEditMutation, ArtifactMutation
from resolvers.artifacts.queries import ArtifactQuery
from resolvers.cards.queries import CardQuery
from resolvers.datasets.mutations import DatasetMutation
from resolvers.datasets.queries import DatasetQuery
from resolvers.errors import CLIENT_ERRORS, SentIds, add_code
from resolvers.executor import Executor, use_direct_resolvers
from resolvers.graph.mutations import GraphMutation
from resolvers.graph.queries import GraphQuery
from resolvers.jobs.mutations import JobMutation
from resolvers.jobs.queries import JobQuery
from resolvers.limits import DocumentCache, Limits, QueryLimits, introspection_sizes
from resolvers.lineage.mutations import LineageMutation
from resolvers.lineage.queries import LineageQuery
from resolvers.models.mutations import ModelMutation, TrainingMutation
from resolvers.metamodel.mutations import MetaModelMutation
from resolvers.metamodel.queries import MetaModelQuery
from resolvers.models.queries import ModelQuery
from resolvers.nodes import node_types
from resolvers.operation_guard import OperationGuard
from resolvers.people.mutations import PeopleMutation
from resolvers.people.queries import PeopleQuery
from resolvers.projects.mutations import ProjectEditMutation, ProjectMutation, ProjectRecordEditMutation
from resolvers.projects.queries import ProjectQuery
from resolvers.scalars import SCALAR_MAP
from resolvers.subscriptions.queries import FeedQuery
from resolvers.subscriptions.subscriptions import Subscription

log = logging.getLogger("maestro_graph.graphql")

# Every root field is written out in its domain's queries.py or mutations.py; these are merged in the
# order schema.graphql has always listed them (and introspection shows): each node type's listing
# and edits first, in the graph model's label order, then the graph-wide fields and each domain's verbs.
Query = merge_types("Query", (
    PeopleQuery, ProjectQuery, ArtifactQuery, DatasetQuery, JobQuery, ModelQuery,
    GraphQuery, LineageQuery, AdminQuery, FeedQuery, MetaModelQuery, CardQuery,
))
Mutation = merge_types("Mutation", (
    PeopleMutation, ProjectEditMutation, ArtifactEditMutation, DatasetMutation, JobMutation, ModelMutation,
    ProjectRecordEditMutation, GraphMutation,
    ProjectMutation, ArtifactMutation, LineageMutation, AdminMutation, TrainingMutation, MetaModelMutation,
))

def should_mask(error: GraphQLError) -> bool:
    """Hide internals: only our own errors and GraphQL's own (syntax, validation) reach clients."""
    original = error.original_error
    return original is not None and not isinstance(original, (MaestroError, GraphQLError))


def log_error(error: GraphQLError, execution_context: ExecutionContext | None = None) -> None:
    """A client's mistake (a bad id, a missing role, a typo in the document) at info, in one line:
    the client was told, nothing is broken. A fault (masked as "Unexpected error.") or an outage at
    error, with its traceback: someone has to look."""
    code = (error.extensions or {}).get("code")
    extra = {"code": code, "operation": execution_context.operation_name if execution_context else None,
             "graphql_path": ".".join(map(str, error.path)) if error.path else None}
    if code in CLIENT_ERRORS and not should_mask(error):
        log.info("%s: %s", code, error.message, extra=extra)
    else:
        log.error("%s: %s", code, error.message, exc_info=error.original_error, extra=extra)


class Schema(strawberry.Schema):
    def process_errors(self, errors: list[GraphQLError], execution_context: ExecutionContext | None = None) -> None:
        """Instead of strawberry's, which logs every error at error level with a traceback."""
        document = execution_context.graphql_document if execution_context is not None else None
        for error in errors:
            add_code(error, document)
            log_error(error, execution_context)


def unguarded_fields(schema: strawberry.Schema) -> list[str]:
    """Root fields without a permission class: must be none (checked when the schema is built)."""
    missing = []
    for root in (Query, Mutation, Subscription):
        for f in root.__strawberry_definition__.fields:
            if not any(isinstance(e, PermissionExtension) for e in f.extensions):
                missing.append(f"{root.__name__}.{f.python_name}")
    return missing


def build_schema(*, limits: Limits = Limits(), introspection: bool = True) -> strawberry.Schema:
    checked: list[Limits] = []  # the limits with this schema's introspection sizes, set once it is built
    extensions: list = [SentIds, DocumentCache, lambda: QueryLimits(checked[0]), OperationGuard, lambda: MaskErrors(should_mask_error=should_mask)]
    if not introspection:
        extensions.append(DisableIntrospection)
    schema = Schema(
        query=Query,
        mutation=Mutation,
        subscription=Subscription,
        types=list(node_types().values()),
        config=StrawberryConfig(scalar_map=SCALAR_MAP),
        extensions=extensions,
        execution_context_class=Executor,
    )
    use_direct_resolvers(schema._schema)
    checked.append(dataclasses.replace(limits, introspection=introspection_sizes(schema._schema)))
    missing = unguarded_fields(schema)
    assert not missing, f"every root field needs a permission class (IsViewer/IsEditor/IsAdmin): {', '.join(missing)}"
    return schema
