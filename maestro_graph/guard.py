"""The HTTP gate in front of /graphql, /api/v1/lineage and /models/{id}/card, before any parsing or store work:
who is calling (401), how often (429 + Retry-After) and how much they send (413).

Every refusal has a JSON body with `code` (UNAUTHENTICATED or LIMIT_EXCEEDED) in the shape
the endpoint speaks: GraphQL's `{"errors": [...]}` or the lineage route's `{"error": {...}}`.
"""

from __future__ import annotations

import zlib
from typing import Any
from urllib.parse import parse_qs

from starlette.responses import JSONResponse
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from maestro_graph.auth.ratelimit import RateLimiter, rate_key
from maestro_graph.auth.setup import Auth
from maestro_graph.auth.tokens import INVALID_TOKEN
from maestro_graph.domain.errors import LimitExceeded, Unauthenticated

PRINCIPAL = "maestro.principal"  # where the guard leaves the caller in the ASGI scope
GRAPHQL_PATH, LINEAGE_PATH = "/graphql", "/api/v1/lineage"
CARD_PREFIX = "/models/"  # GET /models/{id}/card: model cards as documents (routes.py)


def guarded(path: str) -> bool:
    """Whether a path serves data, so the guard must see who calls it.

    >>> guarded("/graphql"), guarded("/models/TW9kZWw=/card"), guarded("/healthz")
    (True, True, False)
    """
    return path in (GRAPHQL_PATH, LINEAGE_PATH) or path.startswith(CARD_PREFIX)


class BodyTooLarge(LimitExceeded):
    def __init__(self, limit: int) -> None:
        super().__init__(f"the request body is larger than {limit} bytes (after decompression): send less at once",
                         field="body", limit=limit)


async def read_body(receive: Receive, limit: int, declared: int = 0) -> bytes:
    """The whole body, refusing (BodyTooLarge) as soon as it passes `limit` bytes."""
    if declared > limit:
        raise BodyTooLarge(limit)
    chunks, size = [], 0
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            break
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > limit:
            raise BodyTooLarge(limit)
        chunks.append(chunk)
        if not message.get("more_body", False):
            break
    return b"".join(chunks)


def inflate(raw: bytes, encoding: str, limit: int) -> bytes:
    """Decompress a gzip/deflate body, refusing one that inflates past `limit` (a zip bomb)."""
    encoding = encoding.strip().lower()
    if encoding in ("", "identity"):
        return raw
    if encoding not in ("gzip", "deflate"):
        raise ValueError(f"unsupported content-encoding {encoding}")
    inflater = zlib.decompressobj(31 if encoding == "gzip" else 15)
    out = inflater.decompress(raw, limit + 1)
    if len(out) > limit or inflater.unconsumed_tail:
        raise BodyTooLarge(limit)
    return out


def refusal(path: str, status: int, code: str, message: str, headers: dict[str, str] | None = None,
             **extensions: Any) -> JSONResponse:
    if path == GRAPHQL_PATH:
        body: dict[str, Any] = {"errors": [{"message": message, "extensions": {"code": code, **extensions}}]}
    else:
        body = {"error": {"message": message, "code": code, **extensions}}
    return JSONResponse(body, status_code=status, headers=headers)


class Guard:
    def __init__(self, app: ASGIApp, *, auth: Auth, limiter: RateLimiter, max_body: int) -> None:
        self.app, self.auth, self.limiter, self.max_body = app, auth, limiter, max_body

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        path = scope.get("path", "")
        if scope["type"] != "http" or not guarded(path):
            return await self.app(scope, receive, send)
        headers = {k.decode().lower(): v.decode("latin-1") for k, v in scope.get("headers", [])}
        if (not path.startswith(CARD_PREFIX) and scope["method"] == "GET"
                and "query" not in parse_qs(scope.get("query_string", b"").decode("latin-1"), keep_blank_values=True)):
            return await self.app(scope, receive, send)  # the GraphiQL page: no data in it
        try:
            principal = await self.auth.authenticate(headers.get("authorization"))
        except Unauthenticated:
            return await refusal(path, 401, "UNAUTHENTICATED", INVALID_TOKEN,
                                  {"WWW-Authenticate": 'Bearer realm="maestro-graph"'})(scope, receive, send)
        wait = self.limiter.take(rate_key(principal))
        if wait is not None:
            err = self.limiter.refused(wait)
            return await refusal(path, 429, err.code, err.message, {"Retry-After": str(int(wait))},
                                 limit=int(self.limiter.capacity))(scope, receive, send)
        scope[PRINCIPAL] = principal
        if path == GRAPHQL_PATH and scope["method"] == "POST":
            try:
                raw = await read_body(receive, self.max_body, int(headers.get("content-length") or 0))
                body = inflate(raw, headers.get("content-encoding", ""), self.max_body)
            except BodyTooLarge as err:
                return await refusal(path, 413, err.code, err.message, limit=self.max_body)(scope, receive, send)
            except (ValueError, zlib.error):
                return await refusal(path, 400, "BAD_USER_INPUT", "the body is not the gzip or deflate it claims to be",
                                      field="body")(scope, receive, send)
            if headers.get("content-encoding"):  # the app sees the inflated body, so drop what described the wire
                scope = {**scope, "headers": [(k, v) for k, v in scope["headers"]
                                              if k.lower() not in (b"content-encoding", b"content-length")]}
            return await self.app(scope, _replay(body, receive), send)
        return await self.app(scope, receive, send)


def _replay(body: bytes, receive: Receive) -> Receive:
    """A receive that hands the app the body already read, then listens for the disconnect."""
    sent = False

    async def replay() -> Message:
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}
        return await receive()

    return replay
