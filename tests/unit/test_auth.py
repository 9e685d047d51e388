"""The auth core on its own: token verification (secret, public key, JWKS over real HTTP),
minting, the rate limiter's bucket arithmetic, the local secret file, --no-auth's loopback rule."""

from __future__ import annotations

import json
import stat
import threading
import time
from http.server import BaseHTTPRequestHandler, HTTPServer

import jwt
import pytest
from cryptography.hazmat.primitives import serialization as ser
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from jwt.algorithms import ECAlgorithm, RSAAlgorithm

from maestro_graph.auth.keys import JwksKeys, PublicKey, SecretKey, local_secret
from maestro_graph.auth.principal import Principal, Role, require
from maestro_graph.auth.ratelimit import RateLimiter
from maestro_graph.auth.setup import auth_from_settings, is_loopback
from maestro_graph.auth.tokens import INVALID_TOKEN, TokenMinter, TokenVerifier, bearer, parse_ttl
from maestro_graph.domain.errors import BadInput, Forbidden, Unauthenticated
from maestro_graph.settings import Settings

SECRET = "unit-test-secret-long-enough-for-hs256!!"


def claims(**change):
    now = int(time.time())
    return {"sub": "alice", "tenant": "acme", "roles": ["editor"], "exp": now + 60, **change}


async def test_a_minted_token_verifies_to_its_principal():
    token = TokenMinter(SECRET, "iss-x", "aud-x").mint("alice", "acme", [Role.EDITOR], 600)
    principal = await TokenVerifier(SecretKey(SECRET), "iss-x", "aud-x").verify(token)
    assert principal == Principal("alice", "acme", frozenset({Role.EDITOR}))
    assert principal.can(Role.VIEWER) and principal.can(Role.EDITOR) and not principal.can(Role.ADMIN)


@pytest.mark.parametrize("bad", [
    None, "", "a.b.c", jwt.encode(claims(exp=int(time.time()) - 120), SECRET),
    jwt.encode(claims(roles=[]), SECRET), jwt.encode(claims(roles="root"), SECRET),
    jwt.encode(claims(tenant=""), SECRET), jwt.encode(claims(tenant="a" * 65), SECRET),
    jwt.encode(claims(sub=42), SECRET), jwt.encode(claims(), SECRET * 2, algorithm="HS512"),
])
async def test_every_refusal_is_the_same_unauthenticated_sentence(bad):
    with pytest.raises(Unauthenticated) as err:
        await TokenVerifier(SecretKey(SECRET)).verify(bad)
    assert err.value.message == INVALID_TOKEN and err.value.extensions == {"code": "UNAUTHENTICATED"}


async def test_roles_may_be_a_space_separated_string_and_unknown_roles_are_ignored():
    token = jwt.encode(claims(roles="viewer auditor"), SECRET)
    assert (await TokenVerifier(SecretKey(SECRET)).verify(token)).roles == frozenset({Role.VIEWER})


async def test_public_keys_accept_their_own_algorithms_only():
    rsa_key, ec_key = rsa.generate_private_key(public_exponent=65537, key_size=2048), ec.generate_private_key(ec.SECP256R1())
    from cryptography.hazmat.primitives import serialization as ser

    def pem(key):
        return key.public_key().public_bytes(ser.Encoding.PEM, ser.PublicFormat.SubjectPublicKeyInfo).decode()

    assert (await TokenVerifier(PublicKey(pem(rsa_key))).verify(jwt.encode(claims(), rsa_key, algorithm="RS256"))).sub == "alice"
    assert (await TokenVerifier(PublicKey(pem(ec_key))).verify(jwt.encode(claims(), ec_key, algorithm="ES256"))).sub == "alice"
    with pytest.raises(ValueError, match="HS256 cannot be used with a public key"):
        PublicKey(pem(rsa_key), ("HS256",))
    with pytest.raises(ValueError, match="RS256 cannot be used with a shared secret"):
        SecretKey(SECRET, ("RS256",))


class _Jwks(BaseHTTPRequestHandler):
    keys: list[dict] = []
    fetches = 0

    def do_GET(self):  # noqa: N802 - http.server's name
        type(self).fetches += 1
        body = json.dumps({"keys": type(self).keys}).encode()
        self.send_response(200)
        self.send_header("content-type", "application/json")
        self.send_header("content-length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


def jwk(key, kid: str, alg=RSAAlgorithm) -> dict:
    return {**json.loads(alg.to_jwk(key.public_key())), "kid": kid, "use": "sig"}


async def test_jwks_keys_are_cached_and_refetched_for_an_unknown_kid():
    first, second = rsa.generate_private_key(public_exponent=65537, key_size=2048), ec.generate_private_key(ec.SECP256R1())
    _Jwks.keys, _Jwks.fetches = [jwk(first, "k1")], 0
    http = HTTPServer(("127.0.0.1", 0), _Jwks)
    threading.Thread(target=http.serve_forever, daemon=True).start()
    try:
        keys = JwksKeys(f"http://127.0.0.1:{http.server_port}/jwks.json", min_refresh=0)
        verifier = TokenVerifier(keys)
        assert (await verifier.verify(jwt.encode(claims(), first, algorithm="RS256", headers={"kid": "k1"}))).sub == "alice"
        await verifier.verify(jwt.encode(claims(sub="bob"), first, algorithm="RS256", headers={"kid": "k1"}))
        assert _Jwks.fetches == 1  # cached
        _Jwks.keys = [jwk(first, "k1"), jwk(second, "k2", ECAlgorithm)]  # the IdP rotates in a new key
        rotated = jwt.encode(claims(sub="cy"), second, algorithm="ES256", headers={"kid": "k2"})
        assert (await verifier.verify(rotated)).sub == "cy" and _Jwks.fetches == 2
        with pytest.raises(Unauthenticated):
            await verifier.verify(jwt.encode(claims(), first, algorithm="RS256", headers={"kid": "nope"}))
        assert _Jwks.fetches == 3  # an unknown kid is looked for in a fresh copy of the set
        # Made-up kids cannot make us hammer the IdP: one fetch per min_refresh at most.
        keys.min_refresh = 3600
        for i in range(5):
            with pytest.raises(Unauthenticated):
                await verifier.verify(jwt.encode(claims(), first, algorithm="RS256", headers={"kid": f"x{i}"}))
        assert _Jwks.fetches == 3
        # An ES256 token naming the RSA key's kid: refused like any bad token, not a crash.
        with pytest.raises(Unauthenticated):
            await verifier.verify(jwt.encode(claims(), second, algorithm="ES256", headers={"kid": "k1"}))
        with pytest.raises(Unauthenticated):
            await verifier.verify(jwt.encode(claims(), first, algorithm="RS256", headers={"kid": "k2"}))
    finally:
        http.shutdown()


async def test_a_token_of_another_key_kind_is_refused_not_a_crash():
    rsa_key, ec_key = rsa.generate_private_key(public_exponent=65537, key_size=2048), ec.generate_private_key(ec.SECP256R1())
    pem = rsa_key.public_key().public_bytes(ser.Encoding.PEM, ser.PublicFormat.SubjectPublicKeyInfo).decode()
    verifier = TokenVerifier(PublicKey(pem))  # accepts RS256 and ES256, but its key is RSA
    for bad in (jwt.encode(claims(), ec_key, algorithm="ES256"),
                jwt.encode(claims(), ec.generate_private_key(ec.SECP384R1()), algorithm="ES384")):
        with pytest.raises(Unauthenticated):
            await verifier.verify(bad)
    assert (await verifier.verify(jwt.encode(claims(), rsa_key, algorithm="RS256"))).sub == "alice"


async def test_dates_must_be_numbers_and_a_tenant_has_no_trailing_newline():
    verifier = TokenVerifier(SecretKey(SECRET))
    far = int(time.time()) + 3600
    for bad in (claims(exp=str(far)), claims(exp=True), claims(nbf="0"), claims(iat=[1]), claims(tenant="acme\n")):
        with pytest.raises(Unauthenticated):
            await verifier.verify(jwt.encode(bad, SECRET, algorithm="HS256"))
    ok = await verifier.verify(jwt.encode(claims(exp=far), SECRET, algorithm="HS256"))
    assert ok.expires_at == far


def test_bearer_header_parsing():
    assert bearer("Bearer abc") == "abc" and bearer("bearer  abc ") == "abc"
    assert bearer("Basic abc") is None and bearer(None) is None and bearer("Bearer ") is None


def test_ttls():
    assert [parse_ttl(t) for t in ("45s", "30m", "8h", "7d", "120")] == [45, 1800, 28800, 604800, 120]
    for bad in ("", "8 weeks", "0s", "400d", "-1h"):
        with pytest.raises(BadInput):
            parse_ttl(bad)


def test_require_names_the_operation_and_the_role():
    viewer = Principal("v", "t", frozenset({Role.VIEWER}))
    with pytest.raises(Forbidden, match="createPerson needs the editor role; your token has viewer"):
        require(viewer, Role.EDITOR, "createPerson")
    with pytest.raises(Unauthenticated):
        require(None, Role.VIEWER)
    assert require(viewer, Role.VIEWER) is viewer


def test_token_bucket_allows_a_burst_then_refills_at_the_rate():
    now = [0.0]
    limiter = RateLimiter(60, clock=lambda: now[0])  # one a second, bursts of 60
    assert all(limiter.take("a") is None for _ in range(60))
    assert limiter.take("a") == 1.0  # empty: one token back in a second
    assert limiter.take("b") is None  # buckets are per key
    now[0] += 2.5
    assert limiter.take("a") is None and limiter.take("a") is None and limiter.take("a") == 1.0


def test_local_secret_is_created_once_with_mode_0600(tmp_path):
    first = local_secret(tmp_path / "data")
    path = tmp_path / "data" / "jwt-secret"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600 and len(first) >= 32
    path.chmod(0o644)
    assert local_secret(tmp_path / "data") == first
    assert stat.S_IMODE(path.stat().st_mode) == 0o600  # loosened permissions are tightened again


def test_no_auth_only_on_loopback(tmp_path):
    assert [is_loopback(h) for h in ("127.0.0.1", "127.1.2.3", "::1", "[::1]", "localhost")] == [True] * 5
    assert not any(is_loopback(h) for h in ("0.0.0.0", "::", "192.168.1.5", "example.com"))
    anonymous = auth_from_settings(Settings(data_dir=tmp_path, no_auth=True)).anonymous
    assert anonymous is not None and anonymous.tenant == "default" and anonymous.role is Role.ADMIN
    with pytest.raises(BadInput, match="only allowed on a loopback address"):
        auth_from_settings(Settings(data_dir=tmp_path, no_auth=True, host="0.0.0.0"))


def test_settings_choose_one_key_source_and_never_print_the_secret(tmp_path):
    with pytest.raises(BadInput, match="not jwt_secret and jwt_jwks_url"):
        auth_from_settings(Settings(data_dir=tmp_path, jwt_secret=SECRET, jwt_jwks_url="http://127.0.0.1:1/jwks"))
    with pytest.raises(BadInput, match="at least 32 characters"):
        auth_from_settings(Settings(data_dir=tmp_path, jwt_secret="short"))
    assert SECRET not in repr(Settings(jwt_secret=SECRET))
    generated = auth_from_settings(Settings(data_dir=tmp_path))
    assert generated.generated_secret and generated.minter is not None
