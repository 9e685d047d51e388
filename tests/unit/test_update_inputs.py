"""Update inputs are written out beside their node types; the domain says what may change."""

import dataclasses
import sys

from maestro_graph.domain.props import SPECS
from maestro_graph.domain.graph import PARENTS, Label
from resolvers.nodes import node_types


# Labels a client does not create: the server makes them (submitTrainingJob) and writes all but these.
SERVER_WRITTEN = {Label.TRAINING_JOB: ["name"]}


def test_update_inputs_offer_exactly_the_props_a_node_may_change():
    """Update<Label>Input is written out beside its type: it must offer every prop its create input
    sets except the identity and the parent (which cannot change), and nothing else."""
    for label, cls in node_types().items():
        module = sys.modules[cls.__module__]
        if label in SERVER_WRITTEN:
            assert [f.name for f in dataclasses.fields(getattr(module, f"Update{label.value}Input"))] == SERVER_WRITTEN[label]
            continue
        create, update = getattr(module, f"Create{label.value}Input"), getattr(module, f"Update{label.value}Input")
        spec, parent = SPECS[label], PARENTS.get(label)
        fixed = set(spec.key if spec.identity else ()) | ({parent.prop} if parent else set())
        expected = [f.name for f in dataclasses.fields(create) if f.name in spec.schema.model_fields and f.name not in fixed]
        assert [f.name for f in dataclasses.fields(update)] == expected, label
