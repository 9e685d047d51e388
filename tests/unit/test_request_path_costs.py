"""What the request path keeps between requests, and what it no longer does on the event loop:
a parsed document is reused for the same text (never the answer, never the limits check), and
log lines are written by a thread of their own, every one of them by the time logging stops."""

from __future__ import annotations

import io
import logging
import threading

import pytest
from strawberry.extensions import SchemaExtension

from maestro_graph import logs
from resolvers.limits import PARSE_CACHE_TEXT
from resolvers.schema import build_schema


@pytest.fixture
def documents():
    """A real schema (build_schema) that also records the document each execution ran."""
    seen: list = []

    class Record(SchemaExtension):
        def on_execute(self):
            seen.append(self.execution_context.graphql_document)
            yield

    schema = build_schema()
    schema.extensions = [*schema.extensions, Record]
    return schema, seen


async def test_the_same_text_is_parsed_once_and_a_long_one_every_time(documents):
    schema, seen = documents
    for _ in range(2):
        assert (await schema.execute("{ __typename }")).data == {"__typename": "Query"}
    assert seen[0] is seen[1]
    long = "{ __typename " + " " * PARSE_CACHE_TEXT + "}"
    for _ in range(2):
        assert (await schema.execute(long)).data == {"__typename": "Query"}
    assert seen[2] is not seen[3]


async def test_a_syntax_error_is_still_an_error_each_time(documents):
    schema, _ = documents
    for _ in range(2):
        result = await schema.execute("{ __typename ")
        assert result.errors and "Syntax Error" in result.errors[0].message


class ThreadsStream(io.StringIO):
    """A stream that notes which thread wrote each piece."""

    def __init__(self) -> None:
        super().__init__()
        self.writers: set[int] = set()

    def write(self, text: str) -> int:
        self.writers.add(threading.get_ident())
        return super().write(text)


def test_log_lines_are_written_off_the_callers_thread_and_all_of_them_at_stop():
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    stream = ThreadsStream()
    try:
        logs.configure_logging("INFO", "json", stream=stream)
        log = logging.getLogger("maestro_graph.test")
        for i in range(500):
            log.info("line %d", i, extra={"n": i})
        try:
            raise ValueError("kept")
        except ValueError:
            log.exception("failed")
        logs.stop_logging()
        lines = stream.getvalue().splitlines()
        assert len(lines) == 501 and '"msg": "line 499"' in lines[499] and '"n": 499' in lines[499]
        assert '"exc": "Traceback' in lines[500] and "ValueError: kept" in lines[500]
        assert stream.writers and threading.get_ident() not in stream.writers
        log.warning("after stop")  # written at once, not lost in a queue nobody reads
        assert stream.getvalue().splitlines()[-1].endswith('"msg": "after stop"}')
    finally:
        logs.stop_logging()
        root.handlers[:] = handlers
        root.setLevel(level)
