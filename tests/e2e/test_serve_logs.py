"""`serve` writes its log lines from a thread of its own (maestro_graph/logs.py): every access
line of every answered request is in its stderr once it has stopped, with the request id the
client was sent. A real process, real HTTP, a graceful stop (SIGTERM)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import httpx

from tests.e2e.conftest import free_port

EXE = str(Path(sys.executable).parent / "maestro-graph")


def test_every_access_line_is_written_by_the_time_serve_stops(tmp_path):
    port = free_port()
    env = {**os.environ, "MAESTRO_DATA_DIR": str(tmp_path), "MAESTRO_STORE": f"sqlite:///{tmp_path / 'm.db'}",
           "MAESTRO_LOG_LEVEL": "INFO", "MAESTRO_LOG_FORMAT": "json", "MAESTRO_NO_AUTH": "true"}
    proc = subprocess.Popen([EXE, "serve", "--port", str(port)], env=env, stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE, text=True)
    try:
        url, sent = f"http://127.0.0.1:{port}", []
        deadline = time.time() + 60
        with httpx.Client(base_url=url, timeout=10) as client:
            while True:
                assert proc.poll() is None and time.time() < deadline, "serve did not start"
                try:
                    if client.get("/readyz").status_code == 200:
                        break
                except httpx.TransportError:
                    time.sleep(0.2)
            for i in range(200):
                r = client.post("/graphql", json={"query": "{ __typename }"}, headers={"x-request-id": f"req-{i}"})
                assert r.status_code == 200 and r.headers["x-request-id"] == f"req-{i}"
                sent.append(r.headers["x-request-id"])
            generated = client.get("/readyz").headers["x-request-id"]
    finally:
        proc.terminate()
        _, stderr = proc.communicate(timeout=30)
    records = [json.loads(line) for line in stderr.splitlines() if line.startswith("{")]
    access = [r["request_id"] for r in records if r.get("logger") == "maestro_graph.access" and r["path"] == "/graphql"]
    assert access == sent
    assert len(generated) == 16 and int(generated, 16) >= 0
    assert any(r.get("request_id") == generated and r["path"] == "/readyz" for r in records)
