"""Process metric values outside their type's range are refused over the API, naming `value`."""

from __future__ import annotations

from tests.e2e.test_graph_api import project

RECORD = "mutation($p: ID!, $m: [CreateMetricInput!]!) { recordProjectMetrics(projectId: $p, metrics: $m) { id } }"
COUNT = "query($id: ID!) { node(id: $id) { ... on Project { metrics { totalCount } } } }"


async def test_out_of_range_metric_values_are_bad_user_input(server):
    p = await project(server, "P")
    for bad in ({"type": "CI_SUCCESS_RATE", "value": 7.5}, {"type": "COMMITS_PER_WEEK", "value": -2}):
        err = await server.error(RECORD, {"p": p["id"], "m": [{"type": "OPEN_ISSUES", "value": 3}, bad]})
        assert err["extensions"] == {"code": "BAD_USER_INPUT", "field": "value"}, err
        assert bad["type"].lower() in err["message"]
    assert (await server.execute(COUNT, {"id": p["id"]}))["node"]["metrics"]["totalCount"] == 0
    await server.execute(RECORD, {"p": p["id"], "m": [{"type": "CI_SUCCESS_RATE", "value": 0.75}]})
    assert (await server.execute(COUNT, {"id": p["id"]}))["node"]["metrics"]["totalCount"] == 1
