"""The project page and the training-job views, in a real Chromium against a real server: what a
person sees is checked against what the API answers."""

from __future__ import annotations

import math
import uuid
from typing import Any

from playwright.async_api import expect

from maestro_graph.auth.principal import Role
from tests.browser.conftest import no_problems, shot, sign_in
from tests.e2e.conftest import Server

# Long enough (about 6 s) that the page sees it move, short enough for a quick test.
EPOCHS, PAUSE = 20, 0.3
JOB_WAIT_MS = 60_000


def shown(value: float, digits: int = 2) -> str:
    """A number as the page writes it (dom.js num: at most `digits` decimals, thousands by commas)."""
    if float(value).is_integer():
        return f"{int(value):,}"
    text = f"{value:,.{digits}f}"
    return text.rstrip("0").rstrip(".") if "." in text else text


def words(constant: str) -> str:
    """An enum value as the page writes it: SUCCESS_SCORE -> Success score."""
    s = constant.lower().replace("_", " ")
    return s[:1].upper() + s[1:]


async def demo_ids(server: Server) -> tuple[str, str]:
    """The demo's logistic-baseline template and its first project."""
    found = await server.execute("""{ artifacts(filter: {text: "logistic-baseline"}) { edges { node { id } } }
        projects(first: 1) { edges { node { id } } } }""")
    return found["artifacts"]["edges"][0]["node"]["id"], found["projects"]["edges"][0]["node"]["id"]


async def canvas_is_drawn(page: Any, selector: str) -> bool:
    """The canvas under `selector` has pixels painted on it."""
    return await page.evaluate("""(sel) => {
        const c = document.querySelector(sel);
        if (!c || !c.width || !c.height) return false;
        const px = c.getContext("2d").getImageData(0, 0, c.width, c.height).data;
        for (let i = 3; i < px.length; i += 4) if (px[i] !== 0) return true;
        return false;
    }""", selector)


async def submit(server: Server, name: str, epochs: int = EPOCHS) -> str:
    template, project = await demo_ids(server)
    answer = await server.execute("""mutation($input: SubmitTrainingJobInput!) { submitTrainingJob(input: $input) { id } }""",
                                  {"input": {"projectId": project, "templateId": template, "name": name,
                                             "args": ["--epochs", str(epochs), "--pause", str(PAUSE)]}})
    return answer["submitTrainingJob"]["id"]


async def test_a_training_job_appears_in_the_list_and_its_progress_bar_moves_to_succeeded(demo, page):
    _, project = await demo_ids(demo)
    await sign_in(page, demo)
    # One project's list at laptop width, every job's at phone width: each follows its own subscription.
    listed = f"#/jobs/project/{project}" if page.width_name == "laptop" else "#/jobs"
    await page.goto(f"{demo.url}/ui/{listed}")
    await expect(page.get_by_role("heading", name="Training jobs")).to_be_visible()
    await expect(page.get_by_text("Loading training jobs…")).to_be_hidden()

    name = f"a-ui-{page.width_name}-{uuid.uuid4().hex[:6]}"  # first by name: on the list's first page
    job = {"id": await submit(demo, name)}
    link = page.get_by_role("link", name=name)  # appears live, without a reload
    await expect(link).to_be_visible()
    await expect(page.get_by_role("progressbar", name=f"Progress of {name}")).to_be_visible()
    await shot(page, "jobs-list")
    await link.click()

    bar = page.get_by_role("progressbar", name="Training progress")
    first = int(await bar.get_attribute("aria-valuenow"))
    assert first < 100, "the job ended before its page showed it: make it longer"
    await page.wait_for_function(
        """(v) => +document.querySelector('[aria-label="Training progress"]').getAttribute('aria-valuenow') > v""",
        arg=first)
    await expect(page.locator(".job-status")).to_have_text("Succeeded", timeout=JOB_WAIT_MS)
    await expect(bar).to_have_attribute("aria-valuenow", "100")
    await expect(page.get_by_role("status")).to_contain_text("Succeeded")

    answer = (await demo.execute("""query($id: ID!) { trainingJob(id: $id) {
        status progress epoch metrics logTail metricsHistory { epoch } } }""", {"id": job["id"]}))["trainingJob"]
    assert answer["status"] == "SUCCEEDED" and answer["epoch"] == EPOCHS
    latest = page.locator(".latest-metrics")
    for key, value in answer["metrics"].items():
        await expect(latest).to_contain_text(key)
        await expect(latest).to_contain_text(shown(value, 4))
        chart = f'.metric-chart[data-metric="{key}"] canvas'
        await expect(page.locator(chart).first).to_be_visible()
        assert await canvas_is_drawn(page, chart), f"the {key} chart is blank"
    await expect(page.locator(".log-tail")).to_contain_text(answer["logTail"][-1])
    await shot(page, "job-detail")

    # Back in the list, the status filter keeps or drops it.
    await page.go_back()
    row = page.get_by_role("link", name=name)
    await expect(row).to_be_visible()
    await page.get_by_label("Status").select_option("FAILED")
    await expect(row).to_have_count(0)
    await page.get_by_label("Status").select_option("SUCCEEDED")
    await expect(row).to_be_visible()
    no_problems(page)


async def test_a_viewer_cannot_cancel_a_running_job_and_an_editor_can(demo, page):
    name = f"ui-cancel-{page.width_name}-{uuid.uuid4().hex[:6]}"
    job = await submit(demo, name, epochs=500)  # runs for minutes unless cancelled
    await sign_in(page, demo, demo.as_(Role.VIEWER).bearer)
    await page.goto(f"{demo.url}/ui/#/jobs/{job}")
    await expect(page.locator(".job-status")).to_have_text("Running")
    await expect(page.get_by_role("button", name="Cancel job")).to_have_count(0)

    await page.get_by_role("button", name="Sign out").click()
    await sign_in(page, demo, demo.as_(Role.EDITOR).bearer)
    await page.goto(f"{demo.url}/ui/#/jobs/{job}")
    await page.get_by_role("button", name="Cancel job").click()
    await expect(page.locator(".job-status")).to_have_text("Cancelled", timeout=JOB_WAIT_MS)
    await expect(page.get_by_role("status")).to_contain_text("Cancelled")
    answer = (await demo.execute("query($id: ID!) { trainingJob(id: $id) { status progress } }", {"id": job}))["trainingJob"]
    assert answer["status"] == "CANCELLED"
    await expect(page.get_by_role("progressbar", name="Training progress")).to_have_attribute(
        "aria-valuenow", str(math.floor(answer["progress"] * 100 + 0.5)))  # as Math.round
    no_problems(page)


async def test_the_project_page_shows_the_members_artifacts_and_metrics_the_api_returns(demo, page):
    found = await demo.execute("""{ projects(first: 40) { edges { node { id name status
        members(first: 20) { totalCount edges { role node { name } } }
        artifacts(first: 20) { totalCount edges { impactScore node { name } } }
        metricsSummary { type count } } } } }""")
    project = max((e["node"] for e in found["projects"]["edges"]),
                  key=lambda p: (p["members"]["totalCount"] > 0, p["artifacts"]["totalCount"], len(p["metricsSummary"])))
    assert project["members"]["totalCount"] and project["artifacts"]["totalCount"] and project["metricsSummary"]

    await sign_in(page, demo)
    await page.goto(f"{demo.url}/ui/#/project/{project['id']}")
    await expect(page.get_by_role("heading", name=project["name"], level=1)).to_be_visible()

    members = page.locator(".members summary .member-name")
    await expect(members).to_have_count(project["members"]["totalCount"])
    assert sorted(await members.all_inner_texts()) == sorted(e["node"]["name"] for e in project["members"]["edges"])
    await expect(page.get_by_role("heading", name=f"Members ({project['members']['totalCount']})")).to_be_visible()

    rows = page.locator("table.artifacts tbody tr")
    await expect(rows).to_have_count(project["artifacts"]["totalCount"])
    seen = {}
    for row in await rows.all():
        seen[await row.locator(".artifact-name").inner_text()] = await row.locator(".impact-value").inner_text()
    assert seen == {e["node"]["name"]: shown(e["impactScore"]) for e in project["artifacts"]["edges"]}

    # One chart per metric type, each saying how many values it draws.
    charts = page.locator("figure.metric-chart")
    await expect(charts).to_have_count(len(project["metricsSummary"]))
    for summary in project["metricsSummary"]:
        figure = page.locator(f'figure.metric-chart[data-metric="{summary["type"]}"]')
        await expect(figure.locator("figcaption")).to_contain_text(f"{summary['count']} value")
        assert await canvas_is_drawn(page, f'figure.metric-chart[data-metric="{summary["type"]}"] canvas')

    # The demo has too few finished projects for a meta-model: a sentence, not an error banner.
    await expect(page.locator(".no-model")).to_contain_text("No meta-model has been trained")
    await expect(page.get_by_role("alert")).to_be_hidden()
    await expect(page.get_by_role("button", name="Predict now")).to_have_count(0)

    # A metric recorded now is drawn at once.
    kind = project["metricsSummary"][0]["type"]
    await demo.execute("""mutation($id: ID!, $m: [CreateMetricInput!]!) { recordProjectMetrics(projectId: $id, metrics: $m) { id } }""",
                       {"id": project["id"], "m": [{"type": kind, "value": 3.0}]})
    caption = page.locator(f'figure.metric-chart[data-metric="{kind}"] figcaption')
    await expect(caption).to_contain_text(f"{project['metricsSummary'][0]['count'] + 1} values")
    await expect(caption).to_contain_text("latest 3 ")
    await shot(page, "project")
    no_problems(page)


async def test_the_project_page_shows_the_stored_prediction_with_what_drives_it_and_the_recommendations(history, page):
    projects = (await history.execute("""{ projects(first: 100) { edges { node { id name status } } } }"""))["projects"]["edges"]
    project = next(e["node"] for e in projects if e["node"]["status"] == "ACTIVE")
    await history.execute("mutation($id: ID!) { predictProject(projectId: $id) { modelVersion } }", {"id": project["id"]})
    answer = await history.execute("""query($id: ID!) {
        node(id: $id) { ... on Project { predictions(first: 100) { totalCount edges { node { target value lower upper explanation } } } } }
        recommendTeamSize(projectId: $id) { best }
        recommendArtifacts(projectId: $id, first: 5) { artifact { name } } }""", {"id": project["id"]})
    stored = {e["node"]["target"]: e["node"] for e in answer["node"]["predictions"]["edges"]}
    assert set(stored) == {"SUCCESS_SCORE", "DURATION_DAYS", "COST"}

    await sign_in(page, history)
    await page.goto(f"{history.url}/ui/#/project/{project['id']}")
    await expect(page.get_by_role("heading", name=project["name"], level=1)).to_be_visible()
    for target, digits in (("SUCCESS_SCORE", 1), ("DURATION_DAYS", 1), ("COST", 0)):
        p = stored[target]
        box = page.locator(f'.outcome[data-target="{target}"]')
        await expect(box.locator(".value")).to_have_text(shown(p["value"], digits))
        await expect(box.locator(".interval")).to_contain_text(f"{shown(p['lower'], digits)} – {shown(p['upper'], digits)}")
    # What drives the success score: its largest contributions, largest first.
    top = sorted(stored["SUCCESS_SCORE"]["explanation"].items(), key=lambda fc: -abs(fc[1]))[:5]
    drivers = page.locator('.drivers[data-target="SUCCESS_SCORE"] li .feature')
    await expect(drivers).to_have_count(len(top))
    texts = await drivers.all_inner_texts()
    assert [t.split(" = ")[0] for t in texts] == [words(f) for f, _ in top]

    await expect(page.locator(".best-size")).to_have_text(str(answer["recommendTeamSize"]["best"]))
    recommended = page.locator(".recommended li .artifact-name")
    await expect(recommended).to_have_count(len(answer["recommendArtifacts"]))
    assert await recommended.all_inner_texts() == [r["artifact"]["name"] for r in answer["recommendArtifacts"]]
    await shot(page, "project-prediction")

    # An editor predicts anew: three more Prediction nodes stored, and shown.
    button = page.get_by_role("button", name="Predict now")
    await button.click()
    await expect(button).to_be_enabled()
    await expect(page.get_by_role("alert")).to_be_hidden()
    after = await history.execute("query($id: ID!) { node(id: $id) { ... on Project { predictions { totalCount } } } }",
                                  {"id": project["id"]})
    assert after["node"]["predictions"]["totalCount"] == answer["node"]["predictions"]["totalCount"] + 3
    await expect(page.locator('.outcome[data-target="SUCCESS_SCORE"] .value')).to_have_text(shown(stored["SUCCESS_SCORE"]["value"], 1))
    no_problems(page)
