"""Audit: every write names its operation and actor; the record goes into the change's own
transaction (ChangeSet.audit), and a refusal after authentication is recorded on its own. Both go
through the one write path (services/commits.py, Commits.operation); this service reads the
log, and records the refusals the GraphQL layer makes itself.
"""

from __future__ import annotations

from collections.abc import Sequence

from maestro_graph.auth.principal import Principal, Role, require
from maestro_graph.domain.audit import AuditPage, AuditQuery
from maestro_graph.domain.text import check_text
from maestro_graph.services.commits import Commits
from maestro_graph.services.paging import DEFAULT_MAX_PAGE, check_page_size
from maestro_graph.store.base import GraphStore
from maestro_graph.types import NodeId

MAX_AUDIT_TEXT = 300  # a filter or cursor value: actors, operations and timestamps are shorter


class AuditService:
    def __init__(self, store: GraphStore, commits: Commits | None = None, *, max_page: int = DEFAULT_MAX_PAGE) -> None:
        self.store = store
        self.commits = commits or Commits(store)
        self.max_page = max_page

    async def refused(self, actor: Principal, name: str, code: str, ids: Sequence[NodeId] = ()) -> None:
        """Record an operation refused after authentication (its change, if any, rolled back)."""
        await self.commits.refused(actor, name, code, ids)

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
