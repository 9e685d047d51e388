"""Plain HTTP endpoints beside GraphQL: health, readiness, and the OpenLineage HTTP transport path."""

from __future__ import annotations

import gzip
import json
import logging
import zlib

from starlette.requests import Request
from starlette.responses import JSONResponse

from maestro_graph.domain.errors import BadInput, LimitExceeded, MaestroError, StoreUnavailable
from maestro_graph.services import Services

log = logging.getLogger("maestro_graph.openlineage")
MAX_BODY = 16 * 1024 * 1024  # an OpenLineage batch bigger than this should be split by the producer


def _error(status: int, err: MaestroError) -> JSONResponse:
    return JSONResponse({"error": {"message": err.message, **err.extensions}}, status_code=status)


async def _body(request: Request) -> bytes:
    size = int(request.headers.get("content-length") or 0)
    if size > MAX_BODY:
        raise LimitExceeded("the request body is larger than 16 MiB: send smaller batches", field="body")
    raw = b""
    async for chunk in request.stream():
        raw += chunk
        if len(raw) > MAX_BODY:
            raise LimitExceeded("the request body is larger than 16 MiB: send smaller batches", field="body")
    encoding = request.headers.get("content-encoding", "").lower()
    if encoding == "gzip":
        raw = gzip.decompress(raw)
    elif encoding == "deflate":
        raw = zlib.decompress(raw)
    return raw


def lineage_endpoint(services: Services, tenant: str):  # type: ignore[no-untyped-def]
    """POST /api/v1/lineage: one OpenLineage event, or a JSON array of them (all or none)."""

    async def receive(request: Request) -> JSONResponse:
        try:
            raw = await _body(request)
            body = json.loads(raw)
        except (ValueError, OSError, zlib.error):
            return _error(400, BadInput("the body is not JSON (or not the gzip it claims to be)", field="body"))
        except LimitExceeded as err:
            return _error(413, err)
        try:
            result = await services.lineage.ingest(tenant, body)
        except StoreUnavailable as err:
            return _error(503, err)
        except MaestroError as err:
            status = {"BAD_USER_INPUT": 400, "NOT_FOUND": 404, "CONFLICT": 409, "LIMIT_EXCEEDED": 413}.get(err.code, 500)
            return _error(status, err)
        log.info("lineage ingested", extra={"events": result.events, "nodes": result.nodes, "relationships": result.relationships})
        return JSONResponse({"events": result.events, "nodes": result.nodes, "relationships": result.relationships},
                            status_code=201)

    return receive
