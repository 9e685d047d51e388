"""Audit records: who did what to which ids, when, and how it ended. No I/O here."""

from __future__ import annotations

import uuid
from dataclasses import dataclass

from maestro_graph.domain.clock import now
from maestro_graph.types import Cursor, NodeId

OK = "OK"  # the outcome of a change that was stored; failures carry their error code


@dataclass(frozen=True, slots=True)
class AuditRecord:
    id: str
    at: str  # ISO-8601 UTC, as every timestamp of the graph
    actor: str  # the token's subject
    operation: str  # the API's name for it: createPerson, ingestLineageEvents, mintToken, ...
    ids: tuple[NodeId, ...]  # the nodes it touched (or named, for a refusal)
    outcome: str  # OK, or FORBIDDEN / BAD_USER_INPUT / NOT_FOUND / CONFLICT / LIMIT_EXCEEDED

    @property
    def cursor(self) -> Cursor:
        return (self.at, self.id)


def record(actor: str, operation: str, ids: tuple[NodeId, ...] | list[NodeId] = (), outcome: str = OK) -> AuditRecord:
    return AuditRecord(str(uuid.uuid4()), now(), actor, operation, tuple(dict.fromkeys(ids)), outcome)


@dataclass(frozen=True, slots=True)
class AuditQuery:
    """A filtered page of one tenant's audit log, newest first (ordered by (at, id) descending)."""

    actor: str | None = None
    operation: str | None = None
    outcome: str | None = None
    since: str | None = None  # at >= since
    until: str | None = None  # at < until
    first: int = 20
    after: Cursor | None = None  # the (at, id) of the last record of the previous page


@dataclass(frozen=True, slots=True)
class AuditPage:
    records: list[AuditRecord]
    total: int
    has_next: bool
