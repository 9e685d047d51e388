"""JSON from clients, read strictly: request bodies (GraphQL over HTTP and WebSocket, OpenLineage)
and JSON scalar values. What the graph can store and every backend can hold is what passes:
UTF-8 text, numbers that are finite and fit in 64 bits, and nesting at most MAX_DEPTH deep.
Anything else is a BadInput that says what is wrong, never a 500 or a silent null."""

from __future__ import annotations

import json
import math
from typing import Any

from maestro_graph.domain.errors import BadInput

MAX_DEPTH = 64  # objects and arrays within each other; OpenLineage facets need a handful
INT_RANGE = (-(2**63), 2**63 - 1)  # what SQLite, PostgreSQL (bigint) and Neo4j integers hold


def _int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:  # over Python's 4,300-digit limit for int()
        value = INT_RANGE[1] + 1
    if not INT_RANGE[0] <= value <= INT_RANGE[1]:
        raise BadInput(f"the number {text[:24]}{'...' if len(text) > 24 else ''} does not fit in 64 bits", field="body")
    return value


def _float(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):
        raise BadInput(f"the number {text[:24]} is too large to store", field="body")
    return value


def _constant(name: str) -> Any:
    raise BadInput(f"{name} is not a JSON number: send a finite number or null", field="body")


def loads(data: str | bytes, field: str = "body") -> Any:
    """Parse JSON text strictly (see the module's docstring); BadInput names `field`."""
    try:
        text = data.decode("utf-8") if isinstance(data, (bytes, bytearray)) else data
    except UnicodeDecodeError as err:
        raise BadInput(f"the {field} is not UTF-8 text (byte {err.start})", field=field) from None
    try:
        value = json.loads(text, parse_int=_int, parse_float=_float, parse_constant=_constant)
    except RecursionError:
        raise BadInput(f"the {field} nests objects or arrays more than {MAX_DEPTH} deep", field=field) from None
    except json.JSONDecodeError as err:
        raise BadInput(f"the {field} is not JSON: {err.msg} at line {err.lineno} column {err.colno}", field=field) from None
    except BadInput as err:
        raise BadInput(err.message, field=field) from None
    check_depth(value, field)
    return value


def check_depth(value: Any, field: str | None) -> None:
    """BadInput if objects and arrays nest more than MAX_DEPTH deep (iterative: no recursion)."""
    stack = [(value, 1)]
    while stack:
        item, depth = stack.pop()
        children = item.values() if isinstance(item, dict) else item if isinstance(item, list) else None
        if children is None:
            continue
        if depth > MAX_DEPTH:
            raise BadInput(f"the {field or 'value'} nests objects or arrays more than {MAX_DEPTH} deep", field=field)
        stack.extend((child, depth + 1) for child in children if isinstance(child, (dict, list)))


def check_value(value: Any, field: str | None = None) -> Any:
    """A JSON scalar's value from a GraphQL literal or an already parsed variable: finite numbers
    in 64 bits, bounded nesting. Returns it unchanged."""
    check_depth(value, field)
    stack = [value]
    while stack:
        item = stack.pop()
        if isinstance(item, dict):
            stack.extend(item.values())
        elif isinstance(item, list):
            stack.extend(item)
        elif isinstance(item, bool) or item is None or isinstance(item, str):
            continue
        elif isinstance(item, int):
            if not INT_RANGE[0] <= item <= INT_RANGE[1]:
                raise BadInput("a number does not fit in 64 bits", field=field)
        elif isinstance(item, float):
            if not math.isfinite(item):
                raise BadInput("NaN and Infinity cannot be stored; send a finite number or null", field=field)
    return value
