"""OpenLineage events -> graph changes. Validation and translation only; no I/O.

Accepts RunEvent, DatasetEvent and JobEvent (spec 2.x) as the OpenLineage HTTP transport sends
them. From each: Job and Run nodes, Dataset nodes (namespace + name identity), `schema` facet ->
Field nodes (nested fields as dotted paths), `columnLineage` facet -> Field-to-Field DERIVES edges
(both the per-input `transformations[]` shape and the older `transformationType/Description`, plus
the facet's `dataset` list of inputs that affect every output field), Job READS/WRITES and
dataset-level FEEDS edges from every input to every output. The job hierarchy: a run's `parent`
facet -> Run CHILD_OF Run and Job PART_OF Job; a job's `jobType` facet -> its integration,
processing type and job type; a dataset's `symlinks` facet -> its aliases (other names it is
found by).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import lru_cache
from datetime import datetime
from typing import Any, Literal, Union

from pydantic import ConfigDict, StringConstraints, TypeAdapter, ValidationError, with_config
from typing_extensions import Annotated, NotRequired, TypedDict

from maestro_graph.domain.clock import now, utc_text
from maestro_graph.domain.errors import BadInput
from maestro_graph.domain.derivations import Contribution, Statement
from maestro_graph.domain.schema_versions import SchemaSeen
from maestro_graph.domain.graph import Label, Node, Rel
from maestro_graph.domain.ids import identity_id
from maestro_graph.domain.keys import field_key, natural_key
from maestro_graph.domain.props import validate_props, validate_rel_props, with_unions
from maestro_graph.types import NodeId, Props, Tenant

NonEmpty = Annotated[str, StringConstraints(min_length=1, max_length=1000)]
EventType = Literal["START", "RUNNING", "COMPLETE", "ABORT", "FAIL", "OTHER"]
TERMINAL = {"COMPLETE", "ABORT", "FAIL"}
TRANSFORMATION_TYPES = ("DIRECT", "INDIRECT")


# The event models are TypedDicts: pydantic validates them into plain dicts several times faster
# than into model instances, and ingestion parses every event.
# Producers add their own keys (facets, _producer, _schemaURL ...): what we read is strict,
# the rest passes (pydantic ignores keys a TypedDict does not name).
class Transformation(TypedDict):
    type: Literal[TRANSFORMATION_TYPES]  # type: ignore[valid-type]
    subtype: NotRequired[str | None]
    description: NotRequired[str | None]
    masking: NotRequired[bool | None]  # clients send null for "not said"


class InputField(TypedDict):
    namespace: NonEmpty
    name: NonEmpty
    field: NonEmpty
    transformations: NotRequired[list[Transformation]]


class ColumnFields(TypedDict):
    inputFields: list[InputField]
    transformationDescription: NotRequired[str | None]
    transformationType: NotRequired[str | None]


class ColumnLineageFacet(TypedDict):
    fields: NotRequired[dict[str, ColumnFields]]
    dataset: NotRequired[list[InputField]]


class SchemaField(TypedDict):
    name: NonEmpty
    type: NotRequired[str | None]
    description: NotRequired[str | None]
    fields: NotRequired[list["SchemaField"]]


class SchemaFacet(TypedDict):
    fields: NotRequired[list[SchemaField]]


class SymlinkIdentifier(TypedDict):
    namespace: NonEmpty
    name: NonEmpty
    type: NotRequired[str | None]  # TABLE, ...


class SymlinksFacet(TypedDict):
    identifiers: NotRequired[list[SymlinkIdentifier]]


class DatasetFacets(TypedDict):
    schema: NotRequired[SchemaFacet | None]
    columnLineage: NotRequired[ColumnLineageFacet | None]
    documentation: NotRequired[dict[str, Any] | None]
    symlinks: NotRequired[SymlinksFacet | None]


class DatasetRef(TypedDict):
    namespace: NonEmpty
    name: NonEmpty
    facets: NotRequired[DatasetFacets]


RunId = Annotated[str, StringConstraints(pattern=r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$")]
Short = Annotated[str, StringConstraints(max_length=100)]
_KEEP = ConfigDict(extra="allow")  # facets stored whole (a run's) keep the keys we do not read


class JobTypeFacet(TypedDict):
    processingType: NotRequired[Short | None]  # BATCH, STREAMING
    integration: NotRequired[Short | None]  # SPARK, DBT, ...
    jobType: NotRequired[Short | None]  # QUERY, COMMAND, DAG, TASK, JOB, MODEL, SQL_JOB, APPLICATION, ...


@with_config(_KEEP)
class JobFacets(TypedDict):
    jobType: NotRequired[JobTypeFacet | None]


class JobRef(TypedDict):
    namespace: NonEmpty
    name: NonEmpty
    facets: NotRequired[JobFacets]


@with_config(_KEEP)
class ParentRunRef(TypedDict):
    runId: RunId


@with_config(_KEEP)
class ParentJobRef(TypedDict):
    namespace: NonEmpty
    name: NonEmpty


@with_config(_KEEP)
class RootRef(TypedDict):
    run: ParentRunRef
    job: ParentJobRef


@with_config(_KEEP)
class ParentFacet(TypedDict):
    run: ParentRunRef
    job: ParentJobRef
    root: NotRequired[RootRef | None]  # OpenLineage 1.x: the top of the hierarchy


@with_config(_KEEP)
class RunFacets(TypedDict):
    parent: NotRequired[ParentFacet | None]


class RunRef(TypedDict):
    runId: RunId
    facets: NotRequired[RunFacets]


class _Event(TypedDict):
    eventTime: datetime
    producer: NonEmpty
    schemaURL: NonEmpty


class RunEvent(_Event):
    eventType: NotRequired[EventType | None]
    run: RunRef
    job: JobRef
    inputs: NotRequired[list[DatasetRef]]
    outputs: NotRequired[list[DatasetRef]]


class JobEvent(_Event):
    job: JobRef
    inputs: NotRequired[list[DatasetRef]]
    outputs: NotRequired[list[DatasetRef]]


class DatasetEvent(_Event):
    dataset: DatasetRef


Event = Union[RunEvent, JobEvent, DatasetEvent]
_KINDS = {"RunEvent": RunEvent, "JobEvent": JobEvent, "DatasetEvent": DatasetEvent}
_ADAPTERS = {name: TypeAdapter(kind) for name, kind in _KINDS.items()}


def _kind(raw: dict[str, Any]) -> str:
    return "RunEvent" if "run" in raw else "DatasetEvent" if "dataset" in raw else "JobEvent"


def parse_event(raw: Any, where: str = "event") -> Event:
    """Validate one event; BadInput names the offending field, e.g. `events[2].run.runId`."""
    if not isinstance(raw, dict):
        raise BadInput(f"{where}: an OpenLineage event must be a JSON object", field=where)
    kind = _kind(raw)
    try:
        return _ADAPTERS[kind].validate_python(raw)  # type: ignore[no-any-return]
    except ValidationError as err:
        first = err.errors()[0]
        path = where + "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in first["loc"])
        msg = "is required" if first["type"] == "missing" else first["msg"]
        raise BadInput(f"{path}: {msg} ({kind})", field=path) from None


def parse_events(body: Any) -> list[Event]:
    """One event, or a JSON array of them (a batch: one bad event refuses all)."""
    if isinstance(body, list):
        if not body:
            raise BadInput("events: the batch is empty", field="events")
        return [parse_event(e, f"events[{i}]") for i, e in enumerate(body)]
    return [parse_event(body)]


_time = utc_text


@lru_cache(maxsize=200_000)
def _validated_node(tenant: Tenant, label: Label, items: tuple[tuple[str, str], ...]) -> tuple[NodeId, str, Props]:
    """(id, natural key, props to merge) for a node an event names. Datasets and jobs recur
    across events: each distinct one is validated and hashed once."""
    props = dict(items)
    # Merge only what the event says: schema defaults must not wipe what users set (tags...).
    valid = validate_props(label, props)
    clean = {k: v for k, v in valid.items() if k in props or k == "name"}
    key = natural_key(label, clean)  # every label an event names is identity-keyed
    return identity_id(tenant, label, key), key, clean


_ANY_ID = "0" * 36  # stands in for a field's dataset id while its other props are validated


@lru_cache(maxsize=50_000)
def _field_props(path: str, type_: str | None, description: str | None) -> Props:
    """A field's props to merge, but for its dataset's id. Column names recur across datasets
    (id, name, amount ...): each distinct one is validated once, whatever its dataset."""
    props: Props = {"dataset_id": _ANY_ID, "path": path}
    if type_:
        props["type"] = type_
    if description:
        props["description"] = description
    return {k: v for k, v in validate_props(Label.FIELD, props).items() if k in props or k == "name"}


@lru_cache(maxsize=10_000)
def _validated_aliases(named: tuple[tuple[str, str, str | None], ...]) -> list[Props]:
    """A dataset's aliases as stored (validated, in one order); each distinct set checked once."""
    aliases = [{"namespace": ns, "name": name, **({"type": kind} if kind else {})} for ns, name, kind in named]
    try:
        return validate_props(Label.DATASET, {"namespace": "-", "name": "-", "aliases": aliases})["aliases"]  # type: ignore[no-any-return]
    except BadInput as err:  # name where in the event it is: the facet
        raise BadInput(f"symlinks.identifiers: {err}", field="symlinks.identifiers") from None


# jobType facet key -> Job prop
_JOB_TYPE_PROPS = (("integration", "integration"), ("processing_type", "processingType"), ("job_type", "jobType"))


@lru_cache(maxsize=50_000)
def _validated_rel(rel: Rel, items: tuple[tuple[str, Any], ...]) -> Props:
    return validate_rel_props(rel, dict(items))


@dataclass
class Translation:
    """What a batch of events writes: nodes to merge (by identity) and relationships to link.

    Nodes go by provisional ids made from their identities, so that no lookup is needed here:
    their keys' uuid5, or for a field its dataset's provisional id and its path. The service
    swaps in the ids the store knows them by (services/identities.py)."""

    tenant: Tenant
    stamp: str = field(default_factory=now)
    nodes: dict[NodeId, Node] = field(default_factory=dict)
    links: dict[tuple[Rel, NodeId, NodeId], Props] = field(default_factory=dict)  # (rel, src, dst) -> props
    runs: list[tuple[NodeId, Props]] = field(default_factory=list)  # run id, run props from one event (in order)
    # Column lineage, as each job's run stated it per output (domain/derivations.py): folded
    # with what is stored when the batch is written, not linked as it comes.
    statements: list[Statement] = field(default_factory=list)
    # Dataset edges: (source, target) -> job -> whether it reports column lineage from the source
    # (any of its events saying so), folded with what is stored when the batch is written.
    feeds: dict[tuple[NodeId, NodeId], dict[str, bool]] = field(default_factory=dict)
    # Each schema facet, by dataset (domain/schema_versions.py), with the event's time and run.
    schemas: list[tuple[NodeId, SchemaSeen]] = field(default_factory=list)
    _event: tuple[str, str] = ("", "")  # (eventTime, run id) of the event being translated
    _ids: dict[tuple[Label, str, str], NodeId] = field(default_factory=dict, repr=False)  # see column()

    @property
    def relationships(self) -> int:
        """The relationships the batch names: its links and its distinct column edges."""
        return len(self.links) + len(self.feeds) + len({pair for st in self.statements for pair in st.pairs})

    def node(self, label: Label, props: dict[str, str]) -> Node:
        """Merge a node an event names; its props are strings, so they are a cache key."""
        return self._put(label, *_validated_node(self.tenant, label, tuple(props.items())))

    def _put(self, label: Label, node_id: NodeId, key: str, clean: Props) -> Node:
        prev = self.nodes.get(node_id)
        if prev is not None:  # seen earlier in the batch: later values win, earlier ones stay
            if clean.items() <= prev.props.items():
                return prev
            clean = {**prev.props, **with_unions(label, prev.props, clean)}
        self.nodes[node_id] = node = Node(node_id, label, key, dict(clean), self.stamp, self.stamp)
        return node

    def link(self, rel: Rel, src: NodeId, dst: NodeId, props: Props | None = None) -> None:
        # Each call site builds its props in one key order, so unsorted items are a fine cache key.
        # The validated props are shared, never changed: Edge objects are made once, with real ids.
        self.links[(rel, src, dst)] = _validated_rel(rel, tuple(props.items()) if props else ())

    def dataset(self, ref: DatasetRef) -> Node:
        props: Props = {"namespace": ref["namespace"], "name": ref["name"]}
        facets = ref.get("facets") or {}
        doc = facets.get("documentation")
        if doc and isinstance(doc.get("description"), str):
            props["description"] = doc["description"]
        ds = self.node(Label.DATASET, props)
        symlinks = facets.get("symlinks")
        if symlinks and symlinks.get("identifiers"):
            ds = self._aliases(ds, symlinks["identifiers"])
        self._ids[(Label.DATASET, ref["namespace"], ref["name"])] = ds.id
        schema = facets.get("schema")
        if schema is not None:
            columns: dict[str, str | None] = {}
            self._schema_fields(ds.id, schema.get("fields", []), "", columns)
            self.schemas.append((ds.id, SchemaSeen(*self._event, columns)))
        return ds

    def _aliases(self, ds: Node, identifiers: list[SymlinkIdentifier]) -> Node:
        """The dataset with the other names its `symlinks` facet gives it (Spark's table name
        default.orders for the path file:/.../warehouse/orders), joined to those it has."""
        own = (ds.props["namespace"], ds.props["name"])
        named = tuple(dict.fromkeys((i["namespace"], i["name"], i.get("type") or None) for i in identifiers
                                    if (i["namespace"], i["name"]) != own))
        if not named:
            return ds
        aliases = _validated_aliases(named)
        return self._put(Label.DATASET, ds.id, ds.key, {**ds.props, "aliases": aliases})

    def field(self, dataset_id: NodeId, path: str, type_: str | None = None, description: str | None = None) -> Node:
        clean = {**_field_props(path, type_, description), "dataset_id": dataset_id}
        # Provisional like every id here, and unique as its (dataset, path) identity: no hashing.
        f = self._put(Label.FIELD, f"{dataset_id}/{clean['path']}", field_key(dataset_id, clean["path"]), clean)
        self.link(Rel.HAS_FIELD, dataset_id, f.id)
        self._ids[(Label.FIELD, dataset_id, path)] = f.id
        return f

    def column(self, namespace: str, name: str, path: str) -> NodeId:
        """A column that column lineage names, and its dataset: identity only (no type or
        description), so one this batch has named already adds nothing and costs a lookup."""
        dataset_id = self.column_dataset(namespace, name)
        return self._ids.get((Label.FIELD, dataset_id, path)) or self.field(dataset_id, path).id

    def _schema_fields(self, dataset_id: NodeId, fields: list[SchemaField], prefix: str,
                       columns: dict[str, str | None]) -> None:
        for sf in fields:
            path = prefix + sf["name"]
            f = self.field(dataset_id, path, sf.get("type"), sf.get("description"))
            columns[f.props["path"]] = f.props.get("type")
            self._schema_fields(dataset_id, sf.get("fields", []), path + ".", columns)

    def job(self, ref: JobRef | ParentJobRef) -> Node:
        props: Props = {"namespace": ref["namespace"], "name": ref["name"]}
        facets = ref.get("facets") or {}
        doc = facets.get("documentation")
        if isinstance(doc, dict) and isinstance(doc.get("description"), str):
            props["description"] = doc["description"]
        kind = facets.get("jobType")
        if kind:  # what the job is: a Spark application, one of its SQL jobs, a dbt model ...
            for prop, key in _JOB_TYPE_PROPS:
                if value := (kind.get(key) or "").strip():
                    props[prop] = value
        return self.node(Label.JOB, props)

    def hierarchy(self, run: Node, job: Node, parent: ParentFacet) -> None:
        """A run's `parent` facet: the run is a CHILD_OF the parent run, its job PART_OF the
        parent's job. The parent run and job are made by identity if not seen yet (a parent's
        own events may come later, or never); the parent run under the parent job, as its own
        events would make it. The facet's `root` (OpenLineage 1.x) is not linked: the parent's
        own `parent` facet says what lies between it and the root."""
        parent_job = self.job(parent["job"])
        parent_run = self.run(parent["run"]["runId"], parent_job)
        if parent_run.id != run.id:
            self.link(Rel.CHILD_OF, run.id, parent_run.id)
        if parent_job.id != job.id:
            self.link(Rel.PART_OF, job.id, parent_job.id)

    def run(self, run_id: str, job: Node) -> Node:
        """The Run node of a run id (its identity), under its job."""
        node = self.node(Label.RUN, {"run_id": run_id.lower(), "job_id": job.id})
        self.link(Rel.OF_JOB, node.id, job.id)
        return node

    def io(self, job: Node, inputs: list[DatasetRef], outputs: list[DatasetRef], run: str = "", at: str = "") -> None:
        job_name = f"{job.props['namespace']}/{job.props['name']}"
        ins = [self.dataset(d) for d in inputs]
        outs = [self.dataset(d) for d in outputs]
        for d in ins:
            self.link(Rel.READS, job.id, d.id)
        for d in outs:
            self.link(Rel.WRITES, job.id, d.id)
        for ref, o in zip(outputs, outs):
            facet = (ref.get("facets") or {}).get("columnLineage")
            described = _column_sources(facet)
            named = {(i_ref["namespace"], i_ref["name"]) for i_ref in inputs}
            for i_ref, i in zip(inputs, ins):
                if i.id != o.id:
                    self.feed(i.id, o.id, job_name, (i_ref["namespace"], i_ref["name"]) in described)
            # A dataset that feeds a column of the output feeds the output, named as an input or
            # not (dbt's default mode names seeds only in column lineage).
            for ns, name in sorted(described - named):
                source = self.column_dataset(ns, name)
                if source != o.id:
                    self.feed(source, o.id, job_name, True)
            if facet is not None:
                self.statements.append(self._column_lineage(ref, o.id, facet, job.id, job_name, run, at))

    def _column_lineage(self, out: DatasetRef, output: NodeId, facet: ColumnLineageFacet, job: NodeId,
                        job_name: str, run: str, at: str) -> Statement:
        statement = Statement(job, job_name, output, run, at)
        every = facet.get("dataset", [])  # `dataset` inputs affect every output field
        for out_path, spec in sorted(facet.get("fields", {}).items()):
            target = self.column(out["namespace"], out["name"], out_path)
            for src in spec["inputFields"] + every:
                source = self.column(src["namespace"], src["name"], src["field"])
                named = (src["namespace"], src["name"], src["field"], out_path)
                for contribution in self._derivations(src, spec, job_name):
                    statement.add((source, target), contribution, named)
        return statement

    @staticmethod
    def _derivations(src: InputField, spec: ColumnFields, job_name: str) -> list[Contribution]:
        """What the facet says one input column does to one output column: one contribution per
        transformation it lists; none listed (`transformations: []`) is one of unknown type."""
        steps = src.get("transformations")
        if steps is None and (spec.get("transformationType") or spec.get("transformationDescription")):
            # The older facet shape: one transformation for the whole output field, stated as a
            # direct one (IDENTITY, TRANSFORMATION...).
            return [Contribution(job_name, "DIRECT", spec.get("transformationType"),
                                 spec.get("transformationDescription"))]
        if not steps:
            return [Contribution(job_name, None, None)]
        return [Contribution(job_name, t["type"], t.get("subtype"), t.get("description"), bool(t.get("masking")))
                for t in steps]

    def feed(self, source: NodeId, target: NodeId, job_name: str, column_lineage: bool) -> None:
        by_job = self.feeds.setdefault((source, target), {})
        by_job[job_name] = by_job.get(job_name, False) or column_lineage

    def column_dataset(self, namespace: str, name: str) -> NodeId:
        dataset_id = self._ids.get((Label.DATASET, namespace, name))
        if dataset_id is None:
            dataset_id = self._ids[(Label.DATASET, namespace, name)] = self.node(
                Label.DATASET, {"namespace": namespace, "name": name}).id
        return dataset_id


def _column_sources(facet: ColumnLineageFacet | None) -> set[tuple[str, str]]:
    """The input datasets a columnLineage facet maps to output columns."""
    if facet is None:
        return set()
    refs = [f for spec in facet.get("fields", {}).values() for f in spec["inputFields"]] + facet.get("dataset", [])
    return {(f["namespace"], f["name"]) for f in refs}


def translate(tenant: Tenant, events: list[Event]) -> Translation:
    t = Translation(tenant)
    for ev in events:
        kind = _kind(ev)
        t._event = (_time(ev["eventTime"]), ev["run"]["runId"].lower() if kind == "RunEvent" else "")  # type: ignore[typeddict-item]
        if kind == "DatasetEvent":
            t.dataset(ev["dataset"])  # type: ignore[typeddict-item]
            continue
        job = t.job(ev["job"])  # type: ignore[typeddict-item]
        run_id = ev["run"]["runId"].lower() if kind == "RunEvent" else ""  # type: ignore[typeddict-item]
        t.io(job, ev.get("inputs", []), ev.get("outputs", []), run_id, _time(ev["eventTime"]))  # type: ignore[arg-type]
        if kind == "RunEvent":
            run = ev["run"]  # type: ignore[typeddict-item]
            run_props: Props = {"run_id": run["runId"].lower(), "job_id": job.id, "producer": ev["producer"]}
            if run.get("facets"):
                run_props["facets"] = run["facets"]
            at = _time(ev["eventTime"])
            state = ev.get("eventType") or "OTHER"
            run_props |= {"state": state, "state_at": at}
            if state == "START":
                run_props["started_at"] = at
            if state in TERMINAL:
                run_props["ended_at"] = at
            run_node = t.run(run["runId"], job)
            t.runs.append((run_node.id, run_props))
            parent = (run.get("facets") or {}).get("parent")
            if parent:
                t.hierarchy(run_node, job, parent)
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
