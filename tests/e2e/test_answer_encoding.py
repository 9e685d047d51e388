"""Answers are encoded by orjson (maestro_graph/app.py): non-ASCII text travels as UTF-8, not as
\\u escapes, and what orjson refuses (an integer over 64 bits in a JSON scalar) still comes back
exactly, through json."""

from __future__ import annotations

import json

from maestro_graph.app import GraphQLApp

CREATE = """mutation($name: String!) { createPerson(input: {name: $name, email: "zoe@example.com"}) { name } }"""


async def test_non_ascii_text_comes_back_as_utf8(server):
    r = await server.post({"query": CREATE, "variables": {"name": "Zoë Ångström"}})
    assert r.json() == {"data": {"createPerson": {"name": "Zoë Ångström"}}}, r.text
    assert "Zoë Ångström".encode() in r.content and b"\\u" not in r.content


def test_what_orjson_refuses_is_encoded_by_json():
    answer = {"data": {"metadata": {"big": 2**70, "small": 1}}}
    for data in (answer, {"data": {"x": "é"}}):
        assert json.loads(GraphQLApp.encode_json(None, data)) == data  # type: ignore[arg-type]
