"""The web explorer at /ui: the files in maestro_graph/web-ui/static/, served from the package.

The page is public (it holds no data): it asks for a token and sends it with each GraphQL
request, as any front-end does. Its libraries are copies in static/vendor/ (web-ui/vendor.mjs), so
it loads nothing from another host and works inside a network without internet.
"""

from __future__ import annotations

from pathlib import Path

from starlette.responses import RedirectResponse, Response
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles
from starlette.types import Scope

STATIC_DIR = Path(__file__).parent / "web-ui" / "static"
PATH = "/ui"

# What the page may do: run and style from its own files only (no inline script), draw on
# canvases and data: images, and talk to this server (connect-src 'self' covers the ws:
# subscription socket). Cytoscape and uPlot set element styles from script, which
# style-src 'unsafe-inline' is needed for; no inline script may run.
CSP = "; ".join((
    "default-src 'none'",
    "script-src 'self'",
    "style-src 'self' 'unsafe-inline'",
    "img-src 'self' data: blob:",
    "font-src 'self'",
    "connect-src 'self'",
    "base-uri 'none'",
    "form-action 'none'",
    "frame-ancestors 'none'",
))


class PageFiles(StaticFiles):
    """StaticFiles with the page's Content-Security-Policy, and no caching of its own code beyond
    a revalidation (an upgraded server serves the new page at once)."""

    async def get_response(self, path: str, scope: Scope) -> Response:
        response = await super().get_response(path, scope)
        response.headers["Content-Security-Policy"] = CSP
        response.headers.setdefault("Cache-Control", "no-cache")
        return response


def ui_routes() -> list[Route | Mount]:
    async def to_page(_request: object) -> Response:
        return RedirectResponse(PATH + "/", status_code=307)

    return [Route(PATH, to_page), Mount(PATH, PageFiles(directory=STATIC_DIR, html=True), name="ui")]
