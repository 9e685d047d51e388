"""Wake-ups between server processes over Redis pub/sub (MAESTRO_EVENT_BUS=redis://host:port/db).

After each commit the committing process publishes "<seq> <tenant>" on one channel; every other
process's feed follower (services/feed.py) is woken and reads the feed from the store at once,
instead of at its next poll. Redis carries no entry and is never the source of truth: a message
lost (Redis down, a process killed between commit and publish) only makes the delivery wait for
the next poll. Publishing never delays the writer: it is queued and sent by a task of its own,
and dropped when Redis is out of reach.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable

from maestro_graph.types import Tenant

log = logging.getLogger(__name__)

CHANNEL = "maestro:feed"
QUEUE = 10_000  # wake-ups waiting to be published; past that, they are dropped (polling catches up)


class RedisBus:
    def __init__(self, url: str, channel: str = CHANNEL) -> None:
        import redis.asyncio as redis

        self.url, self.channel = url, channel
        self._redis = redis.from_url(url, socket_connect_timeout=5, socket_timeout=10, health_check_interval=30)
        self._outbox: asyncio.Queue[str] = asyncio.Queue(QUEUE)
        self._tasks: list[asyncio.Task[None]] = []
        self._warned = 0.0
        self.published = self.received = 0

    async def start(self, wake: Callable[[Tenant, int], None]) -> None:
        self._tasks = [asyncio.create_task(self._publishing(), name="maestro-bus-publish"),
                       asyncio.create_task(self._listening(wake), name="maestro-bus-listen")]

    def publish(self, tenant: Tenant, seq: int) -> None:
        with contextlib.suppress(asyncio.QueueFull):
            self._outbox.put_nowait(f"{seq} {tenant}")

    async def close(self) -> None:
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        with contextlib.suppress(Exception):
            await self._redis.aclose()

    async def _publishing(self) -> None:
        while True:
            message = await self._outbox.get()
            try:
                await self._redis.publish(self.channel, message)
                self.published += 1
            except Exception as err:  # noqa: BLE001 - a wake-up lost: the others poll
                self._warn("cannot publish feed wake-ups to the event bus", err)

    async def _listening(self, wake: Callable[[Tenant, int], None]) -> None:
        backoff = 0.5
        while True:
            pubsub = self._redis.pubsub(ignore_subscribe_messages=True)
            try:
                await pubsub.subscribe(self.channel)
                backoff = 0.5
                async for message in pubsub.listen():
                    if message.get("type") != "message":
                        continue
                    data = message["data"]
                    seq, _, tenant = (data.decode() if isinstance(data, bytes) else str(data)).partition(" ")
                    with contextlib.suppress(ValueError):
                        self.received += 1
                        wake(tenant, int(seq))
            except asyncio.CancelledError:
                raise
            except Exception as err:  # noqa: BLE001 - Redis away: poll meanwhile, come back later
                self._warn("lost the event bus subscription (followers poll meanwhile)", err)
            finally:
                with contextlib.suppress(Exception):
                    await pubsub.aclose()
            await asyncio.sleep(backoff)
            backoff = min(backoff * 2, 30.0)

    def _warn(self, what: str, err: BaseException) -> None:
        if time.monotonic() - self._warned > 60:  # once a minute, not once a commit
            self._warned = time.monotonic()
            log.warning("%s at %s: %s", what, self.url.split("@")[-1], type(err).__name__)
