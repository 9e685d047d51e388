"""Domain nodes and edges <-> Neo4j property maps.

A domain prop is stored natively under its own name when Neo4j can hold it as a property
and give it back unchanged: a str/bool/int(64-bit)/float, or a list whose items are all of
one of those types. Anything else (a dict, a list holding dicts, lists or mixed types) is
stored as a JSON string under `<name>__json`. Reading reverses both, so props round-trip
exactly (an int stays an int, a float a float).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from maestro_graph.domain.graph import LABEL_OF, Edge, Node, Rel
from maestro_graph.domain.props import index_values, search_text
from maestro_graph.types import NodeId, Props, Tenant

JSON_SUFFIX = "__json"
NODE_SYSTEM = frozenset({"id", "tenant", "label", "key", "created_at", "updated_at"})
EDGE_SYSTEM = frozenset({"tenant", "created_at", "updated_at"})
_INT64 = (-(2**63), 2**63 - 1)
_SCALARS = (str, bool, int, float)


def _is_scalar(value: object) -> bool:
    if type(value) is int:
        return _INT64[0] <= value <= _INT64[1]
    return type(value) in _SCALARS


def _is_native(value: object) -> bool:
    if isinstance(value, list):
        # Neo4j arrays are homogeneous: [1, 2.5] or [True, 1] would not come back as written.
        return len({type(v) for v in value}) <= 1 and all(_is_scalar(v) for v in value)
    return _is_scalar(value)


def _check_name(name: str, system: frozenset[str]) -> None:
    # Schemas never produce these names; a clash would overwrite or hide a system property.
    assert not name.startswith("_") and name not in system and not name.endswith(JSON_SUFFIX), (
        f"prop name {name!r} collides with the Neo4j store's own properties"
    )


def encode_props(props: Props, system: frozenset[str] = NODE_SYSTEM) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for name, value in props.items():
        _check_name(name, system)
        if value is None:  # None means "no such prop"
            continue
        if _is_native(value):
            out[name] = value
        else:
            out[name + JSON_SUFFIX] = json.dumps(value, ensure_ascii=False)
    return out


def decode_props(stored: Mapping[str, Any], system: frozenset[str] = NODE_SYSTEM) -> Props:
    props: Props = {}
    for name, value in stored.items():
        if name in system or name.startswith("_"):
            continue
        if name.endswith(JSON_SUFFIX):
            props[name.removesuffix(JSON_SUFFIX)] = json.loads(value)
        else:
            props[name] = value
    return props


def node_properties(node: Node, tenant: Tenant) -> dict[str, Any]:
    """Every property a stored node has: domain props, system props and index copies."""
    name, kind, score, tags = index_values(node.label, node.props)
    return {
        **encode_props(node.props),
        "id": node.id, "tenant": tenant, "label": node.label.value, "key": node.key,
        "created_at": node.created_at, "updated_at": node.updated_at,
        "_name": name, "_kind": kind, "_score": score, "_tags": [str(t) for t in tags], "_fold": search_text(node.props, name),
    }


def to_node(stored: Mapping[str, Any]) -> Node:
    return Node(
        stored["id"], LABEL_OF[stored["label"]], stored["key"], decode_props(stored),
        stored["created_at"], stored["updated_at"],
    )


def edge_properties(edge: Edge) -> dict[str, Any]:
    """The domain part of a relationship's properties (LINK adds tenant and timestamps)."""
    return encode_props(edge.props, EDGE_SYSTEM)


def to_edge(rel: Rel, src: NodeId, dst: NodeId, stored: Mapping[str, Any] | None) -> Edge:
    return Edge(rel, src, dst, decode_props(stored, EDGE_SYSTEM) if stored else {})
