"""The HTTP layer around the API, over a real uvicorn server: GraphiQL served without internet,
security headers, CORS for configured origins only, no Host header reflected, client errors
logged without tracebacks, and a 500 that leaves the keep-alive connection usable.

None of this depends on the store, so these servers run on an embedded SQLite store of their own."""

from __future__ import annotations

import asyncio
import base64
import contextlib
import hashlib
import http.client
import logging
import re
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx
import pytest
from starlette.applications import Starlette

from maestro_graph.app import create_app
from maestro_graph.auth.principal import Role
from maestro_graph.middleware import cors_origins
from maestro_graph.settings import Settings
from tests.e2e.conftest import running, server_settings
from tests.e2e.tokens import token

ORIGIN, OTHER = "https://app.example", "https://evil.example"


@contextlib.asynccontextmanager
async def served(tmp_path: Path, **overrides: Any) -> AsyncIterator[tuple[httpx.AsyncClient, Starlette]]:
    """A server with the e2e settings plus `overrides`, and a client of it (no token unless given)."""
    app = create_app(server_settings(tmp_path, **overrides))
    async with running(app) as url, httpx.AsyncClient(base_url=url, timeout=30) as client:
        yield client, app


def bearer(tenant: str, role: Role = Role.ADMIN) -> dict[str, str]:
    return {"Authorization": f"Bearer {token(tenant, role)}"}


# --- GraphiQL without internet (issue #21 item 19) ---

async def test_graphiql_page_names_no_other_host_and_the_server_serves_every_file_it_names(tmp_path):
    async with served(tmp_path) as (client, _):
        page = await client.get("/graphql", headers={"Accept": "text/html"})
        assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
        assets = re.findall(r"<(script|link)\b([^>]*)>", page.text)
        urls = [(tag, re.search(r'\b(?:src|href)="([^"]*)"', attrs), attrs) for tag, attrs in assets]
        named = [(tag, m.group(1), attrs) for tag, m, attrs in urls if m and not m.group(1).startswith("data:")]
        assert len(named) == 7, named  # react, react-dom, js-cookie, graphiql js+css, explorer js+css
        for tag, url, attrs in named:
            assert not re.match(r"(https?:)?//", url), f"{url}: loaded from another host"
            got = await client.get(url)
            assert got.status_code == 200, url
            kind = got.headers["content-type"]
            assert kind.startswith("text/javascript" if tag == "script" else "text/css"), (url, kind)
            integrity = re.search(r'integrity="sha384-([^"]+)"', attrs)  # the file the page pins, byte for byte
            assert integrity and base64.b64encode(hashlib.sha384(got.content).digest()).decode() == integrity.group(1), url
        assert "unpkg.com" not in page.text and "jsdelivr" not in page.text


async def test_graphiql_files_are_package_data():
    """The wheel carries the files: pyproject's package-data globs cover every one of them."""
    import tomllib

    root = Path(__file__).resolve().parents[2]
    globs = tomllib.loads((root / "pyproject.toml").read_text())["tool"]["setuptools"]["package-data"]["maestro_graph"]
    shipped = {p for g in globs for p in (root / "maestro_graph").glob(g) if p.is_file()}
    files = {p for p in (root / "maestro_graph" / "graphiql-assets").rglob("*") if p.is_file()}
    assert files and files <= shipped, sorted(str(p) for p in files - shipped)


async def test_no_graphiql_files_when_graphiql_is_off(tmp_path):
    async with served(tmp_path, graphiql=False) as (client, _):
        assert (await client.get("/graphiql/static/react@18.2.0/umd/react.production.min.js")).status_code == 404


# --- security headers, redirects, CORS (item 22) ---

async def test_graphiql_page_has_a_tight_content_security_policy_and_security_headers(tmp_path):
    async with served(tmp_path) as (client, _):
        page = await client.get("/graphql", headers={"Accept": "text/html"})
    csp = dict(d.strip().split(" ", 1) for d in page.headers["content-security-policy"].split(";"))
    assert csp["default-src"] == "'none'" and csp["frame-ancestors"] == "'none'"
    assert csp["script-src"].startswith("'self' 'sha256-") and "unsafe" not in page.headers["content-security-policy"]
    assert csp["connect-src"] == "'self'"
    assert page.headers["x-frame-options"] == "DENY"
    assert page.headers["x-content-type-options"] == "nosniff"
    assert page.headers["referrer-policy"] == "no-referrer"


async def test_json_answers_carry_nosniff_and_forbid_framing(tmp_path, tenant):
    async with served(tmp_path) as (client, _):
        answers = [await client.post("/graphql", json={"query": "{ nodeCounts { label } }"}, headers=bearer(tenant)),
                   await client.post("/graphql", json={"query": "{ nodeCounts { label } }"}),  # the guard's 401
                   await client.get("/healthz")]
    assert [a.status_code for a in answers] == [200, 401, 200]
    for answer in answers:
        assert answer.headers["content-type"].startswith("application/json")
        assert answer.headers["x-content-type-options"] == "nosniff"
        assert answer.headers["content-security-policy"] == "default-src 'none'; frame-ancestors 'none'"


@pytest.mark.parametrize("path", ["/healthz/", "/graphql/", "/api/v1/lineage/"])
async def test_no_redirect_built_from_the_host_header(tmp_path, path):
    async with served(tmp_path) as (client, _):
        got = await client.get(path, headers={"Host": "evil.example"})
    assert not got.is_redirect and "location" not in got.headers, (got.status_code, got.headers.get("location"))
    assert "evil.example" not in got.text


@pytest.mark.parametrize("path", ["/graphql", "/api/v1/lineage"])
async def test_no_cors_headers_unless_origins_are_configured(tmp_path, tenant, path):
    async with served(tmp_path) as (client, _):
        preflight = await client.options(path, headers={"Origin": ORIGIN, "Access-Control-Request-Method": "POST",
                                                        "Access-Control-Request-Headers": "authorization,content-type"})
        actual = await client.post(path, json={}, headers={"Origin": ORIGIN, **bearer(tenant)})
    for answer in (preflight, actual):
        assert not [h for h in answer.headers if h.startswith("access-control-")], answer.headers


@pytest.mark.parametrize("path", ["/graphql", "/api/v1/lineage"])
async def test_preflight_from_a_configured_origin_passes_before_the_guard(tmp_path, tenant, path):
    async with served(tmp_path, cors_origins=f"{ORIGIN}, https://other.example") as (client, _):
        preflight = await client.options(path, headers={"Origin": ORIGIN, "Access-Control-Request-Method": "POST",
                                                        "Access-Control-Request-Headers": "authorization,content-type"})
        assert preflight.status_code == 200, preflight.text
        assert preflight.headers["access-control-allow-origin"] == ORIGIN
        allowed = {h.strip().lower() for h in preflight.headers["access-control-allow-headers"].split(",")}
        assert {"authorization", "content-type"} <= allowed
        assert "POST" in preflight.headers["access-control-allow-methods"]
        assert "access-control-allow-credentials" not in preflight.headers

        refused = await client.post(path, json={}, headers={"Origin": ORIGIN})  # no token: the guard's 401, readable
        assert refused.status_code == 401 and refused.headers["access-control-allow-origin"] == ORIGIN
        body = {"query": "{ nodeCounts { label } }"} if path == "/graphql" else []
        answered = await client.post(path, json=body, headers={"Origin": ORIGIN, **bearer(tenant)})
        assert answered.status_code != 401 and answered.headers["access-control-allow-origin"] == ORIGIN

        stranger = await client.options(path, headers={"Origin": OTHER, "Access-Control-Request-Method": "POST",
                                                       "Access-Control-Request-Headers": "authorization"})
        assert stranger.status_code != 200 and "access-control-allow-origin" not in stranger.headers
        other = await client.post(path, json=body, headers={"Origin": OTHER, **bearer(tenant)})
        assert "access-control-allow-origin" not in other.headers


def test_cors_origins_come_from_maestro_cors_origins():
    settings = Settings.from_env({"MAESTRO_CORS_ORIGINS": "https://a.example,https://b.example:8443"})
    assert cors_origins(settings) == ["https://a.example", "https://b.example:8443"]
    assert cors_origins(Settings.from_env({})) == []


# --- client errors at info, faults with a traceback (item 21) ---

async def test_client_errors_are_logged_at_info_without_a_traceback_faults_at_error_with_one(
        tmp_path, tenant, caplog, monkeypatch):
    caplog.set_level(logging.INFO)
    async with served(tmp_path) as (client, app):
        async def code(query: str, role: Role = Role.ADMIN) -> str:
            got = await client.post("/graphql", json={"query": query}, headers=bearer(tenant, role))
            return got.json()["errors"][0]["extensions"]["code"]

        caplog.clear()
        assert await code("{ nodeCounts { label ") == "GRAPHQL_PARSE_FAILED"
        assert await code("{ noSuchField }") == "GRAPHQL_VALIDATION_FAILED"
        assert await code('{ node(id: "not-an-id") { id } }') == "BAD_USER_INPUT"
        assert await code("{ auditLog { edges { cursor } } }", Role.VIEWER) == "FORBIDDEN"
        client_records = [r for r in caplog.records if r.name in ("maestro_graph.graphql", "strawberry.execution")]
        assert [(r.name, r.levelno, r.code) for r in client_records] == [  # type: ignore[attr-defined]
            ("maestro_graph.graphql", logging.INFO, c)
            for c in ("GRAPHQL_PARSE_FAILED", "GRAPHQL_VALIDATION_FAILED", "BAD_USER_INPUT", "FORBIDDEN")]
        assert all(r.exc_info is None for r in client_records)

        async def broken(*args: Any, **kwargs: Any) -> Any:
            raise RuntimeError("the store fell over")

        monkeypatch.setattr(app.state.services.graph, "counts", broken)
        caplog.clear()
        got = await client.post("/graphql", json={"query": "{ nodeCounts { label } }"}, headers=bearer(tenant))
        assert got.json()["errors"][0]["message"] == "Unexpected error."
        faults = [r for r in caplog.records if r.name in ("maestro_graph.graphql", "strawberry.execution")]
        assert len(faults) == 1 and faults[0].levelno == logging.ERROR
        assert faults[0].exc_info and isinstance(faults[0].exc_info[1], RuntimeError)


# --- a 500 keeps the connection usable (item 14f) ---

async def test_after_a_500_the_keep_alive_connection_still_answers(tmp_path, tenant, caplog, monkeypatch):
    async with served(tmp_path) as (client, app):
        async def broken(*args: Any, **kwargs: Any) -> Any:
            raise RuntimeError("a bug in the ingestion")

        monkeypatch.setattr(app.state.services.lineage, "ingest", broken)
        address = urlsplit(str(client.base_url))
        connection = http.client.HTTPConnection(address.hostname, address.port, timeout=30)

        def ask(method: str, path: str, body: bytes | None = None) -> tuple[int, dict[str, str], bytes]:
            connection.request(method, path, body=body, headers={"Content-Type": "application/json", **bearer(tenant)})
            answer = connection.getresponse()
            return answer.status, {k.lower(): v for k, v in answer.getheaders()}, answer.read()

        try:
            caplog.clear()
            status, headers, body = await asyncio.to_thread(ask, "POST", "/api/v1/lineage", b"[]")
            assert status == 500
            if headers.get("connection", "").lower() != "close":
                # The client may reuse the connection: the server must answer on it.
                status2, _, body2 = await asyncio.to_thread(ask, "GET", "/healthz")
                assert status2 == 200 and body2 == b'{"status":"ok"}'
        finally:
            connection.close()
        assert headers["content-type"] == "application/json"
        assert body == b'{"error":{"message":"Unexpected error.","code":"INTERNAL_SERVER_ERROR"}}'
        faults = [r for r in caplog.records if r.levelno >= logging.ERROR and r.exc_info]
        assert len(faults) == 1 and isinstance(faults[0].exc_info[1], RuntimeError)
        assert faults[0].request_id == headers["x-request-id"]  # type: ignore[attr-defined]


async def test_a_500_on_graphql_speaks_graphql(tmp_path, tenant, monkeypatch):
    async with served(tmp_path) as (client, app):
        graphql = next(r.endpoint for r in app.routes if getattr(r, "path", "") == "/graphql")

        async def broken(*args: Any, **kwargs: Any) -> Any:
            raise RuntimeError("a bug before execution")

        monkeypatch.setattr(graphql, "get_context", broken)
        got = await client.post("/graphql", json={"query": "{ nodeCounts { label } }"}, headers=bearer(tenant))
    assert got.status_code == 500
    assert got.json() == {"errors": [{"message": "Unexpected error.", "extensions": {"code": "INTERNAL_SERVER_ERROR"}}]}
