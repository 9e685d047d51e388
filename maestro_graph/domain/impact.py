"""What impact analysis follows, in what order, and what it answers.

The rules are written once, as data: IMPACT_PLAN, the ordered steps from the changed field or
dataset to the people to tell. `impact_plan` carries them out over nodes of any kind, asking its
executor for what it needs: one batched expansion or walk per step. Two executors answer it: the
store (services/lineage.py: a store call per request) and the in-memory topology
(domain/topology.py: its adjacency arrays). Both end in `build_report`, so they bucket, skip and
order alike; the tests hold them to the same answers.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Generator, Hashable, Mapping, Sequence
from dataclasses import dataclass, field
from enum import Enum
from typing import Any, Generic, NamedTuple, TypeVar

from maestro_graph.domain.graph import Label, Node, Rel
from maestro_graph.types import Direction, NodeId

N = TypeVar("N", bound=Hashable)  # a node as an executor knows it: an id in the store, an integer in memory


class How(Enum):
    """How a step goes from its sources."""

    TAKE = "take"  # one step along `rels` (none: the sources themselves); what it finds joins `into`, not yet reached
    WALK = "walk"  # breadth-first along `rels`, up to the depth and the cap; every node the walk reaches joins `into`
    STEP = "step"  # one step along `rels` at `cost`; a node reached first here joins the set `into` names for its rel
    CROSS = "cross"  # one step along `rels` but not over one whose `unless` property is true, then a walk on from
    # where it arrived (each node at its own distance), with what is left of the cap


# The sets of nodes the steps go from and into.
ROOT = "root"  # the changed node
FIELD_STARTS = "field starts"  # the columns that change with it
FIELDS = "fields"  # every column reached by column lineage, the starts included
DATASETS = "datasets"  # every dataset reached by dataset lineage from a changed dataset, itself included
HOLDERS = "holders"  # datasets reached as holding a reached column
VERSIONS = "model versions"
MODELS_AND_DEPLOYMENTS = "models and deployments"
OWNERS = "owners"
REACHED = "reached"  # not a set steps fill: every node reached so far
UNREPORTED = (ROOT, FIELD_STARTS)  # what a report leaves out: the change itself
COLUMN_LINEAGE = "column_lineage"  # on FEEDS: the job reports column lineage from this input


@dataclass(frozen=True)
class Step:
    """One step of the plan: how it goes, along which relationships and which way, from which
    sets of nodes into which. A node's distance is the smallest over every way in; among ways as
    short, the first found (relationships are taken in (src, dst, type) order)."""

    how: How
    rels: tuple[Rel, ...]
    direction: Direction
    sources: tuple[str, ...]  # the sets it goes from, together
    into: str | dict[Rel, str] | None  # the set its nodes join (STEP: by relationship)
    cost: int = 1  # added to the distance by a STEP or the crossing of a CROSS
    root: Label | None = None  # taken only from a root of this label
    of_label: Label | None = None  # goes only from the source nodes of this label
    unless: str | None = None  # CROSS: the property that keeps a relationship from being crossed

    def __post_init__(self) -> None:
        # Relationships in the order of their type names: the order executors answer in.
        object.__setattr__(self, "rels", tuple(sorted(self.rels, key=lambda r: r.value)))
        assert (self.how is How.STEP) == isinstance(self.into, dict), "a STEP fills sets by relationship, others one set"
        assert self.rels or self.how is How.TAKE, "only a TAKE goes nowhere (it takes its sources)"
        assert (self.how is How.CROSS) == (self.unless is not None), "a CROSS, and only it, says what is not crossed"


IMPACT_PLAN: tuple[Step, ...] = (
    # A change to a dataset is a change to every column of it; a change to a column, to itself.
    Step(How.TAKE, (Rel.HAS_FIELD,), Direction.OUT, (ROOT,), FIELD_STARTS, root=Label.DATASET),
    Step(How.TAKE, (), Direction.OUT, (ROOT,), FIELD_STARTS, root=Label.FIELD),
    # Column lineage says exactly what a change to a column reaches.
    Step(How.WALK, (Rel.DERIVES,), Direction.OUT, (FIELD_STARTS,), FIELDS),
    # From a dataset, every column changes: all of dataset lineage. From a column, a dataset's FEEDS
    # would name every dataset downstream of any of its columns: only jobs without column lineage
    # are crossed at dataset level (below).
    Step(How.WALK, (Rel.FEEDS,), Direction.OUT, (ROOT,), DATASETS, root=Label.DATASET),
    # A dataset holding a reached column is reached at that column's distance (the nearest wins).
    Step(How.STEP, (Rel.HAS_FIELD,), Direction.IN, (FIELDS,), {Rel.HAS_FIELD: HOLDERS}, cost=0),
    # A job that reports no column lineage from a reached dataset may pass the changed column to
    # any column of its output: its FEEDS are crossed, and everything downstream of their targets
    # is reached at dataset level.
    Step(How.CROSS, (Rel.FEEDS,), Direction.OUT, (HOLDERS,), None, root=Label.FIELD, unless=COLUMN_LINEAGE),
    # What hangs off the data: model versions trained on it or using it as a feature, and owners.
    Step(How.STEP, (Rel.TRAINED_ON, Rel.USES_FEATURE, Rel.OWNS), Direction.IN, (REACHED,),
         {Rel.TRAINED_ON: VERSIONS, Rel.USES_FEATURE: VERSIONS, Rel.OWNS: OWNERS}),
    # Those versions' models, the deployments serving them, and the owners of all three.
    Step(How.STEP, (Rel.VERSION_OF,), Direction.OUT, (VERSIONS,), {Rel.VERSION_OF: MODELS_AND_DEPLOYMENTS}),
    Step(How.STEP, (Rel.SERVES,), Direction.IN, (VERSIONS,), {Rel.SERVES: MODELS_AND_DEPLOYMENTS}),
    Step(How.STEP, (Rel.OWNS,), Direction.IN, (VERSIONS, MODELS_AND_DEPLOYMENTS), {Rel.OWNS: OWNERS}),
    # The people to tell: members and owners of the projects among the owners.
    Step(How.STEP, (Rel.MEMBER_OF, Rel.OWNS), Direction.IN, (OWNERS,), {}, of_label=Label.PROJECT),
)

# Every relationship impact analysis follows, and every label it can reach. A change to one of
# these relationships (or to the name of a node of these labels) changes the tenant's topology
# version, which tells the in-memory topology that it is stale.
FOLLOWED: frozenset[tuple[Rel, Direction]] = frozenset((rel, s.direction) for s in IMPACT_PLAN for rel in s.rels)
TOPOLOGY_RELS = frozenset(rel for rel, _ in FOLLOWED)
TOPOLOGY_LABELS = (Label.DATASET, Label.FIELD, Label.MODEL_VERSION, Label.MODEL, Label.DEPLOYMENT,
                   Label.PROJECT, Label.PERSON)
# The property of a relationship a step reads (only these are kept in memory): rel -> property.
FLAGS: dict[Rel, str] = {rel: s.unless for s in IMPACT_PLAN if s.unless is not None for rel in s.rels}


# -- what the plan asks its executor --------------------------------------------------------------
class Expand(NamedTuple, Generic[N]):
    """Every relationship of `rels` (in type-name order) leaving (OUT) or entering (IN) one of
    `ids`, but those whose `unless` property is true. Answer: [(node of ids, node one step on,
    rel)], in `edge_order` of the relationships as stored."""

    ids: list[N]
    rels: tuple[Rel, ...]
    direction: Direction
    unless: str | None


class WalkFrom(NamedTuple, Generic[N]):
    """A breadth-first walk as domain.walk.breadth_first walks, relationships taken in (src, dst,
    type) order. Answer: ({node: (distance, parent or None)} in the order reached, truncated)."""

    starts: dict[N, int]
    rels: tuple[Rel, ...]
    direction: Direction
    depth: int
    cap: int


class OfLabel(NamedTuple, Generic[N]):
    """Answer: those of `ids` that are nodes of `label`."""

    ids: list[N]
    label: Label


Request = Expand | WalkFrom | OfLabel
_TAKE, _WALK, _STEP = How.TAKE, How.WALK, How.STEP  # enum members cost a lookup each time they are named


def edge_order(edge: tuple[Any, Any, Rel]) -> tuple[Any, Any, str]:
    """The order an executor answers relationships in, (src, dst, type): nearest ways first are
    found first, and found first wins among ways as near."""
    return edge[0], edge[1], edge[2].value


class Reached(NamedTuple, Generic[N]):
    nodes: dict[N, tuple[int, list[NodeId]]]  # every node reached, starts included: (distance, a shortest path)
    starts: set[N]  # the nodes a report leaves out (UNREPORTED)
    truncated: bool


def impact_plan(root: N, root_label: Label, depth: int, cap: int, id_of: Callable[[N], NodeId]
                ) -> Generator[Request, Any, Reached[N]]:
    """IMPACT_PLAN carried out from `root`: yields what it needs (Expand, WalkFrom, OfLabel),
    is sent the answer, and returns what was reached. Paths are of ids (`id_of` a node).

    Of two ways to a node the shorter wins, and of two as short the first offered: steps and
    walks offer in the order of the relationships they answer with, so the answer is the same
    whoever executes the plan.

    >>> from maestro_graph.domain.walk import breadth_first, drive
    >>> lineage = {(Rel.DERIVES, "a"): ["b"], (Rel.HAS_FIELD, "a"): ["A"], (Rel.HAS_FIELD, "b"): ["B"]}
    >>> def answer(request):
    ...     if isinstance(request, WalkFrom):
    ...         hops = {}
    ...         cut = drive(breadth_first(request.starts, request.depth, request.cap, hops),
    ...                     lambda front: [(n, lineage.get((request.rels[0], n), [])) for n in front])
    ...         return hops, cut
    ...     return [(n, m, r) for n in request.ids for r in request.rels for m in lineage.get((r, n), [])]
    >>> reached = drive(impact_plan("a", Label.FIELD, 5, 100, str), answer)
    >>> reached.nodes, reached.starts
    ({'a': (0, ['a']), 'b': (1, ['a', 'b']), 'A': (0, ['a', 'A']), 'B': (1, ['a', 'b', 'B'])}, {'a'})
    """
    sets: defaultdict[str, list[N]] = defaultdict(list)
    sets[ROOT].append(root)
    reach: dict[N, tuple[int, list[NodeId]]] = {}
    truncated = False
    for step in IMPACT_PLAN:
        if step.root is not None and step.root is not root_label:
            continue
        ids: list[N] = []
        for source in step.sources:
            ids += reach if source == REACHED else sets[source]
        if ids and step.of_label is not None:
            ids = yield OfLabel(ids, step.of_label)
        if not ids:
            continue
        how = step.how
        if how is _STEP:
            into, cost = step.into, step.cost
            for here, there, rel in (yield Expand(ids, step.rels, step.direction, None)):
                dist = reach[here][0] + cost
                if there not in reach:
                    if rel in into:
                        sets[into[rel]].append(there)
                    reach[there] = (dist, reach[here][1] + [id_of(there)])
                elif dist < reach[there][0]:
                    reach[there] = (dist, reach[here][1] + [id_of(there)])
        elif how is _WALK:
            hops, cut = yield WalkFrom(dict.fromkeys(ids, 0), step.rels, step.direction, depth, cap)
            truncated |= cut
            _offer_walk(reach, hops, {}, id_of)
            sets[step.into] += hops
        elif how is _TAKE:
            sets[step.into] += [there for _, there, _ in (yield Expand(ids, step.rels, step.direction, None))] \
                if step.rels else ids
        else:
            entries: dict[N, tuple[int, list[NodeId]]] = {}  # where a crossing arrives -> (distance, path)
            for here, there, _ in (yield Expand(ids, step.rels, step.direction, step.unless)):
                dist = reach[here][0] + step.cost
                if dist <= depth and (there not in entries or dist < entries[there][0]):
                    entries[there] = (dist, reach[here][1] + [id_of(there)])
            if entries:
                hops, cut = yield WalkFrom({node: dist for node, (dist, _) in entries.items()}, step.rels,
                                           step.direction, depth, max(1, cap - len(reach)))
                truncated |= cut
                _offer_walk(reach, hops, entries, id_of)
    return Reached(reach, {node for name in UNREPORTED for node in sets[name]}, truncated)


def _offer_walk(reach: dict[N, tuple[int, list[NodeId]]], hops: Mapping[N, Sequence[Any]],
                entries: Mapping[N, tuple[int, list[NodeId]]], id_of: Callable[[N], NodeId]) -> None:
    """Offer every node a walk reached, in the order reached (a parent before its children), with
    its path: a start's is its entry's, if it has one; another's is its parent's and itself."""
    if not reach and not entries:  # the first walk: every node is new, and its path is this walk's
        for node, (dist, parent) in hops.items():
            reach[node] = (dist, [id_of(node)] if parent is None else reach[parent][1] + [id_of(node)])
        return
    paths: dict[N, list[NodeId]] = {}
    for node, (dist, parent) in hops.items():
        if parent is None:
            path = entries[node][1] if node in entries else [id_of(node)]
        else:
            path = paths[parent] + [id_of(node)]
        paths[node] = path
        if node not in reach or dist < reach[node][0]:
            reach[node] = (dist, path)


def renames(before: Mapping[NodeId, Node], after: Mapping[NodeId, Node]) -> bool:
    """Whether a write changes the name of a node impact analysis can reach (reports sort by it).

    >>> from maestro_graph.domain.graph import Node
    >>> old = {"p": Node("p", Label.PERSON, "a@x", {"name": "Ada"}, "t", "t")}
    >>> renames(old, {"p": Node("p", Label.PERSON, "a@x", {"name": "Ada L."}, "t", "t")})
    True
    >>> renames(old, {"p": Node("p", Label.PERSON, "a@x", {"name": "Ada", "email": "a@x"}, "t", "t")})
    False
    """
    return any(n.label in TOPOLOGY_LABELS and i in before and before[i].name != n.name for i, n in after.items())


class Impacted(NamedTuple):
    """A node a change reaches. Only what the analysis decides: the node itself is loaded by
    whoever shows it (the GraphQL layer batches that in one store call). The fields come in report
    order, so rows sort as reports list them: by distance, name, then id (ids are unique)."""

    distance: int
    name: str
    id: NodeId
    label: Label
    path: list[NodeId]  # a shortest path from the root to this node, both included


@dataclass
class ImpactReport:
    root: Impacted
    depth: int
    label_of: Callable[[NodeId], Label] = field(compare=False, repr=False)  # of the nodes on any path
    fields: list[Impacted] = field(default_factory=list)
    datasets: list[Impacted] = field(default_factory=list)
    model_versions: list[Impacted] = field(default_factory=list)
    models: list[Impacted] = field(default_factory=list)
    deployments: list[Impacted] = field(default_factory=list)
    projects: list[Impacted] = field(default_factory=list)
    people: list[Impacted] = field(default_factory=list)
    truncated: bool = False
    loaded: dict[NodeId, Node] = field(default_factory=dict)  # nodes already read on the way, for the caller's cache


def build_report(report: ImpactReport, rows: list[Impacted]) -> ImpactReport:
    """Fill the report's lists with `rows` (every reached node but the starts), ordered by
    (distance, name, id): one sort of plain tuples, then one pass into the list of each label."""
    buckets = {Label.FIELD: report.fields, Label.DATASET: report.datasets, Label.MODEL_VERSION: report.model_versions,
               Label.MODEL: report.models, Label.DEPLOYMENT: report.deployments, Label.PROJECT: report.projects,
               Label.PERSON: report.people}
    rows.sort()
    for row in rows:
        buckets[row.label].append(row)
    return report
