"""Leases (GraphStore.take_lease): what every store takes as a lease's name, holder and time."""

from __future__ import annotations

import math

MAX_LENGTH = 200  # of a name and of a holder: what the stores keep (migrations/sql 0007)


def check(name: str, holder: str, seconds: float = 1.0) -> None:
    """Assert that a lease call makes sense: the callers are the server's own code, not clients.

    >>> check("kubernetes-watcher", "replica-a:1234", 15.0)
    """
    assert isinstance(name, str) and 0 < len(name) <= MAX_LENGTH, f"a lease name: 1 to {MAX_LENGTH} characters"
    assert isinstance(holder, str) and 0 < len(holder) <= MAX_LENGTH, f"a lease holder: 1 to {MAX_LENGTH} characters"
    assert 0 < seconds < math.inf, "a lease is held for a positive, finite number of seconds"
