"""The admin API's types: audit entries and their filter, minted tokens, roles."""

from __future__ import annotations

from datetime import datetime
from typing import Optional

import strawberry

from maestro_graph.auth.principal import Role as DomainRole
from maestro_graph.domain.audit import AuditQuery, AuditRecord
from maestro_graph.domain.clock import utc_text
from maestro_graph.types import Cursor


Role = strawberry.enum(DomainRole, name="Role", description="viewer < editor < admin: each role can do what the roles below it can.")


def stamp(value: datetime | None) -> str | None:
    """A filter bound in the stored timestamp format (UTC, fixed width), so strings compare as times."""
    return None if value is None else utc_text(value)


@strawberry.input(description="Audit entries matching every filter given.")
class AuditFilter:
    actor: Optional[str] = strawberry.field(default=None, description="The token subject that acted.")
    operation: Optional[str] = strawberry.field(default=None, description="An API operation name, e.g. createPerson.")
    outcome: Optional[str] = strawberry.field(default=None, description="OK, or an error code such as FORBIDDEN.")
    since: Optional[datetime] = strawberry.field(default=None, description="At or after this time.")
    until: Optional[datetime] = strawberry.field(default=None, description="Before this time.")

    def query(self, first: int, after: Cursor | None) -> AuditQuery:
        return AuditQuery(self.actor, self.operation, self.outcome, stamp(self.since), stamp(self.until), first, after)


@strawberry.type(description="One audited operation: who, what, which nodes, when, and how it ended.")
class AuditEntry:
    id: strawberry.ID
    at: datetime
    actor: str
    operation: str
    node_ids: list[str] = strawberry.field(description="Store ids of the nodes touched (the node part of a global id).")
    outcome: str = strawberry.field(description="OK, or the error code it was refused with.")

    @classmethod
    def of(cls, r: AuditRecord) -> "AuditEntry":
        return cls(id=strawberry.ID(r.id), at=r.at, actor=r.actor, operation=r.operation,  # type: ignore[arg-type]
                   node_ids=list(r.ids), outcome=r.outcome)


@strawberry.type
class MintedToken:
    token: str = strawberry.field(description="Send as `Authorization: Bearer <token>`.")
    sub: str
    tenant: str
    role: Role
    expires_in_seconds: int
