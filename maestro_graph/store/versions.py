"""Topology versions a store read lately, so that impact analysis need not ask the store on every
query (a round trip to a database server costs more than the walk in memory).

A remembered version may be returned for `max_age` seconds, with one exception that gives
read-your-writes: once this process commits a change to a tenant's topology, that tenant's
remembered version is forgotten, and the next read goes to the store. Changes committed by other
processes (replicas, the CLI) are seen within `max_age`.

It also hands each change feed entry this store object commits to its watchers (the process's
feed follower, services/feed.py), with the nodes as written.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable, Mapping

from maestro_graph.domain.feed import FeedEntry
from maestro_graph.domain.graph import Node
from maestro_graph.types import NodeId, Tenant


# (the entry, with its seq; the nodes the change wrote, as stored)
FeedWatcher = Callable[[FeedEntry, Mapping[NodeId, Node]], None]


class RecentVersions:
    def __init__(self) -> None:
        self._seen: dict[Tenant, tuple[int, float]] = {}  # tenant -> (version, when the read began)
        self._writes: dict[Tenant, int] = {}  # tenant -> topology changes this process committed
        self._feed_watchers: list[FeedWatcher] = []

    async def read(self, tenant: Tenant, max_age: float, fetch: Callable[[], Awaitable[int]]) -> int:
        seen = self._seen.get(tenant)
        if seen is not None and time.monotonic() - seen[1] < max_age:
            return seen[0]
        writes, began = self._writes.get(tenant, 0), time.monotonic()
        version = await fetch()
        if self._writes.get(tenant, 0) == writes:  # else a change of ours may have landed after the read
            self._seen[tenant] = (version, began)
        return version

    def changed(self, tenant: Tenant) -> None:
        """This process committed (or may have committed) a change to the tenant's topology."""
        self._writes[tenant] = self._writes.get(tenant, 0) + 1
        self._seen.pop(tenant, None)

    def appended(self, entry: FeedEntry, stored: Mapping[NodeId, Node]) -> None:
        """This process committed a change that appended `entry` to the feed: tell the feed's watchers."""
        for watcher in list(self._feed_watchers):
            watcher(entry, stored)

    def watch_feed(self, watcher: FeedWatcher) -> Callable[[], None]:
        self._feed_watchers.append(watcher)
        return lambda: self._feed_watchers.remove(watcher) if watcher in self._feed_watchers else None
