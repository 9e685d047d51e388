"""Who may call a root field: IsViewer (reads), IsEditor (writes), IsAdmin (tokens, audit log).

The services check roles again (a write reached without GraphQL is still checked); these
classes refuse before a resolver runs, and record a refused mutation in the audit log.
"""

from __future__ import annotations

from typing import Any

from graphql import OperationType
from strawberry.permission import BasePermission

from maestro_graph.auth.principal import Role, require
from maestro_graph.auth.tokens import INVALID_TOKEN
from maestro_graph.domain.errors import Forbidden
from resolvers.context import Info


class _HasRole(BasePermission):
    role = Role.VIEWER
    message = INVALID_TOKEN  # only used if has_permission returns False, which it never does
    error_extensions = {"code": "UNAUTHENTICATED"}

    async def has_permission(self, source: Any, info: Info, **kwargs: Any) -> bool:
        actor = info.context.principal
        try:
            require(actor, self.role, info.field_name)  # Unauthenticated / Forbidden, naming the field
        except Forbidden as err:
            if actor is not None and info.operation.operation is OperationType.MUTATION:
                await info.context.services.audit.refused(actor, info.field_name, err.code)
            raise
        return True


class IsViewer(_HasRole):
    role = Role.VIEWER


class IsEditor(_HasRole):
    role = Role.EDITOR


class IsAdmin(_HasRole):
    role = Role.ADMIN


VIEWER, EDITOR, ADMIN = [IsViewer], [IsEditor], [IsAdmin]  # permission_classes= lists
