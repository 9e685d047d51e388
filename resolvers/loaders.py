"""Per-request DataLoaders: every node or relationship field of a level costs one store call."""

from __future__ import annotations

from collections.abc import Sequence

from strawberry.dataloader import DataLoader

from maestro_graph.domain.graph import Neighbour, Node, Rel
from maestro_graph.services import Services
from maestro_graph.types import Direction, NodeId, Tenant


class Loaders:
    """Created in get_context for one request and one tenant; never shared between requests."""

    def __init__(self, services: Services, tenant: Tenant) -> None:
        self._services, self._tenant = services, tenant
        self.node: DataLoader[NodeId, Node | None] = DataLoader(load_fn=self._load_nodes)
        self._neighbours: dict[tuple[Rel, Direction], DataLoader[NodeId, list[Neighbour]]] = {}

    def neighbours(self, rel: Rel, direction: Direction) -> DataLoader[NodeId, list[Neighbour]]:
        key = (rel, direction)
        if key not in self._neighbours:
            async def load(ids: Sequence[NodeId]) -> list[list[Neighbour]]:
                found = await self._services.graph.neighbours(self._tenant, ids, rel, direction)
                for nbs in found.values():  # the nodes at the far end are loaded too: prime them
                    for nb in nbs:
                        self.node.prime(nb.node.id, nb.node)
                return [found[i] for i in ids]

            self._neighbours[key] = DataLoader(load_fn=load)
        return self._neighbours[key]

    def forget(self) -> None:
        """After a mutation: drop everything cached, so the answer reads the new state."""
        self.node.clear_all()
        for loader in self._neighbours.values():
            loader.clear_all()

    async def _load_nodes(self, ids: Sequence[NodeId]) -> list[Node | None]:
        found = await self._services.graph.get(self._tenant, ids)
        return [found.get(i) for i in ids]
