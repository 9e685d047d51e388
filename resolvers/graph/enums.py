"""GraphQL enums made from the domain's value lists, so the two cannot drift apart."""

from __future__ import annotations

import enum

import strawberry

from maestro_graph.domain import vocabulary as s
from maestro_graph.domain.graph import Rel


def _enum(name: str, values: tuple[str, ...], description: str) -> type[enum.Enum]:
    return strawberry.enum(enum.Enum(name, {v.upper(): v for v in values}), description=description)  # type: ignore[return-value]


ArtifactType = _enum("ArtifactType", s.ARTIFACT_TYPES, "What kind of reusable artifact this is.")
ProblemClass = _enum("ProblemClass", s.PROBLEM_CLASSES, "The kind of ML problem a project solves.")
ProjectStatus = _enum("ProjectStatus", s.PROJECT_STATUSES, "Where a project is in its life.")
MetricType = _enum("MetricType", s.METRIC_TYPES, "A process metric recorded for a project. Its values: "
                   + "; ".join(f"{kind} {s.metric_range(kind)}" for kind in s.METRIC_TYPES) + " (BAD_USER_INPUT outside).")
RunState = _enum("RunState", s.RUN_STATES, "OpenLineage run state.")
TrainingStatus = _enum("TrainingStatus", s.TRAINING_STATUSES, "Training job status.")
TrainingRunner = _enum("TrainingRunner", ("local", "kubernetes"), "Where a training job runs.")
ModelStage = _enum("ModelStage", ("none", "staging", "production", "archived"), "Model version stage.")
DeploymentStatus = _enum("DeploymentStatus", ("pending", "running", "degraded", "stopped"), "Deployment status.")
PredictionTarget = _enum("PredictionTarget", ("success_score", "duration_days", "cost"), "What a prediction predicts.")
DerivationType = _enum("DerivationType", ("DIRECT", "INDIRECT"), "OpenLineage column-lineage transformation type.")
Relationship = strawberry.enum(Rel, name="Relationship", description="A relationship type of the graph model.")
