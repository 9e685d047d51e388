"""The typed per-request context every resolver receives as info.context."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from strawberry.types import Info as StrawberryInfo

from maestro_graph.services import Services
from maestro_graph.types import Tenant
from resolvers.loaders import Loaders


@dataclass
class Context:
    services: Services
    tenant: Tenant
    loaders: Loaders
    request: Any = None
    response: Any = None
    extra: dict[str, Any] = field(default_factory=dict)


Info = StrawberryInfo[Context, None]
