"""Audit: every write names its operation and actor; the record goes into the change's own
transaction (ChangeSet.audit), and a refusal after authentication is recorded on its own.

    async with self.audit.operation(actor, "createPerson") as op:   # checks the role too
        await store.apply(actor.tenant, op.stamp(changes))
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass, field

from maestro_graph.auth.principal import Principal, Role, require
from maestro_graph.domain.audit import AuditPage, AuditQuery, AuditRecord, record
from maestro_graph.domain.errors import MaestroError
from maestro_graph.domain.graph import ChangeSet
from maestro_graph.domain.text import check_text
from maestro_graph.services.paging import DEFAULT_MAX_PAGE, check_page_size
from maestro_graph.store.base import GraphStore
from maestro_graph.types import NodeId

log = logging.getLogger("maestro_graph.audit")

# Refusals of an authenticated caller are recorded; store outages and bugs are not outcomes of
# the operation (and the store may not be able to take the record anyway).
RECORDED = frozenset({"FORBIDDEN", "BAD_USER_INPUT", "NOT_FOUND", "CONFLICT", "LIMIT_EXCEEDED"})
MAX_AUDIT_TEXT = 300  # a filter or cursor value: actors, operations and timestamps are shorter


@dataclass
class Operation:
    actor: Principal
    name: str
    ids: list[NodeId] = field(default_factory=list)  # what a refusal record names

    def record(self, ids: Sequence[NodeId]) -> AuditRecord:
        return record(self.actor.sub, self.name, list(ids))

    def stamp(self, changes: ChangeSet) -> ChangeSet:
        """The ChangeSet with this operation's record added: stored with it or not at all."""
        changes.audit.append(self.record(changes.touched()))
        return changes


class AuditService:
    def __init__(self, store: GraphStore, *, max_page: int = DEFAULT_MAX_PAGE) -> None:
        self.store = store
        self.max_page = max_page

    @contextlib.asynccontextmanager
    async def operation(self, actor: Principal | None, name: str, role: Role = Role.EDITOR,
                        ids: Sequence[NodeId] = ()) -> AsyncIterator[Operation]:
        """Check the actor's role, then run the body; record a refusal (FORBIDDEN included)."""
        try:
            require(actor, role, name)
            assert actor is not None
            yield Operation(actor, name, list(ids))
        except MaestroError as err:
            if actor is not None and err.code in RECORDED:
                await self.refused(actor, name, err.code, ids)
            raise

    async def refused(self, actor: Principal, name: str, code: str, ids: Sequence[NodeId] = ()) -> None:
        """Record an operation refused after authentication (its change, if any, rolled back)."""
        try:
            await self.store.apply(actor.tenant, ChangeSet(audit=[record(actor.sub, name, list(ids), outcome=code)]))
        except MaestroError as err:  # keep the caller's own error; the log keeps this one
            log.warning("could not record a refused operation", extra={"operation": name, "error": err.message})

    async def log(self, actor: Principal | None, query: AuditQuery) -> AuditPage:
        """The actor's tenant's audit log; admins only."""
        require(actor, Role.ADMIN, "auditLog")
        assert actor is not None
        check_page_size(query.first, self.max_page)
        for name in ("actor", "operation", "outcome", "since", "until"):
            if (value := getattr(query, name)) is not None:
                check_text(value, name, MAX_AUDIT_TEXT)
        for part in query.after or ():
            check_text(part, "after", MAX_AUDIT_TEXT)
        return await self.store.audit_log(actor.tenant, query)
