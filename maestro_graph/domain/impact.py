"""What impact analysis answers, and what it follows.

Impact analysis is computed two ways: walking the store (services/lineage.py) or walking the
in-memory topology (domain/topology.py). Both end in `build_report`, so they bucket, skip and
order alike; the tests hold them to the same answers.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import NamedTuple

from maestro_graph.domain.graph import Label, Node, Rel
from maestro_graph.types import NodeId

# Every relationship impact analysis follows, and every label it can reach. A change to one of
# these relationships (or to the name of a node of these labels) changes the tenant's topology
# version, which tells the in-memory topology that it is stale.
TOPOLOGY_RELS = frozenset({Rel.DERIVES, Rel.HAS_FIELD, Rel.FEEDS, Rel.TRAINED_ON, Rel.USES_FEATURE, Rel.OWNS,
                           Rel.VERSION_OF, Rel.SERVES, Rel.MEMBER_OF})
TOPOLOGY_LABELS = (Label.DATASET, Label.FIELD, Label.MODEL_VERSION, Label.MODEL, Label.DEPLOYMENT,
                   Label.PROJECT, Label.PERSON)


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
