"""MLflow into the graph: experiments, runs, registered models and their versions
(integrations/mlflow.py reads them), written as one ChangeSet per sync.

What MLflow becomes:
- an experiment: a Job in namespace `mlflow` named as the experiment;
- a run: a Run of that Job (run_id = MLflow's run id, state from its status, its params, metric
  summaries (last, min, max, steps), tags, user and dataset inputs in facets["mlflow"]);
- a registered model: a Model of the same name (an existing Model of that name is adopted),
  with mlflow_name and mlflow_tags;
- a model version: a ModelVersion (version, stage, mlflow_aliases, tags, the run's params and last
  metric values, mlflow_run_id, mlflow_model_uri, mlflow_model_id, and its framework from the
  logged model's flavors unless the version has one already), TRAINED_ON the datasets its
  run's inputs match (integrations/mlflow.py says how) and USES_FEATURE the fields their schemas
  name;
- a project: the tag `maestro.project` (a project's name or id) on a run, experiment or
  registered model, or MAESTRO_MLFLOW_PROJECTS (experiment=project), makes the Project OWN the
  experiment's Job and the Model;
- a training job: a run tagged `maestro.training_job` = a TrainingJob's id (a job gets its id as
  MAESTRO_TRAINING_JOB_ID and should `mlflow.set_tag("maestro.training_job", ...)` it) is named in
  the Run's facets, the TrainingJob is TRACKED_AS the Run, and it PRODUCED the versions registered
  from that run. TRACKED_AS is the sync's own on a synced run: a run whose tag changes or goes
  loses it, a deleted run takes it with it.

Each sync reads everything active in MLflow first, then writes the difference with the graph in
one ChangeSet (audited as syncMlflow), so a sync that fails writes nothing, and a sync that finds
nothing new writes nothing (no feed entry). What the last sync saw is kept per tenant and
tracking server in a blob: runs whose fingerprint did not change are not read again in full
(their metric histories), and what it saw that MLflow no longer has (deleted runs, versions,
registered models, experiments) is deleted from the graph.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import logging
import math
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any

from maestro_graph.auth.principal import Principal, system
from maestro_graph.domain import project_features as pf
from maestro_graph.domain.errors import MaestroError
from maestro_graph.domain.graph import ChangeSet, Edge, Label, Node, NodeQuery, Rel
from maestro_graph.domain.keys import natural_key
from maestro_graph.domain.props import validate_props
from maestro_graph.integrations import mlflow as ml
from maestro_graph.services.graph import GraphService, parent_edge
from maestro_graph.settings import Settings
from maestro_graph.store.base import GraphStore
from maestro_graph.types import Direction, NodeId, Props, Tenant

log = logging.getLogger("maestro_graph.mlflow")

NAMESPACE = "mlflow"  # the namespace of the Jobs that experiments become
LEASE = "mlflow-sync"  # one server replica at a time follows MLflow
STATES = {"RUNNING": "RUNNING", "SCHEDULED": "START", "FINISHED": "COMPLETE", "FAILED": "FAIL", "KILLED": "ABORT"}
STAGES = {"None": "none", "Staging": "staging", "Production": "production", "Archived": "archived"}
# What the sync owns on the nodes it writes: other props (set by people or other services) stay.
RUN_PROPS = ("state", "started_at", "ended_at", "producer", "facets")
MODEL_PROPS = ("mlflow_name", "mlflow_tags")
VERSION_PROPS = ("stage", "metrics", "mlflow_run_id", "mlflow_model_uri", "mlflow_model_id", "mlflow_aliases", "mlflow_tags",
                 "params", "created_by", "registered_at")
OWNED_LINKS = (Rel.TRAINED_ON, Rel.USES_FEATURE)  # of a synced version: MLflow's word replaces what was there
OWNED_RUN_LINKS = (Rel.TRACKED_AS,)  # into a synced run: the same


Progress = Callable[[str, int, int], None]


def _quiet(what: str, done: int, of: int) -> None:
    pass


def parse_projects(text: str) -> dict[str, str]:
    """MAESTRO_MLFLOW_PROJECTS: experiment=project pairs, comma-separated.

    >>> parse_projects("churn=Churn model, fraud = p-123")
    {'churn': 'Churn model', 'fraud': 'p-123'}
    """
    pairs = (p.split("=", 1) for p in text.split(",") if "=" in p)
    return {k.strip(): v.strip() for k, v in pairs if k.strip() and v.strip()}


def stamp(ms: int | None) -> str | None:
    """An MLflow time (ms since the epoch) as the graph stores times.

    >>> stamp(1700000000123)
    '2023-11-14T22:13:20.123000Z'
    """
    if ms is None:
        return None
    return datetime.fromtimestamp(ms / 1000, tz=timezone.utc).isoformat().replace("+00:00", "Z")


def _finite(value: float) -> float | None:
    return value if math.isfinite(value) else None


@dataclass
class SyncResult:
    experiments: int = 0
    runs: int = 0
    models: int = 0
    versions: int = 0
    created: int = 0
    updated: int = 0
    deleted: int = 0
    linked: int = 0
    unlinked: int = 0
    unmatched: list[str] = field(default_factory=list)  # dataset sources no dataset of the tenant matched

    @property
    def changed(self) -> bool:
        return any((self.created, self.updated, self.deleted, self.linked, self.unlinked))

    def summary(self) -> str:
        seen = f"{self.experiments} experiments, {self.runs} runs, {self.models} registered models, {self.versions} versions"
        if not self.changed:
            return f"{seen}; the graph was up to date"
        return (f"{seen}; {self.created} nodes created, {self.updated} updated, {self.deleted} deleted, "
                f"{self.linked} relationships made, {self.unlinked} removed")


def cursor_name(uri: str) -> str:
    """The blob holding what the last sync of `uri` saw (per tenant: blobs are)."""
    return "mlflow-sync/" + hashlib.sha256(uri.encode()).hexdigest()[:24]


class MlflowSync:
    def __init__(self, graph: GraphService, rules: list[ml.DatasetRule] | None = None,
                 projects: dict[str, str] | None = None, **retry: Any) -> None:
        self.graph, self.store = graph, graph.store
        self.rules, self.projects = rules or [], projects or {}
        self.retry = retry  # integrations/mlflow.py with_retries' attempts and backoff

    @classmethod
    def from_settings(cls, graph: GraphService, settings: Settings) -> "MlflowSync":
        """The sync with the operator's dataset rules and project mapping (BadInput if unreadable)."""
        return cls(graph, ml.parse_rules(settings.mlflow_dataset_rules), parse_projects(settings.mlflow_projects))

    async def sync(self, actor: Principal, uri: str, progress: Progress = _quiet) -> SyncResult:
        """Bring the graph of the caller's tenant in line with the tracking server at `uri`.
        IntegrationUnavailable (nothing written) when MLflow cannot be read."""
        tenant = actor.tenant
        name = cursor_name(uri)
        blob = await self.store.get_blob(tenant, name)
        seen = json.loads(blob[1]) if blob else {}
        snap = await asyncio.to_thread(ml.read, uri, seen.get("runs", {}), progress, seen.get("frameworks", {}), **self.retry)
        progress("comparing with the graph", 0, 1)
        async with self.graph.commits.operation(actor, "syncMlflow") as op:
            changes, result = await self._plan(tenant, snap, seen)
            if changes:
                progress("writing", 0, 1)
                await op.commit(changes)
        now_seen = {"runs": {r.run_id: {"fingerprint": r.fingerprint, "metrics": r.metrics} for r in snap.runs},
                    "versions": sorted([v.model, v.version] for m in snap.models for v in m.versions),
                    "models": sorted(m.name for m in snap.models), "experiments": sorted(e.name for e in snap.experiments),
                    "frameworks": {v.source: v.framework for m in snap.models for v in m.versions if v.source and v.framework}}
        if now_seen != seen:
            await self.store.put_blob(tenant, name, json.dumps(now_seen, sort_keys=True).encode())
        progress("done", 1, 1)
        return result

    async def follow(self, tenant: Tenant, uri: str, interval: float, holder: str) -> None:
        """Sync every `interval` seconds while this process holds the store's lease (one replica
        at a time); a failed sync is logged and tried again at the next round."""
        actor = system(tenant, "mlflow-sync")
        while True:
            try:
                if await self.store.take_lease(LEASE, holder, max(60.0, 3 * interval)):
                    result = await self.sync(actor, uri)
                    if result.changed:
                        log.info("MLflow synced: %s", result.summary(), extra={"tenant": tenant})
            except MaestroError as err:
                log.warning("MLflow sync failed; trying again in %.0f s: %s", interval, err.message)
            except Exception:  # noqa: BLE001 - the next round tries again
                log.exception("MLflow sync failed")
            await asyncio.sleep(interval)

    # -- the difference between MLflow and the graph ----------------------------------------------
    async def _plan(self, tenant: Tenant, snap: ml.Snapshot, seen: dict[str, Any]) -> tuple[ChangeSet, SyncResult]:
        g, store = self.graph, self.store
        result = SyncResult(len(snap.experiments), len(snap.runs), len(snap.models), sum(len(m.versions) for m in snap.models))
        cs = ChangeSet()
        links: set[tuple[Rel, NodeId, NodeId]] = set()
        experiments = {e.id: e for e in snap.experiments}

        def upsert(label: Label, stored: Node | None, props: Props, managed: Iterable[str], *, merge: bool = False) -> NodeId:
            if stored is None:
                node = g.build(tenant, label, props)
                (cs.merge if merge else cs.create).append(node)
                result.created += 1
                if (edge := parent_edge(label, node.id, node.props)) is not None:
                    links.add((edge.rel, edge.src, edge.dst))
                return node.id
            patch = _patch(stored, props, managed)
            if patch:
                cs.update.append((stored.id, patch))
                result.updated += 1
            return stored.id

        # Experiments -> Jobs.
        job_props = {e.id: {"namespace": NAMESPACE, "name": e.name, "description": f"MLflow experiment {e.id}",
                            "integration": "MLFLOW", "job_type": "EXPERIMENT"}
                     for e in snap.experiments}
        jobs = await _by_key(store, tenant, Label.JOB, job_props.values())
        job_ids = {eid: upsert(Label.JOB, jobs.get(natural_key(Label.JOB, p)), p, ("description", "integration", "job_type"), merge=True)
                   for eid, p in job_props.items()}

        # Datasets and fields the runs' inputs name.
        datasets = await self._datasets(tenant, {d.source for r in snap.runs for d in r.inputs}, result)
        fields = await g.neighbours(tenant, sorted(set(datasets.values())), Rel.HAS_FIELD, Direction.OUT) if datasets else {}
        field_ids = {ds: {nb.node.props["path"]: nb.node.id for nb in nbs if nb.node.props.get("removed_in") is None}
                     for ds, nbs in fields.items()}

        # Training jobs and projects the tags name.
        job_refs = {r.tags[ml.TRAINING_JOB_TAG] for r in snap.runs if r.tags.get(ml.TRAINING_JOB_TAG)}
        training = {i: n for i, n in (await store.get_nodes(tenant, sorted(job_refs)) if job_refs else {}).items()
                    if n.label is Label.TRAINING_JOB}

        def project_ref(*tag_sets: dict[str, str], experiment: str | None = None) -> str | None:
            for tags in tag_sets:
                if tags.get(ml.PROJECT_TAG):
                    return tags[ml.PROJECT_TAG].strip()
            return self.projects.get(experiment) if experiment else None

        run_project = {r.run_id: project_ref(r.tags, experiments[r.experiment_id].tags,
                                             experiment=experiments[r.experiment_id].name)
                       for r in snap.runs if r.experiment_id in experiments}
        model_project = {m.name: project_ref(m.tags) or next(
            (run_project.get(v.run_id) for v in m.versions if run_project.get(v.run_id)), None) for m in snap.models}
        projects = await self._projects(tenant, {*run_project.values(), *model_project.values()} - {None})

        # Runs.
        runs = {r.run_id: r for r in snap.runs if r.experiment_id in experiments}
        run_nodes: list[NodeId] = []
        tracked: set[tuple[Rel, NodeId, NodeId]] = set()
        stored_runs = await _by_key(store, tenant, Label.RUN, ({"run_id": i} for i in runs))
        for r in runs.values():
            ident = {(d.source, d.name): datasets.get(d.source) for d in r.inputs}
            facets = {"mlflow": {
                "experiment_id": r.experiment_id, "run_name": r.name, "status": r.status, "user": r.user,
                "params": r.params, "tags": {k: v for k, v in r.tags.items() if k != "mlflow.log-model.history"},
                "metrics": {k: {s: _finite(v) if s != "steps" else int(v) for s, v in m.items()} for k, m in r.metrics.items()},
                "inputs": [{"name": d.name, "digest": d.digest, "source": d.source, "source_type": d.source_type,
                            "context": d.context, "columns": list(d.columns), "dataset_id": ident[(d.source, d.name)]}
                           for d in r.inputs],
                **({"training_job_id": r.tags[ml.TRAINING_JOB_TAG]} if r.tags.get(ml.TRAINING_JOB_TAG) in training else {}),
            }}
            props = {"run_id": r.run_id, "job_id": job_ids[r.experiment_id], "state": STATES.get(r.status, "OTHER"),
                     "started_at": stamp(r.start_time), "ended_at": stamp(r.end_time), "producer": pf.MLFLOW_PRODUCER,
                     "facets": facets}
            run_id = upsert(Label.RUN, stored_runs.get(natural_key(Label.RUN, props)), props, RUN_PROPS, merge=True)
            run_nodes.append(run_id)
            if (tj := r.tags.get(ml.TRAINING_JOB_TAG)) in training:
                tracked.add((Rel.TRACKED_AS, tj, run_id))
            if (project := projects.get(run_project.get(r.run_id))) is not None:
                links.add((Rel.OWNS, project, job_ids[r.experiment_id]))

        # Registered models and their versions.
        stored_models = await _by_key(store, tenant, Label.MODEL, ({"name": m.name} for m in snap.models))
        synced_versions: list[NodeId] = []
        owned: set[tuple[Rel, NodeId, NodeId]] = set()
        model_ids: dict[str, NodeId] = {}
        for m in snap.models:
            props = {"name": m.name, "mlflow_name": m.name, "mlflow_tags": m.tags or None,
                     **({"description": m.description} if m.description else {})}
            managed = MODEL_PROPS + (("description",) if m.description else ())
            model_ids[m.name] = model_id = upsert(Label.MODEL, stored_models.get(natural_key(Label.MODEL, props)), props, managed)
            if (project := projects.get(model_project.get(m.name))) is not None:
                links.add((Rel.OWNS, project, model_id))
        stored_versions = await _by_key(store, tenant, Label.MODEL_VERSION, (
            {"model_id": model_ids[m.name], "version": v.version} for m in snap.models for v in m.versions))
        for m in snap.models:
            model_id = model_ids[m.name]
            for v in m.versions:
                run = runs.get(v.run_id or "")
                model_ref = v.model_id or (v.source.removeprefix("models:/") if v.source.startswith("models:/m-") else None)
                stored = stored_versions.get(natural_key(Label.MODEL_VERSION, {"model_id": model_id, "version": v.version}))
                # The framework MLflow's flavors name, unless the version has one (a person's, or an earlier sync's).
                framework = v.framework if v.framework and not (stored and stored.props.get("framework")) else None
                props = {"model_id": model_id, "version": v.version, "stage": STAGES.get(v.stage, "none"),
                         "metrics": {k: s["last"] for k, s in run.metrics.items() if math.isfinite(s["last"])} if run else {},
                         "mlflow_run_id": v.run_id, "mlflow_model_uri": v.source or None, "mlflow_model_id": model_ref,
                         "mlflow_aliases": list(v.aliases) or None, "mlflow_tags": v.tags or None,
                         "params": (run.params or None) if run else None, "created_by": v.user or None,
                         "registered_at": stamp(v.created),
                         **({"description": v.description} if v.description else {}),
                         **({"framework": framework} if framework else {})}
                managed = VERSION_PROPS + (("description",) if v.description else ()) + (("framework",) if framework else ())
                version_id = upsert(Label.MODEL_VERSION, stored, props, managed)
                synced_versions.append(version_id)
                for d in run.inputs if run else ():
                    if (ds := datasets.get(d.source)) is not None:
                        owned.add((Rel.TRAINED_ON, version_id, ds))
                        owned.update((Rel.USES_FEATURE, version_id, f) for c in d.columns
                                     if (f := field_ids.get(ds, {}).get(c)) is not None)
                if run and (tj := run.tags.get(ml.TRAINING_JOB_TAG)) in training:
                    links.add((Rel.PRODUCED, tj, version_id))

        # Relationships: those the sync owns are replaced; others only added.
        existing: set[tuple[Rel, NodeId, NodeId]] = set()
        new_ids = {n.id for n in (*cs.create, *cs.merge)}
        for rel in OWNED_LINKS:
            for src, nbs in (await g.neighbours(tenant, synced_versions, rel, Direction.OUT) if synced_versions else {}).items():
                existing.update((rel, src, nb.node.id) for nb in nbs)
        stored_run_ids = sorted(set(run_nodes) - new_ids)
        for rel in OWNED_RUN_LINKS:
            for dst, nbs in (await g.neighbours(tenant, stored_run_ids, rel, Direction.IN) if stored_run_ids else {}).items():
                existing.update((rel, nb.node.id, dst) for nb in nbs)
        owned |= tracked
        for rel in (Rel.OWNS, Rel.PRODUCED):  # only added: read whether they are there
            ends = sorted({dst for r, _, dst in links if r is rel} - new_ids)
            for dst, nbs in (await g.neighbours(tenant, ends, rel, Direction.IN) if ends else {}).items():
                existing.update((rel, nb.node.id, dst) for nb in nbs)
        cs.link = [Edge(rel, src, dst) for rel, src, dst in sorted((links | owned) - existing, key=lambda e: (e[0].value, e[1], e[2]))]
        cs.unlink = [Edge(rel, src, dst) for rel, src, dst in sorted(existing - owned - links, key=lambda e: (e[0].value, e[1], e[2]))
                     if rel in OWNED_LINKS or rel in OWNED_RUN_LINKS]
        result.linked, result.unlinked = len(cs.link), len(cs.unlink)

        # What the last sync saw that MLflow no longer has.
        await self._deletions(tenant, snap, seen, cs, result)
        return cs, result

    async def _deletions(self, tenant: Tenant, snap: ml.Snapshot, seen: dict[str, Any], cs: ChangeSet,
                         result: SyncResult) -> None:
        store = self.store
        gone_runs = set(seen.get("runs", {})) - {r.run_id for r in snap.runs}
        gone_models = set(seen.get("models", [])) - {m.name for m in snap.models}
        gone_versions = {tuple(v) for v in seen.get("versions", [])} - {(v.model, v.version) for m in snap.models for v in m.versions}
        gone_jobs = set(seen.get("experiments", [])) - {e.name for e in snap.experiments}
        doomed: list[NodeId] = []
        doomed += [n.id for n in (await _by_key(store, tenant, Label.RUN, ({"run_id": i} for i in gone_runs))).values()]
        doomed += [n.id for n in (await _by_key(store, tenant, Label.JOB, ({"namespace": NAMESPACE, "name": j} for j in gone_jobs))).values()]
        models = await _by_key(store, tenant, Label.MODEL, ({"name": m} for m in {*gone_models, *(v[0] for v in gone_versions)}))
        by_name = {n.props["name"]: n for n in models.values() if n.props.get("mlflow_name")}
        for name in gone_models:
            if name in by_name:
                model = by_name[name]
                doomed.append(model.id)
                doomed += [nb.node.id for nb in (await self.graph.neighbours(tenant, [model.id], Rel.VERSION_OF, Direction.IN))[model.id]]
        versions = await _by_key(store, tenant, Label.MODEL_VERSION, (
            {"model_id": by_name[m].id, "version": v} for m, v in gone_versions if m in by_name and m not in gone_models))
        doomed += [n.id for n in versions.values()]
        cs.delete = list(dict.fromkeys(doomed))
        result.deleted = len(cs.delete)

    async def _datasets(self, tenant: Tenant, sources: set[str], result: SyncResult) -> dict[str, NodeId]:
        """The dataset each source names (integrations/mlflow.py has the rules), where one does."""
        out: dict[str, NodeId] = {}
        keyed: dict[str, str] = {}  # source -> the natural key of its (namespace, name)
        for source in sorted(sources):
            namespace, name = ml.ol_identity(source, self.rules)
            if namespace is not None:
                keyed[source] = natural_key(Label.DATASET, {"namespace": namespace, "name": name})
                continue
            page = await self.graph.find(tenant, NodeQuery(Label.DATASET, text=name, first=100))
            exact = [n for n in page.nodes
                     if n.props["name"] == name or any(a["name"] == name for a in n.props.get("aliases") or ())]
            if len(exact) == 1:
                out[source] = exact[0].id
            else:
                result.unmatched.append(source)
        found = await self.store.get_by_keys(tenant, Label.DATASET, sorted(set(keyed.values())))
        for source, key in keyed.items():
            if key in found:
                out[source] = found[key].id
            else:
                result.unmatched.append(source)
        result.unmatched.sort()
        return out

    async def _projects(self, tenant: Tenant, refs: set[str | None]) -> dict[str | None, NodeId]:
        """Each project reference (an id, or a name) -> the Project's id, where one matches."""
        wanted = sorted(r for r in refs if r)
        by_id = {i: n.id for i, n in (await self.store.get_nodes(tenant, wanted) if wanted else {}).items()
                 if n.label is Label.PROJECT}
        by_name = await _by_key(self.store, tenant, Label.PROJECT, ({"name": r} for r in wanted if r not in by_id))
        out: dict[str | None, NodeId] = dict(by_id)
        for r in wanted:
            if r not in out and (n := by_name.get(natural_key(Label.PROJECT, {"name": r}))) is not None:
                out[r] = n.id
        return out


async def _by_key(store: GraphStore, tenant: Tenant, label: Label, props: Iterable[Props]) -> dict[str, Node]:
    keys = sorted({natural_key(label, p) for p in props})
    return await store.get_by_keys(tenant, label, keys) if keys else {}


def _patch(stored: Node, wanted: Props, managed: Iterable[str]) -> Props:
    """The patch turning `stored` into what MLflow says for the props the sync owns (validated as
    a write would be): empty when they already agree."""
    merged = {k: v for k, v in {**stored.props, **{k: wanted.get(k) for k in managed}}.items() if v is not None}
    valid = validate_props(stored.label, merged)
    return {k: valid.get(k) for k in sorted(set(valid) | set(stored.props)) if valid.get(k) != stored.props.get(k)}
