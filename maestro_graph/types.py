"""Type aliases every layer speaks (the way starlette/types.py does for ASGI)."""

from __future__ import annotations

import enum
from typing import TypeAlias

NodeId: TypeAlias = str
Tenant: TypeAlias = str
Props: TypeAlias = dict[str, object]
# Keyset cursor: every listing is ordered by (sort_name, id), so this pair says where a page ends.
Cursor: TypeAlias = tuple[str, str]

DEFAULT_TENANT: Tenant = "default"


class Direction(enum.Enum):
    """Which way to follow a relationship from the nodes we start at."""

    __hash__ = object.__hash__  # members are singletons; Enum's own hash is Python code, hot in impact analysis

    OUT = "OUT"  # (start)-[r]->(other)
    IN = "IN"  # (start)<-[r]-(other)


class LineageDirection(enum.Enum):
    UPSTREAM = "UPSTREAM"
    DOWNSTREAM = "DOWNSTREAM"
    BOTH = "BOTH"


class Granularity(enum.Enum):
    DATASET = "DATASET"
    FIELD = "FIELD"
