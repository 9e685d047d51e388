"""Plain HTTP endpoints beside GraphQL: the OpenLineage HTTP transport path, and model cards as documents."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import logging
import re
import zlib

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from maestro_graph import json_input
from maestro_graph.cards import MEDIA_TYPES, render
from maestro_graph.cards.html import STYLE
from maestro_graph.auth.tokens import INVALID_TOKEN
from maestro_graph.domain.errors import BadInput, MaestroError, NotFound, Unauthenticated
from maestro_graph.domain.graph import Label
from maestro_graph.guard import PRINCIPAL, inflate, read_body
from maestro_graph.services import Services
from resolvers.relay import from_global_id  # the API's one reader of global ids

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


CARD_FORMATS = {"md": "text/markdown", "html": "text/html", "pdf": "application/pdf"}
_FILENAME_UNSAFE = re.compile(r"[^A-Za-z0-9._-]+")


def card_format(query: str | None, accept: str) -> str:
    """The format a card is asked for: `?format=` if given, else the Accept header's most preferred
    of ours; HTML for a browser (it asks for text/html), Markdown for anyone else.

    >>> card_format(None, "text/html,application/xhtml+xml,*/*;q=0.8"), card_format(None, "*/*"), card_format("pdf", "")
    ('html', 'md', 'pdf')
    >>> card_format(None, "text/markdown;q=0.5, application/pdf")
    'pdf'
    """
    if query is not None:
        if query not in CARD_FORMATS:
            raise BadInput(f"format must be one of {', '.join(CARD_FORMATS)}, got {query[:40]!r}", field="format")
        return query
    by_type = {media: fmt for fmt, media in CARD_FORMATS.items()}
    wanted: list[tuple[float, int, str]] = []
    for i, part in enumerate(accept.split(",")):
        media, *params = [p.strip() for p in part.split(";")]
        q = 1.0
        for p in params:
            if p.startswith("q="):
                try:
                    q = float(p[2:])
                except ValueError:
                    q = 0.0
        if media.lower() in by_type and q > 0:
            wanted.append((-q, i, by_type[media.lower()]))
    return min(wanted)[2] if wanted else "md"


def card_filename(model: str, version: str, fmt: str) -> str:
    """
    >>> card_filename("Churn model/eu", "2.0.0", "pdf")
    'model-card-Churn-model-eu-2.0.0.pdf'
    """
    stem = _FILENAME_UNSAFE.sub("-", f"{model}-{version}").strip("-.")[:120] or "model"
    return f"model-card-{stem}.{fmt}"


def card_endpoint(services: Services):  # type: ignore[no-untyped-def]
    """GET /models/{id}/card: a ModelVersion's card (id: its global id) as Markdown, HTML or PDF,
    generated from the graph on each request, for any role of the caller's tenant (the guard in
    front has authenticated the caller). An id of another tenant is NOT_FOUND like an unknown one."""
    style_hash = base64.b64encode(hashlib.sha256(STYLE.encode()).digest()).decode()
    html_csp = f"default-src 'none'; style-src 'sha256-{style_hash}'; frame-ancestors 'none'"

    async def card(request: Request) -> Response:
        principal = request.scope.get(PRINCIPAL)
        try:
            if principal is None:
                raise Unauthenticated(INVALID_TOKEN)
            fmt = card_format(request.query_params.get("format"), request.headers.get("accept", ""))
            sent = request.path_params["id"]
            _, version_id = from_global_id(sent, Label.MODEL_VERSION, field="id")
            try:
                built = await services.cards.card(principal.tenant, version_id)
            except NotFound:  # named as the client sent it (as GraphQL's errors do), in this route's terms
                raise NotFound(f"no ModelVersion with id {sent}", field="id") from None
        except MaestroError as err:
            return _error(STATUS.get(err.code, 500), err)
        body = await asyncio.to_thread(render, built, fmt)  # PDF layout is pure Python: off the event loop
        headers = {"Cache-Control": "no-store", "Vary": "Accept"}
        if fmt == "html":
            headers["Content-Security-Policy"] = html_csp
        name = card_filename(built.details.model_name, built.details.version, fmt)
        headers["Content-Disposition"] = f'{"attachment" if fmt == "pdf" else "inline"}; filename="{name}"'
        return Response(body, media_type=MEDIA_TYPES[fmt], headers=headers)

    return card
