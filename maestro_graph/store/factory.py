"""Pick the store backend from one URL: sqlite:///..., postgresql://..., neo4j://host:7687."""

from __future__ import annotations

from maestro_graph.domain.errors import BadInput
from maestro_graph.settings import Settings, sql_async_url
from maestro_graph.store.base import GraphStore

NEO4J_SCHEMES = ("neo4j://", "neo4j+s://", "neo4j+ssc://", "bolt://", "bolt+s://", "bolt+ssc://")


def create_store(settings: Settings) -> GraphStore:
    url = settings.store
    if url.startswith(NEO4J_SCHEMES):
        from maestro_graph.store.neo4j import Neo4jStore

        return Neo4jStore(url, user=settings.neo4j_user, password=settings.neo4j_password,
                          database=settings.neo4j_database)
    if url.startswith(("sqlite", "postgres")):
        from maestro_graph.store.sql import SqlStore

        if url.startswith("sqlite:///"):
            settings.data_dir.mkdir(parents=True, exist_ok=True)
        return SqlStore(sql_async_url(url))
    raise BadInput(
        f"MAESTRO_STORE={url!r} is not a store URL: use sqlite:///path.db, "
        "postgresql://user:pass@host/db or neo4j://host:7687",
        field="store",
    )
