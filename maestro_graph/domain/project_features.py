"""A project's features for the meta-model, as of a time T, from the graph around it. No I/O:
services/metamodel.py reads a Snapshot (the whole tenant in bulk, or one project's neighbourhood)
and this module turns it into numbers.

No leakage: a project's features as of T use only what was known at T. Other projects count only
once finished before T (their outcomes, their members' records); usage counts and ratings only
when dated before T; process metrics only when recorded before T; MLflow runs only when started
before T, and counted as failed only when they had failed by T; the project's own outcome and its
own ratings never. What the project *is* at T (its team, the artifacts it chose, its datasets)
is its plan and counts as known.

Missing values are NaN: XGBoost learns where they go.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timezone
from functools import lru_cache

from maestro_graph.domain.errors import Conflict
from maestro_graph.domain.vocabulary import PROBLEM_CLASSES
from maestro_graph.types import NodeId, Props

NAN = float("nan")
TARGETS = ("success_score", "duration_days", "cost")
PROCESS_METRICS = ("commits_per_week", "avg_pr_merge_hours", "ci_success_rate")
MLFLOW_FEATURES = ("mlflow_runs", "mlflow_failed_share")
MLFLOW_PRODUCER = "mlflow"  # a Run's producer when the MLflow sync wrote it (services/mlflow_sync.py)
MAX_LINEAGE_DEPTH = 10
ROLES_KEPT = 6  # the most common member roles in the training set each get a feature


@lru_cache(maxsize=200_000)
def epoch(stamp: str | None) -> float:
    """Seconds since 1970 of a stored timestamp (ISO 8601, 'Z' or an offset; naive means UTC);
    NaN for none.

    >>> epoch("1970-01-02T00:00:00Z"), epoch("1970-01-02T00:00:00.000000+00:00"), math.isnan(epoch(None))
    (86400.0, 86400.0, True)
    """
    if not stamp:
        return NAN
    moment = datetime.fromisoformat(stamp.replace("Z", "+00:00"))
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=timezone.utc)
    return moment.timestamp()


@dataclass
class Snapshot:
    """The part of the graph features are made from. Edges are kept both ways where features
    walk them both ways. A project missing from `projects` (outside a neighbourhood read) counts
    as unknown: it adds nothing."""

    projects: dict[NodeId, Props] = field(default_factory=dict)
    members: dict[NodeId, list[tuple[NodeId, str]]] = field(default_factory=dict)  # project -> (person, role)
    projects_of: dict[NodeId, list[NodeId]] = field(default_factory=dict)  # person -> projects
    uses: dict[NodeId, list[tuple[NodeId, Props]]] = field(default_factory=dict)  # project -> (artifact, USES props)
    users: dict[NodeId, list[tuple[NodeId, Props]]] = field(default_factory=dict)  # artifact -> (project, USES props)
    metrics: dict[NodeId, list[Props]] = field(default_factory=dict)  # project -> its Metric nodes' props
    datasets: dict[NodeId, list[NodeId]] = field(default_factory=dict)  # project -> datasets it owns
    fields: dict[NodeId, int] = field(default_factory=dict)  # dataset -> its columns
    upstream: dict[NodeId, list[NodeId]] = field(default_factory=dict)  # dataset -> datasets that FEED it
    # project -> the MLflow runs of the experiments (Jobs) it OWNS: their props (state, started_at, ended_at)
    runs: dict[NodeId, list[Props]] = field(default_factory=dict)

    def member(self, project: NodeId, person: NodeId, role: str) -> None:
        self.members.setdefault(project, []).append((person, role))
        self.projects_of.setdefault(person, []).append(project)

    def use(self, project: NodeId, artifact: NodeId, props: Props) -> None:
        self.uses.setdefault(project, []).append((artifact, props))
        self.users.setdefault(artifact, []).append((project, props))

    def finished_before(self, project: NodeId, t: float) -> bool:
        props = self.projects.get(project)
        return props is not None and props.get("success_score") is not None and epoch(props.get("finished_at")) < t

    def as_of(self, project: NodeId) -> float:
        """The time a project's training row is taken at: its start."""
        return epoch(self.projects[project].get("started_at"))


def feature_names(roles: Sequence[str]) -> list[str]:
    """The model's columns, in order, for the roles the training set kept."""
    return [
        "team_size", *(f"role_share:{r}" for r in roles), "complexity", *(f"problem:{c}" for c in PROBLEM_CLASSES),
        "member_past_projects_mean", "member_past_projects_max", "member_experienced_share", "member_past_success_mean",
        "artifacts", "artifact_rating_mean", "artifact_rating_max", "artifact_popularity_mean",
        "shared_artifact_success_mean", "shared_member_success_mean",
        "lineage_datasets", "lineage_fields", "lineage_depth",
        *(f"metric:{m}" for m in PROCESS_METRICS),
        *MLFLOW_FEATURES,
    ]


def model_row(row: Sequence[float], roles: Sequence[str], wanted: Sequence[str]) -> list[float]:
    """A row of feature_names(roles) as a model trained on the columns `wanted` takes it. A model
    trained before features were added still predicts on the columns it learnt; one naming a
    feature this code no longer computes is refused (CONFLICT) with what to do.

    >>> names = feature_names([])
    >>> model_row(range(len(names)), [], [names[2], names[0]])
    [2.0, 0.0]
    """
    names = feature_names(roles)
    if list(wanted) == names:
        return [float(x) for x in row]
    index = {n: i for i, n in enumerate(names)}
    missing = [n for n in wanted if n not in index]
    if missing:
        raise Conflict(f"the meta-model was trained on features this server does not compute ({', '.join(missing[:5])}): "
                       "train it again (trainMetaModel, or `maestro-graph metamodel train`)", field="metaModel")
    values = list(row)
    return [float(values[index[n]]) for n in wanted]


def common_roles(snapshot: Snapshot, projects: Iterable[NodeId]) -> list[str]:
    """The most common member roles among `projects`, most common first (ties by name)."""
    counts: dict[str, int] = {}
    for p in projects:
        for _, role in snapshot.members.get(p, ()):
            counts[role] = counts.get(role, 0) + 1
    return sorted(counts, key=lambda r: (-counts[r], r))[:ROLES_KEPT]


def _mean(values: Sequence[float]) -> float:
    # fsum is exact, so the mean does not depend on the order a backend read the values in.
    return math.fsum(values) / len(values) if values else NAN


def features(snapshot: Snapshot, project: NodeId, t: float, roles: Sequence[str]) -> list[float]:
    """The project's row of feature_names(roles), as of `t` (seconds since 1970)."""
    props = snapshot.projects[project]
    team = snapshot.members.get(project, [])
    size = len(team) if team else float(props.get("team_size") or 0)
    row: list[float] = [float(size)]
    row += [sum(1 for _, r in team if r == role) / len(team) if team else NAN for role in roles]
    row.append(float(props.get("complexity_score") or NAN))
    row += [1.0 if props.get("problem_class") == c else 0.0 for c in PROBLEM_CLASSES]

    # The members' records: projects they finished before t, and how those went.
    past_counts, past_success, shared_member = [], [], set()
    for person, _ in team:
        done = [q for q in snapshot.projects_of.get(person, ()) if q != project and snapshot.finished_before(q, t)]
        past_counts.append(len(done))
        past_success += [float(snapshot.projects[q]["success_score"]) for q in done]
        shared_member.update(done)
    row += [_mean(past_counts), float(max(past_counts)) if past_counts else NAN,
            _mean([1.0 if c else 0.0 for c in past_counts]), _mean(past_success)]

    # The artifacts it chose: their ratings and use by others before t, and how their users did.
    chosen = snapshot.uses.get(project, [])
    ratings, best, popularity, shared_artifact = [], [], [], set()
    for artifact, _ in chosen:
        others = [(q, e) for q, e in snapshot.users.get(artifact, ()) if q != project and epoch(e.get("at")) < t]
        scores = [float(e["impact_score"]) for _, e in others if e.get("impact_score") is not None]
        if scores:
            ratings.append(_mean(scores))
            best.append(max(scores))
        popularity.append(float(len({q for q, _ in others})))
        shared_artifact.update(q for q, _ in others if snapshot.finished_before(q, t))
    row += [float(len(chosen)), _mean(ratings), max(best) if best else NAN, _mean(popularity)]
    row += [_mean([float(snapshot.projects[q]["success_score"]) for q in shared_artifact]),
            _mean([float(snapshot.projects[q]["success_score"]) for q in shared_member])]

    # Its lineage: the datasets it owns, their columns, how deep their upstream goes.
    owned = snapshot.datasets.get(project, [])
    row += [float(len(owned)), float(sum(snapshot.fields.get(d, 0) for d in owned)), float(_depth(snapshot, owned))]

    # Process metrics recorded before t: the latest of each.
    latest: dict[str, tuple[float, float]] = {}
    for m in snapshot.metrics.get(project, ()):
        at = epoch(m.get("at"))
        if at < t and (m["type"] not in latest or at > latest[m["type"]][0]):
            latest[m["type"]] = (at, float(m["value"]))
    row += [latest[k][1] if k in latest else NAN for k in PROCESS_METRICS]

    # Its MLflow runs started before t, and the share of them that had failed by t (one still
    # running at t had not).
    started = [r for r in snapshot.runs.get(project, ()) if epoch(r.get("started_at")) < t]
    failed = sum(1 for r in started if r.get("state") == "FAIL" and epoch(r.get("ended_at")) < t)
    row += [float(len(started)), failed / len(started)] if started else [NAN, NAN]
    return row


def add_runs(snapshot: Snapshot, project: NodeId, runs: Iterable[Props]) -> None:
    """The runs of an experiment the project owns: those the MLflow sync wrote count."""
    kept = [r for r in runs if r.get("producer") == MLFLOW_PRODUCER]
    if kept:
        snapshot.runs.setdefault(project, []).extend(kept)


def _depth(snapshot: Snapshot, start: Sequence[NodeId]) -> int:
    """How many FEEDS hops the deepest upstream of these datasets is (at most MAX_LINEAGE_DEPTH)."""
    seen, frontier, depth = set(start), list(start), 0
    while frontier and depth < MAX_LINEAGE_DEPTH:
        frontier = [u for d in frontier for u in snapshot.upstream.get(d, ()) if u not in seen]
        seen.update(frontier)
        if frontier:
            depth += 1
    return depth


def training_rows(snapshot: Snapshot, roles: Sequence[str] | None = None
                  ) -> tuple[list[NodeId], list[list[float]], dict[str, list[float]], list[str]]:
    """(project ids, feature rows, targets, roles) of every finished project with a start and
    all three outcomes, each as of its start, in start order."""
    done = [p for p, props in snapshot.projects.items()
            if props.get("status") == "finished" and not math.isnan(epoch(props.get("started_at")))
            and all(props.get(t) is not None for t in TARGETS)]
    done.sort(key=lambda p: (snapshot.as_of(p), p))
    kept = list(roles) if roles is not None else common_roles(snapshot, done)
    rows = [features(snapshot, p, snapshot.as_of(p), kept) for p in done]
    targets = {t: [float(snapshot.projects[p][t]) for p in done] for t in TARGETS}
    return done, rows, targets, kept


def draft_props(problem_class: str, complexity: int, team_size: int | None, started_at: str | None) -> Props:
    """A project not yet created, as the snapshot holds projects."""
    return {"name": "(draft)", "problem_class": problem_class, "complexity_score": complexity, "status": "planned",
            **({"team_size": team_size} if team_size is not None else {}), **({"started_at": started_at} if started_at else {})}


def with_team_size(row: Sequence[float], names: Sequence[str], size: int) -> list[float]:
    """The row as if the team had `size` members (the role shares kept)."""
    out = list(row)
    out[names.index("team_size")] = float(size)
    return out


def mapping(names: Sequence[str], row: Sequence[float]) -> Mapping[str, float]:
    return dict(zip(names, row))
