"""An OpenLineage producer: the openlineage-python client, its HTTP transport pointed at the
server's /api/v1/lineage with a bearer token, emits START and COMPLETE of one run of a job that
reads `billing.refunds` and writes `marts.daily_refunds`, with the output's schema and the
`columnLineage` facet saying which input columns each output column comes from. The server turns
that into (Field)-[:DERIVES]->(Field) edges: ask `lineage` or `impactAnalysis` for them.

Running it again is a newer run of the same job: the same datasets, columns and edges.
Each emitted event is printed as one JSON line.

    .venv/bin/pip install '.[examples]'      # openlineage-python
    MAESTRO_TOKEN=<editor token> .venv/bin/python client-examples/openlineage_producer.py [http://127.0.0.1:8000]
"""

import json
import os
import sys
import uuid
from datetime import datetime, timezone

from openlineage.client import OpenLineageClient
from openlineage.client.event_v2 import InputDataset, Job, OutputDataset, Run, RunEvent, RunState
from openlineage.client.facet_v2 import column_lineage_dataset as cl, schema_dataset as sd
from openlineage.client.transport.http import ApiKeyTokenProvider, HttpConfig, HttpTransport

URL = sys.argv[1] if len(sys.argv) > 1 else "http://127.0.0.1:8000"
PRODUCER = "https://github.com/maestro-graph/client-examples/openlineage_producer.py"
SOURCE, WAREHOUSE = "postgres://billing-db:5432", "snowflake://analytics"
JOB = Job(namespace="example", name="daily_refunds")


def schema(**columns: str) -> sd.SchemaDatasetFacet:
    return sd.SchemaDatasetFacet(fields=[sd.SchemaDatasetFacetFields(name=n, type=t) for n, t in columns.items()])


def derived(*inputs: tuple[str, str, str]) -> cl.Fields:
    """An output column from input columns of billing.refunds, each (column, type, subtype)."""
    return cl.Fields(inputFields=[
        cl.InputField(namespace=SOURCE, name="billing.refunds", field=column,
                      transformations=[cl.Transformation(type=kind, subtype=subtype)])
        for column, kind, subtype in inputs])


refunds = InputDataset(namespace=SOURCE, name="billing.refunds",
                       facets={"schema": schema(refund_id="integer", amount="decimal", status="string", refunded_at="timestamp")})
daily = OutputDataset(namespace=WAREHOUSE, name="marts.daily_refunds", facets={
    "schema": schema(day="date", refunded="decimal"),
    "columnLineage": cl.ColumnLineageDatasetFacet(fields={
        "day": derived(("refunded_at", "DIRECT", "TRANSFORMATION")),
        # SUM(amount) WHERE status = 'paid_out': the amounts flow in, the status only filters them
        "refunded": derived(("amount", "DIRECT", "AGGREGATION"), ("status", "INDIRECT", "FILTER")),
    })})

client = OpenLineageClient(transport=HttpTransport(HttpConfig(
    url=URL, endpoint="api/v1/lineage", timeout=30, auth=ApiKeyTokenProvider({"apiKey": os.environ["MAESTRO_TOKEN"]}))))
run = Run(runId=str(uuid.uuid4()))
for state in (RunState.START, RunState.COMPLETE):
    event = RunEvent(eventType=state, eventTime=datetime.now(timezone.utc).isoformat(), producer=PRODUCER,
                     run=run, job=JOB, inputs=[refunds], outputs=[daily])
    client.emit(event)  # raises if the server refuses it
    print(json.dumps({"eventType": state.value, "runId": run.runId, "job": f"{JOB.namespace}/{JOB.name}",
                      "inputs": [f"{refunds.namespace}/{refunds.name}"], "outputs": [f"{daily.namespace}/{daily.name}"]}))
