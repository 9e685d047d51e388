"""The page itself: served from the package with nothing from another host, sign-in and out."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import httpx
import pytest

from maestro_graph.webui import STATIC_DIR
from tests.browser.conftest import no_problems, shot, sign_in
from tests.conftest import IN_CI
from tests.e2e.tokens import bad_tokens

UI = STATIC_DIR.parent


async def test_the_page_and_its_files_are_served_with_a_policy_that_keeps_it_on_this_host(demo):
    async with httpx.AsyncClient() as client:
        page = await client.get(demo.url + "/ui/")
        assert page.status_code == 200 and "<title>Maestro Graph</title>" in page.text
        csp = page.headers["content-security-policy"]
        assert "script-src 'self'" in csp and "connect-src 'self'" in csp and "unsafe-eval" not in csp
        assert (await client.get(demo.url + "/ui", follow_redirects=False)).headers["location"] == "/ui/"
        for src in ("vendor/cytoscape.min.js", "vendor/graphql-ws.min.js", "js/main.js", "app.css"):
            assert (await client.get(f"{demo.url}/ui/{src}")).status_code == 200, src
    assert "http://" not in page.text and "https://" not in page.text  # no CDN


async def test_a_person_signs_in_with_a_pasted_token_and_sees_who_and_which_tenant(demo, page):
    await page.goto(demo.url + "/ui/#/jobs")
    await page.wait_for_url("**/#/signin")  # no token yet: the sign-in form first
    await page.get_by_label("Token").fill("not a token")
    await page.get_by_role("button", name="Sign in").click()
    assert "not a Maestro token" in await page.get_by_role("alert").inner_text()
    await shot(page, "signin")
    await sign_in(page, demo)
    who = page.locator("#who")
    assert demo.tenant in await who.inner_text()
    await page.get_by_role("button", name="Sign out").click()
    await page.wait_for_url("**/#/signin")
    no_problems(page)


async def test_a_token_the_server_refuses_is_said_so_and_not_kept(demo, page):
    other = bad_tokens(demo.tenant)["wrong secret"]
    await page.goto(demo.url + "/ui/")
    await page.get_by_label("Token").fill(other)
    await page.get_by_role("button", name="Sign in").click()
    assert "sign in again" in (await page.get_by_role("alert").inner_text()).lower()
    assert await page.evaluate("sessionStorage.getItem('maestro.token')") is None


def test_the_vendored_libraries_are_the_pinned_packages_byte_for_byte(tmp_path: Path):
    """static/vendor/ is what `npm ci && npm run vendor` makes from package-lock.json."""
    npm = shutil.which("npm")
    if npm is None:
        if IN_CI:
            pytest.fail("npm is needed to check the web explorer's vendored libraries")
        pytest.skip("npm is missing")
    work = tmp_path / "ui"
    work.mkdir()
    for name in ("package.json", "package-lock.json", "vendor.mjs"):
        shutil.copy(UI / name, work / name)
    shutil.copytree(STATIC_DIR / "vendor", work / "static" / "vendor")
    subprocess.run([npm, "ci", "--no-audit", "--no-fund", "--loglevel=error"], cwd=work, check=True, timeout=300)
    checked = subprocess.run(["node", "vendor.mjs", "--check"], cwd=work, capture_output=True, text=True, timeout=60)
    assert checked.returncode == 0, checked.stderr
    pinned = json.loads((UI / "package.json").read_text())["dependencies"]
    assert all(not v.startswith(("^", "~")) for v in pinned.values()), pinned
