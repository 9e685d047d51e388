"""Process-wide tuning of a long-running process: the server, and in-process bulk loads."""

from __future__ import annotations

import asyncio
import gc
from collections.abc import AsyncIterator, Iterable
from typing import TypeVar

T = TypeVar("T")

# A young collection once this many more container objects are alive than were (CPython's
# default is 700).
GC_THRESHOLDS = (500_000, 20, 20)


def tune_gc() -> None:
    """Fewer garbage collections, none of which walks what was alive at startup.

    Ingestion makes thousands of dicts, tuples and nodes an event, and the process keeps
    hundreds of thousands alive in its id and validation caches. With CPython's default
    thresholds a young collection ran every 700 new objects, and full collections kept walking
    the caches, the modules and the GraphQL schema: a large share of ingestion's time. Freezing
    what is alive now takes it out of every collection; higher thresholds make collections rarer.

    A young collection walks every young object still alive, and pipelined ingestion keeps the
    objects of several batches alive at once (hundreds of thousands): with a threshold below
    that, collections come every few events, each walks them all and frees almost nothing. At
    500,000 a collection waits for that many more objects alive than freed, which ingestion's
    batches, freed as they commit, rarely reach.
    Memory is still freed by reference counting as soon as it is unused: only reference cycles
    wait longer to be collected."""
    gc.freeze()
    gc.set_threshold(*GC_THRESHOLDS)


# Items a long synchronous loop handles before it lets the event loop serve other requests:
# a few milliseconds of work at most.
SLICE = 2_000


async def slices(items: Iterable[T], size: int = SLICE) -> AsyncIterator[list[T]]:
    """`items` in lists of `size`, handing the event loop back between them: a loop over the
    300,000 columns of one wide event must not make every other client wait for it."""
    part: list[T] = []
    for item in items:
        part.append(item)
        if len(part) == size:
            yield part
            part = []
            await asyncio.sleep(0)
    if part:
        yield part
