from maestro_graph.store.sql.store import SqlStore

__all__ = ["SqlStore"]
