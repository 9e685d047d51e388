"""The graph model: node labels, relationship types and which labels each may join.

This is DESIGN.md's graph model as data, so every backend and the API read it from one place.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from typing import Any

from maestro_graph.domain.audit import AuditRecord
from maestro_graph.domain.errors import BadInput
from maestro_graph.types import Cursor, Direction, NodeId, Props


class Label(enum.Enum):
    __hash__ = object.__hash__  # members are singletons; Enum's own hash is Python code, hot in ingestion

    PERSON = "Person"
    TEAM = "Team"
    PROJECT = "Project"
    ARTIFACT = "Artifact"
    DATASET = "Dataset"
    FIELD = "Field"
    JOB = "Job"
    RUN = "Run"
    MODEL = "Model"
    MODEL_VERSION = "ModelVersion"
    TRAINING_JOB = "TrainingJob"
    DEPLOYMENT = "Deployment"
    METRIC = "Metric"
    PREDICTION = "Prediction"


class Rel(enum.Enum):
    __hash__ = object.__hash__  # members are singletons; Enum's own hash is Python code, hot in ingestion

    MEMBER_OF = "MEMBER_OF"
    IN_TEAM = "IN_TEAM"
    OWNS = "OWNS"
    USES = "USES"
    CREATED_BY = "CREATED_BY"
    HAS_FIELD = "HAS_FIELD"
    READS = "READS"
    WRITES = "WRITES"
    OF_JOB = "OF_JOB"
    CHILD_OF = "CHILD_OF"
    PART_OF = "PART_OF"
    FEEDS = "FEEDS"
    DERIVES = "DERIVES"
    VERSION_OF = "VERSION_OF"
    TRAINED_ON = "TRAINED_ON"
    USES_FEATURE = "USES_FEATURE"
    PRODUCED = "PRODUCED"
    TRACKED_AS = "TRACKED_AS"
    SERVES = "SERVES"
    HAS_METRIC = "HAS_METRIC"
    HAS_PREDICTION = "HAS_PREDICTION"


ANY = frozenset(Label)
L = Label
# Label(value) and Rel(value) go through Enum's Python-level lookup; stores convert millions of values.
LABEL_OF = {label.value: label for label in Label}
REL_OF = {rel.value: rel for rel in Rel}
# Each relationship: the (source labels, target labels) pairs it may join.
ENDPOINTS: dict[Rel, tuple[tuple[frozenset[Label], frozenset[Label]], ...]] = {
    Rel.MEMBER_OF: ((frozenset({L.PERSON}), frozenset({L.PROJECT})),),
    Rel.IN_TEAM: ((frozenset({L.PERSON}), frozenset({L.TEAM})),),
    Rel.OWNS: (
        (frozenset({L.PERSON}), ANY),
        (frozenset({L.PROJECT}), frozenset({L.DATASET, L.MODEL, L.JOB, L.TRAINING_JOB, L.DEPLOYMENT})),
    ),
    Rel.USES: ((frozenset({L.PROJECT}), frozenset({L.ARTIFACT})),),
    Rel.CREATED_BY: ((frozenset({L.ARTIFACT}), frozenset({L.PERSON})),),
    Rel.HAS_FIELD: ((frozenset({L.DATASET}), frozenset({L.FIELD})),),
    Rel.READS: ((frozenset({L.JOB}), frozenset({L.DATASET})),),
    Rel.WRITES: ((frozenset({L.JOB}), frozenset({L.DATASET})),),
    Rel.OF_JOB: ((frozenset({L.RUN}), frozenset({L.JOB})),),
    # The OpenLineage job hierarchy (a run's `parent` facet): a Spark SQL job's run is a child of
    # its application's run, and the SQL job part of the application job. Not lineage: impact
    # analysis does not follow them.
    Rel.CHILD_OF: ((frozenset({L.RUN}), frozenset({L.RUN})),),
    Rel.PART_OF: ((frozenset({L.JOB}), frozenset({L.JOB})),),
    Rel.FEEDS: ((frozenset({L.DATASET}), frozenset({L.DATASET})),),
    Rel.DERIVES: ((frozenset({L.FIELD}), frozenset({L.FIELD})),),
    Rel.VERSION_OF: ((frozenset({L.MODEL_VERSION}), frozenset({L.MODEL})),),
    Rel.TRAINED_ON: ((frozenset({L.MODEL_VERSION}), frozenset({L.DATASET})),),
    Rel.USES_FEATURE: ((frozenset({L.MODEL_VERSION}), frozenset({L.FIELD})),),
    Rel.PRODUCED: ((frozenset({L.TRAINING_JOB}), frozenset({L.MODEL_VERSION})),),
    # A training job's MLflow run (the run tagged maestro.training_job with its id): made by the
    # MLflow sync. Not lineage: impact analysis does not follow it (the PRODUCED version does).
    Rel.TRACKED_AS: ((frozenset({L.TRAINING_JOB}), frozenset({L.RUN})),),
    Rel.SERVES: ((frozenset({L.DEPLOYMENT}), frozenset({L.MODEL_VERSION})),),
    Rel.HAS_METRIC: ((frozenset({L.PROJECT}), frozenset({L.METRIC})),),
    Rel.HAS_PREDICTION: ((frozenset({L.PROJECT}), frozenset({L.PREDICTION})),),
}
del L


@dataclass(frozen=True)
class Parent:
    """A node that cannot exist without another: the prop naming it and the link to make."""

    prop: str
    label: Label
    rel: Rel
    parent_is_src: bool


PARENTS: dict[Label, Parent] = {
    Label.FIELD: Parent("dataset_id", Label.DATASET, Rel.HAS_FIELD, parent_is_src=True),
    Label.RUN: Parent("job_id", Label.JOB, Rel.OF_JOB, parent_is_src=False),
    Label.MODEL_VERSION: Parent("model_id", Label.MODEL, Rel.VERSION_OF, parent_is_src=False),
}
# Deleting the node on the left deletes what hangs off it: a dataset's fields, a model's versions.
CASCADES: dict[Label, tuple[Rel, Direction]] = {
    Label.DATASET: (Rel.HAS_FIELD, Direction.OUT),
    Label.MODEL: (Rel.VERSION_OF, Direction.IN),
}


# The props a node is named by, first present wins: what listings and relationship pages sort by
# (with the id after it) and what their cursors hold. Nodes without any (runs) are named "".
NAME_PROPS = ("name", "version", "type", "target")


def node_name(props: Props) -> str:
    """The one name of a node: stores index it, listings and relationship pages order by it, and
    cursors carry it, so a cursor always points where the store's order puts the node.

    >>> node_name({"type": "ci_success_rate", "value": 0.9})
    'ci_success_rate'
    >>> node_name({"run_id": "r-1", "job_id": "j"})
    ''
    """
    for prop in NAME_PROPS:
        value = props.get(prop)
        if value:
            return str(value)
    return ""


def check_endpoints(rel: Rel, src: Label, dst: Label, *, field: str = "relationship") -> None:
    """Refuse a relationship between labels the graph model does not join.

    >>> check_endpoints(Rel.USES, Label.PROJECT, Label.ARTIFACT)  # fine
    """
    for sources, targets in ENDPOINTS[rel]:
        if src in sources and dst in targets:
            return
    raise BadInput(f"{rel.value} cannot join a {src.value} to a {dst.value}", field=field)


@dataclass(frozen=True, slots=True)
class Node:
    """A stored node. `key` is its natural key within (tenant, label); `props` are validated."""

    id: NodeId
    label: Label
    key: str
    props: Props
    created_at: str
    updated_at: str

    @property
    def name(self) -> str:
        """What the node is listed and paged by (node_name): the same value the stores index."""
        return node_name(self.props)


@dataclass(frozen=True, slots=True)
class Edge:
    rel: Rel
    src: NodeId
    dst: NodeId
    props: Props = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Neighbour:
    """One relationship seen from a start node, with the node at its other end."""

    edge: Edge
    node: Node


@dataclass(frozen=True, slots=True)
class NeighbourPage:
    """One start node's page of a relationship: `items` in (name, id) order of the node at the
    other end, `total` counting every such relationship whatever the page."""

    items: list[Neighbour]
    total: int
    has_next: bool


@dataclass(frozen=True, slots=True)
class NodeQuery:
    """A filtered, keyset-paginated listing of one label, ordered by (name, id)."""

    label: Label
    text: str | None = None  # case-insensitive substring of the name
    kinds: tuple[str, ...] = ()  # artifact type / problem class / ...: any of
    tags: tuple[str, ...] = ()  # all of
    min_score: float | None = None  # impact_score / success_score at least
    first: int = 20
    after: Cursor | None = None


@dataclass(frozen=True, slots=True)
class Page:
    nodes: list[Node]
    total: int
    has_next: bool


@dataclass(frozen=True, slots=True)
class Expect:
    """A condition a ChangeSet is applied under: the stored node `id` has `prop` equal to one of
    `values` (None among them: the prop may be absent)."""

    id: NodeId
    prop: str
    values: tuple[Any, ...]

    def __post_init__(self) -> None:
        assert isinstance(self.values, tuple) and self.values, "Expect.values: a non-empty tuple"


@dataclass
class ChangeSet:
    """Everything one write does; a store applies it in one transaction or not at all.

    create: new nodes (a taken natural key is a CONFLICT).
    merge:  identity-keyed nodes (Dataset, Field, Job, Run) created or patched in place.
    update: (id, patch) pairs; the patch is merged into the stored props.
    delete: node ids; their relationships go with them.
    link:   relationships created, or their props replaced if they exist.
    unlink: relationships removed (props ignored); a missing one is not an error.
    audit:  audit records written in the same transaction, so a change and its record of who
            made it are stored together or not at all.
    expect: conditions on stored nodes (Expect), checked first, on the nodes locked until
            commit: a compare-and-set ("set RUNNING only if still PENDING") that no concurrent
            writer can slip between. An unmet one is a CONFLICT (a missing node NOT_FOUND) and
            nothing is written. Expectations alone write nothing: a ChangeSet with nothing else
            is empty (falsy), and a store applies it without checking them.
    """

    create: list[Node] = field(default_factory=list)
    merge: list[Node] = field(default_factory=list)
    update: list[tuple[NodeId, Props]] = field(default_factory=list)
    delete: list[NodeId] = field(default_factory=list)
    link: list[Edge] = field(default_factory=list)
    unlink: list[Edge] = field(default_factory=list)
    audit: list[AuditRecord] = field(default_factory=list)
    expect: list[Expect] = field(default_factory=list)

    def __bool__(self) -> bool:
        return any((self.create, self.merge, self.update, self.delete, self.link, self.unlink, self.audit))

    def touched(self) -> list[NodeId]:
        """Every node id this ChangeSet writes, in order, once: what its audit record names."""
        ids = [n.id for n in (*self.create, *self.merge)] + [i for i, _ in self.update] + list(self.delete)
        ids += [x for e in (*self.link, *self.unlink) for x in (e.src, e.dst)]
        return list(dict.fromkeys(ids))
