"""Every query and mutation of the schema, tried over real HTTP with every way of being the wrong
caller: no token, a tampered one, an expired one, one not valid yet, `alg: none`, a wrong issuer
or audience, missing claims, the wrong role, another tenant's ids; and algorithm confusion on a
server configured for RS256. Each must be refused, and the store must not change.

The fields come from the schema (schema_matrix.root_fields), so a new field is tried too.
"""

from __future__ import annotations

import asyncio
import json
import sys
import uuid
from typing import Any

import httpx
import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from graphql import OperationType

from maestro_graph.auth.principal import Role
from maestro_graph.auth.tokens import INVALID_TOKEN
from maestro_graph.domain.audit import OK, AuditQuery
from maestro_graph.domain.graph import Label
from resolvers.relay import from_global_id, to_global_id
from resolvers.schema import build_schema
from tests.e2e.conftest import serve
from tests.e2e.schema_matrix import SchemaEnum, document, root_fields
from tests.e2e.tokens import SECRET, bad_tokens, claims, handmade, token
SCHEMA = build_schema()
GQL = SCHEMA._schema
FIELDS = root_fields(SCHEMA)
BY_NAME = {f.name: f for f in FIELDS}
# How to make a node of each label through the API (in dependency order); every label has one.
CREATORS = {
    Label.PERSON: "createPerson", Label.TEAM: "createTeam", Label.PROJECT: "createProject",
    Label.ARTIFACT: "registerArtifact", Label.DATASET: "createDataset", Label.FIELD: "createField",
    Label.JOB: "createJob", Label.RUN: "createRun", Label.MODEL: "createModel",
    Label.MODEL_VERSION: "createModelVersion", Label.TRAINING_JOB: "submitTrainingJob",
    Label.DEPLOYMENT: "createDeployment", Label.METRIC: "recordProjectMetrics", Label.PREDICTION: "createPrediction",
}
LIMITS = {"rate_limit_per_minute": 1_000_000, "ws_max_connections_per_token": 10_000}
SUBSCRIPTIONS = root_fields(SCHEMA, (OperationType.SUBSCRIPTION,))


def test_every_label_has_a_creator_and_every_field_a_role():
    assert set(CREATORS) == set(Label)
    assert {f.role for f in FIELDS} == {Role.VIEWER, Role.EDITOR, Role.ADMIN}
    assert all(f.role > Role.VIEWER for f in FIELDS if f.operation is OperationType.MUTATION)
    assert len(FIELDS) == len(GQL.query_type.fields) + len(GQL.mutation_type.fields)
    # Subscriptions run over WebSocket only: test_every_subscription_sees_only_its_tokens_tenant.
    assert len(SUBSCRIPTIONS) == len(GQL.subscription_type.fields) and {f.role for f in SUBSCRIPTIONS} == {Role.VIEWER}


# -- talking to the server ------------------------------------------------------------------------
CLIENT: httpx.AsyncClient | None = None


async def post(url: str, query: str, bearer: str | None) -> httpx.Response:
    """POST a document; one pooled client for the whole module (a client per request costs more
    than the request)."""
    global CLIENT
    if CLIENT is None or CLIENT.is_closed:
        CLIENT = httpx.AsyncClient(timeout=30)
    headers = {"Authorization": f"Bearer {bearer}"} if bearer is not None else {}
    return await CLIENT.post(url + "/graphql", json={"query": query}, headers=headers)


async def seed(url: str, tenant: str) -> dict[Label, str]:
    """One node of every label in `tenant`, made through the API by its admin; their global ids."""
    ids: dict[Label, str] = {}
    admin = token(tenant)
    for label, name in CREATORS.items():
        missing = {lb: f"<{lb.value}>" for lb in Label if lb not in ids}
        doc = document(GQL, BY_NAME[name], {**missing, **ids}, selection=" { id }", **seed_args(label, ids))
        answer = (await post(url, doc, admin)).json()
        assert "errors" not in answer, (name, answer)
        made = answer["data"][name]
        ids[label] = (made[0] if isinstance(made, list) else made)["id"]
        if label is Label.ARTIFACT:  # a model template that training jobs can run
            doc = document(GQL, BY_NAME["setArtifactEntrypoint"], ids, entrypoint={"command": IDLE})
            assert "errors" not in (await post(url, doc, admin)).json()
    running = f'query {{ trainingJob(id: {json.dumps(ids[Label.TRAINING_JOB])}) {{ status }} }}'
    for _ in range(600):  # running, so nothing changes behind the snapshots below
        if (await post(url, running, admin)).json()["data"]["trainingJob"]["status"] == "RUNNING":
            break
        await asyncio.sleep(0.05)
    return ids


# The seeded training job: it runs (and changes nothing) until its server stops.
IDLE = [sys.executable, "-c", "import time; time.sleep(600)"]


async def settled(srv: Any) -> None:
    """Wait until what the seed set going has done with the store (its training job starting,
    the feed's followers taking its changes in), so the calls counted after are the requests'."""
    for _ in range(50):
        before = len(srv.store.calls)
        await asyncio.sleep(0.3)
        if len(srv.store.calls) == before:
            return


def seed_args(label: Label, ids: dict[Label, str]) -> dict[str, Any]:
    """Arguments a seeded node needs beyond the required ones: the artifact is a model template,
    and the training job is submitted from it."""
    if label is Label.ARTIFACT:
        return {"input": {"name": f"template-{uuid.uuid4().hex[:6]}", "type": SchemaEnum("MODEL_TEMPLATE")}}
    if label is Label.TRAINING_JOB:
        return {"input": {"projectId": ids[Label.PROJECT], "name": "seeded", "templateId": ids[Label.ARTIFACT]}}
    return {}


async def snapshot(store, tenant: str, ids: dict[Label, str]) -> dict[str, Any]:
    """What must not change: counts per label, every seeded node as stored, the OK audit records."""
    raw = [from_global_id(g)[1] for g in ids.values()]
    ok = (await store.audit_log(tenant, AuditQuery(outcome=OK, first=100))).records
    return {"counts": await store.count_by_label(tenant), "nodes": await store.get_nodes(tenant, raw), "ok": ok}


async def all_audit(store, tenant: str) -> list:
    return (await store.audit_log(tenant, AuditQuery(first=100))).records


# -- the matrix -----------------------------------------------------------------------------------
async def test_every_field_refuses_every_bad_token_before_touching_the_store(store, tenant, tmp_path):
    async with serve(store, tenant, tmp_path, **LIMITS) as srv:
        ids = await seed(srv.url, tenant)
        before, audit_before = await snapshot(store, tenant, ids), await all_audit(store, tenant)
        await settled(srv)
        srv.store.calls.clear()
        tokens = bad_tokens(tenant)
        for rf in FIELDS:
            doc = document(GQL, rf, ids)
            for case, bearer in tokens.items():
                r = await post(srv.url, doc, bearer)
                assert r.status_code == 401, (rf.name, case, r.text)
                assert r.headers["www-authenticate"].startswith("Bearer"), (rf.name, case)
                # The same answer whatever the reason: nothing for an attacker to learn from it.
                assert r.json() == {"errors": [{"message": INVALID_TOKEN, "extensions": {"code": "UNAUTHENTICATED"}}]}, \
                    (rf.name, case, r.text)
            if rf.operation is OperationType.QUERY:  # GraphQL over GET is guarded the same way
                async with httpx.AsyncClient() as client:
                    r = await client.get(srv.url + "/graphql", params={"query": doc})
                    assert r.status_code == 401, (rf.name, r.text)
                    # A percent-encoded parameter name is still `query` to the GraphQL view.
                    r = await client.get(srv.url + "/graphql?%71uery=" + httpx.QueryParams({"q": doc})["q"].replace(" ", "+"))
                    assert r.status_code == 401, (rf.name, r.text)
        assert srv.store.calls == [], "an unauthenticated request reached the store"
        assert await snapshot(store, tenant, ids) == before
        assert await all_audit(store, tenant) == audit_before


async def test_every_field_refuses_every_role_below_its_own(store, tenant, tmp_path):
    async with serve(store, tenant, tmp_path, **LIMITS) as srv:
        ids = await seed(srv.url, tenant)
        before, audit_before = await snapshot(store, tenant, ids), await all_audit(store, tenant)
        expected_records = []
        for rf in FIELDS:
            for role in (r for r in Role if r < rf.role):
                sub = f"{role.label}-{uuid.uuid4().hex[:6]}"
                r = await post(srv.url, document(GQL, rf, ids), token(tenant, role, sub))
                assert r.status_code == 200, (rf.name, role, r.text)
                error = r.json()["errors"][0]
                assert error["extensions"]["code"] == "FORBIDDEN", (rf.name, role, error)
                assert error["path"] == [rf.name] and rf.name in error["message"], (rf.name, error)
                assert rf.role.label in error["message"], error  # names the role it needs
                if rf.operation is OperationType.MUTATION:
                    expected_records.append((sub, rf.name))
        assert await snapshot(store, tenant, ids) == before  # no node changed, no OK record
        new = [r for r in await all_audit(store, tenant) if r not in audit_before]
        assert sorted((r.actor, r.operation) for r in new) == sorted(expected_records)
        assert {r.outcome for r in new} == {"FORBIDDEN"}


def _placeholders() -> dict[Label, str]:
    return {label: f"<{label.value}>" for label in Label}


def _fill(doc: str, ids: dict[Label, str]) -> str:
    for label, gid in ids.items():
        doc = doc.replace(f'"<{label.value}>"', json.dumps(gid))
    return doc


def _normalised(text: str, *id_maps: dict[Label, str]) -> str:
    for ids in id_maps:
        for label, gid in ids.items():
            text = text.replace(gid, f"<{label.value}>").replace(from_global_id(gid)[1], f"<{label.value}>")
    return text


async def test_another_tenants_ids_behave_exactly_like_unknown_ids(store, tenant, tmp_path):
    victim = tenant + "-victim"
    async with serve(store, tenant, tmp_path, **LIMITS) as srv:
        mine, theirs = await seed(srv.url, tenant), await seed(srv.url, victim)
        unknown = {label: to_global_id(label, str(uuid.uuid4())) for label in Label}
        mine_before, theirs_before = await snapshot(store, tenant, mine), await snapshot(store, victim, theirs)
        victim_audit = await all_audit(store, victim)
        admin = token(tenant)  # the strongest role there is, in the wrong tenant
        tried = 0
        for rf in FIELDS:
            template = document(GQL, rf, _placeholders())
            if "<" not in template:
                continue  # no id argument: nothing of another tenant to name
            tried += 1
            theirs_answer = await post(srv.url, _fill(template, theirs), admin)
            unknown_answer = await post(srv.url, _fill(template, unknown), admin)
            assert theirs_answer.status_code == unknown_answer.status_code == 200
            assert _normalised(theirs_answer.text, theirs) == _normalised(unknown_answer.text, unknown), rf.name
            body = theirs_answer.json()
            if "errors" in body:
                assert body["errors"][0]["extensions"]["code"] == "NOT_FOUND", (rf.name, body)
            else:
                assert body["data"][rf.name] in (None, [None]), (rf.name, body)
        assert tried >= 40
        # An admin mints tokens for its own tenant only.
        forged = await post(srv.url, document(GQL, BY_NAME["mintToken"], {}, tenant=victim), admin)
        assert forged.json()["errors"][0]["extensions"]["code"] == "FORBIDDEN"
        assert await snapshot(store, victim, theirs) == theirs_before
        assert await all_audit(store, victim) == victim_audit  # not even a refusal lands in their log
        assert await snapshot(store, tenant, mine) == mine_before


def rsa_pem() -> tuple[Any, str]:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pem = key.public_key().public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    return key, pem.decode()


async def test_rs256_server_refuses_algorithm_confusion_none_and_foreign_keys(store, tenant, tmp_path):
    key, pem = rsa_pem()
    stranger, _ = rsa_pem()
    async with serve(store, tenant, tmp_path, jwt_secret="", jwt_public_key=pem, **LIMITS) as srv:
        good = jwt.encode(claims(tenant), key, algorithm="RS256")
        ok = await post(srv.url, "{ nodeCounts { label } }", good)
        assert ok.status_code == 200 and "errors" not in ok.json(), ok.text  # the key works: refusals below mean something
        bad = {
            # HS256 with the server's own public key as the HMAC secret: the classic confusion attack.
            "HS256 signed with the RSA public key": handmade({"alg": "HS256", "typ": "JWT"}, claims(tenant), pem.encode()),
            "alg none": handmade({"alg": "none", "typ": "JWT"}, claims(tenant), None),
            "RS256 from another key": jwt.encode(claims(tenant), stranger, algorithm="RS256"),
            "HS256 with the old shared secret": jwt.encode(claims(tenant), SECRET, algorithm="HS256"),
            # ES256 is an accepted algorithm, but this server's key is RSA: no crash, the same 401.
            "ES256 against the RSA key": jwt.encode(claims(tenant), ec.generate_private_key(ec.SECP256R1()), algorithm="ES256"),
        }
        await settled(srv)
        srv.store.calls.clear()
        for rf in FIELDS:
            doc = document(GQL, rf, {label: to_global_id(label, str(uuid.uuid4())) for label in Label})
            for case, bearer in bad.items():
                r = await post(srv.url, doc, bearer)
                assert r.status_code == 401 and r.json()["errors"][0]["message"] == INVALID_TOKEN, (rf.name, case, r.text)
        assert srv.store.calls == []
        assert (await post(srv.url, document(GQL, BY_NAME["mintToken"], {}), good)).json()["errors"][0]["extensions"]["code"] \
            == "BAD_USER_INPUT"  # a server that only holds a public key cannot sign tokens


def _fan_out(doc: str, levels: int) -> str:
    """The document's root selection behind fragments that spread it 2**levels ways."""
    keyword, _, rest = doc.partition(" { ")
    body = rest.rsplit(" }", 1)[0]
    root = "Mutation" if keyword == "mutation" else "Query"
    frags = f"fragment F0 on {root} {{ {body} }} "
    frags += " ".join(f"fragment F{i} on {root} {{ ...F{i - 1} ...F{i - 1} }}" for i in range(1, levels + 1))
    return f"{keyword} {{ ...F{levels} }} {frags}"


def _aliased(doc: str, n: int) -> str:
    keyword, _, rest = doc.partition(" { ")
    body = rest.rsplit(" }", 1)[0]
    return f"{keyword} {{ " + " ".join(f"a{i}: {body}" for i in range(n)) + " }"


async def test_every_field_fanned_out_or_aliased_is_refused_before_touching_the_store(store, tenant, tmp_path):
    """Fragments that spread a field 2^30 ways, and 1,001 aliases of it on a server whose cost
    limit is 1,000: each refused with LIMIT_EXCEEDED, in one pass over the document."""
    async with serve(store, tenant, tmp_path, max_cost=1_000, **LIMITS) as srv:
        ids = await seed(srv.url, tenant)
        before = await snapshot(store, tenant, ids)
        await settled(srv)
        srv.store.calls.clear()
        for rf in FIELDS:
            doc = document(GQL, rf, ids)
            for case, attack in (("fan-out", _fan_out(doc, 30)), ("aliases", _aliased(doc, 1_001))):
                r = await post(srv.url, attack, srv.bearer)
                assert r.status_code == 200, (rf.name, case, r.text[:300])
                error = r.json()["errors"][0]
                assert error["extensions"]["code"] == "LIMIT_EXCEEDED", (rf.name, case, error)
        assert srv.store.calls == [], "a refused document reached the store"
        assert await snapshot(store, tenant, ids) == before


async def test_every_field_over_a_socket_whose_token_expired_runs_nothing(store, tenant, tmp_path):
    """One socket per root field, each with a token that expires (clock-skew leeway included) a
    moment after connection_init; then each field's operation is sent: the socket is closed with
    4403 and nothing runs."""
    import asyncio
    import time

    from websockets.asyncio.client import connect
    from websockets.exceptions import ConnectionClosed

    async with serve(store, tenant, tmp_path, **LIMITS) as srv:
        ids = await seed(srv.url, tenant)
        before, audit_before = await snapshot(store, tenant, ids), await all_audit(store, tenant)
        await settled(srv)
        srv.store.calls.clear()
        ws_url = srv.url.replace("http://", "ws://") + "/graphql"
        # 30 s of leeway: this token is accepted for about 1.5 s more.
        bearer = jwt.encode(claims(tenant, exp=int(time.time()) - 28), SECRET, algorithm="HS256")

        async def one(rf) -> int | None:
            async with connect(ws_url, subprotocols=["graphql-transport-ws"]) as ws:
                await ws.send(json.dumps({"type": "connection_init", "payload": {"Authorization": f"Bearer {bearer}"}}))
                assert json.loads(await ws.recv())["type"] == "connection_ack", rf.name
                await asyncio.sleep(3)  # past exp + leeway
                try:
                    await ws.send(json.dumps({"id": "1", "type": "subscribe", "payload": {"query": document(GQL, rf, ids)}}))
                    while True:
                        message = json.loads(await asyncio.wait_for(ws.recv(), 5))
                        assert message["type"] not in ("next", "complete"), (rf.name, message)
                except ConnectionClosed as closed:
                    return closed.rcvd.code if closed.rcvd else None
            return None

        codes = await asyncio.gather(*(one(rf) for rf in FIELDS))
        assert set(codes) == {4403}, dict(zip((f.name for f in FIELDS), codes))
        assert srv.store.calls == []
        assert await snapshot(store, tenant, ids) == before
        assert await all_audit(store, tenant) == audit_before


async def test_every_subscription_sees_only_its_tokens_tenant(store, tenant, tmp_path):
    """Each subscription root field, opened by a viewer of another tenant with this tenant's ids
    (NOT_FOUND: nothing of ours is named to them) and without (changes): no event of ours ever
    reaches them, while the same subscription of our own viewer gets each change."""
    import asyncio

    from websockets.asyncio.client import connect

    other = tenant + "-other"
    async with serve(store, tenant, tmp_path, **LIMITS) as srv:
        ids = await seed(srv.url, tenant)
        ws_url = srv.url.replace("http://", "ws://") + "/graphql"
        sockets = []

        async def subscribe(rf, as_tenant: str):
            ws = await connect(ws_url, subprotocols=["graphql-transport-ws"])
            sockets.append(ws)
            await ws.send(json.dumps({"type": "connection_init",
                                      "payload": {"Authorization": f"Bearer {token(as_tenant, Role.VIEWER, 'spy')}"}}))
            assert json.loads(await ws.recv())["type"] == "connection_ack"
            await ws.send(json.dumps({"id": "1", "type": "subscribe", "payload": {"query": document(GQL, rf, ids)}}))
            return ws

        theirs = {rf.name: await subscribe(rf, other) for rf in SUBSCRIPTIONS}
        ours = {rf.name: await subscribe(rf, tenant) for rf in SUBSCRIPTIONS}
        await asyncio.sleep(0.5)
        # Every seeded node changed, a metric recorded on the project, lineage run on the dataset.
        admin = token(tenant)
        for label, gid in ids.items():
            if label in (Label.FIELD, Label.RUN):
                continue  # changed below through lineage
            name = f"update{label.value}"
            if name in BY_NAME:
                doc = document(GQL, BY_NAME[name], ids, selection=" { id }")
                assert "errors" not in (await post(srv.url, doc, admin)).json(), name
        doc = document(GQL, BY_NAME["recordProjectMetrics"], ids, selection=" { id }")
        assert "errors" not in (await post(srv.url, doc, admin)).json()

        async def messages(ws, wait: float) -> list[dict]:
            got = []
            try:
                while True:
                    got.append(json.loads(await asyncio.wait_for(ws.recv(), wait)))
            except (asyncio.TimeoutError, Exception):
                return got

        def data(got: list[dict]) -> list[dict]:
            return [m for m in got if m["type"] == "next" and m["payload"].get("data")]

        for name, ws in theirs.items():
            got = await messages(ws, 1.0)
            assert data(got) == [], (name, got)
            if name != "changes":  # named one of our nodes: not found in their tenant
                assert got[0]["payload"]["errors"][0]["extensions"]["code"] == "NOT_FOUND", (name, got)
        for name in ("changes", "nodeChanged", "metricRecorded"):
            got = await messages(ours[name], 1.0)
            assert data(got), (name, got)  # the control: ours do get them
        for ws in sockets:
            await ws.close()
