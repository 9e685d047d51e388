"""Metric ranges live in domain/vocabulary.py once: validation and the API's descriptions read them."""

import pytest

from maestro_graph.domain.errors import BadInput
from maestro_graph.domain.graph import Label
from maestro_graph.domain.props import validate_props
from maestro_graph.domain.vocabulary import METRIC_RANGES, METRIC_TYPES
from resolvers.schema import build_schema


@pytest.mark.parametrize("kind", METRIC_TYPES)
def test_each_type_takes_its_bounds_and_refuses_past_them(kind: str) -> None:
    lo, hi = METRIC_RANGES[kind]
    assert validate_props(Label.METRIC, {"type": kind, "value": lo})["value"] == lo
    with pytest.raises(BadInput) as refused:
        validate_props(Label.METRIC, {"type": kind, "value": lo - 0.5})
    assert refused.value.field == "value"
    if hi is not None:
        assert validate_props(Label.METRIC, {"type": kind, "value": hi})["value"] == hi
        with pytest.raises(BadInput):
            validate_props(Label.METRIC, {"type": kind, "value": hi + 0.5})


def test_rates_are_fractions() -> None:
    assert METRIC_RANGES["ci_success_rate"] == (0, 1)
    with pytest.raises(BadInput, match="ci_success_rate must be from 0 to 1, got 7.5"):
        validate_props(Label.METRIC, {"type": "ci_success_rate", "value": 7.5})


def test_the_schema_says_how_usage_is_counted_and_what_metrics_take() -> None:
    schema = build_schema()._schema
    log = schema.mutation_type.fields["logArtifactUsage"]
    assert "distinct projects" in log.description and "last score" in log.description
    assert "0 to 10" in log.args["impactScore"].description
    usage = schema.type_map["Artifact"].fields["usageCount"].description
    assert usage and "distinct projects" in usage
    assert "ci_success_rate from 0 to 1" in schema.type_map["MetricType"].description
