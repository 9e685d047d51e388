"""createModel, updateModel, deleteModel, createModelVersion, updateModelVersion, deleteModelVersion,
updateTrainingJob, deleteTrainingJob, createDeployment, updateDeployment, deleteDeployment; and the training
jobs' verbs: submitTrainingJob, cancelTrainingJob, setArtifactEntrypoint (services/training.py)."""

from typing import Optional

import strawberry

from maestro_graph.domain.graph import Label
from resolvers import crud
from resolvers.context import Info
from resolvers.crud import DeletePayload
from resolvers.models.types import (
    CreateDeploymentInput, CreateModelInput, CreateModelVersionInput, Deployment, EntrypointInput, Model, ModelVersion,
    SubmitTrainingJobInput, TrainingJob, UpdateDeploymentInput, UpdateModelInput, UpdateModelVersionInput,
    UpdateTrainingJobInput,
)
from resolvers.artifacts.types import Artifact
from resolvers.nodes import to_type
from resolvers.permissions import ADMIN, EDITOR
from resolvers.relay import from_global_id


@strawberry.type
class ModelMutation:
    @strawberry.mutation(description="Create a Model. CONFLICT if its natural key is taken.", permission_classes=EDITOR)
    async def create_model(self, info: Info, input: CreateModelInput) -> Model:
        return await crud.create_node(info, Label.MODEL, input)

    @strawberry.mutation(description="Change fields of a Model; null removes an optional field.", permission_classes=EDITOR)
    async def update_model(self, info: Info, id: strawberry.ID, input: UpdateModelInput) -> Model:
        return await crud.update_node(info, Label.MODEL, id, input)

    @strawberry.mutation(description="Delete a Model and its relationships.", permission_classes=EDITOR)
    async def delete_model(self, info: Info, id: strawberry.ID) -> DeletePayload:
        return await crud.delete_node(info, Label.MODEL, id)

    @strawberry.mutation(description="Create a ModelVersion. CONFLICT if its natural key is taken.", permission_classes=EDITOR)
    async def create_model_version(self, info: Info, input: CreateModelVersionInput) -> ModelVersion:
        return await crud.create_node(info, Label.MODEL_VERSION, input)

    @strawberry.mutation(description="Change fields of a ModelVersion; null removes an optional field.", permission_classes=EDITOR)
    async def update_model_version(self, info: Info, id: strawberry.ID, input: UpdateModelVersionInput) -> ModelVersion:
        return await crud.update_node(info, Label.MODEL_VERSION, id, input)

    @strawberry.mutation(description="Delete a ModelVersion and its relationships.", permission_classes=EDITOR)
    async def delete_model_version(self, info: Info, id: strawberry.ID) -> DeletePayload:
        return await crud.delete_node(info, Label.MODEL_VERSION, id)

    @strawberry.mutation(description="Change fields of a TrainingJob; null removes an optional field.", permission_classes=EDITOR)
    async def update_training_job(self, info: Info, id: strawberry.ID, input: UpdateTrainingJobInput) -> TrainingJob:
        return await crud.update_node(info, Label.TRAINING_JOB, id, input)

    @strawberry.mutation(description="Delete a finished TrainingJob and its relationships (CONFLICT while it is "
                                     "PENDING or RUNNING: cancel it first).", permission_classes=EDITOR)
    async def delete_training_job(self, info: Info, id: strawberry.ID) -> DeletePayload:
        ctx = info.context
        await ctx.services.training.deletable(ctx.principal, from_global_id(id, Label.TRAINING_JOB)[1])
        return await crud.delete_node(info, Label.TRAINING_JOB, id)

    @strawberry.mutation(description="Create a Deployment. CONFLICT if its natural key is taken.", permission_classes=EDITOR)
    async def create_deployment(self, info: Info, input: CreateDeploymentInput) -> Deployment:
        return await crud.create_node(info, Label.DEPLOYMENT, input)

    @strawberry.mutation(description="Change fields of a Deployment; null removes an optional field.", permission_classes=EDITOR)
    async def update_deployment(self, info: Info, id: strawberry.ID, input: UpdateDeploymentInput) -> Deployment:
        return await crud.update_node(info, Label.DEPLOYMENT, id, input)

    @strawberry.mutation(description="Delete a Deployment and its relationships.", permission_classes=EDITOR)
    async def delete_deployment(self, info: Info, id: strawberry.ID) -> DeletePayload:
        return await crud.delete_node(info, Label.DEPLOYMENT, id)


@strawberry.type
class TrainingMutation:
    @strawberry.mutation(description=(
        "Run a training job: a model template's entrypoint with your args and env, on the local runner (a "
        "subprocess) or Kubernetes. It starts PENDING; subscribe with trainingJobUpdated to follow it. On success "
        "a ModelVersion is registered, PRODUCED by the job and TRAINED_ON its datasets."), permission_classes=EDITOR)
    async def submit_training_job(self, info: Info, input: SubmitTrainingJobInput) -> TrainingJob:
        ctx = info.context
        data = {
            "name": input.name, "project_id": from_global_id(input.project_id, Label.PROJECT, field="projectId")[1],
            "template_id": from_global_id(input.template_id, Label.ARTIFACT, field="templateId")[1] if input.template_id else None,
            "command": input.command, "args": input.args or [], "env": input.env or {},
            "secret_env": input.secret_env or {}, "runner": input.runner.value,
            "dataset_ids": [from_global_id(d, Label.DATASET, field="datasetIds")[1] for d in input.dataset_ids or []],
            "model": input.model, "timeout_seconds": input.timeout_seconds,
            "resources": {"cpu": input.resources.cpu, "memory": input.resources.memory, "gpus": input.resources.gpus}
            if input.resources else {},
        }
        node = await ctx.services.training.submit(ctx.principal, data)
        ctx.loaders.forget()
        return to_type(node)

    @strawberry.mutation(description=(
        "Stop a PENDING or RUNNING training job: it becomes CANCELLED once its runner saw it end (a queued local job "
        "at once). CONFLICT if it has already ended."), permission_classes=EDITOR)
    async def cancel_training_job(self, info: Info, id: strawberry.ID) -> TrainingJob:
        ctx = info.context
        node = await ctx.services.training.cancel(ctx.principal, from_global_id(id, Label.TRAINING_JOB)[1])
        ctx.loaders.forget()
        return to_type(node)

    @strawberry.mutation(description=(
        "Set (or with null or none given, remove) what a model_template runs when a training job is submitted from it. An "
        "admin's act: it decides what the server runs for every editor."), permission_classes=ADMIN)
    async def set_artifact_entrypoint(self, info: Info, id: strawberry.ID,
                                      entrypoint: Optional[EntrypointInput] = None) -> Artifact:
        ctx = info.context
        data = None if entrypoint is None else {"command": entrypoint.command, "image": entrypoint.image}
        node = await ctx.services.training.set_entrypoint(ctx.principal, from_global_id(id, Label.ARTIFACT)[1], data)
        ctx.loaders.forget()
        return to_type(node)
