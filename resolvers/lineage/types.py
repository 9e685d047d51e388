"""GraphQL shapes for lineage graphs (what an explorer draws) and impact reports."""

import functools
from collections.abc import Callable
from typing import Optional

import strawberry
from strawberry import relay
from strawberry.scalars import JSON
from strawberry.types.nodes import SelectedField

from maestro_graph.domain.derivations import contributions_of
from maestro_graph.domain.errors import NotFound
from maestro_graph.domain.impact import Impacted, ImpactReport as DomainReport
from maestro_graph.services.lineage import LineageGraph as DomainGraph
from maestro_graph.types import Granularity as DomainGranularity, LineageDirection as DomainDirection
from resolvers.context import Info
from resolvers.datasets.types import Dataset, Field
from resolvers.graph.types import Relationship
from resolvers.models.types import Deployment, Model, ModelVersion
from resolvers.nodes import to_type
from resolvers.people.types import Person
from resolvers.projects.types import Project
from resolvers.relay import to_global_id

LineageDirection = strawberry.enum(DomainDirection, name="LineageDirection")
Granularity = strawberry.enum(DomainGranularity, name="Granularity")


@strawberry.type(description="A node of a lineage graph and how far it is from the root (negative: upstream).")
class LineageNode:
    node: relay.Node
    distance: int


@strawberry.type(description="What one job says a column edge does, as its producer reported it.")
class ColumnTransformation:
    job: str = strawberry.field(description="The job (namespace/name) whose run reported it.")
    type: Optional[str] = strawberry.field(description="DIRECT or INDIRECT; null when the producer did not say.")
    subtype: Optional[str] = strawberry.field(description="IDENTITY, TRANSFORMATION, AGGREGATION, JOIN, FILTER, GROUP_BY, ...")
    description: Optional[str]
    masking: bool


@strawberry.type(description="A relationship of a lineage graph, with the transformation it records.")
class LineageEdge:
    source_id: strawberry.ID
    target_id: strawberry.ID
    relationship: Relationship  # type: ignore[valid-type]
    transformation_type: Optional[str] = strawberry.field(
        description="Column lineage: DIRECT or INDIRECT, the strongest of `transformations`; null when no producer said.")
    transformation_subtype: Optional[str] = strawberry.field(description="IDENTITY, TRANSFORMATION, AGGREGATION, JOIN, FILTER, ...")
    description: Optional[str]
    masking: Optional[bool]
    job: Optional[str]
    properties: JSON
    transformations: list[ColumnTransformation] = strawberry.field(
        description="Column lineage: every (job, type, subtype) that produced this edge, whatever order their events came in.")

    @strawberry.field(description="The job `job` is part of (PART_OF), as namespace/name: e.g. the Spark application of a SQL job, the dbt run of a model.")
    async def parent_job(self, info: Info) -> Optional[str]:
        return await info.context.loaders.parent_job.load(self.job) if self.job else None


@strawberry.type(description="A lineage subgraph, nodes ordered by distance then name.")
class LineageGraph:
    root: relay.Node
    nodes: list[LineageNode]
    edges: list[LineageEdge]
    truncated: bool = strawberry.field(description="True when the walk stopped at the node limit.")

    @classmethod
    def of(cls, g: DomainGraph) -> "LineageGraph":
        id_of = {n.id: to_global_id(n.label, n.id) for n, _ in g.nodes}
        edges = [LineageEdge(source_id=strawberry.ID(id_of[e.src]), target_id=strawberry.ID(id_of[e.dst]),
                             relationship=e.rel, transformation_type=e.props.get("type"),  # type: ignore[arg-type]
                             transformation_subtype=e.props.get("subtype"), description=e.props.get("description"),  # type: ignore[arg-type]
                             masking=bool(e.props.get("masking")), job=e.props.get("job"), properties=e.props,  # type: ignore[arg-type]
                             transformations=_transformations(e.props))
                 for e in g.edges if e.src in id_of and e.dst in id_of]
        return cls(root=to_type(g.root), nodes=[LineageNode(node=to_type(n), distance=d) for n, d in g.nodes],
                   edges=edges, truncated=g.truncated)


async def _load(info: Info, node_id: str) -> object:
    """A reached node, through the request's loader: every node of a report in one store call."""
    node = await info.context.loaders.node.load(node_id)
    if node is None:
        raise NotFound(f"node {node_id} was deleted while the report was read", field="node")
    return to_type(node)


def _node_selections(selections: list) -> list:
    """What the query asks of the reached nodes: the selections below each field named `node`."""
    out: list = []
    for s in selections:
        if isinstance(s, SelectedField) and s.name == "node":
            out += s.selections
        else:
            out += _node_selections(s.selections)
    return out


def _only_ids(selections: list) -> bool:
    """Whether these selections (fragments included) ask only for `id` and `__typename`, with no
    directive that could change that."""
    for s in selections:
        if s.directives:
            return False
        if isinstance(s, SelectedField) and s.name not in ("id", "__typename"):
            return False
        if not isinstance(s, SelectedField) and not _only_ids(s.selections):
            return False
    return True


def _identified(kind: type, node_id: str) -> object:
    """A reached node as its type with its id alone, for a query that asks nothing else of it:
    the index knows every reached node's label and id, so there is nothing to read."""
    node = kind.__new__(kind)
    node.id = node_id
    return node


def _impacted(kind: type, label: str) -> type:
    @strawberry.type(name=f"Impacted{label}", description=f"A {label} the change reaches, with one shortest path to it.")
    class Item:
        hops: strawberry.Private[list[str]]
        global_id: strawberry.Private[Callable[[str], str]]  # memoised per report: paths share prefixes
        distance: int
        # Read with the report's other nodes in one store call, when the query asks for it. A node
        # deleted meanwhile is an error value: graphql-core reports it on this item (NOT_FOUND).
        node: kind  # type: ignore[valid-type]

        @strawberry.field(description="Global ids from the root to this node.")
        def path(self) -> list[strawberry.ID]:  # built only when asked for: reports reach thousands of nodes
            return [strawberry.ID(self.global_id(hop)) for hop in self.hops]

    return Item


ImpactedField = _impacted(Field, "Field")
ImpactedDataset = _impacted(Dataset, "Dataset")
ImpactedModelVersion = _impacted(ModelVersion, "ModelVersion")
ImpactedModel = _impacted(Model, "Model")
ImpactedDeployment = _impacted(Deployment, "Deployment")
ImpactedProject = _impacted(Project, "Project")
ImpactedPerson = _impacted(Person, "Person")
_NODE_TYPES = {ImpactedField: Field, ImpactedDataset: Dataset, ImpactedModelVersion: ModelVersion, ImpactedModel: Model,
               ImpactedDeployment: Deployment, ImpactedProject: Project, ImpactedPerson: Person}


@strawberry.type
class ImpactTotals:
    fields: int
    datasets: int
    model_versions: int
    models: int
    deployments: int
    projects: int
    people: int


@strawberry.type(description="Everything a change to a field or dataset reaches, nearest first.")
class ImpactReport:
    root_id: strawberry.Private[str]
    depth: int
    fields: list[ImpactedField]  # type: ignore[valid-type]
    datasets: list[ImpactedDataset]  # type: ignore[valid-type]
    model_versions: list[ImpactedModelVersion]  # type: ignore[valid-type]
    models: list[ImpactedModel]  # type: ignore[valid-type]
    deployments: list[ImpactedDeployment]  # type: ignore[valid-type]
    projects: list[ImpactedProject]  # type: ignore[valid-type]
    people: list[ImpactedPerson]  # type: ignore[valid-type]
    totals: ImpactTotals
    truncated: bool = strawberry.field(description="True when the walk stopped at the limit: the lists are incomplete.")

    @strawberry.field
    async def root(self, info: Info) -> relay.Node:
        return await _load(info, self.root_id)  # type: ignore[return-value]

    @classmethod
    async def of(cls, r: DomainReport, info: Info) -> "ImpactReport":
        """The report, with the reached nodes read in one store call when the query shows them.
        Thousands of items each awaiting a DataLoader cost more than the analysis itself."""
        ctx = info.context
        nodes = dict(r.loaded)  # what the service read already is not read again
        reached = [i.id for found in (r.fields, r.datasets, r.model_versions, r.models, r.deployments, r.projects,
                                      r.people) for i in found]
        asked = _node_selections(info.selected_fields)
        ids_only = _only_ids(asked)
        missing = [node_id for node_id in [r.root.id, *reached] if node_id not in nodes]
        if missing and asked and not ids_only:
            nodes.update(await ctx.services.graph.get(ctx.tenant, missing))
        if r.root.id in nodes:  # for `root`, which resolves through the loader
            ctx.loaders.node.prime(r.root.id, nodes[r.root.id])

        global_id = functools.cache(lambda node_id: to_global_id(r.label_of(node_id), node_id))

        def node(kind: type, node_id: str) -> object:
            if ids_only:
                return _identified(kind, node_id)
            found = nodes.get(node_id)
            if found is not None:
                return to_type(found)
            return NotFound(f"node {node_id} was deleted while the report was read", field="node")

        def items(item: type, found: list[Impacted]) -> list:
            kind = _NODE_TYPES[item]
            return [item(hops=i.path, global_id=global_id, distance=i.distance, node=node(kind, i.id) if asked else None)
                    for i in found]

        lists = dict(fields=items(ImpactedField, r.fields), datasets=items(ImpactedDataset, r.datasets),
                     model_versions=items(ImpactedModelVersion, r.model_versions), models=items(ImpactedModel, r.models),
                     deployments=items(ImpactedDeployment, r.deployments), projects=items(ImpactedProject, r.projects),
                     people=items(ImpactedPerson, r.people))
        return cls(root_id=r.root.id, depth=r.depth, totals=ImpactTotals(**{k: len(v) for k, v in lists.items()}),
                   truncated=r.truncated, **lists)


@strawberry.type
class IngestResult:
    events: int
    nodes: int
    relationships: int


def _transformations(props: dict) -> list[ColumnTransformation]:
    return [ColumnTransformation(job=c.job, type=c.type, subtype=c.subtype, description=c.description, masking=c.masking)
            for c in contributions_of(props).values()] if props.get("job") else []
