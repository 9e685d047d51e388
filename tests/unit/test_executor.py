"""resolvers/executor.py answers exactly as graphql-core's own executor does: the same data, the
same errors at the same paths, for plain values, nulls where null is not allowed, values a scalar
refuses, exceptions as values, objects of another type, lists with bad items, relay ids, aliases,
fragments, @skip/@include and async resolvers below plain lists."""

from __future__ import annotations

import asyncio
import enum
from typing import Any, Optional

import pytest
import strawberry
from strawberry import relay

from resolvers.executor import LEAF, LIST, OBJECT, Executor, plain_fields


@strawberry.enum
class Colour(enum.Enum):
    RED = "red"
    BLUE = "blue"


@strawberry.type
class Thing(relay.Node):
    key: relay.NodeID[str]
    name: str
    size: Optional[int]
    colour: Colour
    tags: list[str]

    @strawberry.field
    async def later(self) -> str:
        await asyncio.sleep(0)
        if self.name == "boom":
            raise ValueError("later failed")
        return self.name.upper()

    @strawberry.field
    def twice(self, times: int = 2) -> str:
        return self.name * times


@strawberry.type
class Other:
    name: str


@strawberry.type
class Box:
    label: str
    count: int
    maybe: Optional[int]
    thing: Thing
    maybe_thing: Optional[Thing]
    things: list[Thing]
    maybe_things: Optional[list[Optional[Thing]]]


def thing(name: str | None, **kw: Any) -> Thing:
    values: dict[str, Any] = dict(key=f"k-{name}", name=name, size=len(name or ""), colour=Colour.RED, tags=["a", name])
    values.update(kw)
    return Thing(**values)


BOXES = {
    "good": Box(label="good", count=2, maybe=None, thing=thing("one"), maybe_thing=None,
                things=[thing("one"), thing("two", size=None, colour=Colour.BLUE)], maybe_things=[thing("x"), None]),
    # A value graphql-core refuses in each kind of plain field:
    "null_leaf": Box(label=None, count=1, maybe=None, thing=thing("a"), maybe_thing=None, things=[], maybe_things=None),  # type: ignore[arg-type]
    "bad_int": Box(label="b", count="many", maybe=2**40, thing=thing("a"), maybe_thing=None, things=[], maybe_things=None),  # type: ignore[arg-type]
    "error_value": Box(label="e", count=1, maybe=None, thing=ValueError("no thing"), maybe_thing=ValueError("gone"),  # type: ignore[arg-type]
                       things=[thing("a")], maybe_things=[ValueError("item gone"), thing("b")]),  # type: ignore[list-item]
    "wrong_type": Box(label="w", count=1, maybe=None, thing=Other(name="o"), maybe_thing=Other(name="p"),  # type: ignore[arg-type]
                      things=[thing("a"), Other(name="q")], maybe_things=[Other(name="r")]),  # type: ignore[list-item]
    "null_items": Box(label="n", count=1, maybe=None, thing=None, maybe_thing=None,  # type: ignore[arg-type]
                      things=[thing("a"), None], maybe_things=[None, thing("c")]),  # type: ignore[list-item]
    "async_errors": Box(label="x", count=1, maybe=None, thing=thing("boom"), maybe_thing=thing("boom"),
                        things=[thing("ok"), thing("boom")], maybe_things=[thing("boom"), thing("fine")]),
    "bad_item_fields": Box(label="f", count=1, maybe=None, thing=thing("a"), maybe_thing=thing(None),  # type: ignore[arg-type]
                           things=[thing("a"), thing(None)], maybe_things=[thing(None), thing("b")]),  # type: ignore[arg-type]
    "bad_leaf_list": Box(label="l", count=1, maybe=None, thing=thing("a", tags=["a", None]), maybe_thing=None,
                         things=[], maybe_things=None),
}


@strawberry.type
class Query:
    @strawberry.field
    def box(self, name: str) -> Box:
        return BOXES[name]

    @strawberry.field
    def boxes(self) -> list[Box]:
        return [BOXES["good"], BOXES["async_errors"]]


DOCUMENTS = [
    "{ box(name: \"good\") { label count maybe thing { id name size colour tags } maybeThing { name } "
    "things { id name size colour later twice twice3: twice(times: 3) } maybeThings { name } } }",
    "{ box(name: \"null_leaf\") { count label } }",
    "{ box(name: \"null_leaf\") { count thing { name } } }",
    "{ box(name: \"bad_int\") { label count } }",
    "{ box(name: \"bad_int\") { label maybe } }",
    "{ box(name: \"error_value\") { label maybeThing { name } } }",
    "{ box(name: \"error_value\") { label thing { name } } }",
    "{ box(name: \"error_value\") { label things { name } maybeThings { name } } }",
    "{ box(name: \"wrong_type\") { label maybeThing { name } } }",
    "{ box(name: \"wrong_type\") { label thing { name } } }",
    "{ box(name: \"wrong_type\") { things { name } } }",
    "{ box(name: \"wrong_type\") { label maybeThings { name } } }",
    "{ box(name: \"null_items\") { label things { name } } }",
    "{ box(name: \"null_items\") { label maybeThings { name } thing { name } } }",
    "{ box(name: \"async_errors\") { label maybeThing { name later } } }",
    "{ box(name: \"async_errors\") { label thing { name later } } }",
    "{ box(name: \"async_errors\") { label things { name later } } }",
    "{ box(name: \"async_errors\") { label maybeThings { name later } } }",
    "{ box(name: \"bad_leaf_list\") { thing { tags } } }",
    "{ box(name: \"bad_item_fields\") { label maybeThing { name } maybeThings { name } } }",
    "{ box(name: \"bad_item_fields\") { label things { name } } }",
    "{ boxes { label things { name later } } }",
    # aliases, fragments, directives and __typename
    "query($no: Boolean!) { b: box(name: \"good\") { l1: label, l2: label, __typename "
    "...F ... on Box { t: things { n: name, __typename } } count @skip(if: $no) maybe @include(if: $no) } } "
    "fragment F on Box { thing { name id } things { size } }",
]


async def run(executor: type | None, document: str) -> tuple[Any, list[dict]]:
    schema = strawberry.Schema(query=Query, types=[Other], **({"execution_context_class": executor} if executor else {}))
    result = await schema.execute(document, variable_values={"no": True})
    errors = sorted(({"message": e.message, "path": e.path} for e in result.errors or []), key=repr)
    return result.data, errors


@pytest.mark.parametrize("document", DOCUMENTS)
async def test_the_same_answers_and_errors_as_graphql_cores_executor(document: str) -> None:
    assert await run(Executor, document) == await run(None, document)


def test_what_counts_as_plain() -> None:
    """Basic fields and relay's id are plain; a field with a resolver, arguments or a permission is not."""
    schema = strawberry.Schema(query=Query, types=[Other])
    thing_type = schema._schema.type_map["Thing"]
    box_type = schema._schema.type_map["Box"]
    assert {n: p.kind for n, p in plain_fields(thing_type).items()} == {
        "id": LEAF, "name": LEAF, "size": LEAF, "colour": LEAF}
    assert {n: p.kind for n, p in plain_fields(box_type).items()} == {
        "label": LEAF, "count": LEAF, "maybe": LEAF, "thing": OBJECT, "maybeThing": OBJECT, "things": LIST,
        "maybeThings": LIST}


async def test_plain_fields_skip_graphql_cores_field_path() -> None:
    """Only `box` (a resolver) and `later` (async, per item) go through execute_field; the rest are
    taken in place."""
    called: list[str] = []

    class Counting(Executor):
        def execute_field(self, parent_type, source, field_details_list, path, position_context):  # type: ignore[no-untyped-def]
            called.append(f"{parent_type.name}.{field_details_list[0].node.name.value}")
            return super().execute_field(parent_type, source, field_details_list, path, position_context)

    data, errors = await run(Counting, '{ box(name: "good") { label count thing { id name } things { name later } } }')
    assert not errors and data["box"]["things"][1] == {"name": "two", "later": "TWO"}
    assert called == ["Query.box", "Thing.later", "Thing.later"]


async def test_a_selection_of_plain_fields_is_answered_from_its_plan() -> None:
    """Below `box` (a resolver's value) everything is plain: graphql-core completes Box, and the
    thing and the things are answered by the plan, without completing each object."""
    completed: list[str] = []

    class Counting(Executor):
        def collect_and_execute_subfields(self, return_type, *args):  # type: ignore[no-untyped-def]
            completed.append(return_type.name)
            return super().collect_and_execute_subfields(return_type, *args)

    data, errors = await run(Counting, '{ box(name: "good") { thing { __typename id name } things { name colour } } }')
    assert not errors and data["box"]["things"] == [{"name": "one", "colour": "RED"}, {"name": "two", "colour": "BLUE"}]
    assert data["box"]["thing"]["__typename"] == "Thing"
    assert completed == ["Box"]
