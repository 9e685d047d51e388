"""Dataset schema versions: what a producer's `schema` facets say a dataset holds, over time.

Each distinct schema a dataset is seen with becomes a version (1, 2, 3, ...), kept on the dataset
(`schema_history`, the last HISTORY versions): which columns with which types, since when, from
which run, and what changed from the version before (added, removed, type changed, renamed).
A column the current version lacks is marked removed (`removed_in`, the version that dropped it;
the dataset's `schema_removed` lists them, so a batch knows without reading every column); one
that comes back is restored.

Which schema is current does not depend on arrival order: the facet with the latest (eventTime,
run) stands (`schema_at`, `schema_run` remember it), and an older facet arriving later changes
nothing but marks columns only it names as removed. The history records versions as they were
learnt; replayed out of order, it may hold a version more, never a different current one.

No I/O here: services/ingestion.py reads what is stored and writes what evolve() returns.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from maestro_graph.types import Props

HISTORY = 100  # versions kept per dataset, newest last
# Past versions are kept while all of them together name at most this many columns (the current
# one always): the history lives on the dataset node, which every listing of datasets reads.
HISTORY_COLUMNS = 20_000
# A facet naming more columns than this is not versioned (its columns are stored, nothing is marked
# removed): one version of it would outgrow the history, and comparing it costs the event loop.
MAX_VERSIONED = 5_000


@dataclass
class SchemaSeen:
    """One schema facet of a dataset: its columns (path -> type, in the facet's order)."""

    at: str
    run: str
    columns: dict[str, str | None]

    @property
    def order(self) -> tuple[str, str]:
        return (self.at, self.run)


@dataclass
class Evolution:
    props: Props  # the dataset's schema props to merge (schema_version, schema_at, schema_run, schema_history)
    removed: dict[str, int] = field(default_factory=dict)  # column path -> the version that dropped it
    restored: list[str] = field(default_factory=list)  # column paths back in the current version
    change: dict[str, Any] | None = None  # the new version's entry, when one was made


def columns_of(entry: Mapping[str, Any]) -> dict[str, str | None]:
    """A version's columns, path -> type, in the facet's order. Stored as [[path, type], ...]:
    a bulk load writes a version for every dataset, and pairs are half the bytes of objects."""
    return {path: type_ for path, type_ in entry.get("columns", [])}


def evolve(dataset: Props, seen: list[SchemaSeen], known_paths: Mapping[str, int | None],
           renamed: Mapping[str, str] | None = None) -> Evolution | None:
    """What `seen` (this batch's facets for one dataset) does to its stored schema props.

    known_paths: every column path the dataset has (stored or made by this batch) -> the version
    it was removed in (None: present). renamed: removed path -> the added path the producer's
    column lineage says replaced it. None when nothing changes."""
    seen = [s for s in seen if len(s.columns) <= MAX_VERSIONED]
    if not seen:
        return None
    history: list[dict[str, Any]] = list(dataset.get("schema_history") or [])
    version = int(dataset.get("schema_version") or 0)
    standing = (str(dataset.get("schema_at") or ""), str(dataset.get("schema_run") or ""))
    current = columns_of(history[-1]) if history else None
    change: dict[str, Any] | None = None
    moved = False
    for s in sorted(seen, key=lambda s: s.order):
        if current is not None and s.order <= standing:
            continue  # older than the schema standing: it says nothing of the current one
        standing, moved = s.order, True
        if current == s.columns:
            continue
        version += 1
        before, current = current, dict(s.columns)
        change = {"version": version, "at": s.at, "run": s.run,
                  "columns": [[p, t] for p, t in current.items()]}
        if before is not None:
            change["diff"] = diff(before, current, renamed or {})
        history.append(change)
    if current is None:
        return None
    props: Props = {"schema_version": version, "schema_at": standing[0], "schema_run": standing[1],
                    "schema_history": _bounded(history)} if moved else {}
    out = Evolution(props, change=change)
    gone: dict[str, int] = dict(dataset.get("schema_removed") or {})
    for path, removed_in in {**gone, **known_paths}.items():
        if path in current:
            if removed_in is not None:
                out.restored.append(path)
                gone.pop(path, None)
        elif removed_in is None:
            out.removed[path] = gone[path] = version
    if not moved and not out.removed and not out.restored:
        return None
    if out.removed or out.restored:
        props["schema_removed"] = dict(sorted(gone.items()))
    return out


def _bounded(history: list[dict[str, Any]]) -> list[dict[str, Any]]:
    kept = history[-HISTORY:]
    while len(kept) > 1 and sum(len(e.get("columns", [])) for e in kept) > HISTORY_COLUMNS:
        kept = kept[1:]
    return kept


def diff(before: Mapping[str, str | None], after: Mapping[str, str | None], renamed: Mapping[str, str]) -> dict[str, Any]:
    """Columns added, removed, with a new type, or renamed (a removed column the producer's column
    lineage says an added one replaced)."""
    removed = [p for p in before if p not in after]
    added = [p for p in after if p not in before]
    renames = [(old, renamed[old]) for old in removed if renamed.get(old) in added]
    gone = {old for old, _ in renames} | {new for _, new in renames}
    return {
        "added": [{"path": p, "type": after[p]} for p in added if p not in gone],
        "removed": [{"path": p, "type": before[p]} for p in removed if p not in gone],
        "type_changed": [{"path": p, "from": before[p], "to": after[p]} for p in after
                         if p in before and before[p] != after[p]],
        "renamed": [{"from": old, "to": new} for old, new in renames],
    }


def breaking(change: Mapping[str, Any] | None) -> list[str]:
    """The columns of the version before that a change breaks: removed, retyped or renamed away."""
    if not change or "diff" not in change:
        return []
    d = change["diff"]
    return [c["path"] for c in d["removed"]] + [c["path"] for c in d["type_changed"]] + [r["from"] for r in d["renamed"]]
