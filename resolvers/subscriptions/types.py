"""What subscribers receive: each event of the change feed, resolved for GraphQL."""

from __future__ import annotations

import enum
from functools import cache
from collections.abc import Iterable
from datetime import datetime
from typing import Optional

import strawberry
from strawberry import relay
from strawberry.scalars import JSON

from maestro_graph.domain.feed import FeedEntry
from maestro_graph.domain.graph import ENDPOINTS, LABEL_OF, REL_OF, Label
from maestro_graph.types import NodeId, Props
from resolvers.context import Info
from resolvers.datasets.types import Dataset
from resolvers.graph.types import Relationship
from resolvers.jobs.types import Run
from resolvers.nodes import to_type
from resolvers.models.types import TrainingJob, TrainingStatus
from resolvers.projects.types import Metric
from resolvers.relay import to_global_id


@strawberry.type(description="A node a change created, updated or deleted.")
class NodeRef:
    id: strawberry.ID
    label: str
    changed_properties: Optional[JSON] = strawberry.field(
        default=None, description="For TrainingJob, Run, Metric, ModelVersion and Deployment nodes: the properties "
                                  "this change set, with their new values (null: removed); all of them for a new node.")


@strawberry.type(description="A relationship a change linked or unlinked.")
class RelationshipRef:
    type: Relationship  # type: ignore[valid-type]
    source: strawberry.ID
    target: strawberry.ID


@strawberry.type(description="One committed change of your tenant's graph, as its change feed holds it.")
class ChangeEvent:
    cursor: str = strawberry.field(description="Resume after this change with changes(after: cursor).")
    seq: int = strawberry.field(description="The change's place in the tenant's feed: 1, 2, 3, ... without gaps.")
    at: datetime
    operation: str = strawberry.field(description="The API operation that made it (e.g. createProject, ingestLineage).")
    actor: str = strawberry.field(description="Who made it: the token's subject.")
    created: list[NodeRef]
    updated: list[NodeRef]
    deleted: list[NodeRef]
    linked: list[RelationshipRef]
    unlinked: list[RelationshipRef]
    truncated: bool = strawberry.field(description="True when the change was too big for the feed to list what it "
                                                    "did: re-read what you show.")


@strawberry.enum(description="What happened to a node.")
class NodeChangeKind(enum.Enum):
    UPDATED = "UPDATED"
    DELETED = "DELETED"


@strawberry.type(description="A change of one node.")
class NodeChangedEvent:
    cursor: str
    at: datetime
    kind: NodeChangeKind
    id: strawberry.ID
    changed_properties: Optional[JSON] = strawberry.field(
        default=None, description="For TrainingJob, Run, Metric, ModelVersion and Deployment nodes: what changed.")
    node_id: strawberry.Private[NodeId] = ""

    @strawberry.field(description="The node as it is now; null once deleted.")
    async def node(self, info: Info) -> Optional[relay.Node]:
        if self.kind is NodeChangeKind.DELETED:
            return None
        found = await info.context.loaders.node.load(self.node_id)  # read only when selected
        return to_type(found) if found is not None else None


@strawberry.type(description="A change to a dataset's lineage.")
class LineageChangedEvent:
    cursor: str
    at: datetime
    dataset: Optional[Dataset]
    linked: list[RelationshipRef] = strawberry.field(description="Lineage relationships added at the dataset or its fields.")
    unlinked: list[RelationshipRef] = strawberry.field(description="Lineage relationships removed there.")
    runs: list[Run] = strawberry.field(description="New runs of the jobs that read or write the dataset.")


@strawberry.type(description="A metric recorded on a project.")
class MetricRecordedEvent:
    cursor: str
    at: datetime
    metric: Optional[Metric]


# -- building them ------------------------------------------------------------------------------
def node_refs(entry: FeedEntry, by_label: dict[str, list[NodeId]]) -> list[NodeRef]:
    return [NodeRef(id=strawberry.ID(to_global_id(LABEL_OF[label], i)), label=label,
                    changed_properties=entry.props.get(i)) for label, ids in by_label.items() for i in ids]


async def relationship_refs(info: Info, entry: FeedEntry, edges: Iterable[tuple[str, NodeId, NodeId]]) -> list[RelationshipRef]:
    """Relationships with global ids: each end's label from the entry, else from the graph model
    when the type allows only one, else read (one batched load for the event)."""
    edges = list(edges)
    known: dict[NodeId, Label] = {i: LABEL_OF[label] for by in (entry.created, entry.updated, entry.deleted)
                                  for label, ids in by.items() for i in ids}
    unknown = [end for rel, src, dst in edges for end, side in ((src, 0), (dst, 1))
               if end not in known and _only_label(rel, side) is None]
    if unknown:
        found = await info.context.loaders.node.load_many(list(dict.fromkeys(unknown)))
        known.update((n.id, n.label) for n in found if n is not None)

    def gid(rel: str, end: NodeId, side: int) -> strawberry.ID:
        label = known.get(end) or _only_label(rel, side) or next(iter(sorted(ENDPOINTS[REL_OF[rel]][0][side], key=lambda x: x.value)))
        return strawberry.ID(to_global_id(label, end))

    return [RelationshipRef(type=REL_OF[rel], source=gid(rel, src, 0), target=gid(rel, dst, 1)) for rel, src, dst in edges]


@cache
def _only_label(rel: str, side: int) -> Label | None:
    labels = {label for ends in ENDPOINTS[REL_OF[rel]] for label in ends[side]}
    return next(iter(labels)) if len(labels) == 1 else None


async def change_event(info: Info, entry: FeedEntry) -> ChangeEvent:
    return ChangeEvent(
        cursor=str(entry.seq), seq=entry.seq, at=entry.at, operation=entry.operation,
        actor=entry.actor, created=node_refs(entry, dict(entry.created)), updated=node_refs(entry, dict(entry.updated)),
        deleted=node_refs(entry, dict(entry.deleted)),
        linked=await relationship_refs(info, entry, FeedEntry.edge_refs(entry.linked)),
        unlinked=await relationship_refs(info, entry, FeedEntry.edge_refs(entry.unlinked)),
        truncated=entry.truncated)


async def node_event(info: Info, entry: FeedEntry, kind: str, node_id: NodeId, label: Label,
                     props: Props | None) -> NodeChangedEvent:
    return NodeChangedEvent(cursor=str(entry.seq), at=entry.at, kind=NodeChangeKind(kind),  # type: ignore[arg-type]
                            id=strawberry.ID(to_global_id(label, node_id)), changed_properties=props, node_id=node_id)


async def lineage_event(info: Info, entry: FeedEntry, dataset_id: NodeId, linked: list[tuple[str, NodeId, NodeId]],
                        unlinked: list[tuple[str, NodeId, NodeId]], runs: list[NodeId]) -> LineageChangedEvent:
    loader = info.context.loaders.node
    dataset, *found = await loader.load_many([dataset_id, *runs])
    return LineageChangedEvent(
        cursor=str(entry.seq), at=entry.at, dataset=to_type(dataset) if dataset else None,
        linked=await relationship_refs(info, entry, linked), unlinked=await relationship_refs(info, entry, unlinked),
        runs=[to_type(n) for n in found if n is not None])


async def metric_event(info: Info, entry: FeedEntry, metric_id: NodeId) -> MetricRecordedEvent:
    metric = await info.context.loaders.node.load(metric_id)
    return MetricRecordedEvent(cursor=str(entry.seq), at=entry.at,
                               metric=to_type(metric) if metric else None)


@strawberry.enum(description="What happened to a training job.")
class TrainingJobChangeKind(enum.Enum):
    CREATED = "CREATED"
    UPDATED = "UPDATED"
    DELETED = "DELETED"


@strawberry.type(description=(
    "A change of a training job, with its status, progress and metrics as this change left them: each status "
    "change is one event, in the order they happened, even to a subscriber that lags behind."))
class TrainingJobEvent:
    cursor: str
    at: datetime
    kind: TrainingJobChangeKind
    id: strawberry.ID
    status: TrainingStatus  # type: ignore[valid-type]
    progress: float
    epoch: Optional[int]
    metrics: JSON
    message: Optional[str]
    exit_code: Optional[int]
    reason: Optional[str]
    changed_properties: Optional[JSON] = strawberry.field(description="What this change set (new values; null: removed).")
    node_id: strawberry.Private[NodeId] = ""

    @strawberry.field(description="The job as it is now (its log tail, metrics history, model version); null once deleted.")
    async def job(self, info: Info) -> Optional[TrainingJob]:
        if self.kind is TrainingJobChangeKind.DELETED:
            return None
        found = await info.context.loaders.node.load(self.node_id)
        return to_type(found) if found is not None else None


def training_job_event(entry: FeedEntry, job_id: NodeId, kind: str, state: Props) -> TrainingJobEvent:
    return TrainingJobEvent(
        cursor=str(entry.seq), at=entry.at, kind=TrainingJobChangeKind(kind),  # type: ignore[arg-type]
        id=strawberry.ID(to_global_id(Label.TRAINING_JOB, job_id)),
        status=TrainingStatus(state.get("status", "PENDING")), progress=float(state.get("progress") or 0.0),
        epoch=state.get("epoch"), metrics=state.get("metrics") or {}, message=state.get("message"),
        exit_code=state.get("exit_code"), reason=state.get("reason"),
        changed_properties=entry.props.get(job_id), node_id=job_id)
