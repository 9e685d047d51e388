"""A node has one name: the value stores index and sort by is the value cursors carry."""

import pytest

from maestro_graph.domain.graph import Label
from maestro_graph.domain.schemas import index_values
from maestro_graph.services.graph import GraphService

EXAMPLES = {
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


def test_every_label_has_an_example() -> None:
    assert set(EXAMPLES) == set(Label)


@pytest.mark.parametrize("label", list(Label), ids=lambda label: label.value)
def test_node_name_is_the_indexed_name(label: Label) -> None:
    node = GraphService(None).build("t", label, EXAMPLES[label])  # type: ignore[arg-type]
    assert node.name == index_values(label, node.props)[0]
