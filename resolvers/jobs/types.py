"""Pipeline steps (OpenLineage jobs) and their runs: GraphQL types, enums and inputs."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Annotated, Optional

import strawberry
from strawberry import relay
from strawberry.scalars import JSON

from maestro_graph.domain import vocabulary as s
from maestro_graph.domain.graph import Rel
from resolvers.datasets.types import Dataset
from resolvers.nodes import IN, OUT, StoredNode, related, related_one
from resolvers.relay import Connection

if TYPE_CHECKING:  # the lazy annotation below names it; importing it here would be circular
    from resolvers.models.types import TrainingJob

RunState = strawberry.enum(s.RunState, description=s.RunState.__doc__)


@strawberry.type(description="A pipeline step (OpenLineage job).")
class Job(StoredNode, relay.Node):
    id: relay.NodeID[str]
    namespace: str
    name: str
    description: Optional[str]
    integration: Optional[str] = strawberry.field(description="What ran it (OpenLineage jobType facet): SPARK, DBT, AIRFLOW, ...")
    processing_type: Optional[str] = strawberry.field(description="BATCH or STREAMING (OpenLineage jobType facet).")
    job_type: Optional[str] = strawberry.field(description="What it is (OpenLineage jobType facet): APPLICATION, SQL_JOB, JOB, MODEL, DAG, TASK, QUERY, COMMAND, ...")
    created_at: datetime
    updated_at: datetime
    inputs: Connection[Dataset] = related(Rel.READS, OUT, description="Datasets it reads.")
    outputs: Connection[Dataset] = related(Rel.WRITES, OUT, description="Datasets it writes.")
    runs: Connection[Run] = related(Rel.OF_JOB, IN, description="Its runs.")
    parent: Optional[Job] = related_one(Rel.PART_OF, OUT, description="The job it is part of (PART_OF), as its runs' parent facet says: a Spark SQL job's application, a dbt model's dbt run. If its runs named several, the first by name.")
    children: Connection[Job] = related(Rel.PART_OF, IN, description="The jobs part of it (PART_OF), e.g. a Spark application's SQL jobs.")


@strawberry.type(description="One run of a job.")
class Run(StoredNode, relay.Node):
    id: relay.NodeID[str]
    run_id: str
    state: RunState  # type: ignore[valid-type]
    started_at: Optional[datetime]
    ended_at: Optional[datetime]
    facets: JSON
    created_at: datetime
    updated_at: datetime
    job: Optional[Job] = related_one(Rel.OF_JOB, OUT, description="The job this is a run of.")
    parent: Optional[Run] = related_one(Rel.CHILD_OF, OUT, description="The run this one ran within (CHILD_OF, from its parent facet): a Spark SQL job's run is a child of its application's run.")
    children: Connection[Run] = related(Rel.CHILD_OF, IN, description="The runs that ran within this one (CHILD_OF).")
    training_job: Optional[Annotated["TrainingJob", strawberry.lazy("resolvers.models.types")]] = related_one(
        Rel.TRACKED_AS, IN, description=(
            "The Maestro training job this MLflow run tracks (TRACKED_AS: the run's tag maestro.training_job names it; "
            "the MLflow sync links them)."))


@strawberry.input
class CreateJobInput:
    namespace: str
    name: str
    description: Optional[str] = None


@strawberry.input(description="Fields to change on a Job; null removes an optional field.")
class UpdateJobInput:
    description: Optional[str] = strawberry.UNSET


@strawberry.input
class CreateRunInput:
    job_id: strawberry.ID
    run_id: str
    state: Optional[RunState] = None  # type: ignore[valid-type]
    started_at: Optional[datetime] = None
    ended_at: Optional[datetime] = None
    facets: Optional[JSON] = None


@strawberry.input(description="Fields to change on a Run; null removes an optional field.")
class UpdateRunInput:
    state: Optional[RunState] = strawberry.UNSET  # type: ignore[valid-type]
    started_at: Optional[datetime] = strawberry.UNSET
    ended_at: Optional[datetime] = strawberry.UNSET
    facets: Optional[JSON] = strawberry.UNSET
