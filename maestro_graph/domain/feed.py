"""The change feed's entry: what one committed ChangeSet did, in the form the feed stores and
other tools read (docs/change-feed.md). No I/O here.

An entry is written by the write routine (store/apply.py) in the ChangeSet's own transaction; the
store gives it its sequence number there. Its JSON form (to_json / from_json) is a stable,
documented format: fields are only ever added, never renamed or removed.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from typing import Any, NamedTuple

import orjson

from maestro_graph.domain.audit import OK, AuditRecord
from maestro_graph.domain.graph import Edge, Label, Node
from maestro_graph.domain.impact import FLAGS
from maestro_graph.domain.training import BULKY
from maestro_graph.types import NodeId, Props, Tenant

#: the format's version, written in every entry as "v"
FORMAT = 1

#: labels whose changed properties an entry carries (what subscribers watch); other labels'
#: nodes are named (id, label) without their properties, so that the feed stays small under ingestion
WATCHED_LABELS = frozenset({Label.TRAINING_JOB, Label.RUN, Label.METRIC, Label.MODEL_VERSION, Label.DEPLOYMENT})
#: properties of watched labels an entry leaves out: they change with nearly every write of a
#: running job (its log tail, its metrics history), and a subscriber reads them from the node
OMITTED_PROPS: dict[Label, frozenset[str]] = {Label.TRAINING_JOB: BULKY}
#: properties of watched labels an entry carries for every update, changed or not (absent: the
#: node has none): what a subscriber shows at each event, a training job's status and progress as
#: of that change, even to one that resumes from a cursor and never saw the job before
CARRIED_PROPS: dict[Label, tuple[str, ...]] = {Label.TRAINING_JOB: ("status", "progress", "epoch", "metrics", "message")}


class NodeRef(NamedTuple):
    id: NodeId
    label: str  # Label.value


class EdgeRef(NamedTuple):
    type: str  # Rel.value
    source: NodeId
    target: NodeId


# An entry holds its nodes by label (label -> ids) and its relationships by type and source
# (type -> source -> targets), as its JSON form does: a bulk batch's entry names tens of thousands
# of each, and an object per node or relationship cost ingestion several percent (and a source
# named once per relationship made the entry a sixth bigger). node_refs / edge_refs give them
# one by one.
NodesByLabel = Mapping[str, list[NodeId]]
EdgesByType = Mapping[str, Mapping[NodeId, list[NodeId]]]


@dataclass(frozen=True, slots=True)
class FeedEntry:
    tenant: Tenant
    seq: int  # 1, 2, 3, ... per tenant, without gaps; 0 until the store has appended it
    at: str  # domain/clock.py's format: when the write routine built it (just before commit)
    operation: str  # the API's name for it (the audit record's operation); "" if unaudited
    actor: str  # the token's subject (the audit record's actor); "" if unaudited
    created: NodesByLabel = field(default_factory=dict)
    updated: NodesByLabel = field(default_factory=dict)
    deleted: NodesByLabel = field(default_factory=dict)
    linked: EdgesByType = field(default_factory=dict)
    unlinked: EdgesByType = field(default_factory=dict)
    # node id -> its changed properties' new values (None: removed), for WATCHED_LABELS only;
    # a created node of those labels carries all its properties
    props: Mapping[NodeId, Props] = field(default_factory=dict)
    # True: the store kept this entry without its nodes, relationships and props (a write too big
    # for it to hold them in the write's transaction, see docs/change-feed.md): a follower must
    # re-read what it follows.
    truncated: bool = False
    # The tenant's topology version this commit made (GraphStore.topology_version), 0 if it
    # changed none: a lineage index at version - 1 takes this entry in (services/topology_cache.py).
    topology: int = 0
    # Of `linked`, the relationships whose impact flag (domain/impact.py FLAGS: FEEDS'
    # column_lineage) is true: what a lineage index keeps of their properties.
    flagged: EdgesByType = field(default_factory=dict)

    def with_seq(self, seq: int) -> FeedEntry:
        return replace(self, seq=seq)

    @staticmethod
    def node_refs(by_label: NodesByLabel) -> list[NodeRef]:
        """entry.node_refs(entry.created): (id, label) pairs, label by label."""
        return [NodeRef(i, label) for label, ids in by_label.items() for i in ids]

    @staticmethod
    def edge_refs(by_type: EdgesByType) -> list[EdgeRef]:
        """entry.edge_refs(entry.linked): (type, source, target) triples, type by type."""
        return [EdgeRef(rel, src, dst) for rel, by_src in by_type.items() for src, dsts in by_src.items() for dst in dsts]

    def summary(self) -> FeedEntry:
        """This entry without what it names: truncated."""
        return FeedEntry(self.tenant, self.seq, self.at, self.operation, self.actor, truncated=True,
                         topology=self.topology)

    def to_dict(self) -> dict[str, Any]:
        """The documented JSON object (docs/change-feed.md)."""
        d = {
            "v": FORMAT, "tenant": self.tenant, "seq": self.seq, "at": self.at,
            "operation": self.operation, "actor": self.actor,
            "created": self.created, "updated": self.updated, "deleted": self.deleted,
            "linked": self.linked, "unlinked": self.unlinked, "props": self.props,
        }
        if self.truncated:
            d["truncated"] = True
        if self.topology:
            d["topology"] = self.topology
        if self.flagged:
            d["flagged"] = self.flagged
        return d

    def to_json(self) -> str:
        return orjson.dumps(self.to_dict()).decode()

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> FeedEntry:
        """An entry from its JSON object; fields a later format adds are ignored."""
        return cls(
            tenant=d["tenant"], seq=int(d["seq"]), at=d["at"], operation=d["operation"], actor=d["actor"],
            created=d.get("created") or {}, updated=d.get("updated") or {}, deleted=d.get("deleted") or {},
            linked=d.get("linked") or {}, unlinked=d.get("unlinked") or {}, props=d.get("props") or {},
            truncated=bool(d.get("truncated", False)), topology=int(d.get("topology") or 0),
            flagged=d.get("flagged") or {},
        )

    @classmethod
    def from_json(cls, text: str | bytes) -> FeedEntry:
        return cls.from_dict(orjson.loads(text))


def changed_props(before: Props | None, after: Props) -> Props:
    """The properties of `after` that differ from `before`, with their new values; a property
    `before` had and `after` lacks is None (removed). All of `after` for a new node.

    >>> changed_props({"status": "RUNNING", "a": 1, "gone": 2}, {"status": "SUCCEEDED", "a": 1})
    {'status': 'SUCCEEDED', 'gone': None}
    """
    if before is None:
        return dict(after)
    diff = {k: v for k, v in after.items() if k not in before or before[k] != v}
    diff.update((k, None) for k in before if k not in after)
    return diff


class EntryBuilder:
    """Collects what the write routine does to one ChangeSet, step by step; `entry()` is None when
    nothing in the graph changed (no feed entry for that ChangeSet). It keeps references to what
    the routine wrote and groups them once, at the end."""

    def __init__(self) -> None:
        self.created: dict[NodeId, Node] = {}
        self.updated: dict[NodeId, tuple[Node | None, Node]] = {}  # id -> (as first read, as now written)
        self.deleted: dict[NodeId, Node] = {}
        self.linked: list[list[Edge]] = []  # each list deduplicated by the routine; lists of distinct types
        self.unlinked: list[Edge] = []

    def create(self, nodes: list[Node]) -> None:
        self.created.update((n.id, n) for n in nodes)

    def update(self, before: Mapping[NodeId, Node], after: list[Node]) -> None:
        for n in after:
            if n.id in self.created:  # created and patched in the same ChangeSet: one creation
                self.created[n.id] = n
            else:
                self.updated[n.id] = (self.updated.get(n.id, (before.get(n.id), n))[0], n)

    def delete(self, nodes: Mapping[NodeId, Node]) -> None:
        for i, n in nodes.items():
            if self.created.pop(i, None) is None:
                self.deleted[i] = n
            self.updated.pop(i, None)

    def link(self, links: list[Edge]) -> None:
        self.linked.append(links)

    def unlink(self, links: list[Edge]) -> None:
        self.unlinked.extend(links)

    def entry(self, tenant: Tenant, at: str, audit: list[AuditRecord], topology: int = 0) -> FeedEntry | None:
        if not (self.created or self.updated or self.deleted or self.linked or self.unlinked):
            return None
        record = next((r for r in audit if r.outcome == OK), audit[0] if audit else None)
        props: dict[NodeId, Props] = {}
        for n in self.created.values():
            if n.label in WATCHED_LABELS:
                props[n.id] = _kept(n.label, dict(n.props))
        for i, (old, new) in self.updated.items():
            if new.label in WATCHED_LABELS:
                diff = _kept(new.label, changed_props(old.props if old else None, new.props))
                for prop in CARRIED_PROPS.get(new.label, ()):
                    if prop in new.props:
                        diff.setdefault(prop, new.props[prop])
                if diff:
                    props[i] = diff
        unlinked = {(e.rel, e.src, e.dst): e for e in self.unlinked}  # the same unlink twice: once
        return FeedEntry(
            tenant=tenant, seq=0, at=at,
            operation=record.operation if record else "", actor=record.actor if record else "",
            created=_by_label(self.created.values()),
            updated=_by_label(new for _, new in self.updated.values()),
            deleted=_by_label(self.deleted.values()),
            linked=_by_type(e for links in self.linked for e in links),
            unlinked=_by_type(unlinked.values()),
            props=props,
            topology=topology,
            flagged=_by_type(e for links in self.linked for e in links
                             if e.rel in FLAGS and e.props.get(FLAGS[e.rel]) is True),
        )


def _kept(label: Label, props: Props) -> Props:
    omitted = OMITTED_PROPS.get(label)
    if omitted:
        for prop in omitted & props.keys():
            del props[prop]
    return props


def _by_label(nodes: Iterable[Node]) -> dict[str, list[NodeId]]:
    grouped: dict[str, list[NodeId]] = {}
    for n in nodes:
        label = n.label._value_
        if label in grouped:
            grouped[label].append(n.id)
        else:
            grouped[label] = [n.id]
    return grouped


def _by_type(edges: Iterable[Edge]) -> dict[str, dict[NodeId, list[NodeId]]]:
    grouped: dict[str, dict[NodeId, list[NodeId]]] = {}
    for e in edges:
        by_src = grouped.get(e.rel._value_)
        if by_src is None:
            by_src = grouped[e.rel._value_] = {}
        if e.src in by_src:
            by_src[e.src].append(e.dst)
        else:
            by_src[e.src] = [e.dst]
    return grouped
