"""Lineage writes: OpenLineage events through GraphQL, and the links impact analysis follows."""

import strawberry
from strawberry.scalars import JSON

from maestro_graph.domain.graph import Label
from resolvers.context import Info
from resolvers.permissions import EDITOR
from resolvers.models.types import ModelVersion
from resolvers.nodes import to_type
from resolvers.lineage.types import IngestResult
from resolvers.relay import from_global_id


@strawberry.type
class LineageMutation:
    @strawberry.mutation(description="Store OpenLineage RunEvents, DatasetEvents or JobEvents, all or none.", permission_classes=EDITOR)
    async def ingest_lineage_events(self, info: Info, events: list[JSON]) -> IngestResult:
        ctx = info.context
        r = await ctx.services.lineage.ingest(ctx.principal, list(events))
        ctx.loaders.forget()
        return IngestResult(events=r.events, nodes=r.nodes, relationships=r.relationships)

    @strawberry.mutation(description="Record what a model version was trained on (TRAINED_ON) and which columns it uses as features (USES_FEATURE).", permission_classes=EDITOR)
    async def link_model_version_inputs(self, info: Info, model_version_id: strawberry.ID,
                                        dataset_ids: list[strawberry.ID] = (), feature_ids: list[strawberry.ID] = ()) -> ModelVersion:  # type: ignore[assignment]
        ctx = info.context
        mv = from_global_id(model_version_id, Label.MODEL_VERSION, field="modelVersionId")[1]
        datasets = [from_global_id(d, Label.DATASET, field="datasetIds")[1] for d in dataset_ids]
        features = [from_global_id(f, Label.FIELD, field="featureIds")[1] for f in feature_ids]
        await ctx.services.lineage.link_inputs(ctx.principal, mv, datasets, features)
        ctx.loaders.forget()
        return to_type(await ctx.loaders.node.load(mv))

    @strawberry.mutation(description="Record that a deployment serves a model version (SERVES).", permission_classes=EDITOR)
    async def deploy_model_version(self, info: Info, deployment_id: strawberry.ID, model_version_id: strawberry.ID) -> ModelVersion:
        ctx = info.context
        dep = from_global_id(deployment_id, Label.DEPLOYMENT, field="deploymentId")[1]
        mv = from_global_id(model_version_id, Label.MODEL_VERSION, field="modelVersionId")[1]
        await ctx.services.lineage.deploy(ctx.principal, dep, mv)
        ctx.loaders.forget()
        return to_type(await ctx.loaders.node.load(mv))
