"""The meta-model end to end through GraphQL, on each backend: train on a tenant's finished
projects, predict a project and a draft (intervals, SHAP contributions that add up), recommend a
team size and artifacts, find similar projects, and score a prediction once its project finishes."""

from __future__ import annotations

import asyncio
import random
from datetime import datetime, timedelta, timezone

import pytest

from maestro_graph.auth.principal import Role
from maestro_graph.domain.graph import ChangeSet, Edge, Label, Rel
from resolvers.relay import to_global_id

OUTCOME = "successScore { value lower upper bias contributions(first: 100) { feature value contribution } }"


async def small_history(server, n: int = 40, seed: int = 5) -> dict[str, list[str]]:
    """n finished projects (and one active): members from a pool of people, artifacts from a pool,
    outcomes that depend on who and what (experienced members and good artifacts help)."""
    rnd = random.Random(seed)
    graph, tenant = server.services.graph, server.tenant
    build = lambda label, **p: graph.build(tenant, label, p)  # noqa: E731
    people = [build(Label.PERSON, name=f"P{i}", email=f"p{i}@example.com") for i in range(12)]
    artifacts = [build(Label.ARTIFACT, name=f"art-{i}", type="feature_pipeline") for i in range(8)]
    good = {a.id for a in artifacts[:3]}
    start = datetime(2024, 1, 1, tzinfo=timezone.utc)
    projects, links = [], []
    done_by: dict[str, int] = {}
    for i in range(n + 1):
        team = rnd.sample(people, rnd.randint(1, 5))
        used = rnd.sample(artifacts, rnd.randint(0, 3))
        began = start + timedelta(days=10 * i)
        experience = sum(done_by.get(p.id, 0) for p in team) / len(team)
        success = 40 + 8 * experience + 10 * sum(a.id in good for a in used) - 3 * abs(len(team) - 3) + rnd.gauss(0, 3)
        finished = i < n
        props = {"name": f"proj-{i:03d}", "problem_class": rnd.choice(["nlp", "ranking"]), "complexity_score": rnd.randint(1, 9),
                 "status": "finished" if finished else "active", "started_at": began.isoformat()}
        if finished:
            props.update(finished_at=(began + timedelta(days=30)).isoformat(), success_score=max(0.0, min(100.0, success)),
                         duration_days=30 + 2 * len(team), cost=1000.0 * len(team))
        project = build(Label.PROJECT, **props)
        projects.append(project)
        links += [Edge(Rel.MEMBER_OF, p.id, project.id, {"role": "lead" if k == 0 else "member"}) for k, p in enumerate(team)]
        links += [Edge(Rel.USES, project.id, a.id, {"impact_score": 5.0, "at": (began + timedelta(days=1)).isoformat()}) for a in used]
        if finished:
            for p in team:
                done_by[p.id] = done_by.get(p.id, 0) + 1
    await server.services.store.apply(tenant, ChangeSet(create=[*people, *artifacts, *projects], link=links))
    return {"projects": [p.id for p in projects], "people": [p.id for p in people], "artifacts": [a.id for a in artifacts]}


async def test_too_few_finished_projects_are_refused_clearly(server):
    await small_history(server, n=10)
    err = await server.error("mutation { trainMetaModel { version } }")
    assert err["extensions"]["code"] == "BAD_USER_INPUT" and "at least 20 finished projects" in err["message"]
    assert "has 10" in err["message"]
    err = await server.error("{ metaModel { version } }")
    assert err["extensions"]["code"] == "NOT_FOUND" and "trainMetaModel" in err["message"]


async def test_train_predict_recommend_and_score_live(server):
    ids = await small_history(server)
    trained = (await server.execute("""mutation { trainMetaModel { version trainingSize features
        crossValidated { target mae r2 coverage n } } }"""))["trainMetaModel"]
    assert trained["version"] == 1 and trained["trainingSize"] == 40
    assert "member_past_projects_mean" in trained["features"] and len(trained["crossValidated"]) == 3
    assert all(s["n"] == 40 and 0 <= s["coverage"] <= 1 for s in trained["crossValidated"])

    active = to_global_id(Label.PROJECT, ids["projects"][-1])
    got = (await server.execute(f"""mutation($p: ID!) {{ predictProject(projectId: $p) {{
        modelVersion asOf {OUTCOME} durationDays {{ value lower upper }} cost {{ value lower upper }}
        predictions {{ id target value lower upper modelVersion }} project {{ name }} }} }}""", {"p": active}))["predictProject"]
    success = got["successScore"]
    assert got["modelVersion"] == 1 and got["project"]["name"] == "proj-040"
    assert success["lower"] <= success["value"] <= success["upper"]
    total = success["bias"] + sum(c["contribution"] for c in success["contributions"])
    assert total == pytest.approx(success["value"], abs=1e-2)  # SHAP values add up to the prediction
    assert sorted(p["target"] for p in got["predictions"]) == ["COST", "DURATION_DAYS", "SUCCESS_SCORE"]
    assert {p["modelVersion"] for p in got["predictions"]} == {"metamodel-v1"}

    draft = {"problemClass": "NLP", "complexityScore": 4,
             "memberIds": [to_global_id(Label.PERSON, p) for p in ids["people"][:3]],
             "artifactIds": [to_global_id(Label.ARTIFACT, ids["artifacts"][5])]}
    drafted = (await server.execute(f"mutation($d: ProjectDraftInput!) {{ predictProject(draft: $d) {{ {OUTCOME} predictions {{ id }} project {{ name }} }} }}",
                                    {"d": draft}))["predictProject"]
    assert drafted["predictions"] == [] and drafted["project"] is None  # a draft's prediction is not stored
    team = (await server.execute("""query($d: ProjectDraftInput!) { recommendTeamSize(draft: $d) { best modelVersion
        options { teamSize successScore { value lower upper } } } }""", {"d": draft}))["recommendTeamSize"]
    assert [o["teamSize"] for o in team["options"]] == list(range(1, 11))
    assert team["best"] == max(team["options"], key=lambda o: o["successScore"]["value"])["teamSize"]

    recs = (await server.execute("""query($p: ID!) { recommendArtifacts(projectId: $p, first: 3) {
        uplift successScore artifact { id name } why { feature contribution } } }""", {"p": active}))["recommendArtifacts"]
    assert 1 <= len(recs) <= 3
    assert [r["uplift"] for r in recs] == sorted((r["uplift"] for r in recs), reverse=True)
    similar = (await server.execute("""query($p: ID!) { similarProjects(projectId: $p, first: 4) {
        distance project { name status } sharedMembers { name } sharedArtifacts { name } } }""", {"p": active}))["similarProjects"]
    assert len(similar) == 4 and all(s["project"]["status"] == "FINISHED" for s in similar)
    assert [s["distance"] for s in similar] == sorted(s["distance"] for s in similar)

    # The project finishes: its earlier predictions are scored against what happened.
    before = (await server.execute("{ metaModel { live { target mae coverage n } } }"))["metaModel"]["live"]
    assert all(s["n"] == 0 for s in before)
    await server.execute("""mutation($p: ID!) { updateProject(id: $p, input: {status: FINISHED, successScore: 70,
        durationDays: 40, cost: 3000, finishedAt: "2099-01-01T00:00:00Z"}) { id } }""", {"p": active})
    live = {s["target"]: s for s in (await server.execute("{ metaModel { version live { target mae coverage n } } }"))["metaModel"]["live"]}
    assert live["SUCCESS_SCORE"]["n"] == 1
    assert live["SUCCESS_SCORE"]["mae"] == pytest.approx(abs(70 - success["value"]), abs=1e-3)
    assert live["SUCCESS_SCORE"]["coverage"] == (1.0 if success["lower"] <= 70 <= success["upper"] else 0.0)


async def test_a_viewer_reads_the_model_but_cannot_train_or_store_predictions(server):
    await small_history(server, n=25)
    viewer = server.as_(Role.VIEWER)
    assert (await viewer.error("mutation { trainMetaModel { version } }"))["extensions"]["code"] == "FORBIDDEN"
    await server.execute("mutation { trainMetaModel { version } }")
    assert (await viewer.execute("{ metaModel { version trainingSize } }"))["metaModel"] == {"version": 1, "trainingSize": 25}
    second = (await server.execute("mutation { trainMetaModel { version } }"))["trainMetaModel"]
    assert second["version"] == 2  # every replica now serves version 2: it is in the store


async def test_predictions_from_the_feature_index_match_the_store_and_follow_changes(server):
    """A prediction reads the tenant's feature snapshot kept in memory once it is current, and
    reads around the project in the store while it is not: the same answer either way, and a
    change to the project is in the next prediction."""
    ids = await small_history(server, n=30)
    await server.execute("mutation { trainMetaModel { version } }")
    active = to_global_id(Label.PROJECT, ids["projects"][-1])
    doc = "mutation($p: ID!) { predictProject(projectId: $p) { successScore { value contributions(first: 100) { feature value } } } }"

    async def predict() -> dict:
        return (await server.execute(doc, {"p": active}))["predictProject"]["successScore"]

    index = server.services.metamodel.index
    first = await predict()  # the store's answer; the snapshot is read meanwhile
    for _ in range(200):
        if server.tenant in index._fresh:
            break
        await asyncio.sleep(0.05)
    assert server.tenant in index._fresh, "the feature snapshot was read"
    assert await predict() == first  # from the snapshot: the same
    assert server.tenant in index._fresh  # a prediction's own Prediction nodes leave it current

    size = {c["feature"]: c["value"] for c in first["contributions"]}["team_size"]
    newcomer = to_global_id(Label.PERSON, next(p for p in ids["people"]))
    await server.execute("""mutation($p: ID!, $m: ID!) { addProjectMembers(projectId: $p, members: [{personId: $m, role: "analyst"}]) { id } }""",
                         {"p": active, "m": newcomer})
    after = await predict()
    grown = {c["feature"]: c["value"] for c in after["contributions"]}["team_size"]
    # The newcomer may have been a member already (a role change); either way the answer is the store's now.
    assert grown in (size, size + 1)
    members = (await server.execute("query($p: ID!) { node(id: $p) { ... on Project { members { totalCount } } } }",
                                    {"p": active}))["node"]["members"]["totalCount"]
    assert grown == members
