"""Model cards: a ModelVersion's card, read from the graph on each request (never stored, so never stale).

The reads are batched in a fixed number of rounds whatever the size of the model: the version,
then its model's versions, owners, training job and deployments, then every version's training
data and features at once (and the training job's MLflow run), then the upstream lineage of the training data (one walk) and its
owners, then the nodes and project members those name, then the members' teams. About a dozen
store calls, none per item.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from maestro_graph.domain.clock import now
from maestro_graph.domain.errors import NotFound
from maestro_graph.domain.graph import Label, Neighbour, Node, Rel
from maestro_graph.domain.model_card import (
    CardField, DatasetRef, DeploymentRef, Feature, Metric, ModelCard, ModelDetails, Owner, Ownership, Parameter,
    PersonRef, ProjectRef, TeamRef, TrainingDataset, TrainingJobRef, UpstreamDataset, VersionEntry, WrittenText,
    added_removed, completeness, metric_changes, version_key,
)
from maestro_graph.domain.walk import Walk
from maestro_graph.store.base import GraphStore
from maestro_graph.types import Direction, NodeId, Tenant

UPSTREAM_DEPTH = 5  # hops of lineage above each training dataset a card shows
UPSTREAM_CAP = 500  # datasets the upstream walk may reach in all (then the card says it is cut)
MAX_HISTORY = 100  # versions in the history: the newest, the card's own always among them


class ModelCards:
    def __init__(self, store: GraphStore) -> None:
        self.store = store

    async def card(self, tenant: Tenant, version_id: NodeId) -> ModelCard:
        """The card of one ModelVersion of this tenant; NotFound (field modelVersionId) otherwise."""
        version = (await self.store.get_nodes(tenant, [version_id])).get(version_id)
        if version is None or version.label is not Label.MODEL_VERSION:
            raise NotFound(f"no ModelVersion with id {version_id}", field="modelVersionId")
        model_id = str(version.props["model_id"])
        v = version.id

        models, versions, owns, produced, serves = await asyncio.gather(
            self.store.get_nodes(tenant, [model_id]),
            self.store.neighbours(tenant, [model_id], Rel.VERSION_OF, Direction.IN),
            self.store.neighbours(tenant, [model_id, v], Rel.OWNS, Direction.IN),
            self.store.neighbours(tenant, [v], Rel.PRODUCED, Direction.IN),
            self.store.neighbours(tenant, [v], Rel.SERVES, Direction.IN),
        )
        model = models.get(model_id)
        if model is None:  # deleted between the reads: its versions went with it
            raise NotFound(f"no ModelVersion with id {version_id}", field="modelVersionId")
        history_nodes, history_truncated = _history_nodes([nb.node for nb in versions[model_id]], version)
        history_ids = [n.id for n in history_nodes]

        job = produced[v][0].node if produced[v] else None
        trained_on, uses, tracked = await asyncio.gather(
            self.store.neighbours(tenant, history_ids, Rel.TRAINED_ON, Direction.OUT),
            self.store.neighbours(tenant, history_ids, Rel.USES_FEATURE, Direction.OUT),
            self.store.neighbours(tenant, [job.id], Rel.TRACKED_AS, Direction.OUT) if job is not None else _empty(),
        )
        training = [nb.node for nb in trained_on.get(v, [])]
        training_ids = [d.id for d in training]
        walk, dataset_owns = await asyncio.gather(
            self._upstream(tenant, training_ids),
            self.store.neighbours(tenant, training_ids, Rel.OWNS, Direction.IN) if training_ids else _empty(),
        )

        # Nodes named but not yet loaded (upstream datasets, the datasets of features), and the
        # members of every project that owns the model or a training dataset.
        known: dict[NodeId, Node] = {nb.node.id: nb.node for nbs in trained_on.values() for nb in nbs}
        feature_datasets = {str(nb.node.props.get("dataset_id")) for nbs in uses.values() for nb in nbs}
        wanted = [i for i in dict.fromkeys([*walk.hops, *sorted(feature_datasets)]) if i not in known]
        model_projects = [nb.node for nb in owns[model_id] if nb.node.label is Label.PROJECT]
        project_ids = list(dict.fromkeys([p.id for p in model_projects] + [
            nb.node.id for nbs in dataset_owns.values() for nb in nbs if nb.node.label is Label.PROJECT]))
        loaded, members = await asyncio.gather(
            self.store.get_nodes(tenant, wanted) if wanted else _empty(),
            self.store.neighbours(tenant, project_ids, Rel.MEMBER_OF, Direction.IN) if project_ids else _empty(),
        )
        known |= loaded

        direct_owners = [nb.node for i in (model_id, v) for nb in owns[i] if nb.node.label is Label.PERSON]
        team_people = list(dict.fromkeys([p.id for p in direct_owners] + [
            nb.node.id for p in model_projects for nb in members.get(p.id, [])]))
        teams = await self.store.neighbours(tenant, team_people, Rel.IN_TEAM, Direction.OUT) if team_people else {}

        run = tracked[job.id][0].node if job is not None and tracked.get(job.id) else None
        details = _details(model, version, job, run)
        intended = _written(version, model, "intended_use")
        limits = _written(version, model, "limitations")
        training_data = [_training_dataset(d, walk, known, dataset_owns.get(d.id, []), members) for d in training]
        features = sorted((_feature(nb.node, known) for nb in uses.get(v, [])),
                          key=lambda f: (f.dataset.name if f.dataset else "", f.path, f.field_id))
        metrics = [Metric(k, float(val)) for k, val in sorted((version.props.get("metrics") or {}).items())]
        parameters = _parameters(version.props)
        deployments = [_deployment(nb.node) for nb in serves[v]]
        ownership = Ownership(
            projects=[_project(p) for p in model_projects],
            owners=_unique_people(_person(p) for p in direct_owners),
            members=_unique_people(_person(nb.node, (nb.edge.props or {}).get("role") or "member")
                                   for p in model_projects for nb in members.get(p.id, [])),
            teams=sorted({t.node.id: TeamRef(t.node.id, t.node.name) for nbs in teams.values() for t in nbs}.values(),
                         key=lambda t: (t.name, t.id)),
        )
        history = _history(history_nodes, v, trained_on, uses, known)
        filled = {
            CardField.DESCRIPTION: bool(model.props.get("description")),
            CardField.INTENDED_USE: intended.text is not None,
            CardField.LIMITATIONS: limits.text is not None,
            CardField.TRAINING_JOB: job is not None,
            CardField.TRAINING_DATA: bool(training_data),
            CardField.FEATURES: bool(features),
            CardField.METRICS: bool(metrics),
            CardField.OWNER: bool(ownership.projects or ownership.owners),
            CardField.DEPLOYMENTS: bool(deployments),
        }
        return ModelCard(details, intended, limits, training_data, features, metrics, parameters, deployments,
                         ownership, history, completeness(filled), now(), lineage_truncated=walk.truncated,
                         history_truncated=history_truncated)

    async def _upstream(self, tenant: Tenant, datasets: Sequence[NodeId]) -> Walk:
        """Up the dataset lineage (FEEDS, against its direction) from the training data: one walk."""
        if not datasets:
            return Walk({})
        return await self.store.walk(tenant, list(datasets), [Rel.FEEDS], Direction.IN, UPSTREAM_DEPTH,
                                     UPSTREAM_CAP + len(datasets), with_props=True)


async def _empty() -> dict[Any, Any]:
    return {}


def _history_nodes(versions: Iterable[Node], current: Node) -> tuple[list[Node], bool]:
    """The model's versions in release order: the newest MAX_HISTORY, with the card's own always in."""
    ordered = sorted({n.id: n for n in [*versions, current]}.values(),
                     key=lambda n: version_key(str(n.props.get("version", "")), n.created_at, n.id))
    if len(ordered) <= MAX_HISTORY:
        return ordered, False
    kept = ordered[-MAX_HISTORY:]
    if current not in kept:
        kept = [current, *ordered[-(MAX_HISTORY - 1):]]
    return kept, True


def _text(props: Mapping[str, Any], name: str) -> str | None:
    value = props.get(name)
    return value.strip() or None if isinstance(value, str) else None


def _written(version: Node, model: Node, prop: str) -> WrittenText:
    """The version's own text, else its model's."""
    if (text := _text(version.props, prop)) is not None:
        return WrittenText(text, "version")
    if (text := _text(model.props, prop)) is not None:
        return WrittenText(text, "model")
    return WrittenText(None, None)


def _strings(value: Any) -> list[str]:
    """A list of names from a prop that may be a list or a mapping (MLflow's aliases, tags)."""
    if isinstance(value, Mapping):
        return sorted(f"{k}={v}" if v not in (None, "") else str(k) for k, v in value.items())
    if isinstance(value, (list, tuple)):
        return [str(x) for x in value]
    return [str(value)] if value else []


def _details(model: Node, version: Node, job: Node | None, run: Node | None) -> ModelDetails:
    mp, vp = model.props, version.props
    job_ref = None
    if job is not None:
        jp = job.props
        job_ref = TrainingJobRef(job.id, job.name, str(jp.get("status", "")), jp.get("submitted_by"),
                                 _stamp(jp.get("started_at")), _stamp(jp.get("finished_at")),
                                 str(run.props["run_id"]) if run is not None else None)
    # What the MLflow sync writes (services/mlflow_sync.py): created_by, mlflow_aliases, mlflow_tags.
    created_by = (job_ref.submitted_by if job_ref else None) or vp.get("created_by")
    framework = vp.get("framework") or mp.get("framework")
    tags = list(dict.fromkeys([*_strings(mp.get("tags")), *_strings(mp.get("mlflow_tags")), *_strings(vp.get("mlflow_tags"))]))
    return ModelDetails(
        model_id=model.id, model_name=model.name, version_id=version.id, version=str(vp.get("version", "")),
        stage=str(vp.get("stage", "none")), created_at=version.created_at,
        description=_text(vp, "description") or _text(mp, "description"),
        created_by=str(created_by) if created_by else None, training_job=job_ref, aliases=_strings(vp.get("mlflow_aliases")),
        framework=str(framework) if framework else None, tags=tags, mlflow_run_id=vp.get("mlflow_run_id"),
        mlflow_model_uri=vp.get("mlflow_model_uri"),
    )


def _stamp(value: Any) -> str | None:
    if value is None:
        return None
    return value.isoformat() if hasattr(value, "isoformat") else str(value)


def _dataset(node: Node) -> DatasetRef:
    return DatasetRef(node.id, str(node.props.get("namespace", "")), str(node.props.get("name", "")))


def _person(node: Node, role: str | None = None) -> PersonRef:
    return PersonRef(node.id, node.name, node.props.get("email"), role)


def _project(node: Node) -> ProjectRef:
    return ProjectRef(node.id, node.name, node.props.get("status"))


def _unique_people(people: Iterable[PersonRef]) -> list[PersonRef]:
    """Each person once (the first entry wins), ordered by name."""
    seen: dict[NodeId, PersonRef] = {}
    for p in people:
        seen.setdefault(p.id, p)
    return sorted(seen.values(), key=lambda p: (p.name, p.id))


def _training_dataset(node: Node, walk: Walk, known: Mapping[NodeId, Node], owns: Sequence[Neighbour],
                      members: Mapping[NodeId, list[Neighbour]]) -> TrainingDataset:
    """A training dataset with the upstream datasets whose shortest way down reaches it, and its owners."""
    job_of = {(e.src, e.dst): (e.props or {}).get("job") for e in walk.edges}
    upstream = []
    for i, hop in walk.hops.items():
        if hop.distance == 0 or i not in known or walk.path(i)[0] != node.id:
            continue
        assert hop.parent is not None, "a hop past the start has a parent"
        upstream.append(UpstreamDataset(_dataset(known[i]), hop.distance, hop.parent, job_of.get((i, hop.parent))))
    upstream.sort(key=lambda u: (u.distance, u.dataset.namespace, u.dataset.name, u.dataset.id))
    owners: list[Owner] = []
    for nb in owns:
        if nb.node.label is Label.PERSON:
            owners.append(Owner(_person(nb.node)))
        elif nb.node.label is Label.PROJECT:
            owners += [Owner(_person(m.node, (m.edge.props or {}).get("role") or "member"), _project(nb.node))
                       for m in members.get(nb.node.id, [])]
    return TrainingDataset(_dataset(node), _text(node.props, "description"), upstream, owners)


def _feature(field: Node, known: Mapping[NodeId, Node]) -> Feature:
    ds = known.get(str(field.props.get("dataset_id")))
    return Feature(field.id, str(field.props.get("path", field.name)), field.props.get("type"),
                   _dataset(ds) if ds is not None else None)


def _feature_name(field: Node, known: Mapping[NodeId, Node]) -> str:
    ds = known.get(str(field.props.get("dataset_id")))
    return f"{ds.props.get('name')}.{field.props.get('path')}" if ds is not None else str(field.props.get("path"))


def _parameters(props: Mapping[str, Any]) -> list[Parameter]:
    """Training parameters, when the version carries them (an MLflow sync writes `params`)."""
    params = props.get("params") or props.get("parameters") or {}
    if not isinstance(params, Mapping):
        return []
    return [Parameter(str(k), str(v)) for k, v in sorted(params.items())]


def _deployment(node: Node) -> DeploymentRef:
    p = node.props
    return DeploymentRef(node.id, node.name, str(p.get("environment", "")), str(p.get("status", "")),
                         int(p.get("replicas", 1)), p.get("endpoint"))


def _history(versions: Sequence[Node], current: NodeId, trained_on: Mapping[NodeId, list[Neighbour]],
             uses: Mapping[NodeId, list[Neighbour]], known: Mapping[NodeId, Node]) -> list[VersionEntry]:
    out: list[VersionEntry] = []
    before: Node | None = None
    for node in versions:
        entry = VersionEntry(node.id, str(node.props.get("version", "")), str(node.props.get("stage", "none")),
                             node.created_at, node.id == current)
        if before is not None:
            f_add, f_rm = added_removed([_feature_name(nb.node, known) for nb in uses.get(before.id, [])],
                                        [_feature_name(nb.node, known) for nb in uses.get(node.id, [])])
            d_add, d_rm = added_removed([nb.node.name for nb in trained_on.get(before.id, [])],
                                        [nb.node.name for nb in trained_on.get(node.id, [])])
            entry = VersionEntry(entry.id, entry.version, entry.stage, entry.created_at, entry.current,
                                 metric_changes(before.props.get("metrics") or {}, node.props.get("metrics") or {}),
                                 f_add, f_rm, d_add, d_rm)
        out.append(entry)
        before = node
    return out
