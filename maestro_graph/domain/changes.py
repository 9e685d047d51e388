"""The rules of applying a ChangeSet that do not depend on the store: what a merge or an update
turns stored nodes into, and which natural keys that takes. Every backend reads the current
nodes, calls these, and writes what they return, so all of them decide alike.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from maestro_graph.domain.errors import Conflict, NotFound
from maestro_graph.domain.graph import Expect, Node
from maestro_graph.domain.clock import now
from maestro_graph.domain.keys import natural_key
from maestro_graph.domain.props import with_unions
from maestro_graph.types import NodeId, Props

KeyPair = tuple[str, str]  # (label, natural key)


def patched(props: Props, patch: Props) -> Props:
    """Props with a patch applied; None in the patch removes a prop.

    >>> patched({"a": 1, "b": 2}, {"b": None, "c": 3})
    {'a': 1, 'c': 3}
    """
    merged = {**props, **patch}
    return {k: v for k, v in merged.items() if v is not None}


def new_keys(nodes: list[Node]) -> dict[KeyPair, NodeId]:
    """The keys new nodes want; Conflict if two of them want the same one."""
    wanted: dict[KeyPair, NodeId] = {}
    for node in nodes:
        pair = (node.label._value_, node.key)  # _value_: Enum's `value` property is slow Python
        if pair in wanted:
            raise Conflict(f"two new {node.label.value} nodes share the key {node.key}", field="key")
        wanted[pair] = node.id
    return wanted


def refuse_taken(taken: Mapping[KeyPair, NodeId]) -> None:
    """Conflict naming the first key a stored node already holds."""
    if taken:
        (label, key), other = sorted(taken.items())[0]
        raise Conflict(f"a {label} with key {key} already exists (id {other})", field="key", existing_id=other)


def combine(incoming: list[Node]) -> dict[NodeId, Node]:
    """The same node merged twice in one batch: later props win (union props join: UNION_PROPS)."""
    combined: dict[NodeId, Node] = {}
    for node in incoming:
        prev = combined.get(node.id)
        combined[node.id] = node if prev is None else Node(
            node.id, node.label, node.key, patched(prev.props, with_unions(node.label, prev.props, node.props)),
            prev.created_at, node.updated_at)
    return combined


@dataclass
class MergePlan:
    fresh: list[Node] = field(default_factory=list)  # not stored yet: create
    changed: list[Node] = field(default_factory=list)  # stored, with new props: rewrite
    result: dict[NodeId, Node] = field(default_factory=dict)  # every merged node as it will be stored


def plan_merge(combined: Mapping[NodeId, Node], current: Mapping[NodeId, Node]) -> MergePlan:
    plan = MergePlan()
    for i, node in combined.items():
        old = current.get(i)
        if old is None:
            plan.fresh.append(node)
            continue
        if node.props.items() <= old.props.items() and None not in node.props.values():  # nothing new
            plan.result[i] = old
            continue
        props = patched(old.props, with_unions(node.label, old.props, node.props))
        if props != old.props:
            plan.result[i] = merged = Node(i, old.label, old.key, props, old.created_at, node.updated_at)
            plan.changed.append(merged)
        else:
            plan.result[i] = old  # nothing new: keep updated_at, so a replay changes nothing
    return plan


def plan_update(patches: list[tuple[NodeId, Props]], current: Mapping[NodeId, Node]
                ) -> tuple[dict[NodeId, Node], dict[KeyPair, NodeId]]:
    """(the updated nodes, the new keys they take). NotFound for an unknown id; Conflict if two
    updates would take the same key. The caller checks the new keys against stored nodes."""
    missing = [i for i, _ in patches if i not in current]
    if missing:
        raise NotFound(f"no node with id {missing[0]}", field="id")
    stamp = now()
    rewritten: dict[NodeId, Node] = {}
    for i, patch in patches:
        old = rewritten.get(i, current[i])
        props = patched(old.props, patch)
        rewritten[i] = Node(i, old.label, natural_key(old.label, props, i), props, old.created_at, stamp)
    rekeyed: dict[KeyPair, NodeId] = {}
    for i, n in rewritten.items():
        pair = (n.label.value, n.key)
        if n.key != current[i].key:
            if pair in rekeyed:
                raise Conflict(f"two updated {pair[0]} nodes would share the key {pair[1]}", field="key")
            rekeyed[pair] = i
    return rewritten, rekeyed


def refuse_rekeyed(rekeyed: Mapping[KeyPair, NodeId], taken: Mapping[KeyPair, NodeId]) -> None:
    """Conflict if a key an update takes is held by another stored node."""
    for pair, other in taken.items():
        if other != rekeyed[pair]:
            raise Conflict(f"a {pair[0]} with key {pair[1]} already exists (id {other})", field="key")


def _shown(value: object) -> str:
    return "unset" if value is None else str(value)


def _same(stored: object, expected: object) -> bool:
    """Equal as stored values: True is not 1 (Python says it is), 1 is 1.0."""
    if stored is None or expected is None:
        return stored is expected
    if isinstance(stored, bool) or isinstance(expected, bool):
        return stored is expected
    return stored == expected


def refuse_unexpected(expect: Sequence[Expect], current: Mapping[NodeId, Node]) -> None:
    """NotFound for an expected node that is not stored; Conflict naming the first expectation a
    stored node does not meet (a prop absent is None).

    >>> from maestro_graph.domain.graph import Label
    >>> job = Node("j1", Label.TRAINING_JOB, "j1", {"status": "SUCCEEDED"}, "t", "t")
    >>> refuse_unexpected([Expect("j1", "status", ("PENDING", "RUNNING"))], {"j1": job})
    Traceback (most recent call last):
    ...
    maestro_graph.domain.errors.Conflict: the TrainingJob's status is SUCCEEDED, not PENDING or RUNNING
    """
    for e in expect:
        node = current.get(e.id)
        if node is None:
            raise NotFound(f"no node with id {e.id}", field="id")
        actual = node.props.get(e.prop)
        if not any(_same(actual, v) for v in e.values):
            wanted = " or ".join(_shown(v) for v in e.values)
            raise Conflict(f"the {node.label.value}'s {e.prop} is {_shown(actual)}, not {wanted}", field=e.prop)
