"""Authentication on the two other ways in: the GraphQL WebSocket (graphql-transport-ws) and
POST /api/v1/lineage (OpenLineage producers)."""

from __future__ import annotations

import asyncio
import json
import uuid

import httpx
import pytest
from gql import Client, gql
from gql.transport.exceptions import TransportQueryError
from gql.transport.websockets import WebsocketsTransport
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed

from maestro_graph.auth.principal import Role
from maestro_graph.domain.audit import AuditQuery
from maestro_graph.domain.graph import Label
from tests.e2e.schema_matrix import EVENT
from tests.e2e.tokens import bad_tokens, token

PROTOCOL = "graphql-transport-ws"


def ws_url(server) -> str:
    return server.url.replace("http://", "ws://") + "/graphql"


async def close_code(server, init: dict | None, subscribe_first: bool = False) -> int:
    """Open a socket, send connection_init (or subscribe without it); the code the server closes with."""
    async with connect(ws_url(server), subprotocols=[PROTOCOL]) as ws:
        if subscribe_first:
            await ws.send(json.dumps({"id": "1", "type": "subscribe", "payload": {"query": "{ nodeCounts { label } }"}}))
        else:
            await ws.send(json.dumps({"type": "connection_init", "payload": init or {}}))
        with pytest.raises(ConnectionClosed) as closed:
            while True:
                message = json.loads(await ws.recv())
                assert message["type"] != "connection_ack", f"acknowledged with {init}"
        return closed.value.rcvd.code  # type: ignore[union-attr]


async def test_websocket_refuses_missing_and_bad_tokens_at_connection_init(server):
    bad = bad_tokens(server.tenant)
    for case, bearer in bad.items():
        init = {} if bearer is None else {"Authorization": f"Bearer {bearer}"}
        assert await close_code(server, init) == 4403, case
    assert await close_code(server, {"Authorization": "Basic dXNlcjpwdw=="}) == 4403
    assert await close_code(server, None, subscribe_first=True) == 4401  # no operation before init
    assert server.store.calls == []


async def test_websocket_with_a_token_answers_in_the_tokens_tenant(server):
    await server.execute('mutation { createPerson(input: {name: "Ada", email: "ada@example.com"}) { id } }')
    other = server.as_(Role.VIEWER, tenant=server.tenant + "-other")
    for who, expected in ((server, [{"label": "Person", "count": 1}]), (other, [])):
        transport = WebsocketsTransport(url=ws_url(who), init_payload={"Authorization": f"Bearer {who.bearer}"},
                                        subprotocols=[WebsocketsTransport.GRAPHQLWS_SUBPROTOCOL])
        async with Client(transport=transport) as session:
            got = await session.execute(gql("{ nodeCounts { label count } }"))
        assert got["nodeCounts"] == expected


async def test_websocket_viewer_cannot_write(server):
    viewer = server.as_(Role.VIEWER)
    transport = WebsocketsTransport(url=ws_url(viewer), init_payload={"Authorization": f"Bearer {viewer.bearer}"},
                                    subprotocols=[WebsocketsTransport.GRAPHQLWS_SUBPROTOCOL])
    async with Client(transport=transport) as session:
        with pytest.raises(TransportQueryError) as refused:
            await session.execute(gql('mutation { createTeam(input: {name: "T"}) { id } }'))
    assert refused.value.errors[0]["extensions"]["code"] == "FORBIDDEN"  # type: ignore[index]
    assert await server.store.inner.count_by_label(server.tenant) == {}


def event() -> dict:
    return {**EVENT, "run": {"runId": str(uuid.uuid4())}, "job": {"namespace": "auth", "name": f"job-{uuid.uuid4().hex[:6]}"}}


async def test_lineage_endpoint_needs_an_editor_token_and_writes_into_its_tenant(server):
    store, other = server.store.inner, server.tenant + "-other"
    async with httpx.AsyncClient(base_url=server.url) as client:
        for case, bearer in bad_tokens(server.tenant).items():
            headers = {} if bearer is None else {"Authorization": f"Bearer {bearer}"}
            r = await client.post("/api/v1/lineage", json=event(), headers=headers)
            assert r.status_code == 401 and r.json()["error"]["code"] == "UNAUTHENTICATED", (case, r.text)
            assert r.headers["www-authenticate"].startswith("Bearer")
        assert server.store.calls == []

        viewer = {"Authorization": f"Bearer {token(server.tenant, Role.VIEWER, 'viewer-bot')}"}
        r = await client.post("/api/v1/lineage", json=event(), headers=viewer)
        assert r.status_code == 403 and r.json()["error"]["code"] == "FORBIDDEN", r.text
        assert await store.count_by_label(server.tenant) == {}

        editor = {"Authorization": f"Bearer {token(server.tenant, Role.EDITOR, 'airflow')}"}
        r = await client.post("/api/v1/lineage", json=event(), headers=editor)
        assert r.status_code == 201, r.text
    counts = await store.count_by_label(server.tenant)
    assert counts[Label.JOB] == 1 and counts[Label.RUN] == 1 and counts[Label.DATASET] == 1
    assert await store.count_by_label(other) == {}
    log = (await store.audit_log(server.tenant, AuditQuery())).records
    assert [(r.actor, r.operation, r.outcome) for r in log] == [
        ("airflow", "postLineageEvents", "OK"), ("viewer-bot", "postLineageEvents", "FORBIDDEN")]
    assert len(log[0].ids) == 3  # the job, the run and the dataset it wrote


async def test_legacy_graphql_ws_protocol_is_guarded_too(server):
    """graphql-ws (the legacy protocol): a bad token in connection_init gets connection_error, and an
    operation started without init closes the socket with 4401; no store call either way."""
    async with connect(ws_url(server), subprotocols=["graphql-ws"]) as ws:
        await ws.send(json.dumps({"type": "connection_init", "payload": {"Authorization": "Bearer nope"}}))
        answer = json.loads(await ws.recv())
        assert answer["type"] == "connection_error", answer
    async with connect(ws_url(server), subprotocols=["graphql-ws"]) as ws:
        await ws.send(json.dumps({"type": "start", "id": "1", "payload": {"query": "{ nodeCounts { label } }"}}))
        with pytest.raises(ConnectionClosed) as closed:
            await ws.recv()
        assert closed.value.rcvd.code == 4401  # type: ignore[union-attr]
    assert server.store.calls == []


async def test_a_socket_ends_with_its_token_and_runs_nothing_after(server):
    from tests.e2e.tokens import SECRET, claims
    import jwt
    import time

    # Expired 27 s ago: still inside the 30 s clock-skew leeway for about 3 s more.
    bearer = jwt.encode(claims(server.tenant, exp=int(time.time()) - 27), SECRET, algorithm="HS256")
    async with connect(ws_url(server), subprotocols=[PROTOCOL]) as ws:
        await ws.send(json.dumps({"type": "connection_init", "payload": {"Authorization": f"Bearer {bearer}"}}))
        assert json.loads(await ws.recv())["type"] == "connection_ack"
        await ws.send(json.dumps({"id": "1", "type": "subscribe", "payload": {"query": "{ nodeCounts { label } }"}}))
        assert json.loads(await ws.recv())["type"] == "next"
        await asyncio.sleep(4.5)  # past the leeway
        with pytest.raises(ConnectionClosed) as closed:
            await ws.send(json.dumps({"id": "2", "type": "subscribe",
                                      "payload": {"query": 'mutation { createTeam(input: {name: "Late"}) { id } }'}}))
            while True:
                message = json.loads(await asyncio.wait_for(ws.recv(), 5))
                assert message["type"] != "next", message
    assert closed.value.rcvd is not None and closed.value.rcvd.code == 4403
    assert await server.store.inner.count_by_label(server.tenant) == {}


async def test_socket_operations_count_against_the_rate_limit(store, tenant, tmp_path):
    from tests.e2e.conftest import serve

    async with serve(store, tenant, tmp_path, rate_limit_per_minute=3) as srv:
        transport = WebsocketsTransport(url=ws_url(srv), init_payload={"Authorization": f"Bearer {srv.bearer}"},
                                        subprotocols=[WebsocketsTransport.GRAPHQLWS_SUBPROTOCOL])
        async with Client(transport=transport) as session:
            for _ in range(3):
                await session.execute(gql("{ nodeCounts { label } }"))
            with pytest.raises(TransportQueryError) as refused:
                await session.execute(gql('mutation { createTeam(input: {name: "T"}) { id } }'))
        assert refused.value.errors[0]["extensions"]["code"] == "LIMIT_EXCEEDED"  # type: ignore[index]
        assert await srv.store.inner.count_by_label(srv.tenant) == {}


async def test_websocket_handshake_with_a_token_of_another_key_kind_is_refused(store, tenant, tmp_path):
    import jwt
    from cryptography.hazmat.primitives.asymmetric import ec
    from tests.e2e.conftest import serve
    from tests.e2e.test_attack_matrix import rsa_pem
    from tests.e2e.tokens import claims

    _, pem = rsa_pem()
    async with serve(store, tenant, tmp_path, jwt_secret="", jwt_public_key=pem) as srv:
        es256 = jwt.encode(claims(tenant), ec.generate_private_key(ec.SECP256R1()), algorithm="ES256")
        assert await close_code(srv, {"Authorization": f"Bearer {es256}"}) == 4403
