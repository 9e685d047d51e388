"""domain/schema_versions.py: versions by time not arrival, removals, and the history's bounds."""

from __future__ import annotations

import itertools

from maestro_graph.domain.schema_versions import HISTORY_COLUMNS, MAX_VERSIONED, SchemaSeen, columns_of, evolve


def seen(at: str, *columns: str) -> SchemaSeen:
    return SchemaSeen(at, f"run-{at}", {c: "int" for c in columns})


def current_after(order: list[SchemaSeen]) -> tuple[list[str], dict[str, int]]:
    props: dict = {}
    known: dict[str, int | None] = {}
    for s in order:
        known.update({c: known.get(c) for c in s.columns})
        evo = evolve(props, [s], known)
        if evo is None:
            continue
        props.update(evo.props)
        known.update({p: v for p, v in evo.removed.items()})
        known.update({p: None for p in evo.restored})
    return list(columns_of(props["schema_history"][-1])), {p: v for p, v in known.items() if v is not None}


def test_the_latest_facet_is_current_and_only_its_missing_columns_are_removed_in_any_order():
    facets = [seen("2026-01-01", "a", "b", "value"), seen("2026-01-02", "a", "b", "c"), seen("2026-01-03", "a", "c")]
    results = {tuple(map(tuple, (cur, sorted(gone)))) for order in itertools.permutations(facets)
               for cur, gone in [current_after(list(order))]}
    assert results == {(("a", "c"), ("b", "value"))}


def test_a_facet_too_wide_to_version_changes_nothing():
    wide = SchemaSeen("2026-01-01", "r", {f"c{i}": "int" for i in range(MAX_VERSIONED + 1)})
    assert evolve({}, [wide], {}) is None


def test_the_history_keeps_the_newest_versions_within_its_column_budget():
    width = 4_500  # four versions fit the budget, five do not
    assert 4 * width <= HISTORY_COLUMNS < 5 * width and width <= MAX_VERSIONED
    props: dict = {}
    for day in range(1, 6):
        s = SchemaSeen(f"2026-01-0{day}", f"r{day}", {f"c{day}-{i}": "int" for i in range(width)})
        evo = evolve(props, [s], {})
        props.update(evo.props)
    assert [e["version"] for e in props["schema_history"]] == [2, 3, 4, 5] and props["schema_version"] == 5
