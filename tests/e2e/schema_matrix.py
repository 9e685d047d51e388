"""Minimal valid documents for every root field of the schema, generated from the schema itself,
so a field added later is in the attack matrix without anyone remembering to add it.

`document(field, ids)` fills every required argument (and every required input field) with a
plausible value; ID arguments get the id of a node of the label the argument names (`projectId`
-> a Project, `updateDataset(id)` -> a Dataset). `ids` maps each label to a global id, so one
call makes the document for one tenant's nodes, another tenant's, or unknown ones.
"""

from __future__ import annotations

import json
import re
import uuid
from dataclasses import dataclass
from typing import Any

from graphql import (
    GraphQLEnumType, GraphQLField, GraphQLInputObjectType, GraphQLList, GraphQLNonNull, GraphQLObjectType,
    GraphQLScalarType, GraphQLSchema, OperationType, Undefined, get_named_type,
)
from strawberry.permission import PermissionExtension

from maestro_graph.auth.principal import Role
from maestro_graph.domain.graph import Label
from resolvers.errors import camel

LABELS = {label.value: label for label in Label}
# Arguments whose label is not in their name.
SPECIAL_IDS = {"createdBy": Label.PERSON, "sourceId": Label.PERSON, "targetId": Label.PROJECT,  # link: MEMBER_OF
               "featureIds": Label.FIELD, "members.personId": Label.PERSON}
ID_OF_FIELD = {"setArtifactEntrypoint": Label.ARTIFACT, "trainingJob": Label.TRAINING_JOB,
               "trainingJobUpdated": Label.TRAINING_JOB}  # what their `id` names
STARTS_FROM_DATA = {"lineage", "impactAnalysis"}  # their id must be a Dataset or a Field
EVENT = {"eventType": "COMPLETE", "eventTime": "2026-01-01T00:00:00Z", "producer": "https://example.com/matrix",
         "schemaURL": "https://openlineage.io/spec/2-0-2/OpenLineage.json#/$defs/RunEvent",
         "run": {"runId": "0190c5f2-0000-7000-8000-000000000001"}, "job": {"namespace": "matrix", "name": "job"},
         "inputs": [], "outputs": [{"namespace": "matrix", "name": "out"}]}


@dataclass(frozen=True)
class RootField:
    operation: OperationType
    name: str
    role: Role  # the least role its permission class admits

    @property
    def keyword(self) -> str:
        return self.operation.value  # "query", "mutation", "subscription"


def root_fields(strawberry_schema: Any, operations: tuple[OperationType, ...] = (OperationType.QUERY, OperationType.MUTATION)
                ) -> list[RootField]:
    """Every Query and Mutation (or other `operations`) field with the role its permission class
    requires (from the code)."""
    out = []
    roots = {OperationType.QUERY: strawberry_schema.query, OperationType.MUTATION: strawberry_schema.mutation,
             OperationType.SUBSCRIPTION: strawberry_schema.subscription}
    for op, root in ((op, roots[op]) for op in operations):
        for f in root.__strawberry_definition__.fields:
            perms = [p for e in f.extensions if isinstance(e, PermissionExtension) for p in e.permissions]
            assert perms, f"{root.__name__}.{f.python_name} has no permission class"
            out.append(RootField(op, camel(f.python_name), max(p.role for p in perms)))
    return out


def literal(value: Any) -> str:
    """A Python value as a GraphQL literal: {a: 1, b: ["x"]}."""
    if isinstance(value, dict):
        return "{" + ", ".join(f"{k}: {literal(v)}" for k, v in value.items()) + "}"
    if isinstance(value, list):
        return "[" + ", ".join(literal(v) for v in value) + "]"
    if isinstance(value, bool):
        return "true" if value else "false"
    return json.dumps(value)


class SchemaEnum(str):
    """An enum value: written bare, not quoted."""


def _label_of(field: str, arg: str) -> Label:
    if arg in SPECIAL_IDS:
        return SPECIAL_IDS[arg]
    if field in STARTS_FROM_DATA:
        return Label.DATASET
    base = re.sub(r"Ids?$", "", arg.split(".")[-1])
    if base in ("", "id", "ids"):
        if field in ID_OF_FIELD:
            return ID_OF_FIELD[field]
        match = re.match(r"^(?:update|delete|cancel)([A-Z]\w*)$", field)
        return LABELS[match.group(1)] if match else Label.PERSON  # node(id), nodes(ids): any label will do
    return LABELS[base[0].upper() + base[1:]]


def _value(field: str, path: str, gtype: Any, ids: dict[Label, str]) -> Any:
    nullable = not isinstance(gtype, GraphQLNonNull)
    inner = gtype if nullable else gtype.of_type
    if isinstance(inner, GraphQLList):
        if path.endswith("events"):
            return [EVENT]
        return [_value(field, path, inner.of_type, ids)]
    named = get_named_type(inner)
    name = path.split(".")[-1]
    if isinstance(named, GraphQLInputObjectType):
        return {k: _value(field, f"{path}.{k}", f.type, ids) for k, f in named.fields.items()
                if isinstance(f.type, GraphQLNonNull) and f.default_value is Undefined}
    if isinstance(named, GraphQLEnumType):
        return SchemaEnum(next(iter(named.values)))
    assert isinstance(named, GraphQLScalarType)
    if named.name == "ID":
        key = path if path in SPECIAL_IDS else name
        return ids[_label_of(field, key)]
    if named.name == "String":
        if name == "email":
            return f"m{uuid.uuid4().hex[:8]}@example.com"
        if name == "sub":
            return "someone"
        if name == "ttl":
            return "1h"
        if name == "version":
            return f"1.0.{uuid.uuid4().int % 10_000}"
        return f"{name}-{uuid.uuid4().hex[:6]}"  # unique, so natural keys never collide
    return {"Int": 1, "Float": 1.0, "Boolean": True, "DateTime": "2026-01-01T00:00:00Z", "JSON": {}}[named.name]


def _literal(value: Any) -> str:
    if isinstance(value, SchemaEnum):
        return str(value)
    if isinstance(value, dict):
        return "{" + ", ".join(f"{k}: {_literal(v)}" for k, v in value.items()) + "}"
    if isinstance(value, list):
        return "[" + ", ".join(_literal(v) for v in value) + "]"
    return literal(value)


def _selection(gfield: GraphQLField) -> str:
    named = get_named_type(gfield.type)
    return " { __typename }" if isinstance(named, GraphQLObjectType) or hasattr(named, "fields") else ""


def document(schema: GraphQLSchema, rf: RootField, ids: dict[Label, str], selection: str | None = None,
             **extra: Any) -> str:
    """`mutation { createPerson(input: {...}) { __typename } }`, required args filled; `extra`
    sets optional args too (e.g. tenant for mintToken)."""
    root = {OperationType.QUERY: schema.query_type, OperationType.MUTATION: schema.mutation_type,
            OperationType.SUBSCRIPTION: schema.subscription_type}[rf.operation]
    assert root is not None
    gfield = root.fields[rf.name]
    args = {name: _value(rf.name, name, a.type, ids) for name, a in gfield.args.items()
            if isinstance(a.type, GraphQLNonNull) and a.default_value is Undefined}
    args.update(extra)
    # JSON scalars take object literals; the ingest mutation's events are JSON objects too.
    rendered = ", ".join(f"{k}: {_literal(v)}" for k, v in args.items())
    call = f"{rf.name}({rendered})" if rendered else rf.name
    return f"{rf.keyword} {{ {call}{_selection(gfield) if selection is None else selection} }}"
