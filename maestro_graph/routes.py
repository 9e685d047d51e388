"""Plain HTTP endpoints beside GraphQL: the OpenLineage HTTP transport path."""

from __future__ import annotations

import asyncio
import logging
import zlib

from starlette.requests import Request
from starlette.responses import JSONResponse

from maestro_graph import json_input
from maestro_graph.auth.tokens import INVALID_TOKEN
from maestro_graph.domain.errors import BadInput, MaestroError, Unauthenticated
from maestro_graph.guard import PRINCIPAL, inflate, read_body
from maestro_graph.services import Services

log = logging.getLogger("maestro_graph.openlineage")
MAX_BODY = 16 * 1024 * 1024  # an OpenLineage batch bigger than this (inflated) should be split by the producer
# Past this, reading and translating a body takes long enough to hold other requests up: it goes
# to a worker thread (a few thousand columns; a typical event is a few kilobytes).
LARGE_BODY = 256 * 1024
STATUS = {"BAD_USER_INPUT": 400, "UNAUTHENTICATED": 401, "FORBIDDEN": 403, "NOT_FOUND": 404, "CONFLICT": 409,
          "LIMIT_EXCEEDED": 413, "SERVICE_UNAVAILABLE": 503}


def _error(status: int, err: MaestroError) -> JSONResponse:
    return JSONResponse({"error": {"message": err.message, **err.extensions}}, status_code=status)


def lineage_endpoint(services: Services):  # type: ignore[no-untyped-def]
    """POST /api/v1/lineage: one OpenLineage event, or a JSON array of them (all or none), stored
    in the caller's tenant (the guard in front has authenticated the caller)."""

    async def receive(request: Request) -> JSONResponse:
        principal = request.scope.get(PRINCIPAL)
        try:
            if principal is None:
                raise Unauthenticated(INVALID_TOKEN)
            try:
                raw = await read_body(request.receive, MAX_BODY, int(request.headers.get("content-length") or 0))
                inflated = inflate(raw, request.headers.get("content-encoding", ""), MAX_BODY)
            except (ValueError, OSError, zlib.error):
                raise BadInput("the body is not the gzip or deflate it claims to be", field="body") from None
            large = len(inflated) > LARGE_BODY
            body = await asyncio.to_thread(json_input.loads, inflated) if large else json_input.loads(inflated)
            result = await services.lineage.ingest(principal, body, operation="postLineageEvents", large=large)
        except MaestroError as err:
            return _error(STATUS.get(err.code, 500), err)
        log.info("lineage ingested", extra={"events": result.events, "nodes": result.nodes, "relationships": result.relationships})
        return JSONResponse({"events": result.events, "nodes": result.nodes, "relationships": result.relationships},
                            status_code=201)

    return receive
