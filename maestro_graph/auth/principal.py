"""Who is calling: a verified token's subject, tenant and roles, and the role ladder."""

from __future__ import annotations

import enum
import re
from dataclasses import dataclass, field

from maestro_graph.domain.errors import Forbidden, Unauthenticated
from maestro_graph.types import Tenant

# Tenants end up in SQL columns (64 chars) and Cypher parameters; keep them plain.
TENANT_PATTERN = re.compile(r"\A[A-Za-z0-9][A-Za-z0-9_.-]{0,63}\Z")  # \Z: `$` would pass "acme\n"


class Role(enum.IntEnum):
    """viewer < editor < admin: each role can do everything the roles below it can."""

    VIEWER = 1  # reads
    EDITOR = 2  # writes to the graph, lineage ingestion
    ADMIN = 3  # tokens and the audit log of its tenant

    @property
    def label(self) -> str:
        return self.name.lower()

    @classmethod
    def parse(cls, value: str) -> "Role":
        """A role by name, any case.

        >>> Role.parse("editor")
        <Role.EDITOR: 2>
        """
        try:
            return cls[value.strip().upper()]
        except KeyError:
            raise ValueError(f"unknown role {value!r}: use viewer, editor or admin") from None


@dataclass(frozen=True, slots=True)
class Principal:
    sub: str
    tenant: Tenant
    roles: frozenset[Role]
    expires_at: float | None = field(default=None, compare=False)  # the token's exp (seconds since the epoch); None: never (system)

    def expired(self, now: float) -> bool:
        return self.expires_at is not None and now >= self.expires_at

    @property
    def role(self) -> Role:
        """The highest role held (a token with no known role cannot be verified, see tokens.py)."""
        return max(self.roles)

    def can(self, role: Role) -> bool:
        return self.role >= role


def require(actor: Principal | None, role: Role, what: str = "this operation") -> Principal:
    """The actor, if it holds `role` or a higher one; Unauthenticated / Forbidden otherwise.

    Services call this themselves, so a write reached without GraphQL is still checked."""
    if actor is None:
        raise Unauthenticated("Missing or invalid bearer token.")
    if not actor.can(role):
        raise Forbidden(f"{what} needs the {role.label} role; your token has {actor.role.label}", field=what)
    return actor


def system(tenant: Tenant, sub: str = "system") -> Principal:
    """An admin of one tenant for work the server does itself (the demo loader, the CLI)."""
    return Principal(sub, tenant, frozenset({Role.ADMIN}))
