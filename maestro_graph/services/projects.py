"""Projects: creation with members, process metrics, metric summaries and development velocity."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from maestro_graph.auth.principal import Principal
from maestro_graph.domain.graph import ChangeSet, Edge, Label, Node, Rel
from maestro_graph.domain.props import validate_rel_props
from maestro_graph.services.graph import GraphService
from maestro_graph.types import Direction, NodeId, Props, Tenant


@dataclass(frozen=True)
class MetricSummary:
    type: str
    count: int
    latest: float
    latest_at: str
    mean: float
    min: float
    max: float


@dataclass(frozen=True)
class Velocity:
    """How fast a project moves, from its commits_per_week series.

    trend_per_week: least-squares slope of commits/week per week of calendar time.
    trend: "accelerating" / "slowing" when the slope is over 5% of the mean a week, else "steady".
    """

    commits_per_week: float | None
    trend_per_week: float | None
    trend: str
    avg_pr_merge_hours: float | None
    ci_success_rate: float | None
    samples: int


def summarise(metrics: Sequence[Node]) -> list[MetricSummary]:
    by_type: dict[str, list[Node]] = defaultdict(list)
    for m in metrics:
        by_type[str(m.props["type"])].append(m)
    out = []
    for kind in sorted(by_type):
        series = sorted(by_type[kind], key=lambda m: (str(m.props["at"]), m.id))
        values = [float(m.props["value"]) for m in series]  # type: ignore[arg-type]
        out.append(MetricSummary(kind, len(values), values[-1], str(series[-1].props["at"]),
                                 sum(values) / len(values), min(values), max(values)))
    return out


def _weeks(at: str) -> float:
    return datetime.fromisoformat(at.replace("Z", "+00:00")).timestamp() / (7 * 86400)


def velocity(metrics: Sequence[Node]) -> Velocity:
    summary = {s.type: s for s in summarise(metrics)}
    commits = sorted((_weeks(str(m.props["at"])), float(m.props["value"]))  # type: ignore[arg-type]
                     for m in metrics if m.props["type"] == "commits_per_week")
    slope = None
    trend = "unknown"
    if len(commits) >= 2:
        xs, ys = [x for x, _ in commits], [y for _, y in commits]
        mx, my = sum(xs) / len(xs), sum(ys) / len(ys)
        var = sum((x - mx) ** 2 for x in xs)
        slope = sum((x - mx) * (y - my) for x, y in commits) / var if var else 0.0
        threshold = 0.05 * abs(my)
        trend = "accelerating" if slope > threshold else "slowing" if slope < -threshold else "steady"
    latest = lambda t: summary[t].latest if t in summary else None  # noqa: E731
    return Velocity(latest("commits_per_week"), slope, trend, latest("avg_pr_merge_hours"),
                    latest("ci_success_rate"), len(commits))


class ProjectService:
    def __init__(self, graph: GraphService) -> None:
        self.graph = graph

    async def create(self, actor: Principal, props: Props, members: Sequence[tuple[NodeId, str]] = ()) -> Node:
        """A project and its memberships, in one transaction."""
        async with self.graph.commits.operation(actor, "createProject", ids=[pid for pid, _ in members]) as op:
            tenant = actor.tenant
            project = self.graph.build(tenant, Label.PROJECT, props)
            links = [Edge(Rel.MEMBER_OF, pid, project.id, validate_rel_props(Rel.MEMBER_OF, {"role": role}))
                     for pid, role in members]
            await self.graph.require(tenant, [pid for pid, _ in members], Label.PERSON, field="members")
            written = await op.commit(ChangeSet(create=[project], link=links))
            return written[project.id]

    async def add_members(self, actor: Principal, project_id: NodeId, members: Sequence[tuple[NodeId, str]]) -> None:
        ids = [project_id] + [pid for pid, _ in members]
        async with self.graph.commits.operation(actor, "addProjectMembers", ids=ids) as op:
            tenant = actor.tenant
            await self.graph.require(tenant, [project_id], Label.PROJECT, field="projectId")
            await self.graph.require(tenant, [pid for pid, _ in members], Label.PERSON, field="personId")
            cs = await self.graph.link_changes(tenant, [Edge(Rel.MEMBER_OF, pid, project_id, {"role": role}) for pid, role in members])
            await op.commit(cs)

    async def attach(self, actor: Principal, operation: str, project_id: NodeId, label: Label, rel: Rel,
                     items: Sequence[Props]) -> list[Node]:
        """Nodes that only exist under a project (metrics, predictions), created with their link
        in one transaction."""
        async with self.graph.commits.operation(actor, operation, ids=[project_id]) as op:
            tenant = actor.tenant
            await self.graph.require(tenant, [project_id], Label.PROJECT, field="projectId")
            new = [self.graph.build(tenant, label, p) for p in items]
            cs = ChangeSet(create=new, link=[Edge(rel, project_id, n.id) for n in new])
            written = await op.commit(cs)
            return [written[n.id] for n in new]

    async def record_metrics(self, actor: Principal, project_id: NodeId, items: Sequence[Props]) -> list[Node]:
        return await self.attach(actor, "recordProjectMetrics", project_id, Label.METRIC, Rel.HAS_METRIC, items)

    async def add_predictions(self, actor: Principal, project_id: NodeId, items: Sequence[Props]) -> list[Node]:
        return await self.attach(actor, "createPrediction", project_id, Label.PREDICTION, Rel.HAS_PREDICTION, items)

    async def metrics(self, tenant: Tenant, project_ids: Sequence[NodeId]) -> dict[NodeId, list[Node]]:
        found = await self.graph.neighbours(tenant, project_ids, Rel.HAS_METRIC, Direction.OUT)
        return {pid: [nb.node for nb in found[pid]] for pid in project_ids}
