"""Create, update and delete for every node type, and link/unlink for every relationship.

The per-label mutations come from one factory, so all fourteen behave the same way; the
seed platform's own verbs (createProject with members, registerArtifact, logArtifactUsage,
recordProjectMetrics) live in resolvers/projects and resolvers/artifacts.
"""

from typing import Any

import strawberry

from maestro_graph.domain.graph import Edge, Label, Rel
from resolvers.artifacts import types as artifacts
from resolvers.context import Info
from resolvers.crud import DeletePayload, to_props
from resolvers.datasets import types as datasets
from resolvers.graph.types import Link, LinkInput, Relationship
from resolvers.jobs import types as jobs
from resolvers.models import types as models
from resolvers.nodes import node_types, to_type
from resolvers.people import types as people
from resolvers.permissions import EDITOR
from resolvers.projects import types as projects
from resolvers.relay import from_global_id, to_global_id

# Nodes that only exist under a project are created by the project's own mutations.
CREATED_ELSEWHERE = {Label.PROJECT, Label.ARTIFACT, Label.METRIC, Label.PREDICTION}
_MODULES = {Label.PERSON: people, Label.TEAM: people, Label.PROJECT: projects, Label.ARTIFACT: artifacts,
            Label.DATASET: datasets, Label.FIELD: datasets, Label.JOB: jobs, Label.RUN: jobs, Label.MODEL: models,
            Label.MODEL_VERSION: models, Label.TRAINING_JOB: models, Label.DEPLOYMENT: models,
            Label.METRIC: projects, Label.PREDICTION: projects}
CREATE_INPUTS = {label: getattr(m, f"Create{label.value}Input", None) for label, m in _MODULES.items()}
UPDATE_INPUTS = {label: getattr(m, f"Update{label.value}Input") for label, m in _MODULES.items()}
TYPES = node_types()


def _create(label: Label) -> Any:
    async def resolve(info: Info, input: Any) -> Any:
        ctx = info.context
        node = (await ctx.services.graph.create(ctx.principal, label, [to_props(label, input)]))[0]
        ctx.loaders.forget()
        return to_type(node)

    resolve.__annotations__.update(input=CREATE_INPUTS[label], info=Info)
    resolve.__annotations__["return"] = TYPES[label]
    return strawberry.mutation(resolver=resolve, description=f"Create a {label.value}. CONFLICT if its natural key is taken.", permission_classes=EDITOR)


def _update(label: Label) -> Any:
    async def resolve(info: Info, id: strawberry.ID, input: Any) -> Any:
        ctx = info.context
        _, node_id = from_global_id(id, label)
        node = (await ctx.services.graph.update(ctx.principal, label, [(node_id, to_props(label, input, partial=True))]))[0]
        ctx.loaders.forget()
        return to_type(node)

    resolve.__annotations__.update(input=UPDATE_INPUTS[label], info=Info)
    resolve.__annotations__["return"] = TYPES[label]
    return strawberry.mutation(resolver=resolve, description=f"Change fields of a {label.value}; null removes an optional field.", permission_classes=EDITOR)


def _delete(label: Label) -> Any:
    async def resolve(info: Info, id: strawberry.ID) -> DeletePayload:
        ctx = info.context
        _, node_id = from_global_id(id, label)
        gone = await ctx.services.graph.delete(ctx.principal, label, [node_id])
        ctx.loaders.forget()
        return DeletePayload(deleted_ids=[strawberry.ID(to_global_id(n.label, n.id)) for n in gone])

    return strawberry.mutation(resolver=resolve, description=f"Delete a {label.value} and its relationships.", permission_classes=EDITOR)


# Written out in their domain's mutations.py already.
WRITTEN_OUT = {Label.PERSON, Label.TEAM, Label.PROJECT, Label.ARTIFACT, Label.DATASET, Label.FIELD, Label.JOB, Label.RUN, Label.MODEL, Label.MODEL_VERSION, Label.TRAINING_JOB, Label.DEPLOYMENT}
fields: dict[str, Any] = {}
for _label in Label:
    if _label in WRITTEN_OUT:
        continue
    if _label not in CREATED_ELSEWHERE:
        fields[f"create_{_label.name.lower()}"] = _create(_label)
    fields[f"update_{_label.name.lower()}"] = _update(_label)
    fields[f"delete_{_label.name.lower()}"] = _delete(_label)


async def link(info: Info, input: LinkInput) -> Link:
    """Create a relationship (or replace its properties). Both ends must exist and fit the graph model."""
    ctx = info.context
    rel = Rel(input.relationship.value)
    (_, src), (_, dst) = from_global_id(input.source_id, field="sourceId"), from_global_id(input.target_id, field="targetId")
    edge = (await ctx.services.graph.link(ctx.principal, [Edge(rel, src, dst, dict(input.properties or {}))]))[0]
    ctx.loaders.forget()
    ends = await ctx.loaders.node.load_many([src, dst])
    return Link(relationship=input.relationship, source=to_type(ends[0]), target=to_type(ends[1]), properties=edge.props)


async def unlink(info: Info, relationship: Relationship, source_id: strawberry.ID, target_id: strawberry.ID) -> bool:  # type: ignore[valid-type]
    """Remove a relationship. True whether or not it existed (the ends must exist)."""
    ctx = info.context
    src, dst = from_global_id(source_id, field="sourceId")[1], from_global_id(target_id, field="targetId")[1]
    await ctx.services.graph.unlink(ctx.principal, [Edge(Rel(relationship.value), src, dst)])
    ctx.loaders.forget()
    return True


fields["link"] = strawberry.mutation(resolver=link, permission_classes=EDITOR)
fields["unlink"] = strawberry.mutation(resolver=unlink, permission_classes=EDITOR)

GraphMutation = strawberry.type(type("GraphMutation", (), fields))
