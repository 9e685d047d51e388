"""Dataset schema versions and schema changes in GraphQL (domain/schema_versions.py)."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import TYPE_CHECKING, Annotated, Any, Optional

import strawberry

from maestro_graph.domain.graph import Label
from maestro_graph.domain.schema_versions import columns_of
from resolvers.context import Info
from resolvers.nodes import to_type
from resolvers.relay import to_global_id

if TYPE_CHECKING:
    from resolvers.datasets.types import Dataset

# The label of each kind an impact summary names (services/schemas.py KINDS).
KIND_LABELS = {"fields": Label.FIELD, "datasets": Label.DATASET, "model_versions": Label.MODEL_VERSION,
               "models": Label.MODEL, "deployments": Label.DEPLOYMENT, "projects": Label.PROJECT, "people": Label.PERSON}


@strawberry.type(description="A column as a schema version holds it.")
class SchemaColumn:
    path: str
    type: Optional[str]


@strawberry.type(description="A column whose type changed.")
class TypeChange:
    path: str
    from_: Optional[str] = strawberry.field(name="from")
    to: Optional[str]


@strawberry.type(description="A column renamed: the producer's column lineage derives the new one from exactly what the old one was.")
class ColumnRename:
    from_: str = strawberry.field(name="from")
    to: str


@strawberry.type(description="What a schema version changed from the one before.")
class SchemaDiff:
    added: list[SchemaColumn]
    removed: list[SchemaColumn]
    type_changed: list[TypeChange]
    renamed: list[ColumnRename]


@strawberry.type(description="Something a schema change reaches, at its distance (hops) from the changed columns.")
class Reached:
    id: strawberry.ID
    name: str
    distance: int


@strawberry.type(description="How many of each kind a schema change reaches.")
class ReachedTotals:
    fields: int
    datasets: int
    model_versions: int
    models: int
    deployments: int
    projects: int
    people: int


@strawberry.type(description="What a breaking schema change (columns removed, retyped or renamed) reached when it was "
                             "stored: downstream columns and datasets, model versions, models, deployments, projects, and "
                             "the people to tell. Each list names the nearest 50; `totals` counts them all.")
class SchemaChangeImpact:
    fields: list[Reached]
    datasets: list[Reached]
    model_versions: list[Reached]
    models: list[Reached]
    deployments: list[Reached]
    projects: list[Reached]
    people: list[Reached]
    totals: ReachedTotals
    truncated: bool


@strawberry.type(description="One version of a dataset's schema, as its producers reported it.")
class SchemaVersion:
    version: int
    at: datetime = strawberry.field(description="When the run that first reported it ran (its event's time).")
    run: Optional[str] = strawberry.field(description="The OpenLineage run id that first reported it.")
    columns: list[SchemaColumn]
    diff: Optional[SchemaDiff] = strawberry.field(description="What changed from the version before (null for the first).")
    impact: Optional[SchemaChangeImpact] = strawberry.field(description="For a breaking change: what it reached.")
    dataset_id: strawberry.Private[str] = ""

    @strawberry.field(description="The dataset this is a version of.")
    async def dataset(self, info: Info) -> Optional[Annotated["Dataset", strawberry.lazy("resolvers.datasets.types")]]:
        node = await info.context.loaders.node.load(self.dataset_id)
        return to_type(node) if node is not None else None


def schema_version(entry: Mapping[str, Any], dataset_id: str = "") -> SchemaVersion:
    d = entry.get("diff")
    diff = SchemaDiff(
        added=[SchemaColumn(path=c["path"], type=c.get("type")) for c in d["added"]],
        removed=[SchemaColumn(path=c["path"], type=c.get("type")) for c in d["removed"]],
        type_changed=[TypeChange(path=c["path"], from_=c.get("from"), to=c.get("to")) for c in d["type_changed"]],
        renamed=[ColumnRename(from_=c["from"], to=c["to"]) for c in d["renamed"]]) if d else None
    i = entry.get("impact")
    impact = SchemaChangeImpact(
        **{kind: [Reached(id=strawberry.ID(to_global_id(label, x["id"])), name=x["name"], distance=x["distance"])
                  for x in i.get(kind, [])] for kind, label in KIND_LABELS.items()},
        totals=ReachedTotals(**{kind: int(i.get("totals", {}).get(kind, 0)) for kind in KIND_LABELS}),
        truncated=bool(i.get("truncated"))) if i else None
    return SchemaVersion(version=int(entry["version"]), at=entry["at"], run=entry.get("run") or None,  # type: ignore[arg-type]
                         columns=[SchemaColumn(path=path, type=type_) for path, type_ in columns_of(entry).items()],
                         diff=diff, impact=impact, dataset_id=dataset_id)
