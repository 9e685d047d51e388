"""The meta-model service: trains on a tenant's finished projects, keeps the model in the store
(every replica loads the latest version), predicts a project's outcomes with intervals and
explanations, recommends a team size and artifacts, finds similar projects, scores earlier
predictions against outcomes, and rescores artifacts from outcomes.

Features come from domain/project_features.py, the model from domain/metamodel.py. Reads are
batched: training reads the whole tenant in a fixed number of store calls (one scan of nodes, six
relationship scans, and one read of the runs of the experiments projects own: eight calls)
whatever its size; a prediction reads one project's neighbourhood in a handful of neighbour calls.
"""

from __future__ import annotations

import asyncio
import logging
import math
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from maestro_graph.auth.principal import Principal
from maestro_graph.domain import metamodel as mm
from maestro_graph.domain import project_features as pf
from maestro_graph.domain.clock import now
from maestro_graph.domain.errors import BadInput, NotFound
from maestro_graph.domain.feed import FeedEntry
from maestro_graph.domain.graph import ChangeSet, Edge, Label, Node, Rel
from maestro_graph.domain.vocabulary import PROBLEM_CLASSES
from maestro_graph.services.feed import FeedFollower
from maestro_graph.services.graph import GraphService
from maestro_graph.types import Direction, NodeId, Props, Tenant

log = logging.getLogger("maestro_graph.metamodel")
BLOB = "metamodel"
DRAFT = "draft:project"  # the id a draft project has in its snapshot
PLAIN_FEATURES = ("team_size", "complexity", *(f"problem:{c}" for c in PROBLEM_CLASSES))  # the non-graph baseline
TEAM_SIZES = range(1, 11)
SHRINK = 5.0  # an artifact's outcome score leans towards the mean as if it had this many more average users
Progress = mm.Progress


@dataclass
class Draft:
    """A project not yet created."""

    problem_class: str
    complexity: int
    member_ids: list[NodeId] = field(default_factory=list)
    artifact_ids: list[NodeId] = field(default_factory=list)
    team_size: int | None = None


@dataclass
class Outcome:
    target: str
    value: float
    lower: float
    upper: float
    bias: float = 0.0
    contributions: list[tuple[str, float, float]] = field(default_factory=list)  # (feature, its value, contribution)


@dataclass
class ProjectForecast:
    project_id: NodeId | None
    model_version: int
    as_of: str
    outcomes: dict[str, Outcome]
    stored: list[Node] = field(default_factory=list)


@dataclass
class Recommendation:
    artifact: Node
    uplift: float
    success: float
    why: list[tuple[str, float, float]]


@dataclass
class Similar:
    project: Node
    distance: float
    shared_members: list[NodeId]
    shared_artifacts: list[NodeId]


# What a feature reads: a change touching none of these leaves every project's features as they
# were (a prediction's own Prediction nodes among them).
FEATURE_LABELS = frozenset(label.value for label in (Label.PROJECT, Label.PERSON, Label.ARTIFACT, Label.METRIC,
                                                     Label.DATASET, Label.FIELD, Label.RUN))
FEATURE_RELS = frozenset(rel.value for rel in (Rel.MEMBER_OF, Rel.USES, Rel.HAS_METRIC, Rel.OWNS, Rel.HAS_FIELD, Rel.FEEDS,
                                               Rel.OF_JOB))
INDEX_MAX_PROJECTS = 200_000  # a bigger tenant is read around each project instead


def touches_features(entry: FeedEntry) -> bool:
    return entry.truncated or any(
        label in FEATURE_LABELS for by in (entry.created, entry.updated, entry.deleted) for label in by
    ) or any(rel in FEATURE_RELS for by in (entry.linked, entry.unlinked) for rel in by)


class FeatureIndex:
    """Each tenant's feature snapshot in memory, so a prediction reads no store, kept current by
    the change feed like the lineage index: a change that touches what features read marks the
    tenant's snapshot stale, and the next prediction reads around its project in the store (the
    same features: tests/contract/test_metamodel_reads.py) while the snapshot is read again in
    the background. Another process's change is seen at the feed's next poll."""

    def __init__(self, service: "MetaModels", feed: FeedFollower | None) -> None:
        self.service, self.feed = service, feed
        self._fresh: dict[Tenant, pf.Snapshot] = {}
        self._reading: dict[Tenant, asyncio.Task[None]] = {}
        self._stale_since_read: set[Tenant] = set()
        self._stop = feed.consume(self._entry) if feed is not None else None

    def _entry(self, entry: FeedEntry, stored: Mapping[NodeId, Node] | None) -> None:
        if touches_features(entry):
            self._fresh.pop(entry.tenant, None)
            self._stale_since_read.add(entry.tenant)

    async def get(self, tenant: Tenant) -> pf.Snapshot | None:
        """The tenant's snapshot if it is current, else None (and a read of it is started)."""
        if self.feed is None:
            return None
        found = self._fresh.get(tenant)
        if found is not None:
            return found
        if tenant not in self._reading:
            self._reading[tenant] = asyncio.create_task(self._read(tenant))
        return None

    async def _read(self, tenant: Tenant) -> None:
        try:
            assert self.feed is not None
            await self.feed.follow(tenant)
            self._stale_since_read.discard(tenant)
            snap = await self.service.snapshot(tenant)
            if tenant not in self._stale_since_read and len(snap.projects) <= INDEX_MAX_PROJECTS:
                self._fresh[tenant] = snap
        except Exception:  # noqa: BLE001 - predictions read the store meanwhile; the next one tries again
            log.exception("could not read the meta-model's feature snapshot", extra={"tenant": tenant})
        finally:
            self._reading.pop(tenant, None)

    def close(self) -> None:
        if self._stop is not None:
            self._stop()
        for task in self._reading.values():
            task.cancel()


class MetaModels:
    def __init__(self, graph: GraphService, feed: FeedFollower | None = None) -> None:
        self.graph = graph
        self.store = graph.store
        self._loaded: dict[Tenant, mm.MetaModel] = {}
        self.index = FeatureIndex(self, feed)

    # -- reading the graph ------------------------------------------------------------------
    async def snapshot(self, tenant: Tenant) -> pf.Snapshot:
        """The whole tenant as features need it, in eight store calls (seven when projects own nothing)."""
        snap = pf.Snapshot()
        metrics: dict[NodeId, Props] = {}
        async for chunk in self.store.scan_node_props(tenant, [Label.PROJECT, Label.METRIC]):
            for n in chunk:
                (snap.projects if n.label is Label.PROJECT else metrics)[n.id] = n.props
        async for edges in self.store.scan_edges(tenant, Rel.MEMBER_OF, with_props=True):
            for person, project, props in edges:
                snap.member(project, person, str((props or {}).get("role", "member")))
        async for edges in self.store.scan_edges(tenant, Rel.USES, with_props=True):
            for project, artifact, props in edges:
                snap.use(project, artifact, props or {})
        async for edges in self.store.scan_edges(tenant, Rel.HAS_METRIC):
            for project, metric, _ in edges:
                if metric in metrics:
                    snap.metrics.setdefault(project, []).append(metrics[metric])
        async for edges in self.store.scan_edges(tenant, Rel.OWNS):
            for owner, owned, _ in edges:
                if owner in snap.projects:  # a project's (people own things too); datasets among them count
                    snap.datasets.setdefault(owner, []).append(owned)
        owned_any = {d for ds in snap.datasets.values() for d in ds}
        async for edges in self.store.scan_edges(tenant, Rel.HAS_FIELD):
            for dataset, _, _ in edges:
                snap.fields[dataset] = snap.fields.get(dataset, 0) + 1
        datasets_seen = set(snap.fields)
        async for edges in self.store.scan_edges(tenant, Rel.FEEDS):
            for src, dst, _ in edges:
                snap.upstream.setdefault(dst, []).append(src)
                datasets_seen.update((src, dst))
        # OWNS also reaches models and jobs: keep the datasets only (those with columns or lineage).
        others: dict[NodeId, list[NodeId]] = {}  # what else projects own -> the projects: experiments among them
        for project, owned in snap.datasets.items():
            snap.datasets[project] = [d for d in owned if d in datasets_seen or d not in owned_any]
            for o in owned:
                if o not in datasets_seen:
                    others.setdefault(o, []).append(project)
        # The MLflow runs of the experiments projects own: one call for every project, with the runs' props.
        if others:
            for job, nbs in (await self.store.neighbours(tenant, sorted(others), Rel.OF_JOB, Direction.IN)).items():
                for project in others[job]:
                    pf.add_runs(snap, project, (nb.node.props for nb in nbs))
        return snap

    async def neighbourhood(self, tenant: Tenant, project_id: NodeId | None, draft: Draft | None) -> tuple[pf.Snapshot, NodeId]:
        """One project's (or a draft's) neighbourhood: its members and their projects, its
        artifacts and their users, its metrics and datasets with their upstream."""
        snap = pf.Snapshot()
        graph = self.store
        if draft is not None:
            pid = await self._add_draft(tenant, snap, draft)
        else:
            assert project_id is not None
            pid = project_id
            node = (await self.graph.require(tenant, [pid], Label.PROJECT, field="projectId"))[pid]
            snap.projects[pid] = node.props
            # The first hop: four independent reads, at once.
            members, uses, metrics, owns = await asyncio.gather(*(
                graph.neighbours(tenant, [pid], rel, direction) for rel, direction in (
                    (Rel.MEMBER_OF, Direction.IN), (Rel.USES, Direction.OUT), (Rel.HAS_METRIC, Direction.OUT),
                    (Rel.OWNS, Direction.OUT))))
            for nb in members[pid]:
                snap.member(pid, nb.node.id, str(nb.edge.props.get("role", "member")))
            for nb in uses[pid]:
                snap.use(pid, nb.node.id, nb.edge.props)
            for nb in metrics[pid]:
                snap.metrics.setdefault(pid, []).append(nb.node.props)
            owned = [nb.node.id for nb in owns[pid] if nb.node.label is Label.DATASET]
            snap.datasets[pid] = owned
            experiments = [nb.node.id for nb in owns[pid] if nb.node.label is Label.JOB]
            if experiments:
                for nbs in (await graph.neighbours(tenant, experiments, Rel.OF_JOB, Direction.IN)).values():
                    pf.add_runs(snap, pid, (nb.node.props for nb in nbs))
            if owned:
                for d, nbs in (await graph.neighbours(tenant, owned, Rel.HAS_FIELD, Direction.OUT)).items():
                    snap.fields[d] = len(nbs)
                frontier, seen = owned, set(owned)
                for _ in range(pf.MAX_LINEAGE_DEPTH):
                    ups = await graph.neighbours(tenant, frontier, Rel.FEEDS, Direction.IN)
                    frontier = []
                    for d, nbs in ups.items():
                        snap.upstream[d] = [nb.node.id for nb in nbs]
                        frontier += [nb.node.id for nb in nbs if nb.node.id not in seen]
                    seen.update(frontier)
                    if not frontier:
                        break
        # The second hop, both sides at once: the members' other projects and the artifacts' other users.
        people = [p for p, _ in snap.members.get(pid, [])]
        chosen = [a for a, _ in snap.uses.get(pid, [])]
        no_hop: dict[NodeId, list[Any]] = {}
        teams, users = await asyncio.gather(
            graph.neighbours(tenant, people, Rel.MEMBER_OF, Direction.OUT) if people else _none(no_hop),
            graph.neighbours(tenant, chosen, Rel.USES, Direction.IN) if chosen else _none(no_hop))
        for person, nbs in teams.items():
            for nb in nbs:
                snap.projects.setdefault(nb.node.id, nb.node.props)
                if nb.node.id != pid:
                    snap.projects_of.setdefault(person, []).append(nb.node.id)
        for artifact, nbs in users.items():
            for nb in nbs:
                if nb.node.id != pid:
                    snap.projects.setdefault(nb.node.id, nb.node.props)
                    snap.users.setdefault(artifact, []).append((nb.node.id, nb.edge.props))
        return snap, pid

    async def _add_draft(self, tenant: Tenant, snap: pf.Snapshot, draft: Draft) -> NodeId:
        """Put a draft project into `snap`, with its members and artifacts (which must exist)."""
        snap.projects[DRAFT] = pf.draft_props(draft.problem_class, draft.complexity, draft.team_size, now())
        if draft.member_ids:
            await self.graph.require(tenant, draft.member_ids, Label.PERSON, field="memberIds")
        if draft.artifact_ids:
            await self.graph.require(tenant, draft.artifact_ids, Label.ARTIFACT, field="artifactIds")
        for person in dict.fromkeys(draft.member_ids):
            snap.member(DRAFT, person, "member")
        for artifact in dict.fromkeys(draft.artifact_ids):
            snap.use(DRAFT, artifact, {"at": now()})
        return DRAFT

    # -- the model --------------------------------------------------------------------------
    async def train(self, actor: Principal, progress: Progress = mm._quiet) -> mm.MetaModel:
        """Train on the tenant's finished projects and store the model (a new version); then
        rescore the artifacts from outcomes. BAD_USER_INPUT with fewer than MIN_PROJECTS."""
        async with self.graph.commits.operation(actor, "trainMetaModel") as op:
            tenant = actor.tenant
            progress("reading the graph", 0, 1)
            snap = await self.snapshot(tenant)
            ids, rows, targets, roles = pf.training_rows(snap)
            names = pf.feature_names(roles)
            version = await self.store.blob_version(tenant, BLOB) + 1
            # CPU-bound for seconds: off the event loop, so the server keeps answering meanwhile.
            model = await asyncio.to_thread(mm.fit, rows, targets, names, roles, version=version, trained_at=now(),
                                            ids=ids, progress=progress)
            model.version = await self.store.put_blob(tenant, BLOB, await asyncio.to_thread(model.to_bytes))
            self._loaded[tenant] = model
            await op.commit(ChangeSet(), audit_ids=[])
        await self.score_artifacts(actor, snap)
        return model

    async def evaluate(self, tenant: Tenant, progress: Progress = mm._quiet
                       ) -> tuple[dict[str, dict[str, dict[str, float]]], int, int]:
        """(report, projects, cut): the meta-model trained on the projects that finished first
        (four fifths) and tested on those that finished after, and 5-fold cross-validated,
        beside the training mean and XGBoost on the non-graph features (mm.evaluate)."""
        progress("reading the graph", 0, 1)
        snap = await self.snapshot(tenant)
        ids, rows, targets, roles = pf.training_rows(snap)
        if len(ids) < mm.MIN_PROJECTS:
            raise BadInput(f"evaluating needs at least {mm.MIN_PROJECTS} finished projects; this tenant has {len(ids)}",
                           field="projects")
        order = sorted(range(len(ids)), key=lambda i: (pf.epoch(snap.projects[ids[i]].get("finished_at")), ids[i]))
        cut = int(len(order) * 0.8)
        names = pf.feature_names(roles)
        report = await asyncio.to_thread(mm.evaluate, [rows[i] for i in order],
                                         {t: [v[i] for i in order] for t, v in targets.items()}, names, cut,
                                         PLAIN_FEATURES, progress)
        return report, len(ids), cut

    async def model(self, tenant: Tenant) -> mm.MetaModel:
        """The tenant's latest model (loaded again only when another process stored a newer one)."""
        version = await self.store.blob_version(tenant, BLOB)
        cached = self._loaded.get(tenant)
        if cached is not None and cached.version == version:
            return cached
        found = await self.store.get_blob(tenant, BLOB)
        if found is None:
            raise NotFound("no meta-model has been trained for this tenant yet: run trainMetaModel "
                           "(or `maestro-graph metamodel train`)", field="metaModel")
        model = await asyncio.to_thread(mm.MetaModel.from_bytes, found[1])
        model.version = found[0]
        self._loaded[tenant] = model
        return model

    async def _row(self, tenant: Tenant, model: mm.MetaModel, project_id: NodeId | None, draft: Draft | None
                   ) -> tuple[pf.Snapshot, NodeId, float, list[float]]:
        if (project_id is None) == (draft is None):
            raise BadInput("give exactly one of projectId and draft", field="projectId")
        if draft is not None:
            _check_draft(draft)
        indexed = await self.index.get(tenant)
        if indexed is not None and project_id is not None and project_id in indexed.projects:
            snap, pid = indexed, project_id
        else:
            snap, pid = await self.neighbourhood(tenant, project_id, draft)
        props = snap.projects[pid]
        # A finished project is predicted as of its start (what one would have said then); any
        # other, as of now.
        t = snap.as_of(pid) if props.get("status") == "finished" and props.get("started_at") else time.time()
        return snap, pid, t, _features(model, snap, pid, t)

    async def predict(self, actor: Principal, project_id: NodeId | None = None, draft: Draft | None = None
                      ) -> ProjectForecast:
        """Success, duration and cost with 80% intervals and what drives each; stored as
        Prediction nodes of the project (a draft's are not stored)."""
        tenant = actor.tenant
        async with self.graph.commits.operation(actor, "predictProject", ids=[project_id] if project_id else []) as op:
            model = await self.model(tenant)
            _, pid, t, row = await self._row(tenant, model, project_id, draft)
            outcomes = _outcomes(model, row)
            forecast = ProjectForecast(project_id, model.version, _stamp(t), outcomes)
            if project_id is not None:
                inputs = {n: v for n, v in zip(model.features, row) if not math.isnan(v)}
                preds = [self.graph.build(tenant, Label.PREDICTION, {
                    "target": o.target, "value": o.value, "lower": o.lower, "upper": o.upper,
                    "model_version": f"metamodel-v{model.version}", "inputs": inputs,
                    "explanation": {f: c for f, _, c in o.contributions}}) for o in outcomes.values()]
                written = await op.commit(ChangeSet(create=preds, link=[Edge(Rel.HAS_PREDICTION, pid, p.id) for p in preds]))
                forecast.stored = [written[p.id] for p in preds]
        return forecast

    async def team_sizes(self, tenant: Tenant, project_id: NodeId | None, draft: Draft | None
                         ) -> tuple[int, list[tuple[int, dict[str, Outcome]]], int]:
        """(the best size, outcomes for each size 1..10, model version): the project as it is, its
        team size alone changed; best = the highest predicted success (the smaller on a tie)."""
        model = await self.model(tenant)
        _, _, _, row = await self._row(tenant, model, project_id, draft)
        rows = [pf.with_team_size(row, model.features, size) for size in TEAM_SIZES]
        predicted = model.predict(rows)
        options = [(size, {t: Outcome(t, p[i].value, p[i].lower, p[i].upper) for t, p in predicted.items()})
                   for i, size in enumerate(TEAM_SIZES)]
        best = max(options, key=lambda o: (round(o[1]["success_score"].value, 6), -o[0]))[0]
        return best, options, model.version

    async def recommend_artifacts(self, tenant: Tenant, project_id: NodeId | None, draft: Draft | None, first: int
                                  ) -> tuple[list[Recommendation], int]:
        """Artifacts the project does not use, by how much adding each raises its predicted
        success, each with the features that make the difference."""
        model = await self.model(tenant)
        if (project_id is None) == (draft is None):
            raise BadInput("give exactly one of projectId and draft", field="projectId")
        snap = await self.snapshot(tenant)  # every artifact's users, to weigh each candidate
        if draft is not None:
            _check_draft(draft)
            pid = await self._add_draft(tenant, snap, draft)
        else:
            assert project_id is not None
            await self.graph.require(tenant, [project_id], Label.PROJECT, field="projectId")
            pid = project_id
        t = time.time()
        base = _features(model, snap, pid, t)
        used = {a for a, _ in snap.uses.get(pid, [])}
        candidates = sorted(a for a in snap.users if a not in used)
        candidates += [a for a in await self._all_artifacts(tenant) if a not in used and a not in snap.users]
        rows = []
        for artifact in candidates:
            snap.uses.setdefault(pid, []).append((artifact, {"at": now()}))
            rows.append(_features(model, snap, pid, t))
            snap.uses[pid].pop()
        if not rows:
            return [], model.version
        base_pred = float(model.median([base], "success_score")[0])
        medians = model.median(rows, "success_score")
        order = np.argsort(-(medians - base_pred), kind="stable")[:first]
        contribs = model.contributions([base] + [rows[i] for i in order], "success_score")
        nodes = await self.graph.get(tenant, [candidates[i] for i in order])
        out = []
        for rank, i in enumerate(order):
            delta = contribs[rank + 1][:-1] - contribs[0][:-1]
            top = np.argsort(-np.abs(delta))[:3]
            why = [(model.features[j], float(rows[i][j]), float(delta[j])) for j in top if abs(delta[j]) > 1e-9]
            node = nodes.get(candidates[i])
            if node is not None:
                out.append(Recommendation(node, float(medians[i] - base_pred), float(medians[i]), why))
        return out, model.version

    async def _all_artifacts(self, tenant: Tenant) -> list[NodeId]:
        ids: list[NodeId] = []
        async for chunk in self.store.scan_nodes(tenant, [Label.ARTIFACT]):
            ids += [i for i, _, _ in chunk]
        return sorted(ids)

    async def similar(self, tenant: Tenant, project_id: NodeId | None, draft: Draft | None, first: int
                      ) -> tuple[list[Similar], int]:
        """The nearest finished projects the model was trained on, on its features (each scaled
        by its spread in training; a feature missing on either side counts as average)."""
        model = await self.model(tenant)
        snap, pid, _, row = await self._row(tenant, model, project_id, draft)
        x = model.train_rows.astype(np.float64)
        if not len(x):
            return [], model.version
        mean, std = np.nanmean(x, axis=0), np.nanstd(x, axis=0)
        std[~np.isfinite(std) | (std == 0)] = 1.0
        mean[~np.isfinite(mean)] = 0.0
        z = np.nan_to_num((x - mean) / std)
        me = np.nan_to_num((np.asarray(row, dtype=np.float64) - mean) / std)
        distance = np.sqrt(((z - me) ** 2).sum(axis=1))
        order = [i for i in np.argsort(distance, kind="stable") if model.train_ids[i] != pid][:first]
        ids = [model.train_ids[i] for i in order]
        nodes = await self.graph.get(tenant, ids)
        members = await self.store.neighbours(tenant, ids, Rel.MEMBER_OF, Direction.IN) if ids else {}
        uses = await self.store.neighbours(tenant, ids, Rel.USES, Direction.OUT) if ids else {}
        mine_people = {p for p, _ in snap.members.get(pid, [])}
        mine_artifacts = {a for a, _ in snap.uses.get(pid, [])}
        out = []
        for i in order:
            q = model.train_ids[i]
            if q in nodes:
                out.append(Similar(nodes[q], float(distance[i]),
                                   sorted(nb.node.id for nb in members.get(q, []) if nb.node.id in mine_people),
                                   sorted(nb.node.id for nb in uses.get(q, []) if nb.node.id in mine_artifacts)))
        return out, model.version

    async def live(self, tenant: Tenant) -> dict[str, dict[str, float]]:
        """How the meta-model's stored predictions did on projects that finished after them:
        target -> mae, coverage (of the interval), n. Read from the graph on each call."""
        predictions: dict[NodeId, Props] = {}
        made: dict[NodeId, str] = {}
        projects: dict[NodeId, Props] = {}
        async for chunk in self.store.scan_node_props(tenant, [Label.PREDICTION, Label.PROJECT]):
            for n in chunk:
                if n.label is Label.PREDICTION:
                    if str(n.props.get("model_version", "")).startswith("metamodel-v"):
                        predictions[n.id], made[n.id] = n.props, n.created_at
                else:
                    projects[n.id] = n.props
        errors: dict[str, list[float]] = {t: [] for t in pf.TARGETS}
        inside: dict[str, list[float]] = {t: [] for t in pf.TARGETS}
        async for edges in self.store.scan_edges(tenant, Rel.HAS_PREDICTION):
            for project, prediction, _ in edges:
                p, props = predictions.get(prediction), projects.get(project)
                if p is None or props is None or props.get("status") != "finished":
                    continue
                target, outcome = p["target"], props.get(p["target"])
                if outcome is None or not pf.epoch(made[prediction]) < pf.epoch(props.get("finished_at")):
                    continue  # not finished yet, or predicted after the outcome was known
                errors[target].append(abs(float(outcome) - float(p["value"])))
                inside[target].append(1.0 if float(p["lower"]) <= float(outcome) <= float(p["upper"]) else 0.0)
        return {t: {"mae": float(np.mean(errors[t])) if errors[t] else float("nan"),
                    "coverage": float(np.mean(inside[t])) if inside[t] else float("nan"), "n": len(errors[t])}
                for t in pf.TARGETS}

    async def score_artifacts(self, actor: Principal, snap: pf.Snapshot | None = None) -> int:
        """Rescore every used artifact from the outcomes of the finished projects using it:
        impact = 10 · (Σ success/100 + k · mean/100) / (n + k), with k = SHRINK and `mean` the mean
        success of all finished projects, so an artifact used by few projects stays near the
        mean. How many artifacts changed."""
        tenant = actor.tenant
        async with self.graph.commits.operation(actor, "scoreArtifacts") as op:
            snap = snap or await self.snapshot(tenant)
            done = {p: float(props["success_score"]) for p, props in snap.projects.items()
                    if props.get("status") == "finished" and props.get("success_score") is not None}
            if not done:
                return 0
            mean = sum(done.values()) / len(done)
            patches = []
            for artifact, users in snap.users.items():
                outcomes = [done[p] for p in {p for p, _ in users} if p in done]
                score = round(10 * (sum(outcomes) / 100 + SHRINK * mean / 100) / (len(outcomes) + SHRINK), 4)
                patches.append((artifact, {"impact_score": score}))
            present = await self.graph.get(tenant, [a for a, _ in patches])
            patches = [(a, p) for a, p in patches if a in present and present[a].props.get("impact_score") != p["impact_score"]]
            if patches:
                await op.commit(ChangeSet(update=patches))
            return len(patches)


def _features(model: mm.MetaModel, snap: pf.Snapshot, pid: NodeId, t: float) -> list[float]:
    """The project's row as `model` takes it: its own columns, in its order (pf.model_row)."""
    return pf.model_row(pf.features(snap, pid, t, model.roles), model.roles, model.features)


async def _none(value: dict[NodeId, list[Any]]) -> dict[NodeId, list[Any]]:
    return value


def _check_draft(draft: Draft) -> None:
    if draft.problem_class not in PROBLEM_CLASSES:
        raise BadInput(f"draft.problemClass: {draft.problem_class!r} is not a problem class", field="problemClass")
    if not 1 <= draft.complexity <= 10:
        raise BadInput(f"draft.complexityScore: must be from 1 to 10, got {draft.complexity}", field="complexityScore")
    if draft.team_size is not None and not 0 <= draft.team_size <= 10_000:
        raise BadInput(f"draft.teamSize: must be from 0 to 10000, got {draft.team_size}", field="teamSize")
    for name, ids in (("memberIds", draft.member_ids), ("artifactIds", draft.artifact_ids)):
        if len(ids) > 100:
            raise BadInput(f"draft.{name}: at most 100, got {len(ids)}", field=name)


def _outcomes(model: mm.MetaModel, row: list[float]) -> dict[str, Outcome]:
    out = {}
    for target, (preds, all_contribs) in model.explain([row]).items():
        contribs = all_contribs[0]
        top = [j for j in np.argsort(-np.abs(contribs[:-1]), kind="stable") if contribs[j] != 0.0]
        p = preds[0]
        out[target] = Outcome(target, p.value, p.lower, p.upper, float(contribs[-1]),
                              [(model.features[j], float(row[j]), float(contribs[j])) for j in top])
    return out


def _stamp(t: float) -> str:
    from datetime import datetime, timezone

    return datetime.fromtimestamp(t, timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
