"""The web explorer in a real headless Chromium (Debian's `chromium`, driven by Playwright),
against a real server on loopback with the demo graph. The page does not depend on the store
behind the API, so these run on the embedded SQLite store only.

A failing test saves a screenshot of the page into tests/browser/failures/ and says where.
SHOTS (env MAESTRO_UI_SHOTS, a folder) also keeps each view's screenshot at both widths, for a
person to look at.
"""

from __future__ import annotations

import os
import shutil
import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from maestro_graph.demo import load_demo
from maestro_graph.settings import Settings
from maestro_graph.store.factory import create_store
from tests.conftest import IN_CI
from tests.e2e.conftest import Server, serve

FAILURES = Path(__file__).parent / "failures"
SHOTS = Path(os.environ["MAESTRO_UI_SHOTS"]) if os.environ.get("MAESTRO_UI_SHOTS") else None
WIDTHS = {"laptop": (1366, 860), "phone": (390, 844)}


def chromium_path() -> str | None:
    return os.environ.get("MAESTRO_TEST_CHROMIUM") or shutil.which("chromium") or shutil.which("chromium-browser")


@pytest.fixture(scope="session")
async def browser() -> AsyncIterator[Any]:
    path = chromium_path()
    try:
        from playwright.async_api import async_playwright
    except ImportError:
        path = None
    if path is None:
        message = "the browser tests need Chromium (apt-get install chromium) and playwright (pip install '.[test]')"
        if IN_CI:
            pytest.fail(message)
        pytest.skip(message)
    async with async_playwright() as p:
        chromium = await p.chromium.launch(executable_path=path, args=["--no-sandbox", "--disable-dev-shm-usage"])
        yield chromium
        await chromium.close()


@pytest.fixture(scope="session")
async def ui_store(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Any]:
    store = create_store(Settings(data_dir=tmp_path_factory.mktemp("ui-store")))
    await store.open()
    await store.migrate()
    yield store
    await store.close()


@pytest.fixture(scope="module")
async def demo(ui_store: Any, tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Server]:
    """A server with the demo graph in a tenant of its own; its client is an admin of it."""
    tenant = f"t-{uuid.uuid4().hex[:12]}"
    async with serve(ui_store, tenant, tmp_path_factory.mktemp("ui"), rate_limit_per_minute=100_000) as server:
        assert await load_demo(server.services, tenant, progress=lambda _: None)
        yield server


@pytest.fixture(scope="module")
async def history(ui_store: Any, tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Server]:
    """A server whose tenant holds a small generated history of projects (enough finished ones
    for the meta-model's minimum) with a trained meta-model; its client is an admin of it."""
    from maestro_graph.auth.principal import system
    from maestro_graph.history import load_history

    tenant = f"h-{uuid.uuid4().hex[:12]}"
    async with serve(ui_store, tenant, tmp_path_factory.mktemp("ui-history"), rate_limit_per_minute=100_000) as server:
        assert await load_history(server.services, tenant, projects=60, seed=1, progress=lambda _: None)
        await server.services.metamodel.train(system(tenant))
        yield server


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: Any) -> Any:
    outcome = yield
    report = outcome.get_result()
    if report.when == "call":
        item.stash[FAILED] = report.failed


FAILED = pytest.StashKey[bool]()


@pytest.fixture(params=list(WIDTHS))
async def page(browser: Any, request: pytest.FixtureRequest) -> AsyncIterator[Any]:
    """A fresh browser tab (its own session storage) at laptop and at phone width."""
    width, height = WIDTHS[request.param]
    context = await browser.new_context(viewport={"width": width, "height": height})
    tab = await context.new_page()
    tab.set_default_timeout(15_000)
    problems: list[str] = []
    tab.on("pageerror", lambda err: problems.append(f"page error: {err}"))
    tab.on("console", lambda msg: problems.append(f"console {msg.type}: {msg.text}") if msg.type == "error" else None)
    tab.problems = problems  # type: ignore[attr-defined]
    tab.width_name = request.param  # type: ignore[attr-defined]
    yield tab
    if request.node.stash.get(FAILED, False):
        FAILURES.mkdir(exist_ok=True)
        where = FAILURES / f"{request.node.name.replace('/', '_')}.png"
        await tab.screenshot(path=str(where), full_page=True)
        print(f"\nscreenshot of the failing page: {where}")
    await context.close()


async def sign_in(tab: Any, server: Server, token: str | None = None) -> None:
    """Open /ui as a person does and sign in with a pasted token."""
    await tab.goto(server.url + "/ui/")
    await tab.get_by_label("Token").fill(token or server.bearer or "")
    await tab.get_by_role("button", name="Sign in").click()
    await tab.wait_for_url("**/ui/#/")


async def shot(tab: Any, name: str) -> None:
    """Keep a screenshot of the view for a person to look at (when MAESTRO_UI_SHOTS is set)."""
    if SHOTS is not None:
        SHOTS.mkdir(parents=True, exist_ok=True)
        await tab.screenshot(path=str(SHOTS / f"{name}-{tab.width_name}.png"), full_page=True)


def no_problems(tab: Any) -> None:
    """The page logged no script error."""
    assert not tab.problems, tab.problems
