"""mintToken: an admin mints a token for its own tenant."""

from typing import Optional

import strawberry

from resolvers.admin.types import MintedToken, Role
from resolvers.context import Info
from resolvers.permissions import ADMIN


@strawberry.type
class AdminMutation:
    @strawberry.mutation(description="Mint a bearer token for someone in your tenant (ttl like 30m, 8h, 7d).",
                         permission_classes=ADMIN)
    async def mint_token(self, info: Info, sub: str, role: Role, ttl: str = "8h", tenant: Optional[str] = None) -> MintedToken:
        ctx = info.context
        m = await ctx.services.tokens.mint(ctx.principal, sub, role, ttl, tenant)
        return MintedToken(token=m.token, sub=m.sub, tenant=m.tenant, role=m.role, expires_in_seconds=m.expires_in)
