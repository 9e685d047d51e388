"""Business rules. Each service takes a GraphStore (through GraphService) and nothing from GraphQL."""

from __future__ import annotations

from dataclasses import dataclass

from maestro_graph.services.artifacts import ArtifactService
from maestro_graph.services.graph import GraphService
from maestro_graph.services.lineage import LineageService
from maestro_graph.services.projects import ProjectService
from maestro_graph.store.base import GraphStore


@dataclass(frozen=True)
class Services:
    store: GraphStore
    graph: GraphService
    projects: ProjectService
    artifacts: ArtifactService
    lineage: LineageService

    @classmethod
    def build(cls, store: GraphStore) -> "Services":
        graph = GraphService(store)
        return cls(store, graph, ProjectService(graph), ArtifactService(graph), LineageService(store))
