"""HTTP hardening around every answer: security headers, CORS for configured origins only, and a
JSON 500 in place of an exception escaping to the server."""

from __future__ import annotations

import logging

from starlette.middleware import Middleware
from starlette.middleware.cors import CORSMiddleware
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from maestro_graph.guard import refusal
from maestro_graph.logs import REQUEST_ID
from maestro_graph.settings import Settings

log = logging.getLogger("maestro_graph.http")

# On every answer. no-referrer: GraphiQL's URL carries the query and may carry headers (?headers=...).
SECURITY_HEADERS = ((b"x-content-type-options", b"nosniff"), (b"x-frame-options", b"DENY"),
                    (b"referrer-policy", b"no-referrer"))
# A page that sets none (JSON, plain text) may load nothing and be framed by no one; the GraphiQL
# page sets its own (maestro_graph/graphiql.py).
DEFAULT_CSP = b"default-src 'none'; frame-ancestors 'none'"


class SecurityHeaders:
    """Adds SECURITY_HEADERS and DEFAULT_CSP to each HTTP answer that does not set them itself."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            return await self.app(scope, receive, send)

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", []))
                present = {name.lower() for name, _ in headers}
                headers += [(name, value) for name, value in SECURITY_HEADERS if name not in present]
                if b"content-security-policy" not in present:
                    headers.append((b"content-security-policy", DEFAULT_CSP))
                message = {**message, "headers": headers}
            await send(message)

        await self.app(scope, receive, send_with_headers)


class Faults:
    """An exception escaping the app becomes a JSON 500 ("Unexpected error.", INTERNAL_SERVER_ERROR,
    in the shape the path speaks), logged with its traceback.

    Without it Starlette's ServerErrorMiddleware sends a 500 and re-raises, and uvicorn then closes
    the keep-alive connection without having said `Connection: close`: the client's next request on
    it fails with a connection reset. Once an answer has started, only closing tells the client it
    is cut short, so then the exception goes on to the server."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        started = False

        async def watch(message: Message) -> None:
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, receive, watch)
        except Exception:
            if started:
                raise
            log.exception("unexpected error", extra={"method": scope["method"], "path": scope["path"],
                                                     "request_id": scope.get(REQUEST_ID)})
            await refusal(scope["path"], 500, "INTERNAL_SERVER_ERROR", "Unexpected error.")(scope, receive, send)


def cors_origins(settings: Settings) -> list[str]:
    """The origins MAESTRO_CORS_ORIGINS names, comma-separated.

    >>> from maestro_graph.settings import Settings
    >>> cors_origins(Settings(cors_origins=" https://a.example, https://b.example:8443 ,"))
    ['https://a.example', 'https://b.example:8443']
    """
    return [o.strip() for o in settings.cors_origins.split(",") if o.strip()]


def cors(settings: Settings) -> list[Middleware]:
    """CORS for the configured origins (none by default: then no Access-Control-* header at all).

    It sits in front of the guard, so a browser's preflight, which carries no token, is answered
    here. Bearer tokens, not cookies, authenticate: no credentials mode."""
    origins = cors_origins(settings)
    if not origins:
        return []
    return [Middleware(CORSMiddleware, allow_origins=origins, allow_methods=["GET", "POST"],
                       allow_headers=["Authorization", "Content-Type", "Content-Encoding", "X-Request-Id"],
                       expose_headers=["X-Request-Id", "Retry-After", "WWW-Authenticate"], max_age=600)]
