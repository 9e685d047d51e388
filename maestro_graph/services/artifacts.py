"""Artifacts: registration, search and usage by projects (which drives their impact score)."""

from __future__ import annotations

from maestro_graph.auth.principal import Principal
from maestro_graph.domain.graph import ChangeSet, Edge, Label, Node, NodeQuery, Page, Rel
from maestro_graph.domain.clock import now
from maestro_graph.domain.props import validate_rel_props
from maestro_graph.services.graph import GraphService
from maestro_graph.types import Direction, NodeId, Props, Tenant


class ArtifactService:
    def __init__(self, graph: GraphService) -> None:
        self.graph = graph

    async def register(self, actor: Principal, props: Props, created_by: NodeId | None = None) -> Node:
        async with self.graph.commits.operation(actor, "registerArtifact", ids=[created_by] if created_by else []) as op:
            tenant = actor.tenant
            artifact = self.graph.build(tenant, Label.ARTIFACT, props)
            links = []
            if created_by is not None:
                await self.graph.require(tenant, [created_by], Label.PERSON, field="createdBy")
                links.append(Edge(Rel.CREATED_BY, artifact.id, created_by))
            written = await op.commit(ChangeSet(create=[artifact], link=links))
            return written[artifact.id]

    async def search(self, tenant: Tenant, query: NodeQuery) -> Page:
        assert query.label is Label.ARTIFACT, "search() lists artifacts"
        return await self.graph.find(tenant, query)

    async def log_usage(self, actor: Principal, project_id: NodeId, artifact_id: NodeId,
                        impact_score: float, at: str | None = None) -> Node:
        """Record that a project uses an artifact, and refresh the artifact's usage count and
        impact score (the mean over the projects using it). Logging the same pair again replaces
        that project's score rather than counting it twice."""
        async with self.graph.commits.operation(actor, "logArtifactUsage", ids=[project_id, artifact_id]) as op:
            tenant = actor.tenant
            await self.graph.require(tenant, [project_id], Label.PROJECT, field="projectId")
            await self.graph.require(tenant, [artifact_id], Label.ARTIFACT, field="artifactId")
            written = await op.commit(await self.usage_changes(tenant, project_id, artifact_id, ChangeSet(), impact_score, at))
            return written[artifact_id]

    async def usage_changes(self, tenant: Tenant, project_id: NodeId, artifact_id: NodeId, changes: ChangeSet,
                            impact_score: float | None = None, at: str | None = None) -> ChangeSet:
        """`changes` with the project's use of the artifact added: the USES link and the artifact's
        refreshed usage count and impact score. No `impact_score` (a training job ran the
        template): the project keeps the score it gave, and a new user counts with the
        artifact's current mean, which leaves the mean as it is."""
        users = (await self.graph.neighbours(tenant, [artifact_id], Rel.USES, Direction.IN))[artifact_id]
        scores = {nb.node.id: float(nb.edge.props.get("impact_score", 0.0)) for nb in users}  # type: ignore[arg-type]
        if impact_score is None:
            current = (await self.graph.get(tenant, [artifact_id]))[artifact_id]
            impact_score = scores.get(project_id, float(current.props.get("impact_score") or 0.0))
        usage = validate_rel_props(Rel.USES, {"impact_score": impact_score, "at": at or now()})
        scores[project_id] = float(usage["impact_score"])  # type: ignore[arg-type]
        patch = {"usage_count": len(scores), "impact_score": round(sum(scores.values()) / len(scores), 4)}
        changes.link.append(Edge(Rel.USES, project_id, artifact_id, usage))
        changes.update.append((artifact_id, patch))
        return changes
