"""Tokens minted by admins, for their own tenant only.

There is no cross-tenant super-admin: an admin's powers end at its tenant's boundary. A token
for another tenant is minted with the CLI (`maestro-graph token`) by whoever holds the secret.
"""

from __future__ import annotations

from dataclasses import dataclass

from maestro_graph.auth.principal import Principal, Role
from maestro_graph.auth.tokens import TokenMinter, parse_ttl
from maestro_graph.domain.errors import BadInput, Forbidden
from maestro_graph.domain.graph import ChangeSet
from maestro_graph.services.audit import AuditService


@dataclass(frozen=True)
class Minted:
    token: str
    sub: str
    tenant: str
    role: Role
    expires_in: int  # seconds


class TokenService:
    def __init__(self, audit: AuditService, minter: TokenMinter | None) -> None:
        self.audit, self.minter = audit, minter

    async def mint(self, actor: Principal | None, sub: str, role: Role, ttl: str, tenant: str | None = None) -> Minted:
        """A bearer token for `sub` in the admin's tenant, audited as mintToken (ids: sub:<subject>)."""
        async with self.audit.commits.operation(actor, "mintToken", Role.ADMIN, ids=[f"sub:{sub}"]) as op:
            if tenant is not None and tenant != op.actor.tenant:
                raise Forbidden(f"tenant: an admin of {op.actor.tenant} mints tokens for {op.actor.tenant} only", field="tenant")
            if self.minter is None:
                raise BadInput("this server checks tokens from an identity provider (public key or JWKS) and cannot "
                               "sign its own: mint tokens there", field="mintToken")
            seconds = parse_ttl(ttl)
            token = self.minter.mint(sub, op.actor.tenant, [role], seconds)
            await op.commit(ChangeSet(), audit_ids=op.ids)  # nothing stored but the record
            return Minted(token, sub, op.actor.tenant, role, seconds)

