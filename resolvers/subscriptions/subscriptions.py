"""The Subscription root: nodeChanged, lineageChanged, metricRecorded and changes, over WebSocket
(graphql-transport-ws and the legacy graphql-ws). Thin: the streams and their rules are in
services/subscriptions.py; each event is resolved here with fresh DataLoaders."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncGenerator, Iterator
from typing import Optional

import strawberry

from maestro_graph.domain.errors import BadInput, LimitExceeded
from maestro_graph.domain.graph import LABEL_OF, Label
from resolvers.context import Info
from resolvers.datasets.schema import SchemaVersion, schema_version
from resolvers.permissions import VIEWER
from resolvers.relay import from_global_id
from resolvers.subscriptions.types import (ChangeEvent, LineageChangedEvent, MetricRecordedEvent, NodeChangedEvent,
                                           TrainingJobEvent, change_event, lineage_event, metric_event, node_event,
                                           training_job_event)

OPEN = "maestro.subscriptions"  # context.extra: subscriptions open on this connection


@contextlib.contextmanager
def _slot(info: Info) -> Iterator[None]:
    """One of the connection's subscriptions, refused past the most one connection may hold."""
    hub = info.context.services.subscriptions
    open_now = info.context.extra.get(OPEN, 0)
    if open_now >= hub.max_per_connection:
        raise LimitExceeded(f"at most {hub.max_per_connection} subscriptions may be open on one connection",
                            limit=hub.max_per_connection)
    info.context.extra[OPEN] = open_now + 1
    try:
        yield
    finally:
        info.context.extra[OPEN] -= 1


def _cursor(after: Optional[str]) -> int | None:
    if after is None:
        return None
    if not after.isdigit() or len(after) > 19:
        raise BadInput("`after` must be a cursor a change event gave (its `cursor`)", field="after")
    return int(after)


def _labels(labels: Optional[list[str]]) -> list[Label] | None:
    if labels is None:
        return None
    unknown = [name for name in labels if name not in LABEL_OF]
    if unknown:
        raise BadInput(f"labels: {unknown[0][:50]!r} is not a node label (one of {', '.join(sorted(LABEL_OF))})",
                       field="labels")
    return [LABEL_OF[name] for name in labels]


@strawberry.type
class Subscription:
    @strawberry.subscription(description="Your tenant's change feed: every committed change, in order, from now or "
                                         "from after a cursor (a client that reconnects resumes exactly where it "
                                         "left off). `labels` keeps only the changes to nodes of those labels.",
                             permission_classes=VIEWER)
    async def changes(self, info: Info, labels: Optional[list[str]] = None,
                      after: Optional[str] = None) -> AsyncGenerator[ChangeEvent, None]:
        hub, tenant = info.context.services.subscriptions, info.context.tenant
        wanted, cursor = _labels(labels), _cursor(after)
        with _slot(info):
            async for delivery, entry in hub.changes(tenant, wanted, cursor):
                info.context.event_loaders(delivery)
                yield await change_event(info, entry)

    @strawberry.subscription(description="Each change of one node (updated or deleted); ends after its deletion.",
                             permission_classes=VIEWER)
    async def node_changed(self, info: Info, id: strawberry.ID) -> AsyncGenerator[NodeChangedEvent, None]:
        label, node_id = from_global_id(id)
        hub, tenant = info.context.services.subscriptions, info.context.tenant
        with _slot(info):
            async for delivery, kind, props in hub.node_changes(tenant, node_id):
                info.context.event_loaders(delivery)
                yield await node_event(info, delivery.entry, kind, node_id, label, props)

    @strawberry.subscription(description="Changes to a dataset's lineage: lineage relationships added or removed at "
                                         "the dataset or its fields, and new runs of the jobs that read or write it.",
                             permission_classes=VIEWER)
    async def lineage_changed(self, info: Info, dataset_id: strawberry.ID) -> AsyncGenerator[LineageChangedEvent, None]:
        _, node_id = from_global_id(dataset_id, Label.DATASET, field="datasetId")
        hub, tenant = info.context.services.subscriptions, info.context.tenant
        with _slot(info):
            async for delivery, linked, unlinked, runs in hub.lineage_changes(tenant, node_id):
                info.context.event_loaders(delivery)
                yield await lineage_event(info, delivery.entry, node_id, linked, unlinked, runs)

    @strawberry.subscription(description="Each process metric recorded on a project.", permission_classes=VIEWER)
    async def metric_recorded(self, info: Info, project_id: strawberry.ID) -> AsyncGenerator[MetricRecordedEvent, None]:
        _, node_id = from_global_id(project_id, Label.PROJECT, field="projectId")
        hub, tenant = info.context.services.subscriptions, info.context.tenant
        with _slot(info):
            async for delivery, metric_id, _props in hub.metric_records(tenant, node_id):
                info.context.event_loaders(delivery)
                yield await metric_event(info, delivery.entry, metric_id)

    @strawberry.subscription(description="Each change of a dataset's schema (a new version that adds, removes, retypes or "
                                         "renames columns), with what a breaking one reaches: downstream columns, "
                                         "datasets, models, deployments, projects and the people to tell.",
                             permission_classes=VIEWER)
    async def schema_changed(self, info: Info, dataset_id: strawberry.ID) -> AsyncGenerator[SchemaVersion, None]:
        _, node_id = from_global_id(dataset_id, Label.DATASET, field="datasetId")
        hub, tenant = info.context.services.subscriptions, info.context.tenant
        with _slot(info):
            async for delivery, version in hub.schema_changes(tenant, node_id):
                info.context.event_loaders(delivery)
                yield schema_version(version, node_id)

    @strawberry.subscription(description=(
        "Each change of one training job: every status change in order, with progress and metrics as the job "
        "reports them (written at most a few times a second); ends after its deletion. From now, or from after a "
        "cursor (an event's, or changeFeedCursor's): a client that reconnects misses nothing."), permission_classes=VIEWER)
    async def training_job_updated(self, info: Info, id: strawberry.ID,
                                   after: Optional[str] = None) -> AsyncGenerator[TrainingJobEvent, None]:
        _, node_id = from_global_id(id, Label.TRAINING_JOB)
        hub, tenant = info.context.services.subscriptions, info.context.tenant
        with _slot(info):
            async for delivery, job_id, kind, state in hub.training_jobs(tenant, job_id=node_id, after=_cursor(after)):
                info.context.event_loaders(delivery)
                yield training_job_event(delivery.entry, job_id, kind, state)

    @strawberry.subscription(description="Each change of any training job of a project, new ones included; from now or "
                                         "from after a cursor.", permission_classes=VIEWER)
    async def training_jobs(self, info: Info, project_id: strawberry.ID,
                            after: Optional[str] = None) -> AsyncGenerator[TrainingJobEvent, None]:
        _, node_id = from_global_id(project_id, Label.PROJECT, field="projectId")
        hub, tenant = info.context.services.subscriptions, info.context.tenant
        with _slot(info):
            async for delivery, job_id, kind, state in hub.training_jobs(tenant, project_id=node_id, after=_cursor(after)):
                info.context.event_loaders(delivery)
                yield training_job_event(delivery.entry, job_id, kind, state)
