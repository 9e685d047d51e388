"""Natural keys: a label's key props as one string, unique per tenant."""

from __future__ import annotations

import json
from functools import lru_cache

from maestro_graph.domain.graph import Label
from maestro_graph.domain.props import SPECS
from maestro_graph.types import NodeId, Props

def natural_key(label: Label, props: Props, node_id: NodeId | None = None) -> str:
    """The natural key as one string: a JSON list of the key props (unambiguous, readable).

    >>> natural_key(Label.DATASET, {"namespace": "pg://db", "name": "orders"})
    '["pg://db", "orders"]'
    """
    fields = SPECS[label].key
    if not fields:
        assert node_id is not None, f"{label.value} has no natural key: pass its id"
        return node_id
    values = [props[f] for f in fields]
    for v in values:  # a plain loop, not all(...): ingestion keys tens of nodes an event
        if type(v) is not str:
            return _KEY_JSON(values)
    return "[" + ", ".join(map(_key_part, values)) + "]"  # what json.dumps gives, value by value


_KEY_JSON = json.JSONEncoder(ensure_ascii=False).encode  # json.dumps builds an encoder per call


def field_key(dataset_id: str, path: str) -> str:
    """natural_key(Label.FIELD, ...) from its two parts: ingestion keys tens of fields an event,
    and column paths recur across datasets, so the path's part is made once.

    >>> field_key("d1", 'a."b"') == natural_key(Label.FIELD, {"dataset_id": "d1", "path": 'a."b"'})
    True
    """
    return "[" + _key_part(dataset_id) + ", " + _path_part(path) + "]"


def _key_part(v: str) -> str:
    """One string key value as it stands in natural_key's JSON list: JSON-encoded only when it
    needs escaping (the encoder costs more than the check)."""
    if '"' in v or "\\" in v or not v.isprintable():
        return _KEY_JSON(v)
    return '"' + v + '"'


_path_part = lru_cache(maxsize=50_000)(_key_part)
