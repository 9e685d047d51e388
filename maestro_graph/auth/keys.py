"""Where verification keys come from: a shared secret, a public key, or a JWKS URL.

Each source says which algorithms it accepts, so a token is only ever checked with an
algorithm of the key's own kind (no HS256 against an RSA public key, no `none`).
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import secrets
import time
import urllib.request
from pathlib import Path
from typing import Any, Protocol

import jwt
from jwt import PyJWKSet

log = logging.getLogger("maestro_graph.auth")

HMAC_ALGORITHMS = ("HS256", "HS384", "HS512")
PUBLIC_ALGORITHMS = ("RS256", "RS384", "RS512", "ES256", "ES384", "ES512", "PS256", "PS384", "PS512")
SECRET_FILE = "jwt-secret"


class KeyUnavailable(Exception):
    """No key for this token (unknown kid, JWKS unreachable)."""


class KeySource(Protocol):
    algorithms: tuple[str, ...]

    async def key_for(self, header: dict[str, Any]) -> Any:
        """The key to check a token with this (unverified) header against."""


def algorithms_for(key: Any) -> tuple[str, ...]:
    """The signature algorithms a key can verify: its own kind only (and the curve's hash for EC)."""
    from cryptography.hazmat.primitives.asymmetric import ec, rsa

    if isinstance(key, (str, bytes)):
        return HMAC_ALGORITHMS
    if isinstance(key, rsa.RSAPublicKey):
        return tuple(a for a in PUBLIC_ALGORITHMS if a[:2] in ("RS", "PS"))
    if isinstance(key, ec.EllipticCurvePublicKey):
        return {"secp256r1": ("ES256",), "secp384r1": ("ES384",), "secp521r1": ("ES512",)}.get(key.curve.name, ())
    return ()


def _only(wanted: tuple[str, ...], allowed: tuple[str, ...], kind: str) -> tuple[str, ...]:
    bad = [a for a in wanted if a not in allowed]
    if bad:
        raise ValueError(f"jwt_algorithms: {', '.join(bad)} cannot be used with a {kind}; use {', '.join(allowed)}")
    return wanted


class SecretKey:
    def __init__(self, secret: str, algorithms: tuple[str, ...] = ("HS256",)) -> None:
        assert len(secret) >= 32, "a JWT secret needs at least 32 characters"
        self.secret = secret
        self.algorithms = _only(algorithms, HMAC_ALGORITHMS, "shared secret")

    async def key_for(self, header: dict[str, Any]) -> Any:
        return self.secret


class PublicKey:
    def __init__(self, pem_or_path: str, algorithms: tuple[str, ...] = ("RS256", "ES256")) -> None:
        text = pem_or_path.strip()
        if not text.startswith("-----BEGIN"):
            text = Path(text).expanduser().read_text()
        from cryptography.hazmat.primitives.serialization import load_pem_public_key

        self.key = load_pem_public_key(text.encode())
        self.algorithms = _only(algorithms, PUBLIC_ALGORITHMS, "public key")

    async def key_for(self, header: dict[str, Any]) -> Any:
        return self.key


class JwksKeys:
    """Keys from a JWKS URL, cached by kid; an unknown kid fetches the set again, at most once
    every `min_refresh` seconds (so tokens with made-up kids cannot make us hammer the IdP)."""

    def __init__(self, url: str, algorithms: tuple[str, ...] = ("RS256", "ES256"), *, min_refresh: float = 30.0,
                 timeout: float = 5.0) -> None:
        self.url, self.min_refresh, self.timeout = url, min_refresh, timeout
        self.algorithms = _only(algorithms, PUBLIC_ALGORITHMS, "JWKS")
        self._keys: dict[str | None, Any] = {}
        self._fetched_at: float | None = None
        self._lock = asyncio.Lock()

    def _fetch(self) -> dict[str | None, Any]:
        with urllib.request.urlopen(self.url, timeout=self.timeout) as answer:  # noqa: S310 - configured URL
            data = json.loads(answer.read())
        keys = {k.key_id: k.key for k in PyJWKSet.from_dict(data).keys}
        if len(keys) == 1:
            keys[None] = next(iter(keys.values()))  # a lone key also serves tokens without kid
        return keys

    async def key_for(self, header: dict[str, Any]) -> Any:
        kid = header.get("kid")
        if kid in self._keys:
            return self._keys[kid]
        async with self._lock:
            due = self._fetched_at is None or time.monotonic() - self._fetched_at >= self.min_refresh
            if kid not in self._keys and due:
                try:
                    self._keys = await asyncio.to_thread(self._fetch)
                except (OSError, ValueError, jwt.PyJWTError) as err:
                    raise KeyUnavailable(f"JWKS {self.url} could not be read: {err}") from err
                finally:
                    self._fetched_at = time.monotonic()
                log.info("JWKS fetched", extra={"url": self.url, "keys": len(self._keys)})
        if kid not in self._keys:
            raise KeyUnavailable(f"no key with kid {kid!r} in {self.url}")
        return self._keys[kid]


def local_secret(data_dir: Path) -> str:
    """The secret kept in <data_dir>/jwt-secret (mode 0600), created on first use."""
    path = data_dir / SECRET_FILE
    data_dir.mkdir(parents=True, exist_ok=True)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        if path.stat().st_mode & 0o077:
            os.chmod(path, 0o600)  # someone loosened it: a secret readable by others is no secret
        return path.read_text().strip()
    with os.fdopen(fd, "w") as f:
        f.write(secrets.token_urlsafe(48))
    return path.read_text().strip()
