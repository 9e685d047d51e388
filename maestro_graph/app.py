"""The ASGI application. `create_app` is the one place that wires store, services and GraphQL."""

from __future__ import annotations

import asyncio
import contextlib
import functools
import json
import logging
import time
from collections.abc import AsyncIterator
from typing import Any

import orjson
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route, WebSocketRoute
from starlette.websockets import WebSocket
from cross_web import HTTPException
from strawberry.asgi import GraphQL
from strawberry.exceptions import ConnectionRejectionError

from maestro_graph import json_input
from maestro_graph.auth.principal import Principal, Role
from maestro_graph.auth.ratelimit import RateLimiter, rate_key
from maestro_graph.auth.setup import LOCAL_ADMIN_SUB, Auth, auth_from_settings
from maestro_graph.auth.tokens import INVALID_TOKEN, LEEWAY_SECONDS
from maestro_graph.domain.clock import at_seconds_ago
from maestro_graph.domain.errors import BadInput, StoreUnavailable, Unauthenticated
from maestro_graph.graphiql import OfflineGraphiQL, graphiql_routes
from maestro_graph.guard import PRINCIPAL, Guard
from maestro_graph.logs import AccessLog
from maestro_graph.middleware import Faults, SecurityHeaders, cors
from maestro_graph.routes import card_endpoint, lineage_endpoint
from maestro_graph.runners.base import Runner
from maestro_graph.runners.local import LocalRunner
from maestro_graph.services import Services
from maestro_graph.services.feed import Bus, FeedFollower
from maestro_graph.services.subscriptions import SubscriptionHub
from maestro_graph.services.topology_cache import TopologyCache
from maestro_graph.settings import Settings
from maestro_graph.store.base import GraphStore
from maestro_graph.store.factory import create_store
from maestro_graph.webui import ui_routes
from resolvers.context import Context
from resolvers.limits import Limits
from resolvers.schema import build_schema

log = logging.getLogger("maestro_graph")
LOCAL_TOKEN_TTL = 30 * 86400  # the token `serve` prints for local use


class GraphQLApp(OfflineGraphiQL, GraphQL):
    def __init__(self, services: Services, auth: Auth, limiter: RateLimiter, max_connections_per_token: int = 20,
                 **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.services, self.auth, self.limiter = services, auth, limiter
        self.max_connections = max_connections_per_token
        self._connections: dict[str, int] = {}  # rate_key(principal) -> sockets open

    async def run(self, request: Any, *args: Any, **kwargs: Any) -> Any:  # type: ignore[override]
        """strawberry answers a malformed HTTP request (not JSON, `query` not a string, a batch)
        in plain text; ours answer in GraphQL's JSON shape with a code, like every other error."""
        try:
            return await super().run(request, *args, **kwargs)
        except HTTPException as err:
            if isinstance(request, WebSocket):
                raise
            code = "NOT_FOUND" if err.status_code == 404 else "BAD_USER_INPUT"
            field = "variables" if request.method == "GET" else "body"
            extensions = {"code": code, **({"field": field} if code == "BAD_USER_INPUT" else {})}
            return JSONResponse({"errors": [{"message": err.reason, "extensions": extensions}]}, status_code=err.status_code)

    def parse_json(self, data: str | bytes) -> Any:
        """The one strict reader of HTTP JSON (a POST body, GET's `variables`): a refusal answers in
        GraphQL's shape through `run`, which names the body or the variables as the field."""
        try:
            return json_input.loads(data, "request")
        except BadInput as err:
            raise HTTPException(400, err.message) from None

    def encode_json(self, data: object) -> str | bytes:
        """Every answer (HTTP and WebSocket) through orjson: on a big answer json.dumps is most of
        the time spent after execution. A str, not bytes: strawberry sends bytes on a WebSocket as
        a binary frame, which graphql-ws clients refuse. orjson takes only 64-bit integers and
        string keys; an answer holding anything else (a JSON scalar with a bigger integer) goes
        through json."""
        try:
            return orjson.dumps(data).decode()
        except TypeError:
            return json.dumps(data, separators=(",", ":"))

    def decode_json(self, data: str | bytes) -> object:
        """Every JSON strawberry reads (query-string variables, WebSocket messages) strictly, as the
        guard reads POST bodies; strawberry answers a JSONDecodeError as malformed input."""
        try:
            return json_input.loads(data)
        except BadInput as err:
            raise json.JSONDecodeError(err.message, "", 0) from None

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
        key = rate_key(principal)
        if self._connections.get(key, 0) >= self.max_connections:
            raise ConnectionRejectionError({"message": f"at most {self.max_connections} connections per token",
                                            "extensions": {"code": "LIMIT_EXCEEDED", "limit": self.max_connections}})
        self._connections[key] = self._connections.get(key, 0) + 1
        context.request.scope[CONNECTION_KEY] = key  # released when the socket ends (__call__)
        context.authenticate(principal)
        context.operation_check = functools.partial(self._check_operation, principal)
        if principal.expires_at is not None:  # the socket ends with its token
            delay = max(0.0, principal.expires_at + LEEWAY_SECONDS - time.time())
            timer = asyncio.get_running_loop().call_later(delay, _close_soon, context.request)
            context.request.scope[EXPIRY_TIMER] = timer  # cancelled when the socket ends (__call__)
        return await super().on_ws_connect(context)

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        try:
            await super().__call__(scope, receive, send)
        finally:
            timer = scope.get(EXPIRY_TIMER)
            if timer is not None:
                timer.cancel()
            key = scope.get(CONNECTION_KEY)
            if key is not None:
                self._connections[key] -= 1
                if not self._connections[key]:
                    del self._connections[key]

    def _check_operation(self, principal: Principal) -> None:
        """Before each operation on a socket: the token is still valid, and the rate limit allows it."""
        if principal.expired(time.time() - LEEWAY_SECONDS):  # the clock skew HTTP tolerates too
            raise Unauthenticated(INVALID_TOKEN)
        wait = self.limiter.take(rate_key(principal))
        if wait is not None:
            raise self.limiter.refused(wait)


EXPIRED_CLOSE = 4403  # as for a bad token at connection_init
EXPIRY_TIMER = "maestro.expiry_timer"
CONNECTION_KEY = "maestro.connection_key"


def event_bus(settings: Settings) -> Bus | None:
    """The wake-up channel between server processes, if one is configured."""
    if not settings.event_bus:
        return None
    if not settings.event_bus.startswith(("redis://", "rediss://", "unix://")):
        raise BadInput("MAESTRO_EVENT_BUS must be a redis:// (or rediss://, unix://) URL", field="event_bus")
    from maestro_graph.events.redis_bus import RedisBus

    return RedisBus(settings.event_bus)


async def trim_feeds(store: GraphStore, settings: Settings) -> None:
    """Trim every tenant's change feed by its retention, every feed_trim_interval seconds. Each
    trim deletes in short transactions of its own (GraphStore.trim_feed): writers never wait
    long behind it. Several processes may trim at once: a deleted entry is deleted once."""
    if settings.feed_trim_interval <= 0:
        return
    while True:
        await asyncio.sleep(settings.feed_trim_interval)
        try:
            older_than = at_seconds_ago(settings.feed_retention_seconds)
            for tenant in await store.feed_heads():
                deleted = await store.trim_feed(tenant, older_than, settings.feed_retention_entries)
                if deleted:
                    log.info("change feed trimmed", extra={"tenant": tenant, "entries": deleted})
        except StoreUnavailable as err:
            log.warning("could not trim the change feed; trying again later: %s", err.message)
        except Exception:  # noqa: BLE001 - the next round tries again
            log.exception("trimming the change feed failed")


async def stopping(what: str, step: Any, seconds: float = 10.0) -> None:
    """Run one step of a server's stop for at most `seconds`; past that, leave it and say so."""
    task = asyncio.ensure_future(step)
    done, _ = await asyncio.wait({task}, timeout=seconds)
    if not done:
        task.cancel()
        log.warning("stopping %s took over %.0f s: left unfinished", what, seconds)
    elif not task.cancelled() and task.exception() is not None:
        log.warning("stopping %s failed: %s", what, task.exception())


def follow_mlflow(services: Services, settings: Settings) -> asyncio.Task[None] | None:
    """With a tracking server and a sync interval set: a task syncing MLflow into the default
    tenant, in whichever replica holds the store's lease (services/mlflow_sync.py)."""
    if not settings.mlflow_tracking_uri or settings.mlflow_sync_interval <= 0:
        return None
    from maestro_graph.services.mlflow_sync import MlflowSync
    from maestro_graph.services.training import instance_id

    sync = MlflowSync.from_settings(services.graph, settings)
    return asyncio.create_task(sync.follow(settings.tenant, settings.mlflow_tracking_uri, settings.mlflow_sync_interval,
                                           instance_id()), name="maestro-mlflow-sync")


def runners_from_settings(settings: Settings, store: GraphStore) -> dict[str, Runner]:
    """The training-job runners MAESTRO_RUNNERS enables."""
    names = [n.strip() for n in settings.runners.split(",") if n.strip()]
    unknown = sorted(set(names) - {"local", "kubernetes"})
    if unknown:
        raise BadInput(f"MAESTRO_RUNNERS: {unknown[0]!r} is not a runner (local, kubernetes)", field="runners")
    runners: dict[str, Runner] = {}
    if "local" in names:
        runners["local"] = LocalRunner(settings.data_dir / "training", settings.runner_max_parallel,
                                       settings.runner_grace_seconds)
    if "kubernetes" in names:
        from maestro_graph.runners.kubernetes import KubernetesRunner

        from maestro_graph.services.training import StoreLease, instance_id

        runners["kubernetes"] = KubernetesRunner(settings.kubernetes_namespace, settings.kubeconfig,
                                                 StoreLease(store, instance_id()))
    return runners


def _close_soon(websocket: Any) -> None:
    async def close() -> None:
        with contextlib.suppress(Exception):  # already closed by the client or the server
            await websocket.close(code=EXPIRED_CLOSE, reason="token expired")

    asyncio.ensure_future(close())


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
    # One page size limit for the whole server: the GraphQL check refuses a bigger `first` before
    # any work, and the services (which also serve callers other than GraphQL) hold the same line.
    max_page = settings.max_page_size
    feed = FeedFollower(store, settings.feed_poll_seconds, event_bus(settings))
    services = Services.build(store, auth.minter,
                              TopologyCache(store, settings.lineage_index, settings.lineage_index_max_nodes,
                                            settings.lineage_index_max_lag, feed=feed), max_page=max_page,
                              subscriptions=SubscriptionHub(feed, settings.subscription_queue,
                                                            settings.ws_max_subscriptions),
                              runners=runners_from_settings(settings, store), allow_commands=settings.runner_allow_commands,
                              default_timeout=settings.runner_timeout_seconds,
                              mlflow_tracking_uri=settings.mlflow_tracking_uri,
                              workdir=settings.data_dir / "training")
    limits = Limits(max_page=max_page, max_depth=settings.max_depth, max_cost=settings.max_cost)
    limiter = RateLimiter(settings.rate_limit_per_minute)  # one bucket per token for HTTP and WebSocket
    graphql = GraphQLApp(
        services,
        auth,
        limiter,
        max_connections_per_token=settings.ws_max_connections_per_token,
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
        await feed.start()
        await services.training.start()
        trimming = asyncio.create_task(trim_feeds(store, settings), name="maestro-feed-trim")
        following = follow_mlflow(services, settings)
        if announce:
            print(local_admin_banner(settings, auth) + f"\n  store: {store.backend}", flush=True)
        yield
        trimming.cancel()
        if following is not None:
            following.cancel()
        # Each step is bounded: a store that stopped answering must not keep the process from
        # stopping (an orchestrator would kill it mid-step anyway); what was left is logged.
        await stopping("the training jobs", services.training.close(), settings.runner_grace_seconds + 10)
        services.metamodel.index.close()
        services.subscriptions.close()
        await stopping("the lineage index", services.lineage.topology.close())
        await stopping("the change feed follower", feed.close())
        if owns_store:
            await stopping("the store", store.close())

    async def healthz(request: Request) -> JSONResponse:
        return JSONResponse({"status": "ok"})

    async def readyz(request: Request) -> JSONResponse:
        try:
            await store.ping()
        except StoreUnavailable as err:
            return JSONResponse({"status": "unavailable", "store": store.backend, "error": err.message}, status_code=503)
        return JSONResponse({"status": "ready", "store": store.backend,
                             "lineage_index": services.lineage.topology.status(),
                             "subscriptions": services.subscriptions.count()})

    app = Starlette(
        routes=[
            Route("/healthz", healthz),
            Route("/readyz", readyz),
            Route("/graphql", graphql, methods=["GET", "POST"]),
            Route("/api/v1/lineage", lineage_endpoint(services), methods=["POST"]),
            Route("/models/{id}/card", card_endpoint(services), methods=["GET"]),
            WebSocketRoute("/graphql", graphql),
            *(graphiql_routes() if settings.graphiql else ()),
            *ui_routes(),
        ],
        middleware=[
            Middleware(SecurityHeaders),
            Middleware(AccessLog),
            *cors(settings),  # before the guard: a preflight carries no token
            Middleware(Faults),
            Middleware(Guard, auth=auth, limiter=limiter,
                       max_body=settings.max_body_bytes),
        ],
        lifespan=lifespan,
    )
    app.router.redirect_slashes = False  # its redirects are absolute URLs built from the Host header
    app.state.services = services
    return app
