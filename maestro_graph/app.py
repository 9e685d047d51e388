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
from strawberry.exceptions import ConnectionRejectionError

from maestro_graph.auth.principal import Role
from maestro_graph.auth.ratelimit import RateLimiter
from maestro_graph.auth.setup import LOCAL_ADMIN_SUB, Auth, auth_from_settings
from maestro_graph.domain.errors import StoreUnavailable, Unauthenticated
from maestro_graph.graphiql import OfflineGraphiQL, graphiql_routes
from maestro_graph.guard import PRINCIPAL, Guard
from maestro_graph.logs import AccessLog
from maestro_graph.middleware import Faults, SecurityHeaders, cors
from maestro_graph.routes import lineage_endpoint
from maestro_graph.services import Services
from maestro_graph.services.topology_cache import TopologyCache
from maestro_graph.settings import Settings
from maestro_graph.store.base import GraphStore
from maestro_graph.store.factory import create_store
from resolvers.context import Context
from resolvers.limits import Limits
from resolvers.schema import build_schema

log = logging.getLogger("maestro_graph")
LOCAL_TOKEN_TTL = 30 * 86400  # the token `serve` prints for local use


class GraphQLApp(OfflineGraphiQL, GraphQL):
    def __init__(self, services: Services, auth: Auth, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.services, self.auth = services, auth

    async def get_context(self, request: Any, response: Any) -> Context:  # type: ignore[override]
        context = Context(services=self.services, request=request, response=response)
        principal = request.scope.get(PRINCIPAL)  # HTTP: set by the guard; WebSocket: on_ws_connect
        if principal is not None:
            context.authenticate(principal)
        return context

    async def on_ws_connect(self, context: Context) -> Any:  # type: ignore[override]
        """graphql-transport-ws: the token travels in connection_init {"Authorization": "Bearer ..."};
        a missing or bad one closes the socket with 4403 before any operation can run."""
        params = context.connection_params if isinstance(context.connection_params, dict) else {}
        header = params.get("Authorization") or params.get("authorization")
        try:
            principal = await self.auth.authenticate(header if isinstance(header, str) else None)
        except Unauthenticated:
            raise ConnectionRejectionError() from None
        context.authenticate(principal)
        return await super().on_ws_connect(context)


def local_admin_banner(settings: Settings, auth: Auth) -> str:
    """What `serve` prints: where it listens and, when the secret is our own, a ready admin token."""
    url = f"http://{settings.host}:{settings.port}/graphql"
    if auth.verifier is None:
        return (f"Maestro Graph is serving GraphQL at {url}\n"
                f"  authentication is OFF (--no-auth): every request is an admin of tenant {settings.tenant!r}")
    if auth.minter is None or not auth.generated_secret:
        return f"Maestro Graph is serving GraphQL at {url} (send Authorization: Bearer <token>)"
    token = auth.minter.mint(LOCAL_ADMIN_SUB, settings.tenant, [Role.ADMIN], LOCAL_TOKEN_TTL)
    return (f"Maestro Graph is serving GraphQL at {url}\n"
            f"  admin token for tenant {settings.tenant!r} (30 days; secret in {settings.data_dir / 'jwt-secret'}):\n"
            f"    {token}\n"
            f"  send it as the header  Authorization: Bearer {token[:16]}...  (GraphiQL: Headers tab)")


def create_app(settings: Settings, store: GraphStore | None = None, *, load_demo: bool = False,
               announce: bool = False) -> Starlette:
    auth = auth_from_settings(settings)  # refuses --no-auth off loopback, conflicting key settings
    owns_store = store is None  # a store handed in (tests, embedding) is the caller's to close
    store = store or create_store(settings)
    services = Services.build(store, auth.minter,
                              TopologyCache(store, settings.lineage_index, settings.lineage_index_max_nodes,
                                            settings.lineage_index_max_lag))
    limits = Limits(max_page=settings.max_page_size, max_depth=settings.max_depth, max_cost=settings.max_cost)
    graphql = GraphQLApp(
        services,
        auth,
        schema=build_schema(limits=limits, introspection=settings.introspection),
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
            print(local_admin_banner(settings, auth) + f"\n  store: {store.backend}", flush=True)
        yield
        await services.lineage.topology.close()
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
            Route("/api/v1/lineage", lineage_endpoint(services), methods=["POST"]),
            WebSocketRoute("/graphql", graphql),
            *(graphiql_routes() if settings.graphiql else ()),
        ],
        middleware=[
            Middleware(SecurityHeaders),
            Middleware(AccessLog),
            *cors(settings),  # before the guard: a preflight carries no token
            Middleware(Faults),
            Middleware(Guard, auth=auth, limiter=RateLimiter(settings.rate_limit_per_minute),
                       max_body=settings.max_body_bytes),
        ],
        lifespan=lifespan,
    )
    app.router.redirect_slashes = False  # its redirects are absolute URLs built from the Host header
    app.state.services = services
    return app
