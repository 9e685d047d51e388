"""A real server for each test: uvicorn on a loopback port, the app on the backend under test,
in a tenant of the test's own. Clients talk to it over TCP like any front-end would."""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import inspect
import socket
import sys
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
import uvicorn
from gql import Client, gql
from gql.transport.exceptions import TransportQueryError
from gql.transport.httpx import HTTPXAsyncTransport

from maestro_graph.app import create_app
from maestro_graph.auth.principal import Role
from maestro_graph.settings import Settings
from maestro_graph.store.base import GraphStore
from tests.e2e.tokens import AUD, ISS, SECRET, token


def server_settings(tmp_path: Path, **overrides: Any) -> Settings:
    """What every e2e server runs with: a known secret (tests mint tokens with it), issuer and
    audience checked, limits as shipped."""
    return Settings(**{"data_dir": tmp_path, "jwt_secret": SECRET, "jwt_issuer": ISS, "jwt_audience": AUD, **overrides})


# Not what a request costs: lifecycle, and the feed follower's poll and reads, which run on their
# own clock (on PostgreSQL a NOTIFY of a commit made before the count began can wake it after).
NOT_COUNTED = frozenset({"open", "close", "migrate", "feed_heads", "listen_feed", "feed_since"})
# Set while the server handles a request, and inherited by the tasks the request starts (its
# DataLoaders' batches): a store call or SQL statement made without it is the server's own
# background work (feed followers, the lineage index, a training job's runner), which runs on
# its own clock and is not what a request costs.
IN_REQUEST: contextvars.ContextVar[bool] = contextvars.ContextVar("in_request", default=False)


class RequestScoped:
    """ASGI wrapper marking what runs for an HTTP request or a WebSocket as IN_REQUEST."""

    def __init__(self, app: Any) -> None:
        self.app = app

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] in ("http", "websocket"):
            IN_REQUEST.set(True)  # this request's task's own context: its copy, not the server's
        await self.app(scope, receive, send)


class CountingStore:
    """Wraps a store and counts the calls made to it (with `requests_only`, those requests make):
    one call is one store round trip."""

    def __init__(self, inner: GraphStore, requests_only: bool = False) -> None:
        self.inner, self.calls, self.requests_only = inner, [], requests_only
        self.backend = inner.backend

    def counts(self) -> bool:
        return not self.requests_only or IN_REQUEST.get()

    def __getattr__(self, name: str) -> Any:
        attr = getattr(self.inner, name)
        if name in NOT_COUNTED or not (inspect.iscoroutinefunction(attr) or inspect.isasyncgenfunction(attr)):
            return attr  # not a request's store call (watch_feed only registers a function)

        if inspect.isasyncgenfunction(attr):  # a scan: one call however many chunks it yields
            async def scanned(*args: Any, **kwargs: Any) -> Any:
                if self.counts():
                    self.calls.append(name)
                async for chunk in attr(*args, **kwargs):
                    yield chunk

            return scanned

        async def counted(*args: Any, **kwargs: Any) -> Any:
            if self.counts():
                self.calls.append(name)
            return await attr(*args, **kwargs)

        return counted


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@dataclass
class Server:
    """A running server and a client of it: an admin of `tenant` unless `bearer` says otherwise."""

    url: str
    store: CountingStore
    tenant: str
    bearer: str | None = None
    services: Any = None

    def __post_init__(self) -> None:
        if self.bearer is None:
            self.bearer = token(self.tenant)

    @property
    def graphql_url(self) -> str:
        return self.url + "/graphql"

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.bearer}"} if self.bearer else {}

    def as_(self, role: Role, tenant: str | None = None, sub: str = "tester") -> "Server":
        """The same server, called with a token of another role (or tenant)."""
        return Server(self.url, self.store, tenant or self.tenant, token(tenant or self.tenant, role, sub))

    async def execute(self, document: str, variables: dict[str, Any] | None = None) -> dict[str, Any]:
        """Run a document with gql; raises TransportQueryError when the answer has errors."""
        transport = HTTPXAsyncTransport(url=self.graphql_url, timeout=30, headers=self.headers)
        async with Client(transport=transport, fetch_schema_from_transport=False) as session:
            request = gql(document)
            request.variable_values = variables
            return await session.execute(request)

    async def error(self, document: str, variables: dict[str, Any] | None = None) -> dict[str, Any]:
        """The first error of a document that must fail."""
        with pytest.raises(TransportQueryError) as caught:
            await self.execute(document, variables)
        return caught.value.errors[0]  # type: ignore[index]

    async def post(self, body: dict[str, Any]) -> httpx.Response:
        async with httpx.AsyncClient(timeout=30, headers=self.headers) as client:
            return await client.post(self.graphql_url, json=body)


@contextlib.asynccontextmanager
async def running(app: Any) -> AsyncIterator[str]:
    """Serve an ASGI app with uvicorn on a free loopback port; yield its base URL."""
    port = free_port()
    config = uvicorn.Config(app, host="127.0.0.1", port=port, log_config=None, access_log=False, lifespan="on")
    uv = uvicorn.Server(config)
    task = asyncio.create_task(uv.serve())
    for _ in range(1500):
        if uv.started or task.done():
            break
        await asyncio.sleep(0.02)
    assert uv.started, "uvicorn did not start"
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        uv.should_exit = True
        done, _ = await asyncio.wait({task}, timeout=60)
        if not done:  # say where it hangs: every task's stack, then fail
            for t in asyncio.all_tasks():
                t.print_stack(limit=8, file=sys.stderr)
            task.cancel()
            raise AssertionError("the server did not stop within 60 s; the tasks' stacks are above")
        task.result()


@contextlib.asynccontextmanager
async def serve(store: GraphStore, tenant: str, tmp_path: Path, **overrides: Any) -> AsyncIterator[Server]:
    """A server on `store` (counted), with the test's settings plus `overrides`, as an admin of `tenant`."""
    counting = CountingStore(store, requests_only=True)
    app = create_app(server_settings(tmp_path, **{"tenant": tenant, **overrides}), store=counting)  # type: ignore[arg-type]
    async with running(RequestScoped(app)) as url:
        counting.calls.clear()
        server = Server(url, counting, tenant)
        server.services = app.state.services  # the app's own services, for tests that look inside
        yield server


@pytest.fixture
async def server(store: GraphStore, tenant: str, tmp_path: Path) -> AsyncIterator[Server]:
    async with serve(store, tenant, tmp_path) as s:
        yield s
