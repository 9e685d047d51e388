"""Pipeline steps (OpenLineage jobs) and their runs: GraphQL types, enums and inputs."""

from __future__ import annotations

from datetime import datetime
from typing import Optional

import strawberry
from strawberry import relay
from strawberry.scalars import JSON

from maestro_graph.domain import vocabulary as s
from maestro_graph.domain.graph import Rel
from resolvers.datasets.types import Dataset
from resolvers.nodes import IN, OUT, StoredNode, related, related_one
from resolvers.relay import Connection

RunState = strawberry.enum(s.RunState, description=s.RunState.__doc__)


@strawberry.type(description="A pipeline step (OpenLineage job).")
class Job(StoredNode, relay.Node):
    id: relay.NodeID[str]
    namespace: str
    name: str
    description: Optional[str]
    created_at: datetime
    updated_at: datetime
    inputs: Connection[Dataset] = related(Rel.READS, OUT, description="Datasets it reads.")
    outputs: Connection[Dataset] = related(Rel.WRITES, OUT, description="Datasets it writes.")
    runs: Connection[Run] = related(Rel.OF_JOB, IN, description="Its runs.")


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
