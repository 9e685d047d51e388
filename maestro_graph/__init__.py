"""Maestro Graph: a GraphQL metadata and lineage server for ML teams."""

__version__ = "0.1.0"
