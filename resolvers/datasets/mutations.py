"""createDataset, updateDataset, deleteDataset, createField, updateField, deleteField."""

import strawberry

from maestro_graph.domain.graph import Label
from resolvers import crud
from resolvers.context import Info
from resolvers.crud import DeletePayload
from resolvers.datasets.types import (
    CreateDatasetInput, CreateFieldInput, Dataset, Field, UpdateDatasetInput, UpdateFieldInput,
)
from resolvers.permissions import EDITOR


@strawberry.type
class DatasetMutation:
    @strawberry.mutation(description="Create a Dataset. CONFLICT if its natural key is taken.", permission_classes=EDITOR)
    async def create_dataset(self, info: Info, input: CreateDatasetInput) -> Dataset:
        return await crud.create_node(info, Label.DATASET, input)

    @strawberry.mutation(description="Change fields of a Dataset; null removes an optional field.", permission_classes=EDITOR)
    async def update_dataset(self, info: Info, id: strawberry.ID, input: UpdateDatasetInput) -> Dataset:
        return await crud.update_node(info, Label.DATASET, id, input)

    @strawberry.mutation(description="Delete a Dataset and its relationships.", permission_classes=EDITOR)
    async def delete_dataset(self, info: Info, id: strawberry.ID) -> DeletePayload:
        return await crud.delete_node(info, Label.DATASET, id)

    @strawberry.mutation(description="Create a Field. CONFLICT if its natural key is taken.", permission_classes=EDITOR)
    async def create_field(self, info: Info, input: CreateFieldInput) -> Field:
        return await crud.create_node(info, Label.FIELD, input)

    @strawberry.mutation(description="Change fields of a Field; null removes an optional field.", permission_classes=EDITOR)
    async def update_field(self, info: Info, id: strawberry.ID, input: UpdateFieldInput) -> Field:
        return await crud.update_node(info, Label.FIELD, id, input)

    @strawberry.mutation(description="Delete a Field and its relationships.", permission_classes=EDITOR)
    async def delete_field(self, info: Info, id: strawberry.ID) -> DeletePayload:
        return await crud.delete_node(info, Label.FIELD, id)
