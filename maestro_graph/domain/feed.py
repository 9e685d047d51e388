"""The change feed's entry: what one committed ChangeSet did, in the form the feed stores and
other tools read (docs/change-feed.md). No I/O here.

An entry is written by the write routine (store/apply.py) in the ChangeSet's own transaction; the
store gives it its sequence number there. Its JSON form (to_json / from_json) is a stable,
documented format: fields are only ever added, never renamed or removed.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import Any

import orjson

from maestro_graph.domain.audit import OK, AuditRecord
from maestro_graph.domain.graph import Edge, Label, Node
from maestro_graph.types import NodeId, Props, Tenant

#: the format's version, written in every entry as "v"
FORMAT = 1

#: labels whose changed properties an entry carries (what subscribers watch); other labels'
#: nodes are named (id, label) without their properties, so that the feed stays small under ingestion
WATCHED_LABELS = frozenset({Label.TRAINING_JOB, Label.RUN, Label.METRIC, Label.MODEL_VERSION, Label.DEPLOYMENT})


@dataclass(frozen=True, slots=True)
class NodeRef:
    id: NodeId
    label: str  # Label.value


@dataclass(frozen=True, slots=True)
class EdgeRef:
    type: str  # Rel.value
    source: NodeId
    target: NodeId


@dataclass(frozen=True, slots=True)
class FeedEntry:
    tenant: Tenant
    seq: int  # 1, 2, 3, ... per tenant, without gaps; 0 until the store has appended it
    at: str  # domain/clock.py's format: when the write routine built it (just before commit)
    operation: str  # the API's name for it (the audit record's operation); "" if unaudited
    actor: str  # the token's subject (the audit record's actor); "" if unaudited
    created: tuple[NodeRef, ...] = ()
    updated: tuple[NodeRef, ...] = ()
    deleted: tuple[NodeRef, ...] = ()
    linked: tuple[EdgeRef, ...] = ()
    unlinked: tuple[EdgeRef, ...] = ()
    # node id -> its changed properties' new values (None: removed), for WATCHED_LABELS only;
    # a created node of those labels carries all its properties
    props: Mapping[NodeId, Props] = field(default_factory=dict)

    def with_seq(self, seq: int) -> FeedEntry:
        return replace(self, seq=seq)

    def to_dict(self) -> dict[str, Any]:
        """The documented JSON object (docs/change-feed.md)."""
        return {
            "v": FORMAT, "tenant": self.tenant, "seq": self.seq, "at": self.at,
            "operation": self.operation, "actor": self.actor,
            "created": [[n.id, n.label] for n in self.created],
            "updated": [[n.id, n.label] for n in self.updated],
            "deleted": [[n.id, n.label] for n in self.deleted],
            "linked": [[e.type, e.source, e.target] for e in self.linked],
            "unlinked": [[e.type, e.source, e.target] for e in self.unlinked],
            "props": {i: dict(p) for i, p in self.props.items()},
        }

    def to_json(self) -> str:
        return orjson.dumps(self.to_dict()).decode()

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> FeedEntry:
        """An entry from its JSON object; fields a later format adds are ignored."""
        return cls(
            tenant=d["tenant"], seq=int(d["seq"]), at=d["at"], operation=d["operation"], actor=d["actor"],
            created=tuple(NodeRef(i, label) for i, label in d.get("created", ())),
            updated=tuple(NodeRef(i, label) for i, label in d.get("updated", ())),
            deleted=tuple(NodeRef(i, label) for i, label in d.get("deleted", ())),
            linked=tuple(EdgeRef(t, s, e) for t, s, e in d.get("linked", ())),
            unlinked=tuple(EdgeRef(t, s, e) for t, s, e in d.get("unlinked", ())),
            props={i: dict(p) for i, p in (d.get("props") or {}).items()},
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
    nothing in the graph changed (no feed entry for that ChangeSet)."""

    def __init__(self) -> None:
        self.created: dict[NodeId, Node] = {}
        self.updated: dict[NodeId, tuple[Node | None, Node]] = {}  # id -> (as first read, as now written)
        self.deleted: dict[NodeId, NodeRef] = {}
        self.linked: dict[tuple[str, NodeId, NodeId], None] = {}
        self.unlinked: dict[tuple[str, NodeId, NodeId], None] = {}

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
                self.deleted[i] = NodeRef(i, n.label.value)
            self.updated.pop(i, None)

    def link(self, links: list[Edge]) -> None:
        self.linked.update(((e.rel.value, e.src, e.dst), None) for e in links)

    def unlink(self, links: list[Edge]) -> None:
        self.unlinked.update(((e.rel.value, e.src, e.dst), None) for e in links)

    def entry(self, tenant: Tenant, at: str, audit: list[AuditRecord]) -> FeedEntry | None:
        if not (self.created or self.updated or self.deleted or self.linked or self.unlinked):
            return None
        record = next((r for r in audit if r.outcome == OK), audit[0] if audit else None)
        props: dict[NodeId, Props] = {}
        for n in self.created.values():
            if n.label in WATCHED_LABELS:
                props[n.id] = dict(n.props)
        for i, (old, new) in self.updated.items():
            if new.label in WATCHED_LABELS and (diff := changed_props(old.props if old else None, new.props)):
                props[i] = diff
        return FeedEntry(
            tenant=tenant, seq=0, at=at,
            operation=record.operation if record else "", actor=record.actor if record else "",
            created=tuple(NodeRef(n.id, n.label.value) for n in self.created.values()),
            updated=tuple(NodeRef(i, new.label.value) for i, (_, new) in self.updated.items()),
            deleted=tuple(self.deleted.values()),
            linked=tuple(EdgeRef(*k) for k in self.linked),
            unlinked=tuple(EdgeRef(*k) for k in self.unlinked),
            props=props,
        )
