"""Shared fixtures. Store backends come from real servers named by environment variables:

  MAESTRO_TEST_PG_URL      postgresql+asyncpg://... (tests/services/postgres.sh start prints it)
  MAESTRO_TEST_NEO4J_URL   neo4j://127.0.0.1:7697    (deploy/neo4j/neo4j-local.sh start prints it)
  MAESTRO_TEST_NEO4J_PASSWORD

A backend whose variable is unset is skipped with a loud reason, except under CI=true,
where it is an error: CI must test every backend. Every test runs in a tenant of its own,
so tests never see each other's nodes and no store needs wiping between tests.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from maestro_graph.settings import Settings
from maestro_graph.store.base import GraphStore
from maestro_graph.store.factory import create_store

BACKENDS = ("sqlite", "postgresql", "neo4j")
IN_CI = os.environ.get("CI", "").lower() == "true"


def backend_settings(backend: str, tmp: Path) -> Settings:
    if backend == "sqlite":
        return Settings(data_dir=tmp, store_url=f"sqlite:///{tmp / 'contract.db'}")
    var = {"postgresql": "MAESTRO_TEST_PG_URL", "neo4j": "MAESTRO_TEST_NEO4J_URL"}[backend]
    url = os.environ.get(var)
    if not url:
        message = f"{backend} backend NOT TESTED: set {var} (see tests/run.sh, which starts the server)"
        if IN_CI:
            pytest.fail(message)
        pytest.skip(message)
    return Settings(data_dir=tmp, store_url=url, neo4j_password=os.environ.get("MAESTRO_TEST_NEO4J_PASSWORD", ""))


OPENED: dict[int, Settings] = {}  # id(store) -> the settings it was opened with


def selected_backends() -> list[str]:
    wanted = os.environ.get("MAESTRO_TEST_BACKENDS")
    return [b for b in BACKENDS if not wanted or b in wanted.split(",")]


@pytest.fixture(scope="session", params=selected_backends())
async def store(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[GraphStore]:
    settings = backend_settings(request.param, tmp_path_factory.mktemp(request.param))
    s = create_store(settings)
    OPENED[id(s)] = settings
    await s.open()
    await s.migrate()
    yield s
    await s.close()


@pytest.fixture
def store_settings(store: GraphStore) -> Settings:
    """The settings `store` was opened with: what a process of its own needs to open it."""
    return OPENED[id(store)]


@pytest.fixture
async def second_store(store: GraphStore) -> AsyncIterator[GraphStore]:
    """Another store object on the database `store` uses, as another process would open it."""
    s = create_store(OPENED[id(store)])
    await s.open()
    yield s
    await s.close()


@pytest.fixture
def tenant() -> str:
    return f"t-{uuid.uuid4().hex[:12]}"
