"""Errors a client can act on. Each carries the `extensions.code` GraphQL clients see.

graphql-core copies an original exception's `extensions` dict onto the GraphQL error,
so raising these anywhere below the resolvers is enough.
"""

from __future__ import annotations


class MaestroError(Exception):
    code = "INTERNAL_SERVER_ERROR"

    def __init__(self, message: str, *, field: str | None = None, **extra: object) -> None:
        super().__init__(message)
        self.message = message
        self.field = field
        self.extensions: dict[str, object] = {"code": self.code}
        if field is not None:
            self.extensions["field"] = field
        self.extensions.update(extra)


class BadInput(MaestroError):
    code = "BAD_USER_INPUT"


class NotFound(MaestroError):
    code = "NOT_FOUND"


class Conflict(MaestroError):
    code = "CONFLICT"


class LimitExceeded(MaestroError):
    code = "LIMIT_EXCEEDED"


class Forbidden(MaestroError):
    code = "FORBIDDEN"


class Unauthenticated(MaestroError):
    code = "UNAUTHENTICATED"


class TooSlow(MaestroError):
    """A subscriber fell too far behind the change feed: its subscription ended (resume from the
    cursor in extensions.cursor)."""

    code = "SUBSCRIBER_TOO_SLOW"


class CursorExpired(MaestroError):
    """A subscription resumed from a cursor the change feed no longer holds (trimmed)."""

    code = "CURSOR_EXPIRED"


class StoreUnavailable(MaestroError):
    """The store cannot be reached right now; the request may be retried."""

    code = "SERVICE_UNAVAILABLE"


class RunnerUnavailable(MaestroError):
    """A training-job runner cannot reach what it runs jobs on (the Kubernetes API server, ...)
    right now; the request may be retried."""

    code = "SERVICE_UNAVAILABLE"


class IntegrationUnavailable(MaestroError):
    """A system Maestro reads from (an MLflow tracking server, ...) cannot be reached or answers
    errors right now; nothing was written and the request may be retried."""

    code = "SERVICE_UNAVAILABLE"
