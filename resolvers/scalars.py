"""DateTime that serialises the stored ISO-8601 strings as they are (no parse-and-format per value).

Stored timestamps are already UTC ISO-8601 (domain.clock.now / pydantic JSON mode); inputs are
parsed to datetime as usual."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import strawberry
from strawberry.scalars import JSON

from maestro_graph import json_input
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


def _json(value: Any) -> Any:
    return json_input.check_value(value)  # the error names no field: resolvers/errors.py finds the argument


# strawberry's JSON, with what the graph can store checked (finite numbers in 64 bits, bounded
# nesting): NaN would otherwise be stored as null without a word.
ECMA_404 = "https://ecma-international.org/wp-content/uploads/ECMA-404_2nd_edition_december_2017.pdf"
StrictJSON = strawberry.scalar(name="JSON", description=f"The `JSON` scalar type represents JSON values as specified by "
                                                        f"[ECMA-404]({ECMA_404}).",
                               specified_by_url=ECMA_404, serialize=lambda v: v, parse_value=_json)
SCALAR_MAP = {datetime: DateTime, JSON: StrictJSON}
