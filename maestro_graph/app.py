"""The ASGI application. `create_app` is the one place that wires store, services and GraphQL."""

from __future__ import annotations

import contextlib
import logging
from collections.abc import AsyncIterator
from typing import Any

from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route, WebSocketRoute
from strawberry.asgi import GraphQL

from maestro_graph.domain.errors import StoreUnavailable
from maestro_graph.logs import AccessLog
from maestro_graph.routes import lineage_endpoint
from maestro_graph.services import Services
from maestro_graph.settings import Settings
from maestro_graph.store.base import GraphStore
from maestro_graph.store.factory import create_store
from resolvers.context import Context
from resolvers.loaders import Loaders
from resolvers.schema import build_schema

log = logging.getLogger("maestro_graph")


class GraphQLApp(GraphQL):
    def __init__(self, services: Services, tenant: str, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.services, self.tenant = services, tenant

    async def get_context(self, request: Any, response: Any) -> Context:  # type: ignore[override]
        tenant = self.tenant  # one tenant per server until authentication assigns one per token
        return Context(services=self.services, tenant=tenant, loaders=Loaders(self.services, tenant),
                       request=request, response=response)


def create_app(settings: Settings, store: GraphStore | None = None, *, load_demo: bool = False,
               announce: bool = False) -> Starlette:
    owns_store = store is None  # a store handed in (tests, embedding) is the caller's to close
    store = store or create_store(settings)
    services = Services.build(store)
    graphql = GraphQLApp(
        services,
        settings.tenant,
        schema=build_schema(max_page=settings.max_page_size, max_depth=settings.max_depth),
        graphql_ide="graphiql" if settings.graphiql else None,
    )

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        await store.open()
        applied = await store.migrate()
        log.info("store ready", extra={"backend": store.backend, "migrations_applied": applied})
        if load_demo:
            from maestro_graph.demo import load_demo as load

            await load(services, settings.tenant)
        if announce:
            print(f"Maestro Graph is serving GraphQL at http://{settings.host}:{settings.port}/graphql "
                  f"(store: {store.backend})", flush=True)
        yield
        if owns_store:
            await store.close()

    async def healthz(request: Request) -> JSONResponse:
        return JSONResponse({"status": "ok"})

    async def readyz(request: Request) -> JSONResponse:
        try:
            await store.ping()
        except StoreUnavailable as err:
            return JSONResponse({"status": "unavailable", "store": store.backend, "error": err.message}, status_code=503)
        return JSONResponse({"status": "ready", "store": store.backend})

    app = Starlette(
        routes=[
            Route("/healthz", healthz),
            Route("/readyz", readyz),
            Route("/graphql", graphql, methods=["GET", "POST"]),
            Route("/api/v1/lineage", lineage_endpoint(services, settings.tenant), methods=["POST"]),
            WebSocketRoute("/graphql", graphql),
        ],
        middleware=[Middleware(AccessLog)],
        lifespan=lifespan,
    )
    app.state.services = services
    return app
