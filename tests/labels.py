"""The smallest valid props of every label, for tests that go through all of them."""

from __future__ import annotations

from maestro_graph.domain.graph import Label

MINIMAL_PROPS: dict[Label, dict[str, object]] = {
    Label.PERSON: {"name": "Ada", "email": "ada@example.com"},
    Label.TEAM: {"name": "ml"},
    Label.PROJECT: {"name": "Churn", "problem_class": "nlp", "complexity_score": 3},
    Label.ARTIFACT: {"name": "feats", "type": "notebook"},
    Label.DATASET: {"namespace": "pg://db", "name": "orders"},
    Label.FIELD: {"dataset_id": "d1", "path": "a.b", "type": "int"},
    Label.JOB: {"namespace": "airflow", "name": "etl"},
    Label.RUN: {"run_id": "r-1", "job_id": "j1"},
    Label.MODEL: {"name": "churn"},
    Label.MODEL_VERSION: {"model_id": "m1", "version": "1.2.0"},
    Label.TRAINING_JOB: {"name": "train"},
    Label.DEPLOYMENT: {"name": "api", "environment": "prod"},
    Label.METRIC: {"type": "commits_per_week", "value": 12.0},
    Label.PREDICTION: {"target": "cost", "value": 1000.0},
}
