"""createJob, updateJob, deleteJob, createRun, updateRun, deleteRun."""

import strawberry

from maestro_graph.domain.graph import Label
from resolvers import crud
from resolvers.context import Info
from resolvers.crud import DeletePayload
from resolvers.jobs.types import (
    CreateJobInput, CreateRunInput, Job, Run, UpdateJobInput, UpdateRunInput,
)
from resolvers.permissions import EDITOR


@strawberry.type
class JobMutation:
    @strawberry.mutation(description="Create a Job. CONFLICT if its natural key is taken.", permission_classes=EDITOR)
    async def create_job(self, info: Info, input: CreateJobInput) -> Job:
        return await crud.create_node(info, Label.JOB, input)

    @strawberry.mutation(description="Change fields of a Job; null removes an optional field.", permission_classes=EDITOR)
    async def update_job(self, info: Info, id: strawberry.ID, input: UpdateJobInput) -> Job:
        return await crud.update_node(info, Label.JOB, id, input)

    @strawberry.mutation(description="Delete a Job and its relationships.", permission_classes=EDITOR)
    async def delete_job(self, info: Info, id: strawberry.ID) -> DeletePayload:
        return await crud.delete_node(info, Label.JOB, id)

    @strawberry.mutation(description="Create a Run. CONFLICT if its natural key is taken.", permission_classes=EDITOR)
    async def create_run(self, info: Info, input: CreateRunInput) -> Run:
        return await crud.create_node(info, Label.RUN, input)

    @strawberry.mutation(description="Change fields of a Run; null removes an optional field.", permission_classes=EDITOR)
    async def update_run(self, info: Info, id: strawberry.ID, input: UpdateRunInput) -> Run:
        return await crud.update_node(info, Label.RUN, id, input)

    @strawberry.mutation(description="Delete a Run and its relationships.", permission_classes=EDITOR)
    async def delete_run(self, info: Info, id: strawberry.ID) -> DeletePayload:
        return await crud.delete_node(info, Label.RUN, id)
