"""A node has one name: the value stores index and sort by is the value cursors carry."""

import pytest

from maestro_graph.domain.graph import Label
from maestro_graph.domain.props import index_values
from maestro_graph.services.graph import GraphService
from tests.labels import MINIMAL_PROPS

EXAMPLES = MINIMAL_PROPS


def test_every_label_has_an_example() -> None:
    assert set(EXAMPLES) == set(Label)


@pytest.mark.parametrize("label", list(Label), ids=lambda label: label.value)
def test_node_name_is_the_indexed_name(label: Label) -> None:
    node = GraphService(None).build("t", label, EXAMPLES[label])  # type: ignore[arg-type]
    assert node.name == index_values(label, node.props)[0]
