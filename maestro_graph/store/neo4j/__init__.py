from maestro_graph.store.neo4j.store import Neo4jStore

__all__ = ["Neo4jStore"]
