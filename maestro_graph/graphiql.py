"""GraphiQL without internet: strawberry's IDE page, pointed at the copies of its scripts and
stylesheets that ship in maestro_graph/graphiql-assets/, with the Content-Security-Policy it needs.

Inside a company network the CDN the page names is often out of reach, and the page then stays
on "Loading..." forever; our copies keep the CDN's paths, so one prefix swap points the page at them.
"""

from __future__ import annotations

import base64
import hashlib
import re
from functools import cached_property
from pathlib import Path
from typing import Any

from starlette.responses import HTMLResponse, Response
from starlette.routing import Mount
from starlette.staticfiles import StaticFiles

STATIC_DIR = Path(__file__).parent / "graphiql-assets"
STATIC_PATH = "/graphiql/static"
CDN = "https://unpkg.com/"


def offline(html: str) -> str:
    """The page with every CDN URL pointing at our copy of the same file.

    >>> offline('<script src="https://unpkg.com/react@18.2.0/umd/react.production.min.js"></script>')
    '<script src="/graphiql/static/react@18.2.0/umd/react.production.min.js"></script>'
    """
    return html.replace(CDN, STATIC_PATH + "/")


def inline_hashes(html: str, tag: str) -> list[str]:
    """CSP hash sources of the page's inline <script> or <style> blocks (those without attributes).

    >>> inline_hashes("<style>a{}</style><script src='/x.js'></script>", "style")
    ["'sha256-X1RutGBrXCt9KkSaXMK7tHftWiRscFHOhxsS8tv8hBk='"]
    """
    return [f"'sha256-{base64.b64encode(hashlib.sha256(body.encode()).digest()).decode()}'"
            for body in re.findall(rf"<{tag}>(.*?)</{tag}>", html, flags=re.DOTALL)]


def content_security_policy(html: str) -> str:
    """What the page may load: our own files, its own inline script and style (by hash, so no
    other inline code runs), the fonts and images its stylesheet embeds as data: URLs, and
    requests to this server only (connect-src 'self' covers the ws: subscription socket too)."""
    return "; ".join((
        "default-src 'none'",
        " ".join(("script-src 'self'", *inline_hashes(html, "script"))),
        " ".join(("style-src 'self'", *inline_hashes(html, "style"))),
        "img-src 'self' data:",
        "font-src 'self' data:",
        "connect-src 'self'",
        "base-uri 'none'",
        "form-action 'none'",
        "frame-ancestors 'none'",
    ))


class OfflineGraphiQL:
    """Mixed into strawberry's GraphQL view (before it): the IDE page it renders loads nothing
    from another host, and says so in its Content-Security-Policy."""

    @cached_property
    def graphql_ide_html(self) -> str:
        return offline(super().graphql_ide_html)  # type: ignore[misc]

    async def render_graphql_ide(self, request: Any) -> Response:
        html = self.graphql_ide_html
        return HTMLResponse(html, headers={"Content-Security-Policy": self.graphql_ide_csp})

    @cached_property
    def graphql_ide_csp(self) -> str:
        return content_security_policy(self.graphql_ide_html)


def graphiql_routes() -> list[Mount]:
    """The route serving our copies, at the path `offline` points the page at."""
    return [Mount(STATIC_PATH, StaticFiles(directory=STATIC_DIR), name="graphiql-static")]
