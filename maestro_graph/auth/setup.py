"""Authentication as the settings ask for it: which keys verify tokens, whether this server can
mint them, and the anonymous admin of --no-auth (loopback only)."""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass

from maestro_graph.auth.keys import JwksKeys, KeySource, PublicKey, SecretKey, local_secret
from maestro_graph.auth.principal import Principal, system
from maestro_graph.auth.tokens import TokenMinter, TokenVerifier, bearer
from maestro_graph.domain.errors import BadInput
from maestro_graph.settings import Settings

ANONYMOUS_SUB = "anonymous"
LOCAL_ADMIN_SUB = "local-admin"


def is_loopback(host: str) -> bool:
    """Whether a listen address is reachable from this machine only.

    >>> [is_loopback(h) for h in ("127.0.0.1", "::1", "localhost", "0.0.0.0", "10.0.0.1")]
    [True, True, True, False, False]
    """
    if host.strip().lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


@dataclass(frozen=True)
class Auth:
    verifier: TokenVerifier | None  # None: --no-auth, every request is `anonymous`
    minter: TokenMinter | None  # None: keys come from an IdP; this server cannot sign tokens
    anonymous: Principal | None = None
    generated_secret: bool = False  # the secret lives in <data_dir>/jwt-secret

    async def authenticate(self, authorization: str | None) -> Principal:
        """The caller an `Authorization` header value names (the anonymous admin under --no-auth);
        Unauthenticated if the token is missing or not valid."""
        if self.verifier is None:
            assert self.anonymous is not None, "--no-auth needs its anonymous principal"
            return self.anonymous
        return await self.verifier.verify(bearer(authorization))


def _algorithms(settings: Settings, default: tuple[str, ...]) -> tuple[str, ...]:
    wanted = tuple(a.strip().upper() for a in settings.jwt_algorithms.split(",") if a.strip())
    return wanted or default


def auth_from_settings(settings: Settings) -> Auth:
    if settings.no_auth:
        if not is_loopback(settings.host):
            raise BadInput(f"--no-auth is only allowed on a loopback address (127.0.0.1, ::1, localhost), "
                           f"not on {settings.host}: anyone who can reach it would be an admin", field="no_auth")
        return Auth(None, None, anonymous=system(settings.tenant, ANONYMOUS_SUB))
    issuer, audience = settings.jwt_issuer or None, settings.jwt_audience or None
    configured = [n for n in ("jwt_secret", "jwt_public_key", "jwt_jwks_url") if getattr(settings, n)]
    if len(configured) > 1:
        raise BadInput(f"configure one of jwt_secret, jwt_public_key, jwt_jwks_url, not {' and '.join(configured)}",
                       field=configured[1])
    keys: KeySource
    try:
        if settings.jwt_public_key:
            keys = PublicKey(settings.jwt_public_key, _algorithms(settings, ("RS256", "ES256")))
        elif settings.jwt_jwks_url:
            keys = JwksKeys(settings.jwt_jwks_url, _algorithms(settings, ("RS256", "ES256")))
        else:
            secret = settings.jwt_secret or local_secret(settings.data_dir)
            if len(secret) < 32:
                raise BadInput("jwt_secret must be at least 32 characters long", field="jwt_secret")
            keys = SecretKey(secret, _algorithms(settings, ("HS256",)))
            return Auth(TokenVerifier(keys, issuer, audience), TokenMinter(secret, issuer, audience),
                        generated_secret=not settings.jwt_secret)
    except ValueError as err:
        raise BadInput(str(err), field="jwt_algorithms") from None
    return Auth(TokenVerifier(keys, issuer, audience), None)
