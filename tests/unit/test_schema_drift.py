"""schema.graphql is the exported SDL of the code; regenerate it with `maestro-graph export-schema -o schema.graphql`."""

from pathlib import Path

from resolvers.schema import build_schema

ROOT = Path(__file__).resolve().parents[2]


def test_schema_graphql_matches_the_code():
    exported = build_schema().as_str() + "\n"
    on_disk = (ROOT / "schema.graphql").read_text()
    assert exported == on_disk, "schema.graphql is stale: run `maestro-graph export-schema -o schema.graphql`"
