"""The graph's fixed vocabularies: artifact types, problem classes, statuses, run states and the
project metric types with the values each may take. Validation (domain/props.py) and the API's
enums are made from these, once."""

from __future__ import annotations

ARTIFACT_TYPES = ("feature_pipeline", "model_template", "schema", "notebook", "other")
PROBLEM_CLASSES = (
    "classification", "regression", "forecasting", "ranking", "recommendation",
    "nlp", "computer_vision", "anomaly_detection", "clustering", "other",
)
PROJECT_STATUSES = ("planned", "active", "finished", "cancelled")
RUN_STATES = ("START", "RUNNING", "COMPLETE", "ABORT", "FAIL", "OTHER")
TRAINING_STATUSES = ("PENDING", "RUNNING", "SUCCEEDED", "FAILED", "CANCELLED")
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
METRIC_TYPES = tuple(METRIC_RANGES)


def metric_range(kind: str) -> str:
    """A metric type's allowed values, in words.

    >>> metric_range("ci_success_rate"), metric_range("open_issues")
    ('from 0 to 1', 'at least 0')
    """
    lo, hi = METRIC_RANGES[kind]
    return f"at least {lo:g}" if hi is None else f"from {lo:g} to {hi:g}"
