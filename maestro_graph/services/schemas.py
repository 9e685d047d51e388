"""Dataset schema versions at ingestion, and what a breaking change hits (issue #23, items 3-4).

For each dataset a batch of events gives a `schema` facet, domain/schema_versions.py says whether
it makes a new version and which columns it removes or brings back. Here that is read from and
written to the store, inside the batch's one write:
  - removed columns are marked (`removed_in`), and their column edges retired (unlinked): impact
    analysis no longer reaches through them;
  - a version that removes, retypes or renames columns carries, in its history entry, the impact
    of that change computed just before it (downstream fields, datasets, model versions, models,
    deployments, projects and the people to tell), so that `schemaChanges` and the `schemaChanged`
    subscription (fed by the change feed entry of the write) can tell it as it was.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Awaitable, Callable
from typing import Any

from maestro_graph.domain.graph import ChangeSet, Edge, Label, Node, Rel
from maestro_graph.domain.impact import ImpactReport
from maestro_graph.domain.schema_versions import SchemaSeen, breaking, evolve
from maestro_graph.services.identities import Resolved
from maestro_graph.store.base import GraphStore
from maestro_graph.types import Direction, NodeId, Props, Tenant

Impact = Callable[[Tenant, NodeId], Awaitable[ImpactReport]]
LISTED = 50  # items of each kind an impact summary names (its totals count them all)
KINDS = ("fields", "datasets", "model_versions", "models", "deployments", "projects", "people")


class SchemaVersions:
    def __init__(self, store: GraphStore, impact: Impact | None = None) -> None:
        self.store, self.impact = store, impact

    async def fold(self, tenant: Tenant, seen: list[tuple[NodeId, SchemaSeen]], r: Resolved,
                   real: dict[NodeId, Node], edges: list[Edge], ahead: ChangeSet | None
                   ) -> tuple[list[Edge], list[Edge], list[tuple[NodeId, Props]]]:
        """The batch's schema facets applied: (links kept, column edges to retire, field patches).
        Dataset nodes in `real` get their schema props merged in place."""
        by_dataset: dict[NodeId, list[SchemaSeen]] = defaultdict(list)
        for provisional, s in seen:
            by_dataset[r.real(provisional)].append(s)
        stored = dict(r.stored)
        missing = [d for d in by_dataset if d not in stored and d not in r.minted]
        if missing:
            stored.update(await self.store.get_nodes(tenant, missing))
        pending = {n.id: n for n in ahead.merge} if ahead is not None else {}
        batch_fields: dict[NodeId, dict[str, Node]] = defaultdict(dict)  # dataset -> path -> field (this batch)
        for n in real.values():
            if n.label is Label.FIELD and n.props.get("dataset_id") in by_dataset:
                batch_fields[n.props["dataset_id"]][n.props["path"]] = n
        patches: list[tuple[NodeId, Props]] = []
        retire: set[NodeId] = set()
        # First what each facet would do with the columns the batch names; then, in one read, every
        # column of the stored datasets whose facets make a new version (or their first).
        trials: dict[NodeId, tuple[Props, dict[str, tuple[NodeId, int | None]], Any]] = {}
        for dataset_id in by_dataset:
            props = dict(stored[dataset_id].props) if dataset_id in stored else {}
            if dataset_id in pending and "schema_version" in pending[dataset_id].props:
                props.update(pending[dataset_id].props)  # as the write under way leaves it
            gone = props.get("schema_removed") or {}
            fields = {p: (f.id, gone.get(p)) for p, f in batch_fields[dataset_id].items()}
            trial = evolve(props, by_dataset[dataset_id], {p: removed for p, (_, removed) in fields.items()})
            if trial is not None:
                trials[dataset_id] = (props, fields, trial)
        wide = [d for d, (props, _, trial) in trials.items()
                if d not in r.minted and (trial.change is not None or not props.get("schema_history"))]
        for d, columns in (await self.store.neighbours(tenant, wide, Rel.HAS_FIELD, Direction.OUT)).items() if wide else ():
            for nb in columns:  # every column may be concerned
                trials[d][1].setdefault(nb.node.props["path"], (nb.node.id, nb.node.props.get("removed_in")))
        for dataset_id, (props, fields, trial) in trials.items():
            facets = by_dataset[dataset_id]
            known = {p: removed for p, (_, removed) in fields.items()}
            renamed = await self._renames(tenant, trial, fields, edges) if trial.change and "diff" in trial.change else {}
            evolution = evolve(props, facets, known, renamed)
            if evolution is None:
                continue
            if evolution.change is not None and breaking(evolution.change) and self.impact is not None:
                evolution.change["impact"] = await self._impact(
                    tenant, [fields[p][0] for p in breaking(evolution.change) if p in fields], dataset_id)
            node = real.get(dataset_id) or stored[dataset_id]
            real[dataset_id] = Node(dataset_id, Label.DATASET, node.key, {**node.props, **evolution.props},
                                    node.created_at, node.updated_at)
            for path, version in evolution.removed.items():
                retire.add(fields[path][0])
                patches.append((fields[path][0], {"removed_in": version}))
            patches += [(fields[path][0], {"removed_in": None}) for path in evolution.restored]
        if not retire:
            return edges, [], patches
        gone = [e for direction in (Direction.IN, Direction.OUT)
                for e in await self.store.expand(tenant, list(retire), [Rel.DERIVES], direction)]
        kept = [e for e in edges if not (e.rel is Rel.DERIVES and (e.src in retire or e.dst in retire))]
        return kept, [Edge(Rel.DERIVES, e.src, e.dst) for e in gone], patches

    async def _renames(self, tenant: Tenant, trial: Any, fields: dict[str, tuple[NodeId, int | None]],
                       edges: list[Edge]) -> dict[str, str]:
        """Removed columns the producer's column lineage says an added one replaced: the added
        column is derived from exactly what the removed one was."""
        d = trial.change["diff"]
        removed = [c["path"] for c in d["removed"] if c["path"] in fields]
        added = [c["path"] for c in d["added"] if c["path"] in fields]
        if not removed or not added:
            return {}
        old_ids = {fields[p][0]: p for p in removed}
        before: dict[str, set[NodeId]] = defaultdict(set)
        for e in await self.store.expand(tenant, list(old_ids), [Rel.DERIVES], Direction.IN):
            before[old_ids[e.dst]].add(e.src)
        new_ids = {fields[p][0]: p for p in added}
        after: dict[str, set[NodeId]] = defaultdict(set)
        for e in edges:
            if e.rel is Rel.DERIVES and e.dst in new_ids:
                after[new_ids[e.dst]].add(e.src)
        out = {}
        for old in removed:
            matches = [new for new in added if after.get(new) and after[new] == before.get(old) and new not in out.values()]
            if len(matches) == 1:
                out[old] = matches[0]
        return out

    async def _impact(self, tenant: Tenant, field_ids: list[NodeId], dataset_id: NodeId) -> dict[str, Any]:
        """What changing these columns of the dataset reaches beyond them and it, merged: each
        kind's nearest first, at most LISTED named, all counted."""
        assert self.impact is not None
        best: dict[str, dict[NodeId, tuple[int, str]]] = {k: {} for k in KINDS}
        truncated = False
        for fid in field_ids:
            report = await self.impact(tenant, fid)
            truncated |= report.truncated
            for kind in KINDS:
                for item in getattr(report, kind):
                    if item.id in field_ids or item.id == dataset_id:
                        continue
                    seen = best[kind].get(item.id)
                    if seen is None or item.distance < seen[0]:
                        best[kind][item.id] = (item.distance, item.name)
        out: dict[str, Any] = {"truncated": truncated, "totals": {k: len(v) for k, v in best.items()}}
        for kind, items in best.items():
            out[kind] = [{"id": i, "name": name, "distance": d}
                         for i, (d, name) in sorted(items.items(), key=lambda x: (x[1][0], x[1][1], x[0]))[:LISTED]]
        return out

