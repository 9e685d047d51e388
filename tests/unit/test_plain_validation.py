"""The plain-string shortcut of validate_props gives exactly the schemas' answers."""

import itertools

import pytest

from maestro_graph.domain.errors import BadInput
from maestro_graph.domain.graph import Label
from maestro_graph.domain.props import schema_validate, validate_props

VALUES = ["x", " padded ", "", "   ", "a" * 300, "a" * 301, "a" * 1000, "a" * 1001, "a.b.c", "a. ", None, 7, ["l"]]
PROPS = {
    Label.DATASET: ("namespace", "name", "description"),
    Label.JOB: ("namespace", "name", "description"),
    Label.FIELD: ("dataset_id", "path", "type", "name"),
}


def outcome(fn, label, props):
    try:
        return fn(label, props)
    except BadInput:
        return "refused"


@pytest.mark.parametrize("label", list(PROPS))
def test_shortcut_agrees_with_the_schema(label: Label) -> None:
    names = PROPS[label]
    checked = 0
    for values in itertools.product(VALUES, repeat=len(names) - 1):
        for last in ("x", None):  # the optional last prop present or absent
            props = {k: v for k, v in zip(names, (*values, last)) if v is not None or k == names[0]}
            assert outcome(validate_props, label, props) == outcome(schema_validate, label, props), props
            checked += 1
    assert checked >= 300


@pytest.mark.parametrize("prop", ["integration", "processing_type", "job_type"])
def test_shortcut_agrees_with_the_schema_on_job_types(prop: str) -> None:
    values = [*VALUES, "a" * 100, "a" * 101, " " + "a" * 100 + " "]
    for value in values:
        props = {"namespace": "spark", "name": "app", prop: value}
        assert outcome(validate_props, Label.JOB, props) == outcome(schema_validate, Label.JOB, props), props
