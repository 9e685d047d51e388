"""Process-wide tuning of a long-running process: the server, and in-process bulk loads."""

from __future__ import annotations

import gc

# Young collections after this many new container objects (CPython's default is 700).
GC_THRESHOLDS = (50_000, 20, 20)


def tune_gc() -> None:
    """Fewer garbage collections, none of which walks what was alive at startup.

    Ingestion makes thousands of dicts, tuples and nodes an event, and the process keeps
    hundreds of thousands alive in its id and validation caches. With CPython's default
    thresholds a young collection ran every 700 new objects, and full collections kept walking
    the caches, the modules and the GraphQL schema: 30-40% of ingestion time. Freezing what is
    alive now takes it out of every collection; higher thresholds make collections rarer.
    Memory is still freed by reference counting as soon as it is unused: only reference cycles
    wait longer to be collected."""
    gc.freeze()
    gc.set_threshold(*GC_THRESHOLDS)
