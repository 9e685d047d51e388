"""Column lineage as producers state it: which jobs derive a column from which, and how.

A column edge (Field)-[:DERIVES]->(Field) keeps every contribution that produced it: one per
(job, transformation type, subtype), so a write Spark reports under two jobs (the create-table
command and the adaptive plan: JOIN, and JOIN + FILTER) keeps both, and a pair a facet names at
field level (DIRECT/IDENTITY) and at dataset level (INDIRECT/GROUP_BY) keeps both.

A job's statement about one output dataset (the column lineage one run of it reported for that
output) replaces what earlier runs of that job said about it: a pair the job no longer reports
loses that job's contribution, and an edge left with none is retired. "Earlier" is by the
statement's order key (eventTime, then run id), never by arrival, so the same events replayed in
any order leave the same edges: statements of the newest run of a job for an output are united
(a run's START and COMPLETE events may each carry part of it), older runs' are ignored.

No I/O here: services/ingestion.py reads what is stored and writes what fold() returns.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
import hashlib
from functools import lru_cache
from dataclasses import dataclass, field
from typing import Any, NamedTuple

from maestro_graph.domain.graph import Rel
from maestro_graph.domain.props import validate_rel_props
from maestro_graph.types import NodeId, Props

# Stored on the job's WRITES edge to the output, as one property "<at> <run> <digest>": which run's
# column lineage stands for it, and a digest of what it said (a newer run saying the same changes
# no column edge, and needs none read). One property, not three: a bulk batch writes thousands.
LINEAGE = "lineage"


class Contribution(NamedTuple):
    """What one job says one column edge does. type None: the producer did not say (dbt sends
    `transformations: []`), which is kept as unknown, never taken for DIRECT."""

    job: str  # "namespace/name"
    type: str | None  # DIRECT | INDIRECT | None
    subtype: str | None
    description: str | None = None
    masking: bool = False

    @property
    def key(self) -> tuple[str, str, str]:
        return (self.job, self.type or "", self.subtype or "")

    def as_props(self) -> Props:
        out: Props = {"job": self.job, "type": self.type, "subtype": self.subtype}
        if self.masking:
            out["masking"] = True
        if self.description:
            out["description"] = self.description
        return out

    @classmethod
    def of(cls, d: Mapping[str, Any]) -> "Contribution":
        return cls(str(d.get("job") or ""), d.get("type"), d.get("subtype"), d.get("description"), bool(d.get("masking")))


Pair = tuple[NodeId, NodeId]  # (source field, target field)


@dataclass
class Statement:
    """One job's column lineage for one output dataset, from one run (or a job event)."""

    job: NodeId
    job_name: str  # "namespace/name": what its contributions name
    output: NodeId
    run: str  # "" for a job event without a run
    at: str  # the event's time (domain/clock.py format)
    pairs: dict[Pair, dict[tuple[str, str, str], Contribution]] = field(default_factory=dict)
    # What it says by names, not ids (source namespace, name, column; target column;
    # contribution): its digest is the same in any tenant and under any ids.
    named: set[tuple[Any, ...]] = field(default_factory=set)

    @property
    def order(self) -> tuple[str, str]:
        return (self.at, self.run)

    @property
    def digest(self) -> str:
        """What it says, in 16 hex digits: equal for two runs that report the same lineage."""
        return hashlib.blake2b(repr(sorted(self.named)).encode(), digest_size=8).hexdigest()

    def add(self, pair: Pair, contribution: Contribution, named: tuple[Any, ...] = ()) -> None:
        self.pairs.setdefault(pair, {})[contribution.key] = contribution
        self.named.add((*named, *contribution))

    def absorb(self, other: "Statement") -> "Statement":
        """The standing statement of these two: the newer run's, or both united if one run's."""
        if other.run == self.run and other.run:
            for pair, contributions in other.pairs.items():
                self.pairs.setdefault(pair, {}).update(contributions)
            self.named |= other.named
            self.at = max(self.at, other.at)
            return self
        return other if other.order > self.order else self


def contributions_of(props: Props | None) -> dict[tuple[str, str, str], Contribution]:
    """A stored edge's contributions; an edge stored before they were kept counts as its one job's."""
    if not props:
        return {}
    listed = props.get("transformations")
    if isinstance(listed, list):
        items = [Contribution.of(d) for d in listed if isinstance(d, dict)]
    else:
        items = [Contribution.of(props)]
    return {c.key: c for c in items}


_TYPE_RANK = {"DIRECT": 0, "INDIRECT": 1}


def edge_props(contributions: Iterable[Contribution]) -> Props:
    """A column edge's props, validated (domain/props.py): for readers of one value, the
    strongest contribution (DIRECT over INDIRECT over unknown), its subtype and job; with more
    than one, every contribution (in a fixed order). An edge of one contribution stores no more
    than it did before contributions were kept: most edges have one, and a bulk batch writes tens
    of thousands. The same contributions give the same (shared, never changed) dict."""
    items = list(contributions)
    return _edge_props(tuple(items) if len(items) == 1 else tuple(sorted(items, key=lambda c: c.key)))


@lru_cache(maxsize=50_000)
def _edge_props(ordered_by_key: tuple[Contribution, ...]) -> Props:
    ordered = sorted(ordered_by_key, key=lambda c: (_TYPE_RANK.get(c.type or "", 2), c.subtype or "", c.job))
    main = ordered[0]
    descriptions = sorted({c.description for c in ordered if c.description})
    # false is not written: a bulk batch's tens of thousands of edges, each a property less
    props: Props = {"type": main.type, "subtype": main.subtype, "job": main.job,
                    "masking": True if any(c.masking for c in ordered) else None}
    if len(ordered) > 1:  # one contribution is the edge's own props (contributions_of reads it back)
        props["transformations"] = [c.as_props() for c in ordered_by_key]
    if descriptions:
        props["description"] = "; ".join(descriptions)
    return validate_rel_props(Rel.DERIVES, {k: v for k, v in props.items() if v is not None})


@dataclass
class Folded:
    """What a batch of statements does to the stored column edges."""

    edges: dict[Pair, Props]  # edges to write, with all their contributions
    retired: list[Pair]  # edges no job contributes to any more
    standing: dict[tuple[NodeId, NodeId], Standing]  # (job, output) -> the statement now standing


class Standing(NamedTuple):
    run: str
    at: str
    digest: str = ""

    @classmethod
    def of(cls, props: Props) -> "Standing | None":
        """From the job's WRITES edge's props (None: no column lineage of it stands there)."""
        text = props.get(LINEAGE)
        if not isinstance(text, str):
            return None
        at, _, rest = text.partition(" ")
        run, _, digest = rest.partition(" ")
        return cls(run, at, digest)

    def props(self) -> Props:
        return {LINEAGE: f"{self.at} {self.run} {self.digest}"}


def winners(statements: Iterable[Statement]) -> dict[tuple[NodeId, NodeId], Statement]:
    """Each (job, output)'s standing statement of a batch: its newest run's, united."""
    out: dict[tuple[NodeId, NodeId], Statement] = {}
    for s in sorted(statements, key=lambda s: s.order):  # same order whatever the arrival order
        key = (s.job, s.output)
        out[key] = s if key not in out else out[key].absorb(s)
    return out


def unchanged(s: Statement, before: Standing | None) -> bool:
    """Whether `s` stands and says exactly what the standing statement said: then no column edge
    changes, and none need be read."""
    return before is not None and bool(before.digest) and before.digest == s.digest and (
        (before.run == s.run and bool(s.run)) or (before.at, before.run) < s.order)


def fold(batch: Mapping[tuple[NodeId, NodeId], Statement], stored_standing: Mapping[tuple[NodeId, NodeId], Standing],
         stored_edges: Mapping[Pair, Props], fields_of: Mapping[NodeId, set[NodeId]]) -> Folded:
    """Fold a batch's standing statements (winners()) into what is stored.

    stored_standing: (job, output) -> the statement standing now (absent: none).
    stored_edges: the stored DERIVES edges into the fields of every output a statement that is
    not unchanged() names. fields_of: output dataset -> its stored field ids (where the standing
    statement's edges end)."""
    edges: dict[Pair, dict[tuple[str, str, str], Contribution]] = {}
    into_field: dict[NodeId, list[Pair]] = {}  # the stored edges by the field they go into
    for pair in stored_edges:
        into_field.setdefault(pair[1], []).append(pair)

    def current(pair: Pair) -> dict[tuple[str, str, str], Contribution]:
        found = edges.get(pair)
        if found is None:
            stored = stored_edges.get(pair)
            found = edges[pair] = dict(contributions_of(stored)) if stored else {}
        return found

    standing: dict[tuple[NodeId, NodeId], Standing] = {}
    for (job, output), s in batch.items():
        before = stored_standing.get((job, output))
        if unchanged(s, before):
            assert before is not None
            standing[(job, output)] = Standing(s.run, max(s.at, before.at), s.digest)
            continue
        if before is not None and before.run == s.run and s.run:
            replace = False  # more of the standing run: united with it
        elif before is not None and (before.at, before.run) > s.order:
            continue  # an older run than the one standing: it says nothing any more
        else:
            replace = True
        if replace and into_field:  # this job's earlier word on this output goes, wherever it was
            for field_id in fields_of.get(output, set()) | {dst for _, dst in s.pairs}:
                for pair in into_field.get(field_id, ()):
                    kept = current(pair)
                    for k in [k for k, c in kept.items() if c.job == s.job_name]:
                        del kept[k]
        for pair, contributions in s.pairs.items():
            found = edges.get(pair)
            if found is None and pair not in stored_edges:  # the common case: a new edge
                edges[pair] = dict(contributions)
            else:
                current(pair).update(contributions)
        if replace:
            standing[(job, output)] = Standing(s.run, s.at, s.digest)
        else:  # united with the standing run: what it says is both parts, which no digest here
            assert before is not None  # names: the next run's statement is folded in full
            standing[(job, output)] = Standing(s.run, max(s.at, before.at), "")
    written = {pair: _edge_props(tuple(cs.values())) if len(cs) == 1 else edge_props(cs.values())
               for pair, cs in edges.items() if cs}
    same = {pair for pair, props in written.items() if pair in stored_edges and stored_edges[pair] == props}
    return Folded({p: v for p, v in written.items() if p not in same},
                  sorted(pair for pair, cs in edges.items() if not cs and pair in stored_edges), standing)


def feeds_props(by_job: Mapping[str, bool]) -> Props:
    """A dataset edge's props from every job that feeds the target from the source: column
    lineage holds only if each of them reports it (else impact analysis must cross the edge at
    dataset level), whatever order their events came in."""
    jobs = dict(sorted(by_job.items()))
    props: Props = {"job": next(iter(jobs)), "column_lineage": all(jobs.values())}
    if len(jobs) > 1:  # one job is the edge's own props (feeds_of reads it back)
        props["by_job"] = jobs
    return props


def feeds_of(props: Props | None) -> dict[str, bool]:
    """A stored dataset edge's jobs; one stored before they were kept counts as its one job's."""
    if not props:
        return {}
    if isinstance(props.get("by_job"), dict):
        return {str(k): bool(v) for k, v in props["by_job"].items()}
    return {str(props["job"]): bool(props.get("column_lineage"))} if props.get("job") else {}
