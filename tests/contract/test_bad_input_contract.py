"""Bad input at the store's edge, on every backend (see the `store` fixture): what validation
lets through, every store holds and gives back; what it refuses never reaches a store; a store
that fails says so in a fixed sentence, never with its statement or parameters."""

from __future__ import annotations

import random
import socket
import time
import uuid
from dataclasses import replace

import pytest

from maestro_graph.domain.errors import BadInput, Conflict, StoreUnavailable
from maestro_graph.domain.graph import ChangeSet, Edge, Label, NodeQuery, Rel
from maestro_graph.domain.props import SPECS
from maestro_graph.integrations.openlineage import parse_events, translate
from maestro_graph.services.graph import GraphService
from tests.labels import MINIMAL_PROPS
from tests.pg_kill import killed_while_waiting

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


# -- storage holds exactly what validation allows (item 14c) --------------------------------------
BASE = MINIMAL_PROPS


def limited_strings() -> list[tuple[Label, str, int]]:
    """(label, prop, max length) of every string prop with a maximum length ("tags" for a tag)."""
    out = []
    for label, spec in SPECS.items():
        for name, prop in spec.schema.model_json_schema()["properties"].items():
            for option in [prop, *prop.get("anyOf", [])]:
                if "maxLength" in option:
                    out.append((label, name, option["maxLength"]))
                elif option.get("type") == "array" and "maxLength" in option.get("items", {}):
                    out.append((label, name, option["items"]["maxLength"]))
    return out


def _is_list(label: Label, prop: str) -> bool:
    schema = SPECS[label].schema.model_json_schema()["properties"][prop]
    return any(option.get("type") == "array" for option in [schema, *schema.get("anyOf", [])])


def value_of_length(label: Label, prop: str, n: int, char: str = WIDE) -> object:
    """A valid value of `prop` exactly n characters long, of `char` where the prop's rule allows."""
    if prop == "email":
        return char * (n - len("@example.com")) + "@example.com"
    if prop == "version":
        return "1.0.0-" + "a" * (n - 6)
    if _is_list(label, prop):  # tags, a model version's MLflow aliases: one item of that length
        return [char * n]
    if prop == "path":  # a column's name is its last segment, at most 300 characters
        segment = char * 299 + "."
        return segment * (n // 300) + char * (n % 300)
    return char * n


def test_every_label_is_covered_and_the_limits_are_those_validation_states():
    assert set(BASE) == set(Label)
    assert (Label.FIELD, "path", 1000) in limited_strings() and (Label.MODEL_VERSION, "version", 100) in limited_strings()


@pytest.mark.parametrize("label, prop, most", limited_strings(), ids=lambda v: getattr(v, "value", str(v)))
async def test_a_string_of_the_longest_length_allowed_is_stored_and_one_more_is_bad_input(store, tenant, label, prop, most):
    node = make(store, tenant, label, **{**BASE[label], prop: value_of_length(label, prop, most)})
    written = await store.apply(tenant, ChangeSet(create=[node]))
    assert written[node.id] == node
    assert (await store.get_nodes(tenant, [node.id]))[node.id] == node
    assert (await store.get_by_keys(tenant, label, [node.key]))[node.key] == node
    with pytest.raises(BadInput) as err:
        make(store, tenant, label, **{**BASE[label], prop: value_of_length(label, prop, most + 1)})
    assert err.value.field.split(".")[0] == prop


def scrambled(chars: str, n: int, seed: int) -> str:
    """n characters drawn from `chars`: varied, so that no store can compress them away."""
    rnd = random.Random(seed)
    return "".join(rnd.choice(chars) for _ in range(n))


CJK = "".join(map(chr, range(0x20000, 0x20400)))  # four bytes each in UTF-8
CONTROL = "".join(map(chr, [*range(0x01, 0x09), *range(0x0E, 0x1C)]))  # six bytes each in a key (JSON-escaped)


@pytest.mark.parametrize("chars", [CJK, CONTROL], ids=["4-byte", "escaped-in-keys"])
async def test_the_longest_natural_keys_are_stored_found_and_held_unique(store, tenant, chars):
    """Keys of the longest props, of characters that make them longest in bytes."""
    ns, name = scrambled(chars, 300, 1), scrambled(chars, 300, 2)
    path = ".".join(scrambled(chars, 299, i) for i in range(3)) + "." + scrambled(chars, 100, 4)
    ds = make(store, tenant, Label.DATASET, namespace=ns, name=name)
    col = make(store, tenant, Label.FIELD, dataset_id=ds.id, path=path)
    assert len(col.props["path"]) == 1000
    await store.apply(tenant, ChangeSet(create=[ds, col]))
    assert await store.get_by_keys(tenant, Label.FIELD, [col.key]) == {col.key: col}
    assert await store.get_by_keys(tenant, Label.DATASET, [ds.key]) == {ds.key: ds}
    twin = make(store, tenant, Label.DATASET, namespace=ns, name=name)
    with pytest.raises(Conflict):
        await store.apply(tenant, ChangeSet(create=[replace(twin, id=str(uuid.uuid4()))]))
    assert await store.count_by_label(tenant) == {Label.DATASET: 1, Label.FIELD: 1}


# -- a store that goes away (item 14d) -----------------------------------------------------------
def closed_port() -> int:
    with socket.socket() as s:  # bound, never listening: a connection to it is refused at once
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


async def test_a_postgresql_connection_killed_mid_request_is_store_unavailable_and_the_next_request_works(
        store, store_settings, tenant):
    if store.backend != "postgresql":
        pytest.skip("pg_terminate_backend is PostgreSQL's")
    a, b = (make(store, tenant, Label.DATASET, namespace="pg://db", name=n) for n in ("a", "b"))
    await store.apply(tenant, ChangeSet(create=[a, b], link=[Edge(Rel.FEEDS, a.id, b.id)]))  # the tenant's version row
    deleting = await killed_while_waiting(store_settings.store_url, tenant, store.apply(tenant, ChangeSet(delete=[b.id])))
    with pytest.raises(StoreUnavailable) as err:
        deleting.result()
    assert "DELETE" not in err.value.message and "topology_versions" not in err.value.message
    assert set(await store.get_nodes(tenant, [a.id, b.id])) == {a.id, b.id}  # rolled back; the pool recovered


async def test_a_store_nobody_listens_for_is_store_unavailable(store, store_settings):
    if store.backend == "sqlite":
        pytest.skip("an embedded store has no server to reach")
    from maestro_graph.store.factory import create_store
    from sqlalchemy.engine import make_url

    port = closed_port()
    if store.backend == "postgresql":
        url = make_url(store_settings.store_url).set(host="127.0.0.1", port=port).render_as_string(hide_password=False)
    else:
        url = f"neo4j://127.0.0.1:{port}"
    gone = create_store(replace(store_settings, store_url=url))
    await gone.open()
    try:
        with pytest.raises(StoreUnavailable):
            await gone.ping()
        began = time.monotonic()
        with pytest.raises(StoreUnavailable) as err:
            await gone.get_nodes("t", ["x"])
        waited = time.monotonic() - began
        assert str(port) not in err.value.message
    finally:
        await gone.close()
    # The bound (a store that is down answers within about a second; it took 3 s), with
    # room for a loaded machine: a refused connection itself takes microseconds.
    assert waited < 1.5, f"a store nobody listens for took {waited:.1f} s to answer"


# -- name filters fold case for every script (item 14e) ------------------------------------------
FOLDED_NAMES = ["École", "ÉCOLE", "E\u0301cole decomposed", "Straße", "STRASSE", "İstanbul", "ΣΟΦΙΑ", "σοφίας", "plain"]


@pytest.mark.parametrize("text, found", [
    ("ÉCOLE", ["E\u0301cole decomposed", "ÉCOLE", "École"]),  # spelled exactly, or composed otherwise
    ("école", ["E\u0301cole decomposed", "ÉCOLE", "École"]),
    ("ß", ["STRASSE", "Straße"]),  # ß folds to ss
    ("strasse", ["STRASSE", "Straße"]),
    ("İSTANBUL", ["İstanbul"]),  # İ folds to i + U+0307, as Unicode says: plain "istanbul" does not match
    ("istanbul", []),
    ("σοφ", ["ΣΟΦΙΑ", "σοφίας"]),
    ("PLAIN", ["plain"]),
])
async def test_name_filters_fold_case_for_every_script_alike(store, tenant, text, found):
    await store.apply(tenant, ChangeSet(create=[make(store, tenant, Label.TEAM, name=n) for n in FOLDED_NAMES]))
    assert await find(store, tenant, Label.TEAM, text=text) == sorted(found)
