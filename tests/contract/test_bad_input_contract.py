"""Bad input at the store's edge, on every backend (see the `store` fixture): what validation
lets through, every store holds and gives back; what it refuses never reaches a store; a store
that fails says so in a fixed sentence, never with its statement or parameters."""

from __future__ import annotations

import pytest

from maestro_graph.domain.errors import BadInput, StoreUnavailable
from maestro_graph.domain.graph import ChangeSet, Edge, Label, NodeQuery, Rel
from maestro_graph.integrations.openlineage import parse_events, translate
from maestro_graph.services.graph import GraphService

NUL = "\x00"
WIDE = "\U0001d518"  # 𝔘: four bytes in UTF-8, so byte limits show at the character limits


def make(store, tenant, label, **props):
    return GraphService(store).build(tenant, label, props)


def artifact(store, tenant, name, tags=()):
    return make(store, tenant, Label.ARTIFACT, name=name, type="notebook", tags=list(tags))


async def find(store, tenant, label=Label.ARTIFACT, **filters):
    page = await GraphService(store).find(tenant, NodeQuery(label, first=100, **filters))
    return sorted(n.props["name"] for n in page.nodes)


# -- filters: capped, escaped, whole tags (issue #21 items 9, 10) --------------------------------
async def test_a_text_filter_longer_than_a_name_is_bad_input(store, tenant):
    await store.apply(tenant, ChangeSet(create=[artifact(store, tenant, "churn")]))
    with pytest.raises(BadInput) as err:
        await find(store, tenant, text="x" * 60_000)
    assert err.value.field == "text"
    assert await find(store, tenant, text="c" * 300) == []  # the longest a name is: still a filter


async def test_a_store_that_fails_a_query_says_so_without_the_statement(store, tenant):
    # Straight to the store, past the service's cap: SQLite cannot run a LIKE pattern this long
    # (it finds out at the first row it matches against).
    await store.apply(tenant, ChangeSet(create=[artifact(store, tenant, "churn")]))
    try:
        page = await store.find_nodes(tenant, NodeQuery(Label.ARTIFACT, text="%" + "x" * 60_000))
    except StoreUnavailable as err:
        assert "SELECT" not in err.message and "xxxx" not in err.message and "nodes" not in err.message
    else:
        assert page.nodes == []


async def test_tags_match_whole_tags_and_wildcards_are_plain_characters(store, tenant):
    await store.apply(tenant, ChangeSet(create=[
        artifact(store, tenant, "dash", tags=["internal-only"]), artifact(store, tenant, "under", tags=["internal_only"]),
        artifact(store, tenant, "pct", tags=["50%"]), artifact(store, tenant, "slash", tags=["a\\b"]),
        artifact(store, tenant, "none")]))
    assert await find(store, tenant, tags=("%",)) == []
    assert await find(store, tenant, tags=("_",)) == []
    assert await find(store, tenant, tags=("internal_only",)) == ["under"]
    assert await find(store, tenant, tags=("internal-only",)) == ["dash"]
    assert await find(store, tenant, tags=("50%",)) == ["pct"]
    assert await find(store, tenant, tags=("5_%",)) == []
    assert await find(store, tenant, tags=("a\\b",)) == ["slash"]
    assert await find(store, tenant, tags=("internal",)) == []  # a part of a tag is not the tag
    assert await find(store, tenant, tags=(" INTERNAL-ONLY ",)) == ["dash"]  # as tags are stored


async def test_wildcards_in_a_text_filter_are_plain_characters(store, tenant):
    await store.apply(tenant, ChangeSet(create=[artifact(store, tenant, n) for n in ("a_b", "axb", "50% off", "50 off")]))
    assert await find(store, tenant, text="a_b") == ["a_b"]
    assert await find(store, tenant, text="50%") == ["50% off"]
    assert await find(store, tenant, text="%") == ["50% off"]


@pytest.mark.parametrize("tags", [("a,b",), ("",), ("x" * 65,), ("t",) * 51])
async def test_a_tag_filter_no_node_could_match_is_bad_input(store, tenant, tags):
    with pytest.raises(BadInput) as err:
        await find(store, tenant, tags=tags)
    assert err.value.field == "tags"


# -- U+0000: refused everywhere, on every backend alike (item 14b) --------------------------------
@pytest.mark.parametrize("filters, field", [
    ({"text": "a" + NUL}, "text"), ({"tags": ("a" + NUL,)}, "tags"), ({"after": ("a" + NUL, "id")}, "after"),
    ({"after": ("a", "id" + NUL)}, "after"),
])
async def test_nul_in_a_filter_or_cursor_is_bad_input(store, tenant, filters, field):
    await store.apply(tenant, ChangeSet(create=[artifact(store, tenant, "churn")]))
    with pytest.raises(BadInput) as err:
        await find(store, tenant, **filters)
    assert err.value.field == field


@pytest.mark.parametrize("label, props, field", [
    (Label.TEAM, {"name": "ml" + NUL}, "name"),
    (Label.TEAM, {"name": "ml", "description": NUL}, "description"),
    (Label.PROJECT, {"name": "p", "problem_class": "nlp", "complexity_score": 3, "metadata": {"k": ["ok", "x" + NUL]}},
     "metadata.k.1"),
    (Label.PROJECT, {"name": "p", "problem_class": "nlp", "complexity_score": 3, "metadata": {"k" + NUL: 1}}, "metadata"),
    (Label.DATASET, {"namespace": "pg://db", "name": "orders" + NUL}, "name"),
    (Label.FIELD, {"dataset_id": "d", "path": "a" + NUL}, "path"),
    (Label.ARTIFACT, {"name": "a", "type": "notebook", "tags": ["x" + NUL]}, "tags.0"),
])
async def test_nul_in_a_prop_is_bad_input_naming_it_and_nothing_is_stored(store, tenant, label, props, field):
    with pytest.raises(BadInput) as err:
        make(store, tenant, label, **props)
    assert err.value.field == field
    assert await store.count_by_label(tenant) == {}


async def test_nul_in_relationship_props_is_bad_input(store, tenant):
    with pytest.raises(BadInput) as err:
        GraphService(store).checked_links([Edge(Rel.MEMBER_OF, "p", "q", {"role": "lead" + NUL})])
    assert err.value.field == "role"


async def test_nul_in_an_openlineage_dataset_name_is_bad_input(store, tenant):
    event = {"eventType": "COMPLETE", "eventTime": "2026-12-01T00:00:00Z", "producer": "p",
             "run": {"runId": "0191e0a4-7f5e-7c3a-9a8e-3f1b2c4d5e6f"}, "job": {"namespace": "j", "name": "n"},
             "inputs": [{"namespace": "pg://db", "name": "ord" + NUL + "ers"}], "outputs": [],
             "schemaURL": "https://openlineage.io/spec/2-0-2/OpenLineage.json#/$defs/RunEvent"}
    with pytest.raises(BadInput) as err:
        translate(tenant, parse_events([event]))
    assert err.value.field == "name"
