"""The typed per-request context every resolver receives as info.context."""

from __future__ import annotations

from collections.abc import Callable
from contextvars import ContextVar
from dataclasses import dataclass, field
from typing import Any

from strawberry.types import Info as StrawberryInfo

from maestro_graph.auth.principal import Principal
from maestro_graph.auth.tokens import INVALID_TOKEN
from maestro_graph.domain.errors import Unauthenticated
from maestro_graph.services import Services
from maestro_graph.services.subscriptions import Delivery
from maestro_graph.types import Tenant
from resolvers.loaders import Loaders


# The loaders of the operation (or subscription event) running in this task, when it has its own:
# on a WebSocket one context serves every operation of the connection, and a connection that
# lived for hours would otherwise answer from one ever-growing cache of what it once read.
OPERATION_LOADERS: ContextVar[Loaders | None] = ContextVar("operation_loaders", default=None)


@dataclass
class Context:
    """principal is None until authenticated: HTTP requests arrive authenticated (app.py's
    guard); a WebSocket is authenticated by its connection_init payload."""

    services: Services
    principal: Principal | None = None
    request_loaders: Loaders | None = None  # HTTP: the request's; see `loaders`
    request: Any = None
    response: Any = None
    connection_params: Any = None  # graphql-transport-ws connection_init payload
    extra: dict[str, Any] = field(default_factory=dict)
    # Run before each operation on a WebSocket: token expiry and the rate limit (app.py).
    operation_check: Callable[[], None] | None = None

    def authenticate(self, principal: Principal) -> None:
        self.principal = principal
        self.request_loaders = Loaders(self.services, principal.tenant)

    @property
    def loaders(self) -> Loaders:
        """The DataLoaders of what is being answered: the HTTP request's, or on a WebSocket the
        operation's or the subscription event's (fresh_loaders)."""
        own = OPERATION_LOADERS.get()
        if own is not None:
            return own
        if self.request_loaders is None:
            raise Unauthenticated(INVALID_TOKEN)
        return self.request_loaders

    def fresh_loaders(self) -> Loaders:
        """New, empty DataLoaders for what this task answers next (a WebSocket operation):
        nothing read for an earlier one is answered from a cache."""
        loaders = Loaders(self.services, self.tenant)
        OPERATION_LOADERS.set(loaders)
        return loaders

    def event_loaders(self, delivery: Delivery) -> Loaders:
        """The DataLoaders of one change event, fresh for it and shared by every subscriber this
        process serves it to (one read of a node per event, not one per subscriber), primed with
        the nodes as written when this process committed the change."""
        loaders = delivery.shared.get("loaders")
        if loaders is None:
            loaders = delivery.shared["loaders"] = Loaders(self.services, self.tenant)
            for node in (delivery.stored or {}).values():
                loaders.node.prime(node.id, node)
        OPERATION_LOADERS.set(loaders)
        return loaders

    @property
    def tenant(self) -> Tenant:
        """The caller's tenant: every store call of this request is scoped by it."""
        if self.principal is None:
            raise Unauthenticated(INVALID_TOKEN)
        return self.principal.tenant


Info = StrawberryInfo[Context, None]
