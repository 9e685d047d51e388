"""Structured logs: one JSON object per line (or plain text), and an access log middleware."""

from __future__ import annotations

import atexit
import copy
import json
import logging
import logging.handlers
import queue
import random
import sys
import time
from typing import Any

from starlette.types import ASGIApp, Message, Receive, Scope, Send

REQUEST_ID = "maestro.request_id"  # where the access log leaves the request's id in the ASGI scope
RESERVED = set(logging.makeLogRecord({}).__dict__) | {"message", "asctime"}


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        out: dict[str, Any] = {
            "ts": self.formatTime(record, "%Y-%m-%dT%H:%M:%S") + f".{int(record.msecs):03d}Z",
            "level": record.levelname.lower(),
            "logger": record.name,
            "msg": record.getMessage(),
        }
        out.update({k: v for k, v in record.__dict__.items() if k not in RESERVED})
        if record.exc_info:
            out["exc"] = self.formatException(record.exc_info)
        return json.dumps(out, default=str)


class _Enqueue(logging.handlers.QueueHandler):
    """Hands a record to the writer thread as it is: formatting happens there too. The queue is
    in-process, so the record keeps its exc_info (the standard `prepare` formats on the caller's
    thread and drops it, for queues that pickle)."""

    def prepare(self, record: logging.LogRecord) -> logging.LogRecord:
        record = copy.copy(record)
        record.msg, record.args = record.getMessage(), None  # args may change once the caller goes on
        return record

    def enqueue(self, record: logging.LogRecord) -> None:
        # Bounded: a writer that falls QUEUED_LINES behind (stderr piped to something slow) makes
        # the caller wait, as a direct write would, rather than hold ever more lines in memory.
        self.queue.put(record)


QUEUED_LINES = 10_000


_listener: logging.handlers.QueueListener | None = None


def stop_logging() -> None:
    """Write every line still queued, then stop the writer thread (at exit, or before
    reconfiguring). A line logged after that is written at once, on the caller's thread."""
    global _listener
    if _listener is not None:
        listener, _listener = _listener, None
        listener.stop()
        root = logging.getLogger()
        root.handlers[:] = [*listener.handlers, *(h for h in root.handlers if not isinstance(h, _Enqueue))]


def configure_logging(level: str = "INFO", fmt: str = "json", stream: Any = None) -> None:
    """Log lines are written by a thread of their own: the event loop only puts each record on a
    queue. A write to stderr is a system call that releases the GIL, and getting it back behind a
    busy thread (the SQLite store runs its statements in threads) can take a switch interval
    (5 ms) per line; a slow pipe or terminal would block every request outright. The queue is
    drained at exit (atexit), so no line is lost when the server stops."""
    global _listener
    stop_logging()
    handler = logging.StreamHandler(stream or sys.stderr)
    handler.setFormatter(JsonFormatter() if fmt == "json" else logging.Formatter("%(asctime)s %(levelname)s %(name)s %(message)s"))
    logging.Formatter.converter = time.gmtime
    records: queue.Queue[logging.LogRecord] = queue.Queue(QUEUED_LINES)
    _listener = logging.handlers.QueueListener(records, handler, respect_handler_level=True)
    _listener.start()
    root = logging.getLogger()
    root.handlers[:] = [_Enqueue(records)]
    root.setLevel(level.upper())


atexit.register(stop_logging)


def new_request_id() -> str:
    """16 hex digits from the process's own generator: a correlation id, not a secret, so no
    os.urandom system call (uuid4) on the event loop for every request.

    >>> len(new_request_id()) == 16 and int(new_request_id(), 16) >= 0
    True
    """
    return f"{random.getrandbits(64):016x}"


class AccessLog:
    """Logs each HTTP request once it is answered: method, path, status, duration, request id."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app
        self.log = logging.getLogger("maestro_graph.access")

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        start, status = time.perf_counter(), 500
        request_id = dict(scope.get("headers") or []).get(b"x-request-id", b"").decode() or new_request_id()
        scope[REQUEST_ID] = request_id  # for the lines logged while answering (a fault's traceback)

        async def send_with_id(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                message.setdefault("headers", []).append((b"x-request-id", request_id.encode()))
            await send(message)

        try:
            await self.app(scope, receive, send_with_id)
        finally:
            self.log.info("request", extra={"method": scope["method"], "path": scope["path"], "status": status,
                                            "duration_ms": round((time.perf_counter() - start) * 1000, 2),
                                            "request_id": request_id})
