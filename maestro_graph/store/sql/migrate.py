"""Alembic glue: run migrations/sql on a connection the store already holds."""

from __future__ import annotations

from importlib import resources
from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy.engine import Connection


def script_location() -> Path:
    """migrations/sql, from the installed package (pyproject maps it to maestro_graph.migrations)."""
    return Path(str(resources.files("maestro_graph.migrations") / "sql"))


def alembic_config(connection: Connection | None = None) -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(script_location()))
    if connection is not None:
        cfg.attributes["connection"] = connection
    return cfg


def upgrade(connection: Connection) -> list[str]:
    """Upgrade to head on `connection`; return the revisions applied, oldest first."""
    cfg = alembic_config(connection)
    before = MigrationContext.configure(connection).get_current_revision()
    command.upgrade(cfg, "head")
    script = ScriptDirectory.from_config(cfg)
    head = script.get_current_head()
    if head == before:
        return []
    return [rev.revision for rev in reversed(list(script.iterate_revisions(head, before)))]
