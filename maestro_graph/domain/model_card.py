"""A model card's structure, and the rules that need no store: version order, what changed
between two versions, and how complete a card is.

services/model_cards.py fills a ModelCard from the graph on each request (a card is a view,
never stored); maestro_graph/cards/ renders it as Markdown, HTML or PDF.
"""

from __future__ import annotations

import enum
import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from maestro_graph.types import NodeId


class CardField(enum.Enum):
    """What a reviewer can fill in or link to make a card complete, in the card's order."""

    DESCRIPTION = "description"
    INTENDED_USE = "intended_use"
    LIMITATIONS = "limitations"
    TRAINING_JOB = "training_job"
    TRAINING_DATA = "training_data"
    FEATURES = "features"
    METRICS = "metrics"
    OWNER = "owner"
    DEPLOYMENTS = "deployments"


@dataclass(frozen=True)
class DatasetRef:
    id: NodeId
    namespace: str
    name: str


@dataclass(frozen=True)
class PersonRef:
    id: NodeId
    name: str
    email: str | None = None
    role: str | None = None  # in a project (MEMBER_OF's role); None when not a member's entry


@dataclass(frozen=True)
class ProjectRef:
    id: NodeId
    name: str
    status: str | None = None


@dataclass(frozen=True)
class TeamRef:
    id: NodeId
    name: str


@dataclass(frozen=True)
class TrainingJobRef:
    id: NodeId
    name: str
    status: str
    submitted_by: str | None = None
    started_at: str | None = None
    finished_at: str | None = None
    mlflow_run_id: str | None = None  # the MLflow run it is TRACKED_AS (the MLflow sync links them)


@dataclass(frozen=True)
class ModelDetails:
    model_id: NodeId
    model_name: str
    version_id: NodeId
    version: str
    stage: str
    created_at: str
    description: str | None = None
    created_by: str | None = None  # who submitted the training job (or MLflow's user, when synced)
    training_job: TrainingJobRef | None = None
    aliases: list[str] = field(default_factory=list)
    framework: str | None = None
    tags: list[str] = field(default_factory=list)
    mlflow_run_id: str | None = None
    mlflow_model_uri: str | None = None


@dataclass(frozen=True)
class WrittenText:
    """intended use or limitations: the text, and whether it is the version's own or its model's."""

    text: str | None
    source: str | None  # "version", "model" or None (not written)


@dataclass(frozen=True)
class Owner:
    """Someone to ask about a dataset: a person who OWNS it, or a member of a project that does."""

    person: PersonRef
    project: ProjectRef | None = None  # None: the person owns it


@dataclass(frozen=True)
class UpstreamDataset:
    dataset: DatasetRef
    distance: int  # hops up from the training dataset
    feeds: NodeId  # the dataset one hop nearer the training data
    job: str | None = None  # the job that feeds it on (FEEDS.job)


@dataclass(frozen=True)
class TrainingDataset:
    dataset: DatasetRef
    description: str | None
    upstream: list[UpstreamDataset]
    owners: list[Owner]


@dataclass(frozen=True)
class Feature:
    field_id: NodeId
    path: str
    type: str | None
    dataset: DatasetRef | None


@dataclass(frozen=True)
class Metric:
    name: str
    value: float


@dataclass(frozen=True)
class Parameter:
    name: str
    value: str


@dataclass(frozen=True)
class DeploymentRef:
    id: NodeId
    name: str
    environment: str
    status: str
    replicas: int
    endpoint: str | None = None


@dataclass(frozen=True)
class Ownership:
    projects: list[ProjectRef]  # projects that OWN the model
    owners: list[PersonRef]  # people who OWN the model or this version
    members: list[PersonRef]  # members of those projects, with their role
    teams: list[TeamRef]  # teams (IN_TEAM) of those people


@dataclass(frozen=True)
class MetricChange:
    name: str
    before: float | None
    after: float | None

    @property
    def delta(self) -> float | None:
        return None if self.before is None or self.after is None else self.after - self.before


@dataclass(frozen=True)
class VersionEntry:
    """One version of the model, and what changed since the version before it (nothing for the first)."""

    id: NodeId
    version: str
    stage: str
    created_at: str
    current: bool  # the card's own version
    metrics: list[MetricChange] = field(default_factory=list)
    features_added: list[str] = field(default_factory=list)
    features_removed: list[str] = field(default_factory=list)
    datasets_added: list[str] = field(default_factory=list)
    datasets_removed: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class Completeness:
    filled: list[CardField]
    missing: list[CardField]

    @property
    def score(self) -> float:
        """The filled fraction, 0 to 1."""
        total = len(self.filled) + len(self.missing)
        return len(self.filled) / total if total else 1.0


@dataclass(frozen=True)
class ModelCard:
    details: ModelDetails
    intended_use: WrittenText
    limitations: WrittenText
    training_data: list[TrainingDataset]
    features: list[Feature]
    metrics: list[Metric]
    parameters: list[Parameter]
    deployments: list[DeploymentRef]
    ownership: Ownership
    history: list[VersionEntry]
    completeness: Completeness
    generated_at: str
    lineage_truncated: bool = False  # the upstream walk hit its cap or depth bound
    history_truncated: bool = False  # older versions were left out of the history


_NUMBER = re.compile(r"\d+")


def version_key(version: str, created_at: str, node_id: NodeId) -> tuple[Any, ...]:
    """Versions in release order: by their numbers (1.10 after 1.9), then a pre-release
    (1.2.0-rc.1) before its release, then by when they were made.

    >>> sorted(["1.10", "1.9", "v2", "1.2.0-rc.1", "1.2.0"], key=lambda v: version_key(v, "", v))
    ['1.2.0-rc.1', '1.2.0', '1.9', '1.10', 'v2']
    """
    core, sep, rest = version.lstrip("vV").partition("-")
    core = core.split("+", 1)[0]
    numbers = tuple(int(n) for n in _NUMBER.findall(core))
    numbers += (0,) * (3 - len(numbers))
    return (numbers, 0 if sep else 1, rest, created_at, node_id)


def metric_changes(before: Mapping[str, float], after: Mapping[str, float]) -> list[MetricChange]:
    """The metrics whose value differs between two versions (or that only one has), by name.

    >>> [(c.name, c.delta) for c in metric_changes({"auc": 0.8, "loss": 0.3}, {"auc": 0.85, "loss": 0.3, "f1": 0.7})]
    [('auc', 0.04999999999999993), ('f1', None)]
    """
    out = []
    for name in sorted(set(before) | set(after)):
        b, a = before.get(name), after.get(name)
        if b is None or a is None or not math.isclose(a, b, rel_tol=0.0, abs_tol=1e-12):
            out.append(MetricChange(name, b, a))
    return out


def added_removed(before: Sequence[str], after: Sequence[str]) -> tuple[list[str], list[str]]:
    """What `after` has that `before` lacks, and the reverse, each sorted.

    >>> added_removed(["a", "b"], ["b", "c"])
    (['c'], ['a'])
    """
    b, a = set(before), set(after)
    return sorted(a - b), sorted(b - a)


def completeness(card_fields: Mapping[CardField, bool]) -> Completeness:
    """Which of the card's fields are filled and which are missing, in CardField order."""
    assert set(card_fields) == set(CardField), "completeness: every CardField must be judged"
    return Completeness([f for f in CardField if card_fields[f]], [f for f in CardField if not card_fields[f]])
