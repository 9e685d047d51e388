"""A Python subscription with gql over a WebSocket (graphql-transport-ws): submit a training job from
the demo's `logistic-baseline` template and follow it live with `trainingJobUpdated` to its end.

The changeFeedCursor is read before the job is submitted and the subscription starts after it, so
every change of the job arrives (PENDING included), however late the subscription is registered.
The token travels in connection_init. Each answer and event is printed as one JSON line; if an
event does not come within 20 s the example says which and exits 1. It needs an editor's token
and the demo graph (`maestro-graph serve --demo`).

    .venv/bin/pip install '.[examples]'      # gql with its websockets transport
    MAESTRO_TOKEN=<editor token> .venv/bin/python client-examples/python_subscription.py [ws://127.0.0.1:8000/graphql]
"""

import asyncio
import json
import os
import sys
import time

from gql import Client, gql
from gql.transport.websockets import WebsocketsTransport

URL = sys.argv[1] if len(sys.argv) > 1 else "ws://127.0.0.1:8000/graphql"
WAIT_S = 20
ENDED = {"SUCCEEDED", "FAILED", "CANCELLED"}

FIND = """{ changeFeedCursor
  artifacts(filter: {text: "logistic-baseline"}) { edges { node { id name entrypoint } } }
  projects(first: 1) { edges { node { id name } } } }"""
SUBMIT = "mutation($input: SubmitTrainingJobInput!) { submitTrainingJob(input: $input) { id name status } }"
FOLLOW = """subscription($id: ID!, $after: String) { trainingJobUpdated(id: $id, after: $after) {
  cursor kind id status progress epoch metrics message } }"""


def show(source: str, data: dict) -> None:
    print(json.dumps({"from": source, **data}), flush=True)


async def main() -> int:
    transport = WebsocketsTransport(url=URL, init_payload={"Authorization": f"Bearer {os.environ['MAESTRO_TOKEN']}"},
                                    subprotocols=[WebsocketsTransport.GRAPHQLWS_SUBPROTOCOL])
    async with Client(transport=transport, fetch_schema_from_transport=False) as session:
        async def execute(doc: str, **variables):  # type: ignore[no-untyped-def]
            request = gql(doc)
            request.variable_values = variables
            answer = await session.execute(request)
            show("answer", answer)
            return answer

        found = await execute(FIND)
        templates, projects = found["artifacts"]["edges"], found["projects"]["edges"]
        if not templates or not projects:
            print("no logistic-baseline template or project: serve the demo graph (--demo)", file=sys.stderr)
            return 1
        job = (await execute(SUBMIT, input={
            "projectId": projects[0]["node"]["id"], "templateId": templates[0]["node"]["id"],
            "name": f"py-example-{int(time.time() * 1000)}", "args": ["--epochs", "5", "--pause", "0.1"],
            "env": {"EXAMPLE": "python_subscription.py"}}))["submitTrainingJob"]

        follow = gql(FOLLOW)
        follow.variable_values = {"id": job["id"], "after": found["changeFeedCursor"]}
        events = aiter(session.subscribe(follow))
        status = None
        while status not in ENDED:
            try:
                event = await asyncio.wait_for(anext(events), WAIT_S)
            except TimeoutError:
                print(f"no change of the job within {WAIT_S} s (last status: {status})", file=sys.stderr)
                return 1
            except StopAsyncIteration:
                print(f"the subscription ended before the job did (last status: {status})", file=sys.stderr)
                return 1
            show("job", event)
            status = event["trainingJobUpdated"]["status"]
        await events.aclose()  # type: ignore[attr-defined]  # stops the subscription on the server
    return 0 if status == "SUCCEEDED" else 1


sys.exit(asyncio.run(main()))
