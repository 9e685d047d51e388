"""A token bucket per principal: `rate` requests a minute, bursts up to `rate`."""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from maestro_graph.domain.errors import LimitExceeded


@dataclass
class _Bucket:
    tokens: float
    at: float


def rate_key(principal: Any) -> str:
    """Whose bucket a request spends from: the token holder's (HTTP and WebSocket alike)."""
    return f"{principal.tenant}\x00{principal.sub}"


class RateLimiter:
    """take(key) spends one token of key's bucket, or answers how many seconds until one is back.

    Buckets live in this process: with N replicas a principal gets up to N times the rate."""

    MAX_KEYS = 100_000  # forget idle buckets past this many, so keys cannot grow memory forever

    def __init__(self, per_minute: int, clock: Callable[[], float] = time.monotonic) -> None:
        assert per_minute > 0, "a rate limit must allow at least one request a minute"
        self.capacity = float(per_minute)
        self.refill = per_minute / 60.0  # tokens a second
        self.clock = clock
        self._buckets: dict[str, _Bucket] = {}

    def take(self, key: str) -> float | None:
        """None if the request may go; else the whole seconds to wait (for Retry-After)."""
        now = self.clock()
        bucket = self._buckets.get(key)
        if bucket is None:
            if len(self._buckets) >= self.MAX_KEYS:
                self._forget_full(now)
            bucket = self._buckets[key] = _Bucket(self.capacity, now)
        bucket.tokens = min(self.capacity, bucket.tokens + (now - bucket.at) * self.refill)
        bucket.at = now
        if bucket.tokens >= 1.0:
            bucket.tokens -= 1.0
            return None
        return float(max(1, math.ceil((1.0 - bucket.tokens) / self.refill)))

    def refused(self, wait: float) -> LimitExceeded:
        """What a caller over the limit is told (HTTP adds Retry-After: `retry_after`)."""
        return LimitExceeded(f"rate limit: at most {int(self.capacity)} requests a minute per token; "
                             f"retry in {int(wait)} s", limit=int(self.capacity), retry_after=int(wait))

    def _forget_full(self, now: float) -> None:
        """Drop buckets that have refilled completely: forgetting them changes nothing."""
        for key in [k for k, b in self._buckets.items() if b.tokens + (now - b.at) * self.refill >= self.capacity]:
            del self._buckets[key]
