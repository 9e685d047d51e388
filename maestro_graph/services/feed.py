"""This process's follower of the change feed: the one post-commit path.

Every write commits through the store (services/commits.py), which appends the write's feed entry
in the write's transaction and, after the commit, hands the entry to this follower
(GraphStore.watch_feed). Entries other processes commit (replicas, `maestro-graph ingest`) are
read back from the store with feed_since. Either way each followed tenant's entries reach the
consumers (the lineage index, the subscriptions hub, later the training jobs and MLflow sync)
once each, in seq order, on the event loop.

How another process's commit is learnt of, fastest first:
  - a wake-up on the event bus (MAESTRO_EVENT_BUS=redis://...: services/event_bus.py), published
    by the committing process right after its commit;
  - the store's own push (PostgreSQL LISTEN/NOTIFY, sent by the commit itself);
  - polling feed_heads every `poll` seconds, always on: a wake-up is only ever a hint, and the
    feed in the store the truth (a process killed right after its commit published nothing, but
    its entry is there).
A tenant is followed from the moment a consumer first asks for it (follow), from its head then.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable, Mapping
from typing import Protocol

from maestro_graph.domain.errors import StoreUnavailable
from maestro_graph.domain.feed import FeedEntry
from maestro_graph.domain.graph import Node
from maestro_graph.store.base import GraphStore
from maestro_graph.types import NodeId, Tenant

log = logging.getLogger(__name__)

# (the entry; the nodes as written when this process committed it, else None: read what you need)
Consumer = Callable[[FeedEntry, "Mapping[NodeId, Node] | None"], None]
PAGE = 200  # entries per feed_since read: a bulk batch's entry can name tens of thousands of nodes


class Bus(Protocol):
    """A wake-up channel between processes (services/event_bus.py)."""

    async def start(self, wake: Callable[[Tenant, int], None]) -> None: ...

    def publish(self, tenant: Tenant, seq: int) -> None: ...

    async def close(self) -> None: ...


class FeedFollower:
    def __init__(self, store: GraphStore, poll: float = 1.0, bus: Bus | None = None) -> None:
        self.store, self.poll, self.bus = store, poll, bus
        self._delivered: dict[Tenant, int] = {}  # followed tenant -> last seq handed to the consumers
        self._starting: set[Tenant] = set()  # tenants whose head is being read: own entries wait in _early
        self._early: dict[Tenant, dict[int, tuple[FeedEntry, Mapping[NodeId, Node]]]] = {}  # this process's entries past a gap
        self._locks: dict[Tenant, asyncio.Lock] = {}
        self._consumers: list[Consumer] = []
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._stop_listening: Callable[[], Awaitable[None]] | None = None
        self._unwatch = store.watch_feed(self._committed)
        self._warned = 0.0

    # -- consumers -----------------------------------------------------------------------------
    def consume(self, consumer: Consumer) -> Callable[[], None]:
        """Hand `consumer` every entry of every followed tenant, in seq order per tenant, from now
        on; it runs on the event loop and must be quick and not raise. Returns its stop."""
        self._consumers.append(consumer)
        return lambda: self._consumers.remove(consumer) if consumer in self._consumers else None

    async def follow(self, tenant: Tenant) -> int:
        """Follow `tenant` (if not yet) and return the last seq handed over: every later entry
        will be."""
        if tenant not in self._delivered:
            self._starting.add(tenant)
            try:
                head = await self.store.feed_head(tenant)
            finally:
                self._starting.discard(tenant)
            if tenant not in self._delivered:  # another caller may have got here meanwhile
                self._delivered[tenant] = head
                # this process's commits past the head, made while it was read, go on from it
                early = self._early.get(tenant, {})
                for seq in [s for s in early if s <= head]:
                    del early[seq]
                self._drain(tenant)
                if early:
                    self._wake.set()
        return self._delivered[tenant]

    # -- running -------------------------------------------------------------------------------
    async def start(self) -> None:
        if self._task is not None:
            return
        try:
            self._stop_listening = await self.store.listen_feed(self.wake)
        except Exception as err:  # noqa: BLE001 - polling still works
            log.warning("the store's feed notifications are off (followers poll): %s", err)
        if self.bus is not None:
            await self.bus.start(self.wake)
        self._task = asyncio.create_task(self._run(), name="maestro-feed-follower")

    async def close(self) -> None:
        self._unwatch()
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
        if self._stop_listening is not None:
            await self._stop_listening()
        if self.bus is not None:
            await self.bus.close()

    def wake(self, tenant: Tenant | None = None, seq: int | None = None) -> None:
        """Something may have been committed: read the feed now rather than at the next poll."""
        if tenant is None or seq is None or (tenant in self._delivered and seq > self._delivered[tenant]):
            self._wake.set()

    async def _run(self) -> None:
        while True:
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(self._wake.wait(), self.poll)
            self._wake.clear()
            if not self._delivered:
                continue
            try:
                heads = await self.store.feed_heads()
                for tenant, head in heads.items():
                    if head > self._delivered.get(tenant, head):
                        await self.catch_up(tenant)
            except StoreUnavailable as err:
                if time.monotonic() - self._warned > 60:
                    self._warned = time.monotonic()
                    log.warning("cannot read the change feed; retrying: %s", err.message)
            except Exception:  # noqa: BLE001 - the follower must outlive a fault: next poll
                log.exception("the change feed follower failed; retrying at the next poll")

    async def catch_up(self, tenant: Tenant) -> None:
        """Read and hand over the tenant's entries committed since the last one handed over."""
        if tenant not in self._delivered:
            return
        lock = self._locks.setdefault(tenant, asyncio.Lock())
        async with lock:
            while True:
                entries = await self.store.feed_since(tenant, self._delivered[tenant], PAGE)
                for entry in entries:
                    # one of ours handed over directly meanwhile is not handed over twice
                    if entry.seq > self._delivered[tenant]:
                        mine = self._early.get(tenant, {}).get(entry.seq)
                        self._hand_over(*(mine or (entry, None)))
                self._drain(tenant)  # ours committed while this page was read
                if len(entries) < PAGE:
                    return

    # -- this process's commits ----------------------------------------------------------------
    def _committed(self, entry: FeedEntry, stored: Mapping[NodeId, Node]) -> None:
        """The store committed `entry` here: hand it over at once when it follows on from the last
        one handed over; else (another process committed in between) read the gap first."""
        if self.bus is not None:
            self.bus.publish(entry.tenant, entry.seq)
        delivered = self._delivered.get(entry.tenant)
        if delivered is None:
            if entry.tenant in self._starting:  # its head is being read: this may come after it
                self._early.setdefault(entry.tenant, {})[entry.seq] = (entry, stored)
            return
        if entry.seq <= delivered:
            return
        if entry.seq == delivered + 1:
            self._hand_over(entry, stored)
            self._drain(entry.tenant)
        else:
            self._early.setdefault(entry.tenant, {})[entry.seq] = (entry, stored)
            self._wake.set()

    def _drain(self, tenant: Tenant) -> None:
        """Hand over this process's entries waiting in _early that now follow on."""
        early = self._early.get(tenant)
        while early and (nxt := early.pop(self._delivered[tenant] + 1, None)) is not None:
            self._hand_over(*nxt)

    def _hand_over(self, entry: FeedEntry, stored: Mapping[NodeId, Node] | None) -> None:
        self._delivered[entry.tenant] = entry.seq
        early = self._early.get(entry.tenant)
        if early:
            for seq in [s for s in early if s <= entry.seq]:
                del early[seq]
        for consumer in list(self._consumers):
            try:
                consumer(entry, stored)
            except Exception:  # noqa: BLE001 - one consumer's fault must not starve the others
                log.exception("a change feed consumer failed", extra={"tenant": entry.tenant, "seq": entry.seq})
