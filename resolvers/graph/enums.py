"""GraphQL enums: the domain's own enums (maestro_graph/domain/schemas.py), so the two cannot drift apart."""

from __future__ import annotations

import strawberry

from maestro_graph.domain import schemas as s
from maestro_graph.domain.graph import Rel

ArtifactType = strawberry.enum(s.ArtifactType, description=s.ArtifactType.__doc__)
ProblemClass = strawberry.enum(s.ProblemClass, description=s.ProblemClass.__doc__)
ProjectStatus = strawberry.enum(s.ProjectStatus, description=s.ProjectStatus.__doc__)
MetricType = strawberry.enum(s.MetricType, description="A process metric recorded for a project. Its values: "
                             + "; ".join(f"{kind} {s.metric_range(kind)}" for kind in s.METRIC_TYPES) + " (BAD_USER_INPUT outside).")
RunState = strawberry.enum(s.RunState, description=s.RunState.__doc__)
TrainingStatus = strawberry.enum(s.TrainingStatus, description=s.TrainingStatus.__doc__)
TrainingRunner = strawberry.enum(s.TrainingRunner, description=s.TrainingRunner.__doc__)
ModelStage = strawberry.enum(s.ModelStage, description=s.ModelStage.__doc__)
DeploymentStatus = strawberry.enum(s.DeploymentStatus, description=s.DeploymentStatus.__doc__)
PredictionTarget = strawberry.enum(s.PredictionTarget, description=s.PredictionTarget.__doc__)
DerivationType = strawberry.enum(s.DerivationType, description=s.DerivationType.__doc__)
Relationship = strawberry.enum(Rel, name="Relationship", description="A relationship type of the graph model.")
