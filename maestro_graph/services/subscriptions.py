"""Subscriptions: what each subscriber is told of the change feed, in seq order.

The hub is a consumer of the process's feed follower (services/feed.py): each entry of a tenant
is offered to that tenant's subscribers, and only theirs. A subscriber is interested either in
every entry (`changes`) or in entries naming some ids (a node, a dataset and its fields and jobs,
a project); the hub finds the latter through an index by id, so a commit costs the subscribers it
concerns, not all of them.

The writer never waits for a subscriber: an entry is put on each subscriber's bounded queue
without waiting. One whose queue is full has fallen too far behind: it is dropped, and its
stream ends with SUBSCRIBER_TOO_SLOW naming the cursor to resume from.

The streams below are the business rules of each subscription; they yield domain values
(entries, ids, props) that the GraphQL layer resolves with fresh loaders per event.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Collection, Iterable, Mapping
from dataclasses import dataclass
from typing import Any, NamedTuple

from maestro_graph.domain.errors import BadInput, CursorExpired, TooSlow
from maestro_graph.domain.feed import CARRIED_PROPS, FeedEntry
from maestro_graph.domain.graph import Label, Node, Rel
from maestro_graph.services.feed import FeedFollower
from maestro_graph.services.graph import require_nodes
from maestro_graph.types import Direction, NodeId, Props, Tenant

HISTORY_PAGE = 200  # entries per feed_since read when a subscriber resumes from a cursor
# The relationships whose changes are a dataset's lineage changing: at the dataset, at its fields,
# or in what jobs read and write it.
LINEAGE_RELS = frozenset({Rel.FEEDS, Rel.DERIVES, Rel.HAS_FIELD, Rel.READS, Rel.WRITES})


class Delivery(NamedTuple):
    """One entry as its subscribers get it: with the nodes as written when this process committed
    it, and a place every subscriber of this entry shares (the GraphQL layer keeps the event's
    DataLoaders there: one read of a node per entry, not one per subscriber)."""

    entry: FeedEntry
    stored: Mapping[NodeId, Node] | None
    shared: dict[str, Any]

    @classmethod
    def read(cls, entry: FeedEntry) -> "Delivery":
        """An entry read back from the store (a subscriber resuming from a cursor)."""
        return cls(entry, None, {})


@dataclass(eq=False)
class Subscriber:
    tenant: Tenant
    interest: set[NodeId] | None  # None: every entry of the tenant
    queue: asyncio.Queue[Delivery]
    start: int = 0  # the feed's last seq handed over when it subscribed: later ones reach the queue
    last: int = 0  # the seq of the last entry it took off its queue
    dropped: bool = False

    def offer(self, delivery: Delivery) -> bool:
        """Put `delivery` on the queue without waiting; False when it is full (it fell behind)."""
        try:
            self.queue.put_nowait(delivery)
            return True
        except asyncio.QueueFull:
            self.dropped = True
            return False

    async def next(self) -> Delivery:
        if self.dropped and self.queue.empty():
            raise TooSlow(f"this subscription fell more than {self.queue.maxsize} changes behind and was ended; "
                          f"resume with changes(after: \"{self.last}\")", cursor=str(self.last))
        delivery = await self.queue.get()
        self.last = delivery.entry.seq
        return delivery


def touched(entry: FeedEntry) -> set[NodeId]:
    """Every id an entry names: its nodes and both ends of its relationships."""
    ids: set[NodeId] = set()
    for by_label in (entry.created, entry.updated, entry.deleted):
        for i in by_label.values():
            ids.update(i)
    for by_type in (entry.linked, entry.unlinked):
        for by_src in by_type.values():
            ids.update(by_src)
            for dsts in by_src.values():
                ids.update(dsts)
    return ids


class SubscriptionHub:
    def __init__(self, feed: FeedFollower, queue_size: int = 1000, max_per_connection: int = 100) -> None:
        self.feed, self.queue_size, self.max_per_connection = feed, queue_size, max_per_connection
        self._every: dict[Tenant, set[Subscriber]] = {}
        self._by_id: dict[Tenant, dict[NodeId, set[Subscriber]]] = {}
        self._stop = feed.consume(self._dispatch)

    def close(self) -> None:
        self._stop()

    def count(self, tenant: Tenant | None = None) -> int:
        subs = {s for t, subs in self._every.items() if tenant in (None, t) for s in subs}
        subs |= {s for t, by in self._by_id.items() if tenant in (None, t) for ss in by.values() for s in ss}
        return len(subs)

    async def subscribe(self, tenant: Tenant, interest: Iterable[NodeId] | None) -> Subscriber:
        """A subscriber to the tenant's entries from the next one on (its `start` is the last
        handed over before it)."""
        start = await self.feed.follow(tenant)
        sub = Subscriber(tenant, None if interest is None else set(), asyncio.Queue(self.queue_size), start, start)
        if interest is None:
            self._every.setdefault(tenant, set()).add(sub)
        else:
            self.watch(sub, interest)
        return sub

    def watch(self, sub: Subscriber, ids: Iterable[NodeId]) -> None:
        """Widen a subscriber's interest (a dataset's new field, a new job writing it)."""
        assert sub.interest is not None
        by_id = self._by_id.setdefault(sub.tenant, {})
        for i in ids:
            if i not in sub.interest:
                sub.interest.add(i)
                by_id.setdefault(i, set()).add(sub)

    def unsubscribe(self, sub: Subscriber) -> None:
        self._every.get(sub.tenant, set()).discard(sub)
        by_id = self._by_id.get(sub.tenant, {})
        for i in sub.interest or ():
            subs = by_id.get(i)
            if subs is not None:
                subs.discard(sub)
                if not subs:
                    del by_id[i]

    def _dispatch(self, entry: FeedEntry, stored: Mapping[NodeId, Node] | None) -> None:
        to_tell = set(self._every.get(entry.tenant, ()))
        by_id = self._by_id.get(entry.tenant)
        if by_id and entry.truncated:  # it names nothing: whoever watches something must re-read it
            to_tell.update(sub for subs in by_id.values() for sub in subs)
        elif by_id:
            ids = touched(entry)
            small, big = (ids, by_id) if len(ids) <= len(by_id) else (by_id.keys(), ids)
            for i in small:
                if i in big:
                    to_tell.update(by_id[i])
        if not to_tell:
            return
        delivery = Delivery(entry, stored, {})
        for sub in to_tell:
            if not sub.offer(delivery):
                self.unsubscribe(sub)

    async def cursor(self, tenant: Tenant) -> int:
        """The tenant's feed head: changes(after: it) misses nothing committed after this read."""
        return await self.feed.store.feed_head(tenant)

    # -- the streams ---------------------------------------------------------------------------
    @contextlib.asynccontextmanager
    async def _subscribed(self, tenant: Tenant, interest: Iterable[NodeId] | None) -> AsyncIterator[Subscriber]:
        sub = await self.subscribe(tenant, interest)
        try:
            yield sub
        finally:
            self.unsubscribe(sub)

    async def changes(self, tenant: Tenant, labels: Collection[Label] | None, after: int | None
                      ) -> AsyncIterator[tuple[Delivery, FeedEntry]]:
        """The tenant's feed: entries after `after` (None: from now), each once, in seq order,
        restricted to `labels` when given (entries without such a node are skipped)."""
        names = {label.value for label in labels} if labels else None
        async with self._subscribed(tenant, None) as sub:
            if after is not None:
                self._check_after(after, sub)
                async for entry in self._history(tenant, after, sub.start):
                    if (kept := _of_labels(entry, names)) is not None:
                        yield Delivery.read(entry), kept
            while True:
                delivery = await sub.next()
                if (kept := _of_labels(delivery.entry, names)) is not None:
                    yield delivery, kept

    async def _history(self, tenant: Tenant, after: int, upto: int) -> AsyncIterator[FeedEntry]:
        """Entries after..upto from the store; CursorExpired if the feed was trimmed past `after`."""
        expected = after + 1
        while expected <= upto:
            page = await self.feed.store.feed_since(tenant, expected - 1, min(HISTORY_PAGE, upto - expected + 1))
            if not page or page[0].seq != expected:
                raise CursorExpired(f"the change feed no longer holds the changes after cursor \"{after}\" "
                                    "(trimmed by its retention); re-read what you show, then subscribe from now",
                                    field="after")
            for entry in page:
                yield entry
            expected = page[-1].seq + 1

    async def node_changes(self, tenant: Tenant, node_id: NodeId) -> AsyncIterator[tuple[Delivery, str, Props | None]]:
        """(delivery, "UPDATED" | "DELETED", the watched props that changed) for each change of
        the node; the stream ends after its deletion."""
        await self._existing(tenant, node_id, "id")
        async with self._subscribed(tenant, [node_id]) as sub:
            while True:
                delivery = await sub.next()
                entry = delivery.entry
                if any(node_id in ids for ids in entry.deleted.values()):
                    yield delivery, "DELETED", None
                    return
                if any(node_id in ids for ids in entry.updated.values()) or entry.truncated:
                    yield delivery, "UPDATED", entry.props.get(node_id)

    async def lineage_changes(self, tenant: Tenant, dataset_id: NodeId
                              ) -> AsyncIterator[tuple[Delivery, list[tuple[str, NodeId, NodeId]], list[tuple[str, NodeId, NodeId]], list[NodeId]]]:
        """(delivery, linked, unlinked, new runs) for each change to the dataset's lineage: lineage
        relationships added or removed at the dataset or its fields, and new runs of the jobs
        that read or write it."""
        await self._existing(tenant, dataset_id, "datasetId", Label.DATASET)
        graph = self.feed.store
        fields = await graph.neighbours(tenant, [dataset_id], Rel.HAS_FIELD, Direction.OUT)
        jobs = {nb.node.id for rel in (Rel.READS, Rel.WRITES)
                for nb in (await graph.neighbours(tenant, [dataset_id], rel, Direction.IN)).get(dataset_id, [])}
        watched = {dataset_id, *(nb.node.id for nb in fields.get(dataset_id, []))}
        async with self._subscribed(tenant, [*watched, *jobs]) as sub:
            while True:
                delivery = await sub.next()
                entry = delivery.entry
                linked = _lineage_edges(entry.linked, watched)
                unlinked = _lineage_edges(entry.unlinked, watched)
                new_fields = [dst for rel, src, dst in linked if rel == Rel.HAS_FIELD.value and src == dataset_id]
                new_jobs = [src for rel, src, dst in linked if rel in (Rel.READS.value, Rel.WRITES.value) and dst == dataset_id]
                watched.update(new_fields)
                jobs.update(new_jobs)
                self.watch(sub, [*new_fields, *new_jobs])
                runs = [src for src, dsts in entry.linked.get(Rel.OF_JOB.value, {}).items() if any(d in jobs for d in dsts)]
                if linked or unlinked or runs or entry.truncated:
                    yield delivery, linked, unlinked, runs

    async def metric_records(self, tenant: Tenant, project_id: NodeId) -> AsyncIterator[tuple[Delivery, NodeId, Props]]:
        """(delivery, metric id, its props) for each metric recorded on the project."""
        await self._existing(tenant, project_id, "projectId", Label.PROJECT)
        async with self._subscribed(tenant, [project_id]) as sub:
            while True:
                delivery = await sub.next()
                entry = delivery.entry
                for metric_id in entry.linked.get(Rel.HAS_METRIC.value, {}).get(project_id, []):
                    yield delivery, metric_id, entry.props.get(metric_id) or {}

    async def schema_changes(self, tenant: Tenant, dataset_id: NodeId) -> AsyncIterator[tuple[Delivery, dict[str, Any]]]:
        """(delivery, the new schema version's history entry) for each schema version of the
        dataset that changes something (domain/schema_versions.py); it ends if the dataset is
        deleted."""
        dataset = await self._existing(tenant, dataset_id, "datasetId", Label.DATASET)
        last = int(dataset.props.get("schema_version") or 0)
        async with self._subscribed(tenant, [dataset_id]) as sub:
            while True:
                delivery = await sub.next()
                entry = delivery.entry
                if any(dataset_id in ids for ids in entry.deleted.values()):
                    return
                if not (entry.truncated or any(dataset_id in ids for by in (entry.updated, entry.created) for ids in by.values())):
                    continue
                node = (delivery.stored or {}).get(dataset_id) or (
                    await self.feed.store.get_nodes(tenant, [dataset_id])).get(dataset_id)
                if node is None:
                    return
                for version in node.props.get("schema_history") or []:
                    if version["version"] > last and "diff" in version:
                        yield delivery, version
                last = max(last, int(node.props.get("schema_version") or 0))

    async def training_jobs(self, tenant: Tenant, *, job_id: NodeId | None = None, project_id: NodeId | None = None,
                            after: int | None = None) -> AsyncIterator[tuple[Delivery, NodeId, str, Props]]:
        """(delivery, job id, "CREATED" | "UPDATED" | "DELETED", the job's props as of this change)
        for each change of one job, or of any job of one project (its new jobs included), from
        now or from after a cursor. Each entry carries the props it changed (domain/feed.py), so
        a subscriber that lags behind or resumes still sees each status in order, not the node's
        latest; the stream of one job ends with its deletion."""
        if job_id is not None:
            jobs = {job_id: dict((await self._existing(tenant, job_id, "id", Label.TRAINING_JOB)).props)}
            interest: list[NodeId] = [job_id]
        else:
            assert project_id is not None
            await self._existing(tenant, project_id, "projectId", Label.PROJECT)
            owned = (await self.feed.store.neighbours(tenant, [project_id], Rel.OWNS, Direction.OUT)).get(project_id, [])
            jobs = {nb.node.id: dict(nb.node.props) for nb in owned if nb.node.label is Label.TRAINING_JOB}
            interest = [project_id, *jobs]
        label = Label.TRAINING_JOB.value

        async def events(delivery: Delivery) -> list[tuple[Delivery, NodeId, str, Props]]:
            entry, out = delivery.entry, []
            if project_id is not None:
                new = [i for i in entry.linked.get(Rel.OWNS.value, {}).get(project_id, []) if i in entry.created.get(label, ())]
                jobs.update((i, {}) for i in new if i not in jobs)
                self.watch(sub, new)
            if entry.truncated:  # it names nothing: read each job again
                found = await self.feed.store.get_nodes(tenant, list(jobs))
                for i in [i for i in jobs if i in found]:
                    jobs[i] = dict(found[i].props)
                    out.append((delivery, i, "UPDATED", dict(jobs[i])))
                return out
            for kind, by_label in (("CREATED", entry.created), ("UPDATED", entry.updated), ("DELETED", entry.deleted)):
                for i in by_label.get(label, ()):
                    if i in jobs:
                        if kind == "UPDATED":  # the entry carries these as of this change; absent: none
                            for prop in CARRIED_PROPS[Label.TRAINING_JOB]:
                                jobs[i].pop(prop, None)
                        jobs[i].update(entry.props.get(i) or {})
                        out.append((delivery, i, kind, dict(jobs[i])))
            return out

        async with self._subscribed(tenant, interest) as sub:
            if after is not None:
                self._check_after(after, sub)
                async for entry in self._history(tenant, after, sub.start):
                    for event in await events(Delivery.read(entry)):
                        yield event
                        if event[2] == "DELETED" and event[1] == job_id:
                            return
            while True:
                for event in await events(await sub.next()):
                    yield event
                    if event[2] == "DELETED" and event[1] == job_id:
                        return

    @staticmethod
    def _check_after(after: int, sub: Subscriber) -> None:
        if after < 0 or after > sub.start:
            raise BadInput(f"`after` must be a cursor this feed gave, at most {sub.start}", field="after")

    async def _existing(self, tenant: Tenant, node_id: NodeId, name: str, label: Label | None = None) -> Node:
        return (await require_nodes(self.feed.store, tenant, [node_id], label, name))[node_id]


def _of_labels(entry: FeedEntry, names: set[str] | None) -> FeedEntry | None:
    """The entry with only the nodes of `names` (None: all of it); None if none is left."""
    if names is None or entry.truncated:
        return entry
    created = {k: v for k, v in entry.created.items() if k in names}
    updated = {k: v for k, v in entry.updated.items() if k in names}
    deleted = {k: v for k, v in entry.deleted.items() if k in names}
    if not (created or updated or deleted):
        return None
    kept = {i for by in (created, updated, deleted) for ids in by.values() for i in ids}
    return FeedEntry(entry.tenant, entry.seq, entry.at, entry.operation, entry.actor, created, updated, deleted,
                     entry.linked, entry.unlinked, {i: p for i, p in entry.props.items() if i in kept},
                     topology=entry.topology, flagged=entry.flagged)


def _lineage_edges(by_type: Mapping[str, Mapping[NodeId, list[NodeId]]], watched: set[NodeId]
                   ) -> list[tuple[str, NodeId, NodeId]]:
    return [(rel, src, dst) for rel, by_src in by_type.items() if rel in _LINEAGE_NAMES
            for src, dsts in by_src.items() for dst in dsts if src in watched or dst in watched]


_LINEAGE_NAMES = frozenset(r.value for r in LINEAGE_RELS)
