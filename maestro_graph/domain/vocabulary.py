"""The graph's fixed vocabularies: artifact types, problem classes, statuses, run states, where
training runs, model stages, and the project metric types with the values each may take. Each is
a Python Enum stated once; validation (domain/props.py) and the GraphQL enums are made from them."""

from __future__ import annotations

import enum

class ArtifactType(enum.Enum):
    """What kind of reusable artifact this is."""
    FEATURE_PIPELINE = "feature_pipeline"
    MODEL_TEMPLATE = "model_template"
    SCHEMA = "schema"
    NOTEBOOK = "notebook"
    OTHER = "other"


class ProblemClass(enum.Enum):
    """The kind of ML problem a project solves."""
    CLASSIFICATION = "classification"
    REGRESSION = "regression"
    FORECASTING = "forecasting"
    RANKING = "ranking"
    RECOMMENDATION = "recommendation"
    NLP = "nlp"
    COMPUTER_VISION = "computer_vision"
    ANOMALY_DETECTION = "anomaly_detection"
    CLUSTERING = "clustering"
    OTHER = "other"


class ProjectStatus(enum.Enum):
    """Where a project is in its life."""
    PLANNED = "planned"
    ACTIVE = "active"
    FINISHED = "finished"
    CANCELLED = "cancelled"


class RunState(enum.Enum):
    """OpenLineage run state."""
    START = "START"
    RUNNING = "RUNNING"
    COMPLETE = "COMPLETE"
    ABORT = "ABORT"
    FAIL = "FAIL"
    OTHER = "OTHER"


class TrainingStatus(enum.Enum):
    """Training job status."""
    PENDING = "PENDING"
    RUNNING = "RUNNING"
    SUCCEEDED = "SUCCEEDED"
    FAILED = "FAILED"
    CANCELLED = "CANCELLED"


class TrainingRunner(enum.Enum):
    """Where a training job runs."""
    LOCAL = "local"
    KUBERNETES = "kubernetes"


class ModelStage(enum.Enum):
    """Model version stage."""
    NONE = "none"
    STAGING = "staging"
    PRODUCTION = "production"
    ARCHIVED = "archived"


class DeploymentStatus(enum.Enum):
    """Deployment status."""
    PENDING = "pending"
    RUNNING = "running"
    DEGRADED = "degraded"
    STOPPED = "stopped"


class PredictionTarget(enum.Enum):
    """What a prediction predicts."""
    SUCCESS_SCORE = "success_score"
    DURATION_DAYS = "duration_days"
    COST = "cost"


class DerivationType(enum.Enum):
    """OpenLineage column-lineage transformation type."""
    DIRECT = "DIRECT"
    INDIRECT = "INDIRECT"


def values(kind: type[enum.Enum]) -> tuple[str, ...]:
    """An enum's stored values, in order: what a prop of that kind may hold.

    >>> values(TrainingRunner)
    ('local', 'kubernetes')
    """
    return tuple(member.value for member in kind)


ARTIFACT_TYPES = values(ArtifactType)
PROBLEM_CLASSES = values(ProblemClass)
PROJECT_STATUSES = values(ProjectStatus)
RUN_STATES = values(RunState)
TRAINING_STATUSES = values(TrainingStatus)
TRAINING_RUNNERS = values(TrainingRunner)
MODEL_STAGES = values(ModelStage)
DEPLOYMENT_STATUSES = values(DeploymentStatus)
PREDICTION_TARGETS = values(PredictionTarget)
DERIVATION_TYPES = values(DerivationType)

# Each project process metric type and the values it can take: (lowest, highest), None for no
# highest. Rates and coverage are fractions: a CI success rate of 7.5 is a mistake, as is a
# negative commit count; both are refused (MetricProps).
METRIC_RANGES: dict[str, tuple[float, float | None]] = {
    "commits_per_week": (0, None),
    "avg_pr_merge_hours": (0, None),
    "ci_success_rate": (0, 1),  # the fraction of CI runs that passed
    "open_issues": (0, None),
    "deploys_per_week": (0, None),
    "test_coverage": (0, 1),  # the fraction of code covered by tests
    "story_points_per_sprint": (0, None),
}
# One member per METRIC_RANGES key: a metric type and its range are stated once, above.
MetricType = enum.Enum("MetricType", {kind.upper(): kind for kind in METRIC_RANGES})  # type: ignore[misc]
METRIC_TYPES = values(MetricType)


def metric_range(kind: str) -> str:
    """A metric type's allowed values, in words.

    >>> metric_range("ci_success_rate"), metric_range("open_issues")
    ('from 0 to 1', 'at least 0')
    """
    lo, hi = METRIC_RANGES[kind]
    return f"at least {lo:g}" if hi is None else f"from {lo:g} to {hi:g}"
