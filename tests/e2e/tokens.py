"""Test tokens: good ones for the e2e servers (which all check issuer and audience), and every
way of getting one wrong."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
from typing import Any

import jwt

from maestro_graph.auth.principal import Role
from maestro_graph.auth.tokens import TokenMinter

SECRET = "e2e-test-secret-that-is-long-enough-for-hs256"
ISS, AUD = "maestro-test-issuer", "maestro-graph-api"
MINTER = TokenMinter(SECRET, ISS, AUD)


def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def handmade(header: dict[str, Any], claims: dict[str, Any], key: bytes | None) -> str:
    """A JWT built by hand: pyjwt refuses to make the bad ones (alg none, HMAC with a PEM key)."""
    signing_input = b64(json.dumps(header).encode()) + "." + b64(json.dumps(claims).encode())
    signature = b"" if key is None else hmac.new(key, signing_input.encode(), hashlib.sha256).digest()
    return signing_input + "." + b64(signature)


def claims(tenant: str, role: Role = Role.ADMIN, **change: Any) -> dict[str, Any]:
    now = int(time.time())
    base = {"sub": "mallory", "tenant": tenant, "roles": [role.label], "iat": now, "exp": now + 3600, "iss": ISS, "aud": AUD}
    base.update(change)
    return {k: v for k, v in base.items() if v is not None}


def tampered(token: str) -> str:
    head, body, sig = token.split(".")
    i = len(sig) // 2  # a middle character: all six of its bits are signature bits
    return f"{head}.{body}.{sig[:i]}{'A' if sig[i] != 'A' else 'B'}{sig[i + 1:]}"


def bad_tokens(tenant: str) -> dict[str, str | None]:
    """Every way an admin token for `tenant` can be wrong, by name."""
    good = jwt.encode(claims(tenant), SECRET, algorithm="HS256")
    head, body, sig = good.split(".")
    other_body = b64(json.dumps(claims(tenant + "-x")).encode())
    out: dict[str, str | None] = {
        "no token": None,
        "not a JWT": "not-a-jwt",
        "tampered signature": tampered(good),
        "tampered claims": f"{head}.{other_body}.{sig}",
        "wrong secret": jwt.encode(claims(tenant), SECRET + "-not-ours", algorithm="HS256"),
        "expired": jwt.encode(claims(tenant, exp=int(time.time()) - 3600), SECRET, algorithm="HS256"),
        "not yet valid": jwt.encode(claims(tenant, nbf=int(time.time()) + 3600), SECRET, algorithm="HS256"),
        "alg none": handmade({"alg": "none", "typ": "JWT"}, claims(tenant), None),
        "alg None": handmade({"alg": "None", "typ": "JWT"}, claims(tenant), None),
        "wrong issuer": jwt.encode(claims(tenant, iss="https://evil.example"), SECRET, algorithm="HS256"),
        "wrong audience": jwt.encode(claims(tenant, aud="another-api"), SECRET, algorithm="HS256"),
        "unknown role": jwt.encode(claims(tenant, roles=["root"]), SECRET, algorithm="HS256"),
        "bad tenant": jwt.encode(claims("../" + tenant), SECRET, algorithm="HS256"),
        "tenant ending in a newline": jwt.encode(claims(tenant + "\n"), SECRET, algorithm="HS256"),
        "exp as a string": jwt.encode(claims(tenant, exp=str(int(time.time()) + 3600)), SECRET, algorithm="HS256"),
    }
    for claim in ("sub", "tenant", "roles", "exp", "iss", "aud"):
        missing = {k: v for k, v in claims(tenant).items() if k != claim}
        out[f"no {claim}"] = jwt.encode(missing, SECRET, algorithm="HS256")
    return out


def token(tenant: str, role: Role = Role.ADMIN, sub: str = "tester") -> str:
    return MINTER.mint(sub, tenant, [role], 3600)
