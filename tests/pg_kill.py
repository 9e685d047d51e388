"""Kill exactly the PostgreSQL connection a write is waiting on, and nobody else's: a connection of
the test's own holds the tenant's topology version row, which every delete bumps, so the write
blocks on it; then the blocked backend is terminated (pg_terminate_backend)."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable
from typing import Any, TypeVar

T = TypeVar("T")


async def killed_while_waiting(store_url: str, tenant: str, write: Awaitable[T]) -> asyncio.Task[T]:
    """Start `write` while the tenant's version row is locked, kill its connection once it waits
    on the lock, and return its task (done: the write's error or result) after the lock is gone."""
    import asyncpg
    from sqlalchemy.engine import make_url

    url = make_url(store_url)
    locker = await asyncpg.connect(url.set(drivername="postgresql").difference_update_query(["search_path"])
                                   .render_as_string(hide_password=False),
                                   server_settings={"search_path": url.query.get("search_path", "public")})
    try:
        tx = locker.transaction()
        await tx.start()
        await locker.execute("SELECT version FROM topology_versions WHERE tenant = $1 FOR UPDATE", tenant)
        writing: asyncio.Task[Any] = asyncio.ensure_future(write)
        killed = False
        for _ in range(200):  # bounded: the write reaches the lock within moments
            killed = await locker.fetchval("SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                                           "WHERE $1 = ANY(pg_blocking_pids(pid))", locker.get_server_pid())
            if killed:
                break
            await asyncio.sleep(0.05)
        assert killed, "the write never waited on the lock"
        await asyncio.wait([writing])
        await tx.rollback()
    finally:
        await locker.close()
    return writing
