"""OpenLineage events kept in files, for backfills (`maestro-graph ingest`).

What the OpenLineage file transport writes: one event a line when it appends to one file, or
one file an event (pretty-printed in its debug mode). Exports of other lineage servers are often
JSON arrays. All three are read, each event tagged with where it is, so that an error can name
the file and line to fix.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

from maestro_graph.domain.errors import BadInput
from maestro_graph.integrations.openlineage import parse_event


def read_events(path: Path) -> Iterator[tuple[str, Any]]:
    """(where, raw event) for every event in the file, in order; `where` is `file:line`.

    A file is JSON lines (a line may hold an array of events) unless its first line is not JSON
    on its own: then the whole file is one JSON document, an event or an array of them."""
    seen = False  # a line of JSON before this one: the file is JSON lines
    with path.open("rb") as f:
        for number, line in enumerate(f, 1):
            if not line.strip():
                continue
            try:
                doc = json.loads(line)
            except ValueError as err:
                if not seen:
                    yield from _whole(path)
                    return
                raise BadInput(f"{path}:{number}: not JSON ({err})", field=f"{path}:{number}") from None
            seen = True
            yield from _each(doc, f"{path}:{number}")


def _whole(path: Path) -> Iterator[tuple[str, Any]]:
    try:
        doc = json.loads(path.read_bytes())
    except ValueError as err:
        raise BadInput(f"{path}: neither JSON lines nor one JSON document ({err})", field=str(path)) from None
    yield from _each(doc, f"{path}:1")


def _each(doc: Any, where: str) -> Iterator[tuple[str, Any]]:
    if isinstance(doc, list):
        for i, raw in enumerate(doc):
            yield f"{where}[{i}]", raw
    else:
        yield where, doc


def check_events(paths: Iterable[Path]) -> int:
    """Validate every event in the files, reading them once; return how many there are.
    BadInput names the first bad event's file, line and field."""
    count = 0
    for path in paths:
        for where, raw in read_events(path):
            parse_event(raw, where)
            count += 1
    return count
