"""A project's meta-model features on a small hand-built graph: exact values, and the rule that
features as of T use only what was known at T (domain/project_features.py)."""

import math

import numpy as np
import pytest

from maestro_graph.domain import metamodel as mm
from maestro_graph.domain import project_features as pf
from maestro_graph.domain.errors import BadInput, Conflict

ROLES = ["lead", "data_engineer", "analyst"]


def day(n: int) -> str:
    return f"2025-01-{1 + n % 28:02d}T00:00:00Z" if n < 28 else f"2025-{1 + n // 28:02d}-{1 + n % 28:02d}T00:00:00Z"


def at(n: int) -> float:
    return pf.epoch(day(n))


def graph() -> pf.Snapshot:
    """P1 finished day 100 (success 80), P2 finished day 150 (success 40), P3 started day 120
    and finished day 300 (success 90): the project whose features are checked."""
    s = pf.Snapshot()
    s.projects = {
        "P1": {"name": "P1", "status": "finished", "problem_class": "nlp", "complexity_score": 3, "started_at": day(0),
               "finished_at": day(100), "success_score": 80, "duration_days": 100, "cost": 1000},
        "P2": {"name": "P2", "status": "finished", "problem_class": "nlp", "complexity_score": 6, "started_at": day(50),
               "finished_at": day(150), "success_score": 40, "duration_days": 100, "cost": 3000},
        "P3": {"name": "P3", "status": "finished", "problem_class": "ranking", "complexity_score": 5, "started_at": day(120),
               "finished_at": day(300), "success_score": 90, "duration_days": 180, "cost": 5000},
    }
    for project, person, role in [("P1", "ada", "lead"), ("P1", "bob", "data_engineer"), ("P2", "bob", "data_engineer"),
                                  ("P2", "cy", "analyst"), ("P3", "ada", "lead"), ("P3", "bob", "data_engineer"),
                                  ("P3", "cy", "analyst")]:
        s.member(project, person, role)
    for project, artifact, when, rating in [("P1", "A1", 5, 8), ("P2", "A1", 60, 4), ("P2", "A2", 55, 6),
                                            ("P3", "A1", 125, 10), ("P3", "A2", 130, 2)]:
        s.use(project, artifact, {"at": day(when), "impact_score": rating})
    s.metrics["P3"] = [{"type": "commits_per_week", "value": 5, "at": day(110)},
                       {"type": "commits_per_week", "value": 9, "at": day(200)},
                       {"type": "ci_success_rate", "value": 0.9, "at": day(119)}]
    s.datasets["P3"] = ["D1", "D2"]
    s.fields.update({"D1": 3, "D2": 1})
    s.upstream.update({"D1": ["D0"], "D0": ["Dx"]})
    # P3's MLflow runs (of the experiments it owns): one a run an OpenLineage producer wrote, which
    # does not count; a failure that ended only after day 120 had not failed at T.
    pf.add_runs(s, "P3", [run(100, 101, "COMPLETE"), run(105, 106, "FAIL"), run(110, 112, "COMPLETE"),
                          run(118, 122, "FAIL"), run(121, 123, "FAIL"), {**run(101, 102, "FAIL"), "producer": "airflow"}])
    return s


def run(start: int, end: int, state: str) -> dict:
    return {"run_id": f"r{start}", "state": state, "started_at": day(start), "ended_at": day(end), "producer": "mlflow"}


def named(snapshot: pf.Snapshot, project: str, t: float) -> dict[str, float]:
    return dict(zip(pf.feature_names(ROLES), pf.features(snapshot, project, t, ROLES)))


def same(got: dict[str, float], want: dict[str, float]) -> None:
    for name, value in want.items():
        if isinstance(value, float) and math.isnan(value):
            assert math.isnan(got[name]), name
        else:
            assert got[name] == pytest.approx(value), name


def test_features_as_of_a_projects_start_are_exact():
    f = named(graph(), "P3", at(120))
    same(f, {
        "team_size": 3, "role_share:lead": 1 / 3, "role_share:data_engineer": 1 / 3, "role_share:analyst": 1 / 3,
        "complexity": 5, "problem:ranking": 1, "problem:nlp": 0,
        # ada and bob finished P1 (day 100) before day 120; P2 ended day 150: not yet
        "member_past_projects_mean": 2 / 3, "member_past_projects_max": 1, "member_experienced_share": 2 / 3,
        "member_past_success_mean": 80,
        # A1 rated 8 (P1) and 4 (P2), A2 rated 6 (P2), all before day 120; P3's own ratings never count
        "artifacts": 2, "artifact_rating_mean": 6, "artifact_rating_max": 8, "artifact_popularity_mean": 1.5,
        "shared_artifact_success_mean": 80, "shared_member_success_mean": 80,
        "lineage_datasets": 2, "lineage_fields": 4, "lineage_depth": 2,
        "metric:commits_per_week": 5, "metric:ci_success_rate": 0.9, "metric:avg_pr_merge_hours": float("nan"),
        # runs started before day 120: days 100, 105, 110, 118; failed by then: day 105's only
        "mlflow_runs": 4, "mlflow_failed_share": 1 / 4,
    })
    # P1 owns no experiment: NaN, as for a process metric never recorded.
    p1 = named(graph(), "P1", at(0))
    assert math.isnan(p1["mlflow_runs"]) and math.isnan(p1["mlflow_failed_share"])


def test_mlflow_runs_count_only_once_started_and_fail_only_once_failed():
    s = graph()
    assert math.isnan(named(s, "P3", at(100))["mlflow_runs"])  # the first run starts at day 100: not before
    later = named(s, "P3", at(130))
    assert later["mlflow_runs"] == 5 and later["mlflow_failed_share"] == pytest.approx(3 / 5)


def test_a_model_trained_before_features_were_added_still_takes_its_own_columns():
    s = graph()
    names, row = pf.feature_names(ROLES), pf.features(s, "P3", at(120), ROLES)
    old = [n for n in names if n not in pf.MLFLOW_FEATURES]  # what a model trained before the MLflow features lists
    assert pf.model_row(row, ROLES, old) == pytest.approx([v for n, v in zip(names, row) if n in old], nan_ok=True)
    assert pf.model_row(row, ROLES, names) == pytest.approx(row, nan_ok=True)
    with pytest.raises(Conflict, match="train it again") as refused:
        pf.model_row(row, ROLES, [*old, "gone_feature"])
    assert refused.value.extensions == {"code": "CONFLICT", "field": "metaModel"}


def test_a_project_finished_later_counts_only_once_it_finished():
    s = graph()
    before, after = named(s, "P3", at(149)), named(s, "P3", at(151))
    assert before["member_past_projects_mean"] == pytest.approx(2 / 3)
    assert after["member_past_projects_mean"] == pytest.approx(4 / 3)  # ada 1, bob 2, cy 1
    assert after["shared_artifact_success_mean"] == pytest.approx(60)  # P1 80 and P2 40
    assert after["metric:commits_per_week"] == 5  # the reading of day 200 is still ahead


def test_the_projects_own_outcome_never_reaches_its_features():
    s = graph()
    row = pf.features(s, "P3", at(120), ROLES)
    for target in pf.TARGETS:
        s.projects["P3"][target] = -12345.0
    assert pf.features(s, "P3", at(120), ROLES) == pytest.approx(row, nan_ok=True)
    # Nor does what it was rated or recorded after T.
    s.use("P3", "A3", {"at": day(400), "impact_score": 0})
    changed = named(s, "P3", at(120))
    assert changed["artifacts"] == 3 and changed["artifact_rating_mean"] == 6  # A3: chosen, unrated before T


def test_training_rows_take_each_finished_project_as_of_its_start_in_start_order():
    ids, rows, targets, roles = pf.training_rows(graph())
    assert ids == ["P1", "P2", "P3"] and roles == ["data_engineer", "analyst", "lead"]
    assert targets["success_score"] == [80, 40, 90]
    first = dict(zip(pf.feature_names(roles), rows[0]))
    assert first["member_past_projects_mean"] == 0 and math.isnan(first["member_past_success_mean"])


def test_too_few_projects_are_refused_with_a_sentence():
    ids, rows, targets, roles = pf.training_rows(graph())
    with pytest.raises(BadInput, match="at least 20 finished projects") as refused:
        mm.fit(rows, targets, pf.feature_names(roles), roles, version=1, trained_at=day(0))
    assert refused.value.field == "projects"


def test_shap_contributions_add_up_to_the_prediction_and_intervals_hold_it():
    rnd = np.random.default_rng(3)
    x = rnd.normal(size=(200, 4)).astype(np.float32)
    ys = {t: (10 * x[:, 0] - 3 * x[:, 1] + rnd.normal(size=200)).tolist() for t in pf.TARGETS}
    model = mm.fit(x, ys, ["a", "b", "c", "d"], [], version=1, trained_at=day(0))
    back = mm.MetaModel.from_bytes(model.to_bytes())
    predicted = back.predict(x[:20])
    for target in pf.TARGETS:
        contribs = back.contributions(x[:20], target)
        values = np.array([p.value for p in predicted[target]])
        assert np.allclose(contribs.sum(axis=1), values, atol=1e-3)
        assert all(p.lower <= p.value <= p.upper for p in predicted[target])
        assert 0.6 <= back.targets[target].cv["coverage"] <= 0.95
