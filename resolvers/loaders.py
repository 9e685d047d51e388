"""Per-request DataLoaders: every node or relationship field of a level costs one store call."""

from __future__ import annotations

from collections.abc import Sequence

from strawberry.dataloader import DataLoader

from maestro_graph.domain.graph import Label, Neighbour, NeighbourPage, Node, Rel
from maestro_graph.services import Services
from maestro_graph.types import Cursor, Direction, NodeId, Tenant

# What one relationship page asks for besides its start node: every start of a level of a query
# asks the same, so they share a loader and a level costs one store call.
PageArgs = tuple[Rel, Direction, frozenset[Label], int, Cursor | None]


class Loaders:
    """Created in get_context for one request and one tenant; never shared between requests.

    No load function refers back to this object (they hold the services, the tenant and the node
    loader): a reference cycle would keep everything a request loaded alive until the cyclic
    collector's next pass, which then walks many requests' objects at once while the event loop
    waits."""

    def __init__(self, services: Services, tenant: Tenant) -> None:
        self._services, self._tenant = services, tenant
        graph, lineage = services.graph, services.lineage

        async def load_nodes(ids: Sequence[NodeId]) -> list[Node | None]:
            found = await graph.get(tenant, ids)
            return [found.get(i) for i in ids]

        async def load_parent_jobs(jobs: Sequence[str]) -> list[str | None]:
            found = await lineage.parent_jobs(tenant, jobs)
            return [found.get(j) for j in jobs]

        self.node: DataLoader[NodeId, Node | None] = DataLoader(load_fn=load_nodes)
        self._neighbours: dict[tuple[Rel, Direction], DataLoader[NodeId, list[Neighbour]]] = {}
        self._pages: dict[PageArgs, DataLoader[NodeId, NeighbourPage]] = {}
        self.parent_job: DataLoader[str, str | None] = DataLoader(load_fn=load_parent_jobs)

    def neighbours(self, rel: Rel, direction: Direction) -> DataLoader[NodeId, list[Neighbour]]:
        key = (rel, direction)
        if key not in self._neighbours:
            graph, tenant, node = self._services.graph, self._tenant, self.node

            async def load(ids: Sequence[NodeId]) -> list[list[Neighbour]]:
                found = await graph.neighbours(tenant, ids, rel, direction)
                for nbs in found.values():  # the nodes at the far end are loaded too: prime them
                    for nb in nbs:
                        node.prime(nb.node.id, nb.node)
                return [found[i] for i in ids]

            self._neighbours[key] = DataLoader(load_fn=load)
        return self._neighbours[key]

    def neighbour_pages(self, rel: Rel, direction: Direction, labels: frozenset[Label], first: int,
                        after: Cursor | None) -> DataLoader[NodeId, NeighbourPage]:
        """One page of each start's `rel` relationships (to nodes of `labels`, or any), cut in the store."""
        key = (rel, direction, labels, first, after)
        if key not in self._pages:
            graph, tenant, node = self._services.graph, self._tenant, self.node

            async def load(ids: Sequence[NodeId]) -> list[NeighbourPage]:
                found = await graph.neighbour_pages(tenant, ids, rel, direction, first=first,
                                                    after=after, labels=sorted(labels, key=lambda x: x.value))
                for page in found.values():
                    for nb in page.items:
                        node.prime(nb.node.id, nb.node)
                return [found[i] for i in ids]

            self._pages[key] = DataLoader(load_fn=load)
        return self._pages[key]

    def forget(self) -> None:
        """After a mutation: drop everything cached, so the answer reads the new state."""
        self.node.clear_all()
        self.parent_job.clear_all()
        for loader in (*self._neighbours.values(), *self._pages.values()):
            loader.clear_all()
