"""A Python client with gql: create a project with a member, log artifact usage, read it back.

    .venv/bin/pip install '.[examples]'      # gql with its httpx transport
    MAESTRO_TOKEN=<editor token> .venv/bin/python client-examples/python_client.py [http://127.0.0.1:8000/graphql]
"""

import asyncio
import os
import sys
import uuid

from gql import Client, gql
from gql.transport.httpx import HTTPXAsyncTransport

URL = sys.argv[1] if len(sys.argv) > 1 else "http://127.0.0.1:8000/graphql"


async def main() -> None:
    suffix = uuid.uuid4().hex[:6]
    transport = HTTPXAsyncTransport(url=URL, headers={"Authorization": f"Bearer {os.environ['MAESTRO_TOKEN']}"})
    async with Client(transport=transport, fetch_schema_from_transport=False) as session:
        async def run(doc: str, **variables):  # type: ignore[no-untyped-def]
            request = gql(doc)
            request.variable_values = variables
            return await session.execute(request)

        ada = (await run("mutation($i: CreatePersonInput!) { createPerson(input: $i) { id } }",
                         i={"name": "Ada", "email": f"ada+{suffix}@example.com"}))["createPerson"]
        project = (await run("""mutation($i: CreateProjectInput!) { createProject(input: $i) { id name } }""",
                             i={"name": f"Example {suffix}", "problemClass": "FORECASTING", "complexityScore": 4,
                                "members": [{"personId": ada["id"], "role": "lead"}]}))["createProject"]
        artifact = (await run("mutation($i: CreateArtifactInput!) { registerArtifact(input: $i) { id } }",
                              i={"name": f"calendar-features-{suffix}", "type": "FEATURE_PIPELINE", "version": "1.0.0",
                                 "tags": ["tabular"], "createdBy": ada["id"]}))["registerArtifact"]
        await run("mutation($p: ID!, $a: ID!) { logArtifactUsage(projectId: $p, artifactId: $a, impactScore: 7.5) { usageCount } }",
                  p=project["id"], a=artifact["id"])
        got = await run("""query($id: ID!) { node(id: $id) { ... on Project { name
              members { edges { role node { name } } }
              artifacts { edges { impactScore node { name type } } } } } }""", id=project["id"])
        print(got["node"])


asyncio.run(main())
