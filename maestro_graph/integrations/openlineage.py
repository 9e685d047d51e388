"""OpenLineage events -> graph changes. Validation and translation only; no I/O.

Accepts RunEvent, DatasetEvent and JobEvent (spec 2.x) as the OpenLineage HTTP transport sends
them. From each: Job and Run nodes, Dataset nodes (namespace + name identity), `schema` facet ->
Field nodes (nested fields as dotted paths), `columnLineage` facet -> Field-to-Field DERIVES edges
(both the per-input `transformations[]` shape and the older `transformationType/Description`, plus
the facet's `dataset` list of inputs that affect every output field), Job READS/WRITES and
dataset-level FEEDS edges from every input to every output.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import lru_cache
from datetime import datetime, timezone
from typing import Any, Literal, Union

from pydantic import BaseModel, ConfigDict, Field as PField, StringConstraints, TypeAdapter, ValidationError
from typing_extensions import Annotated

from maestro_graph.domain.errors import BadInput
from maestro_graph.domain.graph import Edge, Label, Node, Rel
from maestro_graph.domain.schemas import identity_id, natural_key, now, validate_props, validate_rel_props
from maestro_graph.types import NodeId, Props, Tenant

NonEmpty = Annotated[str, StringConstraints(min_length=1, max_length=1000)]
EventType = Literal["START", "RUNNING", "COMPLETE", "ABORT", "FAIL", "OTHER"]
TERMINAL = {"COMPLETE", "ABORT", "FAIL"}
TRANSFORMATION_TYPES = ("DIRECT", "INDIRECT")


class _Spec(BaseModel):
    # Producers add their own keys (facets, _producer, _schemaURL ...): keep what we read strict,
    # let the rest through.
    model_config = ConfigDict(extra="allow")


class Transformation(_Spec):
    type: Literal[TRANSFORMATION_TYPES]  # type: ignore[valid-type]
    subtype: str | None = None
    description: str | None = None
    masking: bool | None = None  # clients send null for "not said"


class InputField(_Spec):
    namespace: NonEmpty
    name: NonEmpty
    field: NonEmpty
    transformations: list[Transformation] = PField(default_factory=list)


class ColumnFields(_Spec):
    inputFields: list[InputField]
    transformationDescription: str | None = None
    transformationType: str | None = None


class ColumnLineageFacet(_Spec):
    fields: dict[str, ColumnFields] = PField(default_factory=dict)
    dataset: list[InputField] = PField(default_factory=list)


class SchemaField(_Spec):
    name: NonEmpty
    type: str | None = None
    description: str | None = None
    fields: list["SchemaField"] = PField(default_factory=list)


class SchemaFacet(_Spec):
    fields: list[SchemaField] = PField(default_factory=list)


class DatasetFacets(_Spec):
    schema_: SchemaFacet | None = PField(default=None, alias="schema")
    columnLineage: ColumnLineageFacet | None = None
    documentation: dict[str, Any] | None = None


class DatasetRef(_Spec):
    namespace: NonEmpty
    name: NonEmpty
    facets: DatasetFacets = PField(default_factory=DatasetFacets)


class JobRef(_Spec):
    namespace: NonEmpty
    name: NonEmpty
    facets: dict[str, Any] = PField(default_factory=dict)


class RunRef(_Spec):
    runId: Annotated[str, StringConstraints(pattern=r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$")]
    facets: dict[str, Any] = PField(default_factory=dict)


class _Event(_Spec):
    eventTime: datetime
    producer: NonEmpty
    schemaURL: NonEmpty


class RunEvent(_Event):
    eventType: EventType | None = None
    run: RunRef
    job: JobRef
    inputs: list[DatasetRef] = PField(default_factory=list)
    outputs: list[DatasetRef] = PField(default_factory=list)


class JobEvent(_Event):
    job: JobRef
    inputs: list[DatasetRef] = PField(default_factory=list)
    outputs: list[DatasetRef] = PField(default_factory=list)


class DatasetEvent(_Event):
    dataset: DatasetRef


Event = Union[RunEvent, JobEvent, DatasetEvent]
_ADAPTERS = {kind: TypeAdapter(kind) for kind in (RunEvent, JobEvent, DatasetEvent)}


def parse_event(raw: Any, where: str = "event") -> Event:
    """Validate one event; BadInput names the offending field, e.g. `events[2].run.runId`."""
    if not isinstance(raw, dict):
        raise BadInput(f"{where}: an OpenLineage event must be a JSON object", field=where)
    kind = RunEvent if "run" in raw else DatasetEvent if "dataset" in raw else JobEvent
    try:
        return _ADAPTERS[kind].validate_python(raw)
    except ValidationError as err:
        first = err.errors()[0]
        path = where + "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in first["loc"])
        msg = "is required" if first["type"] == "missing" else first["msg"]
        raise BadInput(f"{path}: {msg} ({kind.__name__})", field=path) from None


def parse_events(body: Any) -> list[Event]:
    """One event, or a JSON array of them (a batch: one bad event refuses all)."""
    if isinstance(body, list):
        if not body:
            raise BadInput("events: the batch is empty", field="events")
        return [parse_event(e, f"events[{i}]") for i, e in enumerate(body)]
    return [parse_event(body)]


def _time(t: datetime) -> str:
    if t.tzinfo is None:
        t = t.replace(tzinfo=timezone.utc)
    return t.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def _subtype_rank(t: Transformation) -> tuple[int, str]:
    return (0 if t.type == "DIRECT" else 1, t.subtype or "")


def _validate_node(tenant: Tenant, label: Label, props: Props) -> tuple[NodeId, str, Props]:
    """(id, natural key, props to merge) for a node an event names."""
    # Merge only what the event says: schema defaults must not wipe what users set (tags...).
    valid = validate_props(label, props)
    clean = {k: v for k, v in valid.items() if k in props or k == "name"}
    key = natural_key(label, clean)  # every label an event names is identity-keyed
    return identity_id(tenant, label, key), key, clean


@lru_cache(maxsize=200_000)
def _validated_node(tenant: Tenant, label: Label, items: tuple[tuple[str, Any], ...]) -> tuple[NodeId, str, Props]:
    # Datasets and columns recur across events: validate and hash each distinct one once.
    return _validate_node(tenant, label, dict(items))


@lru_cache(maxsize=50_000)
def _validated_rel(rel: Rel, items: tuple[tuple[str, Any], ...]) -> Props:
    return validate_rel_props(rel, dict(items))


@dataclass
class Translation:
    """What a batch of events writes: nodes to merge (by identity) and relationships to link."""

    tenant: Tenant
    stamp: str = field(default_factory=now)
    nodes: dict[NodeId, Node] = field(default_factory=dict)
    links: dict[tuple[Rel, NodeId, NodeId], Edge] = field(default_factory=dict)
    runs: list[tuple[NodeId, Props]] = field(default_factory=list)  # run id, run props from one event (in order)

    def node(self, label: Label, props: Props) -> Node:
        if all(type(v) is str for v in props.values()):  # hashable: validate each distinct node once
            node_id, key, clean = _validated_node(self.tenant, label, tuple(props.items()))
        else:
            node_id, key, clean = _validate_node(self.tenant, label, props)
        prev = self.nodes.get(node_id)
        if prev is not None:  # seen earlier in the batch: later values win, earlier ones stay
            if all(prev.props.get(k) == v for k, v in clean.items()):
                return prev
            clean = {**prev.props, **clean}
        self.nodes[node_id] = node = Node(node_id, label, key, dict(clean), self.stamp, self.stamp)
        return node

    def link(self, rel: Rel, src: NodeId, dst: NodeId, props: Props | None = None) -> None:
        items = tuple(sorted((props or {}).items()))
        self.links[(rel, src, dst)] = Edge(rel, src, dst, dict(_validated_rel(rel, items)))

    def dataset(self, ref: DatasetRef) -> Node:
        props: Props = {"namespace": ref.namespace, "name": ref.name}
        doc = ref.facets.documentation
        if doc and isinstance(doc.get("description"), str):
            props["description"] = doc["description"]
        ds = self.node(Label.DATASET, props)
        if ref.facets.schema_ is not None:
            self._schema_fields(ds.id, ref.facets.schema_.fields, "")
        return ds

    def field(self, dataset_id: NodeId, path: str, type_: str | None = None, description: str | None = None) -> Node:
        props: Props = {"dataset_id": dataset_id, "path": path}
        if type_:
            props["type"] = type_
        if description:
            props["description"] = description
        f = self.node(Label.FIELD, props)
        self.link(Rel.HAS_FIELD, dataset_id, f.id)
        return f

    def _schema_fields(self, dataset_id: NodeId, fields: list[SchemaField], prefix: str) -> None:
        for sf in fields:
            path = prefix + sf.name
            self.field(dataset_id, path, sf.type, sf.description)
            self._schema_fields(dataset_id, sf.fields, path + ".")

    def job(self, ref: JobRef) -> Node:
        props: Props = {"namespace": ref.namespace, "name": ref.name}
        doc = ref.facets.get("documentation")
        if isinstance(doc, dict) and isinstance(doc.get("description"), str):
            props["description"] = doc["description"]
        return self.node(Label.JOB, props)

    def io(self, job: Node, inputs: list[DatasetRef], outputs: list[DatasetRef]) -> None:
        job_name = f"{job.props['namespace']}/{job.props['name']}"
        ins = [self.dataset(d) for d in inputs]
        outs = [self.dataset(d) for d in outputs]
        for d in ins:
            self.link(Rel.READS, job.id, d.id)
        for d in outs:
            self.link(Rel.WRITES, job.id, d.id)
        for ref, o in zip(outputs, outs):
            described = _column_sources(ref.facets.columnLineage)
            for i_ref, i in zip(inputs, ins):
                if i.id != o.id:
                    self.link(Rel.FEEDS, i.id, o.id,
                              {"job": job_name, "column_lineage": (i_ref.namespace, i_ref.name) in described})
        for ref, out in zip(outputs, outs):
            if ref.facets.columnLineage is not None:
                self._column_lineage(out, ref.facets.columnLineage, job_name)

    def _column_lineage(self, out: Node, facet: ColumnLineageFacet, job_name: str) -> None:
        columns: dict[tuple[str, str, str], NodeId] = {}  # an input column is named once per output column

        def column(ref: InputField) -> NodeId:
            key = (ref.namespace, ref.name, ref.field)
            if key not in columns:
                ds = self.node(Label.DATASET, {"namespace": ref.namespace, "name": ref.name})
                columns[key] = self.field(ds.id, ref.field).id
            return columns[key]

        for out_path, spec in sorted(facet.fields.items()):
            target = self.field(out.id, out_path)
            sources = list(spec.inputFields) + list(facet.dataset)  # `dataset` inputs affect every output field
            for src in sources:
                self.link(Rel.DERIVES, column(src), target.id, self._derivation(src, spec, job_name))

    @staticmethod
    def _derivation(src: InputField, spec: ColumnFields, job_name: str) -> Props:
        if src.transformations:
            main = min(src.transformations, key=_subtype_rank)  # a DIRECT path outranks INDIRECT ones
            descriptions = [t.description for t in src.transformations if t.description]
            return {"type": main.type, "subtype": main.subtype, "description": "; ".join(descriptions) or None,
                    "masking": any(bool(t.masking) for t in src.transformations), "job": job_name}
        # The older facet shape: one transformation for the whole output field, always direct.
        return {"type": "DIRECT", "subtype": spec.transformationType, "description": spec.transformationDescription,
                "masking": False, "job": job_name}


def _column_sources(facet: ColumnLineageFacet | None) -> set[tuple[str, str]]:
    """The input datasets a columnLineage facet maps to output columns."""
    if facet is None:
        return set()
    refs = [f for spec in facet.fields.values() for f in spec.inputFields] + list(facet.dataset)
    return {(f.namespace, f.name) for f in refs}


def translate(tenant: Tenant, events: list[Event]) -> Translation:
    t = Translation(tenant)
    for ev in events:
        if isinstance(ev, DatasetEvent):
            t.dataset(ev.dataset)
            continue
        job = t.job(ev.job)
        t.io(job, ev.inputs, ev.outputs)
        if isinstance(ev, RunEvent):
            run_props: Props = {"run_id": ev.run.runId.lower(), "job_id": job.id, "producer": ev.producer}
            if ev.run.facets:
                run_props["facets"] = ev.run.facets
            at = _time(ev.eventTime)
            state = ev.eventType or "OTHER"
            run_props |= {"state": state, "state_at": at}
            if state == "START":
                run_props["started_at"] = at
            if state in TERMINAL:
                run_props["ended_at"] = at
            run = t.node(Label.RUN, {"run_id": run_props["run_id"], "job_id": job.id})
            t.link(Rel.OF_JOB, run.id, job.id)
            t.runs.append((run.id, run_props))
    return t


def _rank(props: Props) -> tuple[int, str]:
    """Which of two run states stands: a terminal state beats START/RUNNING/OTHER whatever the
    arrival order; between two of the same class, the later eventTime wins."""
    return (1 if props.get("state") in TERMINAL else 0, str(props.get("state_at") or ""))


def fold_run(current: Props | None, update: Props) -> Props:
    """Combine what is stored about a run with one more event about it, in any arrival order."""
    if current is None:
        return dict(update)
    out = dict(current)
    if _rank(update) >= _rank(current):
        out["state"], out["state_at"] = update["state"], update["state_at"]
    for key, pick in (("started_at", min), ("ended_at", max)):
        values = [v for v in (current.get(key), update.get(key)) if v]
        if values:
            out[key] = pick(values)
    if update.get("facets"):
        out["facets"] = {**(current.get("facets") or {}), **update["facets"]}  # type: ignore[dict-item]
    for key in ("producer", "job_id", "run_id"):
        out.setdefault(key, update.get(key))
    return out
