"""The graph as a whole: any node by id, counts, and the relationships between nodes."""

from __future__ import annotations

from typing import Optional

import strawberry
from strawberry import relay
from strawberry.scalars import JSON

from maestro_graph.domain.graph import Rel

Relationship = strawberry.enum(Rel, name="Relationship", description="A relationship type of the graph model.")


@strawberry.type
class LabelCount:
    label: str
    count: int


@strawberry.input
class LinkInput:
    relationship: Relationship  # type: ignore[valid-type]
    source_id: strawberry.ID
    target_id: strawberry.ID
    properties: Optional[JSON] = strawberry.field(default=None, description="Relationship properties, e.g. {role} on MEMBER_OF, {impact_score, at} on USES.")


@strawberry.type
class Link:
    relationship: Relationship  # type: ignore[valid-type]
    source: relay.Node
    target: relay.Node
    properties: JSON
