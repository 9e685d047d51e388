"""DateTime that serialises the stored ISO-8601 strings as they are (no parse-and-format per value).

Stored timestamps are already UTC ISO-8601 (domain.schemas.now / pydantic JSON mode); inputs are
parsed to datetime as usual."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import strawberry

from maestro_graph.domain.errors import BadInput


def _serialize(value: Any) -> str:
    return value if isinstance(value, str) else value.isoformat()


def _parse(value: Any) -> datetime:
    try:
        return datetime.fromisoformat(str(value))
    except ValueError:
        raise BadInput(f"{value!r} is not an ISO-8601 date-time such as 2026-01-31T12:00:00Z") from None


DateTime = strawberry.scalar(name="DateTime", description="ISO-8601 date-time, UTC.",
                             serialize=_serialize, parse_value=_parse)
SCALAR_MAP = {datetime: DateTime}
