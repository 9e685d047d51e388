"""Alembic environment. The store passes its own connection in `config.attributes`;
run standalone (`alembic -c migrations/sql/alembic.ini upgrade head`) it reads MAESTRO_STORE."""

from __future__ import annotations

import asyncio
import os

from alembic import context
from sqlalchemy.ext.asyncio import create_async_engine

from maestro_graph.store.sql.tables import metadata

config = context.config


def _run(connection) -> None:  # type: ignore[no-untyped-def]
    context.configure(connection=connection, target_metadata=metadata, render_as_batch=True)
    with context.begin_transaction():
        context.run_migrations()


async def _run_standalone() -> None:
    from maestro_graph.settings import sql_async_url

    engine = create_async_engine(sql_async_url(os.environ.get("MAESTRO_STORE", "sqlite:///maestro.db")))
    async with engine.begin() as conn:
        await conn.run_sync(_run)
    await engine.dispose()


connection = config.attributes.get("connection")
if connection is not None:
    _run(connection)
else:
    asyncio.run(_run_standalone())
