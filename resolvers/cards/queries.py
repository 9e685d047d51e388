"""modelCard: a model version's card, built from the graph on each request."""

from typing import Optional

import strawberry

from maestro_graph.domain.graph import Label
from resolvers.cards.types import ModelCard, to_card
from resolvers.context import Info
from resolvers.permissions import VIEWER
from resolvers.relay import from_global_id


@strawberry.type
class CardQuery:
    @strawberry.field(description=(
        "A model version's card: details, intended use and limitations, training data with its upstream lineage and "
        "owners, features, metrics, parameters, deployments, owning project and team, version history with what "
        "changed, and how complete it is. NOT_FOUND for an unknown version. As Markdown, HTML or PDF: "
        "GET /models/{id}/card."), permission_classes=VIEWER)
    async def model_card(self, info: Info, model_version_id: strawberry.ID) -> Optional[ModelCard]:
        ctx = info.context
        _, node_id = from_global_id(model_version_id, Label.MODEL_VERSION, field="modelVersionId")
        return to_card(await ctx.services.cards.card(ctx.tenant, node_id))
