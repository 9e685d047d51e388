"""createModel, updateModel, deleteModel, createModelVersion, updateModelVersion, deleteModelVersion,
createTrainingJob, updateTrainingJob, deleteTrainingJob, createDeployment, updateDeployment, deleteDeployment."""

import strawberry

from maestro_graph.domain.graph import Label
from resolvers import crud
from resolvers.context import Info
from resolvers.crud import DeletePayload
from resolvers.models.types import (
    CreateDeploymentInput, CreateModelInput, CreateModelVersionInput, CreateTrainingJobInput, Deployment, Model,
    ModelVersion, TrainingJob, UpdateDeploymentInput, UpdateModelInput, UpdateModelVersionInput, UpdateTrainingJobInput,
)
from resolvers.permissions import EDITOR


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

    @strawberry.mutation(description="Create a TrainingJob. CONFLICT if its natural key is taken.", permission_classes=EDITOR)
    async def create_training_job(self, info: Info, input: CreateTrainingJobInput) -> TrainingJob:
        return await crud.create_node(info, Label.TRAINING_JOB, input)

    @strawberry.mutation(description="Change fields of a TrainingJob; null removes an optional field.", permission_classes=EDITOR)
    async def update_training_job(self, info: Info, id: strawberry.ID, input: UpdateTrainingJobInput) -> TrainingJob:
        return await crud.update_node(info, Label.TRAINING_JOB, id, input)

    @strawberry.mutation(description="Delete a TrainingJob and its relationships.", permission_classes=EDITOR)
    async def delete_training_job(self, info: Info, id: strawberry.ID) -> DeletePayload:
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
