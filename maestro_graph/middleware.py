"""HTTP hardening around every answer: security headers, and CORS for configured origins only."""

from __future__ import annotations

from starlette.middleware import Middleware
from starlette.middleware.cors import CORSMiddleware
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from maestro_graph.settings import Settings

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
