"""Local use stays easy and safe: `serve` prints a ready admin token, `token` mints one, and
--no-auth is refused off loopback. Real processes, real HTTP."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import httpx
import pytest

from tests.e2e.conftest import free_port

EXE = str(Path(sys.executable).parent / "maestro-graph")


def run(*args: str, data_dir: Path, **env: str) -> subprocess.CompletedProcess:
    full_env = {**os.environ, "MAESTRO_DATA_DIR": str(data_dir), "MAESTRO_STORE": f"sqlite:///{data_dir / 'm.db'}", **env}
    return subprocess.run([EXE, *args], env=full_env, capture_output=True, text=True, timeout=60)


@pytest.fixture
def serve_process(tmp_path):
    """Start `maestro-graph serve` with extra args; stop it (by its pid) afterwards."""
    procs: list[subprocess.Popen] = []

    def start(*args: str) -> tuple[subprocess.Popen, str]:
        port = free_port()
        env = {**os.environ, "MAESTRO_DATA_DIR": str(tmp_path), "MAESTRO_STORE": f"sqlite:///{tmp_path / 'm.db'}",
               "MAESTRO_LOG_LEVEL": "WARNING"}
        proc = subprocess.Popen([EXE, "serve", "--port", str(port), *args], env=env, stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE, text=True)
        procs.append(proc)
        return proc, f"http://127.0.0.1:{port}"

    yield start
    for proc in procs:
        proc.terminate()
        proc.wait(timeout=30)


def banner(proc: subprocess.Popen) -> list[str]:
    """The lines serve prints once it is ready (up to the store line)."""
    lines = []
    assert proc.stdout is not None
    for line in proc.stdout:
        lines.append(line.rstrip("\n"))
        if line.strip().startswith("store:"):
            return lines
    raise AssertionError(f"serve exited: {proc.stderr.read() if proc.stderr else ''}")


async def test_serve_prints_an_admin_token_that_works_and_keeps_its_secret_private(serve_process, tmp_path):
    proc, url = serve_process()
    lines = banner(proc)
    assert lines[0] == f"Maestro Graph is serving GraphQL at {url}/graphql"
    token = lines[2].strip()
    assert oct((tmp_path / "jwt-secret").stat().st_mode & 0o777) == "0o600"
    async with httpx.AsyncClient(base_url=url) as client:
        refused = await client.post("/graphql", json={"query": "{ nodeCounts { label } }"})
        assert refused.status_code == 401
        ok = await client.post("/graphql", json={"query": "{ auditLog { totalCount } }"},
                               headers={"Authorization": f"Bearer {token}"})
        assert ok.json() == {"data": {"auditLog": {"totalCount": 0}}}, ok.text  # an admin: the audit log is open
        # `maestro-graph token` signs with the same secret.
        minted = run("token", "--sub", "alice", "--tenant", "acme", "--role", "editor", "--ttl", "8h", data_dir=tmp_path)
        assert minted.returncode == 0, minted.stderr
        alice = {"Authorization": f"Bearer {minted.stdout.strip()}"}
        created = await client.post("/graphql", headers=alice,
                                    json={"query": 'mutation { createTeam(input: {name: "T"}) { name } }'})
        assert created.json() == {"data": {"createTeam": {"name": "T"}}}
        audit = await client.post("/graphql", headers=alice, json={"query": "{ auditLog { totalCount } }"})
        assert audit.json()["errors"][0]["extensions"]["code"] == "FORBIDDEN"  # editors do not read the audit log


async def test_no_auth_is_anonymous_admin_on_loopback(serve_process):
    proc, url = serve_process("--no-auth")
    assert "authentication is OFF" in "\n".join(banner(proc))
    async with httpx.AsyncClient(base_url=url) as client:
        r = await client.post("/graphql", json={"query": 'mutation { createTeam(input: {name: "T"}) { name } }'})
        assert r.json() == {"data": {"createTeam": {"name": "T"}}}


def test_no_auth_off_loopback_is_refused_with_a_sentence(tmp_path):
    for host in ("0.0.0.0", "192.0.2.10"):
        done = run("serve", "--no-auth", "--host", host, data_dir=tmp_path)
        assert done.returncode != 0
        assert f"--no-auth is only allowed on a loopback address (127.0.0.1, ::1, localhost), not on {host}" in done.stderr


def test_token_command_refuses_bad_roles_and_key_only_servers(tmp_path):
    bad = run("token", "--sub", "a", "--role", "owner", data_dir=tmp_path)
    assert bad.returncode != 0 and "unknown role 'owner'" in bad.stderr
    jwks = run("token", "--sub", "a", data_dir=tmp_path, MAESTRO_JWT_JWKS_URL="http://127.0.0.1:9/jwks.json")
    assert jwks.returncode != 0 and "mint tokens there" in jwks.stderr
