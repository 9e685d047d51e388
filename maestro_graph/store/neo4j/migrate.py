"""Versioned Cypher migrations: migrations/neo4j/NNNN_<name>.cypher, applied in order.

A file is statements separated by `;` (lines starting with `//` are comments). Neo4j does not
let schema statements share a transaction with data writes, so each statement runs in a
managed transaction of its own, and then the version is recorded as a
(:_MaestroMigration {version, applied_at}) node. Files use IF NOT EXISTS DDL and the record is
a MERGE, so processes migrating at the same time are safe; only the process whose MERGE
created a record reports that version as applied.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from importlib import resources

from neo4j import AsyncManagedTransaction, AsyncSession
from neo4j.exceptions import ClientError

from maestro_graph.domain.clock import now
from maestro_graph.store.neo4j import cypher

FILE_NAME = re.compile(r"\A(\d{4})_[A-Za-z0-9_]+\.cypher\Z")
INDEX_WAIT_SECONDS = 60
# IF NOT EXISTS is checked before the schema lock is taken, so a process racing another one
# can still be told the rule exists: the other process made it, which is what we wanted.
ALREADY_EXISTS = frozenset({
    "Neo.ClientError.Schema.EquivalentSchemaRuleAlreadyExists",
    "Neo.ClientError.Schema.IndexAlreadyExists",
    "Neo.ClientError.Schema.ConstraintAlreadyExists",
})


@dataclass(frozen=True)
class Migration:
    version: str
    statements: tuple[str, ...]


def split_statements(text: str) -> tuple[str, ...]:
    """Statements of a migration file, comment lines dropped.

    >>> split_statements("// a comment\\nCREATE INDEX a;\\n\\nCREATE INDEX b;")
    ('CREATE INDEX a', 'CREATE INDEX b')
    """
    code = "\n".join(line for line in text.splitlines() if not line.lstrip().startswith("//"))
    return tuple(s.strip() for s in code.split(";") if s.strip())


def load_migrations() -> list[Migration]:
    """migrations/neo4j from the installed package (pyproject maps it to maestro_graph.migrations)."""
    folder = resources.files("maestro_graph.migrations") / "neo4j"
    found = []
    for entry in folder.iterdir():
        match = FILE_NAME.match(entry.name)
        if match:
            found.append(Migration(match.group(1), split_statements(entry.read_text(encoding="utf-8"))))
    found.sort(key=lambda m: m.version)
    versions = [m.version for m in found]
    assert len(set(versions)) == len(versions), f"two neo4j migrations share a version: {versions}"
    return found


async def _recorded(tx: AsyncManagedTransaction) -> set[str]:
    result = await tx.run(cypher.RECORDED_MIGRATIONS)
    return {record["version"] async for record in result}


async def _run(tx: AsyncManagedTransaction, statement: str) -> None:
    await (await tx.run(statement)).consume()


async def _run_schema(session: AsyncSession, statement: str) -> None:
    try:
        await session.execute_write(_run, statement)
    except ClientError as err:
        if err.code not in ALREADY_EXISTS:
            raise


async def _record(tx: AsyncManagedTransaction, version: str) -> bool:
    result = await tx.run(cypher.RECORD_MIGRATION, version=version, applied_at=now())
    record = await result.single(strict=True)
    return bool(record["created"])


async def _await_indexes(tx: AsyncManagedTransaction) -> None:
    await (await tx.run(cypher.AWAIT_INDEXES, seconds=INDEX_WAIT_SECONDS)).consume()


async def upgrade(session: AsyncSession) -> list[str]:
    """Apply the migrations not yet recorded; return the versions this call recorded."""
    done = await session.execute_read(_recorded)
    applied: list[str] = []
    for migration in load_migrations():
        if migration.version in done:
            continue
        for statement in migration.statements:
            await _run_schema(session, statement)
        if await session.execute_write(_record, migration.version):
            applied.append(migration.version)
    await session.execute_read(_await_indexes)  # indexes build in the background
    return applied
