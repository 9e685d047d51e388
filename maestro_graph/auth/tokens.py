"""JWT bearer tokens (pyjwt): verify one into a Principal, mint one with the shared secret.

Every refusal is the same Unauthenticated("Missing or invalid bearer token."): the reason
(expired, bad signature, wrong issuer, ...) goes to the server log only, so a caller probing
tokens learns nothing from the answer.
"""

from __future__ import annotations

import logging
import re
import time
import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import jwt

from maestro_graph.auth.keys import KeySource, KeyUnavailable, algorithms_for
from maestro_graph.auth.principal import TENANT_PATTERN, Principal, Role
from maestro_graph.domain.errors import BadInput, Unauthenticated

log = logging.getLogger("maestro_graph.auth")

INVALID_TOKEN = "Missing or invalid bearer token."
REQUIRED_CLAIMS = ("sub", "tenant", "roles", "exp")
LEEWAY_SECONDS = 30  # clock skew tolerated on exp / nbf / iat
MAX_TTL_SECONDS = 366 * 86400
_TTL = re.compile(r"\A\s*(\d+)\s*([smhd]?)\s*\Z")


def parse_ttl(text: str) -> int:
    """Seconds in a lifetime written as 45s, 30m, 8h, 7d or plain seconds.

    >>> parse_ttl("8h")
    28800
    """
    match = _TTL.match(str(text))
    if not match:
        raise BadInput(f"ttl: {text!r} is not a lifetime like 30m, 8h or 7d", field="ttl")
    seconds = int(match.group(1)) * {"": 1, "s": 1, "m": 60, "h": 3600, "d": 86400}[match.group(2)]
    if not 0 < seconds <= MAX_TTL_SECONDS:
        raise BadInput(f"ttl must be between 1 second and 366 days, got {text!r}", field="ttl")
    return seconds


class _Refused(Exception):
    """Why a token was refused; logged, never shown to the caller."""


def bearer(header: str | None) -> str | None:
    """The token of an `Authorization: Bearer <token>` header value, or None.

    >>> bearer("Bearer abc.def.ghi")
    'abc.def.ghi'
    """
    if not header:
        return None
    scheme, _, token = header.strip().partition(" ")
    return token.strip() or None if scheme.lower() == "bearer" else None


@dataclass(frozen=True)
class TokenVerifier:
    keys: KeySource
    issuer: str | None = None
    audience: str | None = None

    async def verify(self, token: str | None) -> Principal:
        try:
            return await self._verify(token)
        except (_Refused, jwt.PyJWTError, KeyUnavailable, ValueError) as err:
            log.info("bearer token refused", extra={"reason": f"{type(err).__name__}: {err}"})
        except Exception as err:  # noqa: BLE001 - a token the crypto library chokes on is still just refused
            log.warning("bearer token refused by an unexpected error", extra={"reason": f"{type(err).__name__}: {err}"})
        raise Unauthenticated(INVALID_TOKEN) from None

    async def _verify(self, token: str | None) -> Principal:
        if not token:
            raise _Refused("no token")
        header = jwt.get_unverified_header(token)
        alg = header.get("alg")
        # Only the algorithms of the configured key kind: `none`, and HS256 signed with an RSA
        # public key as its secret (algorithm confusion), never get this far.
        if alg not in self.keys.algorithms:
            raise _Refused(f"algorithm {alg!r} is not accepted (accepted: {', '.join(self.keys.algorithms)})")
        key = await self.keys.key_for(header)
        # A key verifies its own kind of signature only: an ES256 token against an RSA key
        # (or a JWKS key of another type) is refused here, not inside the crypto library.
        if alg not in algorithms_for(key):
            raise _Refused(f"algorithm {alg!r} does not fit the key ({type(key).__name__})")
        claims = jwt.decode(
            token, key, algorithms=[alg], issuer=self.issuer or None,
            audience=self.audience or None, leeway=LEEWAY_SECONDS,
            options={"require": list(REQUIRED_CLAIMS), "verify_aud": bool(self.audience)},
        )
        return principal_of(claims)


NUMERIC_DATES = ("exp", "nbf", "iat")  # RFC 7519: NumericDate, a JSON number


def principal_of(claims: dict[str, Any]) -> Principal:
    for name in NUMERIC_DATES:  # pyjwt reads "9999999999" as a number: a token must not
        if name in claims and (isinstance(claims[name], bool) or not isinstance(claims[name], (int, float))):
            raise _Refused(f"{name} is not a number")
    sub, tenant, raw_roles = claims.get("sub"), claims.get("tenant"), claims.get("roles")
    if not isinstance(sub, str) or not sub.strip() or len(sub) > 256:
        raise _Refused("sub is not a non-empty string")
    if not isinstance(tenant, str) or not TENANT_PATTERN.match(tenant):
        raise _Refused("tenant is not a plain name of at most 64 characters")
    if isinstance(raw_roles, str):
        raw_roles = raw_roles.split()
    if not isinstance(raw_roles, list):
        raise _Refused("roles is not a list")
    roles = frozenset(Role[r.upper()] for r in raw_roles if isinstance(r, str) and r.upper() in Role.__members__)
    if not roles:
        raise _Refused("roles names none of viewer, editor, admin")
    return Principal(sub, tenant, roles, expires_at=float(claims["exp"]))


@dataclass(frozen=True)
class TokenMinter:
    """Signs HS256 tokens with the server's own secret (only a server with a secret can mint)."""

    secret: str
    issuer: str | None = None
    audience: str | None = None

    def mint(self, sub: str, tenant: str, roles: Iterable[Role], ttl_seconds: int, *, now: float | None = None) -> str:
        roles = sorted(set(roles))
        assert roles, "a token needs at least one role"
        if not sub.strip():
            raise BadInput("sub must not be empty", field="sub")
        if not TENANT_PATTERN.match(tenant):
            raise BadInput(f"tenant {tenant!r} is not a plain name (letters, digits, _.-; at most 64)", field="tenant")
        issued = int(time.time() if now is None else now)
        claims: dict[str, Any] = {"sub": sub, "tenant": tenant, "roles": [r.label for r in roles],
                                  "iat": issued, "exp": issued + ttl_seconds, "jti": uuid.uuid4().hex}
        if self.issuer:
            claims["iss"] = self.issuer
        if self.audience:
            claims["aud"] = self.audience
        return jwt.encode(claims, self.secret, algorithm="HS256")

