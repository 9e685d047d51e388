"""auditLog: the tenant's audit log, newest first; admins only."""

from typing import Optional

import strawberry

from resolvers.admin.types import AuditEntry, AuditFilter
from resolvers.context import Info
from resolvers.permissions import ADMIN
from resolvers.relay import DEFAULT_PAGE, Connection, Edge, decode_cursor, page_info


@strawberry.type
class AdminQuery:
    @strawberry.field(description="Your tenant's audit log, newest first: every mutation and ingestion, with refusals.",
                      permission_classes=ADMIN)
    async def audit_log(self, info: Info, filter: Optional[AuditFilter] = None, first: int = DEFAULT_PAGE,
                        after: Optional[str] = None) -> Connection[AuditEntry]:
        ctx = info.context
        page = await ctx.services.audit.log(ctx.principal, (filter or AuditFilter()).query(first, decode_cursor(after)))
        edges = [Edge(key=r.cursor, node=AuditEntry.of(r)) for r in page.records]
        return Connection(edges=edges, page_info=page_info(edges, page.has_next, after is not None), total_count=page.total)
