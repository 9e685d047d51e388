"""The typed per-request context every resolver receives as info.context."""

from __future__ import annotations

from dataclasses import dataclass, field
from collections.abc import Callable
from typing import Any

from strawberry.types import Info as StrawberryInfo

from maestro_graph.auth.principal import Principal
from maestro_graph.auth.tokens import INVALID_TOKEN
from maestro_graph.domain.errors import Unauthenticated
from maestro_graph.services import Services
from maestro_graph.types import Tenant
from resolvers.loaders import Loaders


@dataclass
class Context:
    """principal is None until authenticated: HTTP requests arrive authenticated (app.py's
    guard); a WebSocket is authenticated by its connection_init payload."""

    services: Services
    principal: Principal | None = None
    loaders: Loaders | None = None  # type: ignore[assignment]
    request: Any = None
    response: Any = None
    connection_params: Any = None  # graphql-transport-ws connection_init payload
    extra: dict[str, Any] = field(default_factory=dict)
    # Run before each operation on a WebSocket: token expiry and the rate limit (app.py).
    operation_check: Callable[[], None] | None = None

    def authenticate(self, principal: Principal) -> None:
        self.principal = principal
        self.loaders = Loaders(self.services, principal.tenant)

    @property
    def tenant(self) -> Tenant:
        """The caller's tenant: every store call of this request is scoped by it."""
        if self.principal is None:
            raise Unauthenticated(INVALID_TOKEN)
        return self.principal.tenant


Info = StrawberryInfo[Context, None]
