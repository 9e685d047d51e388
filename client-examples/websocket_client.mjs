// GraphQL over a WebSocket (graphql-transport-ws) with graphql-ws, the way a browser front-end
// connects: a query, mutations, and subscriptions to a node and to the change feed, resumed from a
// cursor. The token travels in connection_init, not in a header. Each answer and event is printed
// as one JSON line; if an event does not come within 20 s, the example says which and exits 1.
//
//   cd client-examples && npm install
//   MAESTRO_TOKEN=<token> node websocket_client.mjs [ws://127.0.0.1:8000/graphql]
import { createClient } from "graphql-ws";
import WebSocket from "ws";

const url = process.argv[2] ?? "ws://127.0.0.1:8000/graphql";
const token = process.env.MAESTRO_TOKEN;
if (!token) {
  console.error("set MAESTRO_TOKEN to a bearer token (serve prints one)");
  process.exit(2);
}
const WAIT_MS = 20_000;

const client = createClient({
  url,
  webSocketImpl: WebSocket,
  connectionParams: { Authorization: `Bearer ${token}` },
  retryAttempts: 0, // a refused token (close code 4403) ends the example instead of retrying
});

const print = (from, data) => console.log(JSON.stringify({ from, ...data }));
// What graphql-ws hands a sink's error (GraphQL errors, or the socket's close event), as an Error.
const failure = (e) => (e instanceof Error ? e
  : new Error(e?.code ? `the socket closed: ${e.code} ${e.reason}` : e?.message ?? JSON.stringify(e?.errors ?? e)));

// A query or mutation: one answer, then the operation completes.
function execute(query, variables = {}) {
  return new Promise((resolve, reject) => {
    let answer;
    client.subscribe({ query, variables }, {
      next: (value) => (answer = value),
      error: (errors) => reject(failure(errors)),
      complete: () => (answer?.data && !answer.errors ? resolve(answer.data) : reject(failure(answer))),
    });
  }).then((data) => (print("answer", data), data));
}

// A subscription: its events wait in a list until the example takes them.
function subscribe(name, query, variables) {
  const events = [];
  let ended = false, failed, wake = () => {};
  const unsubscribe = client.subscribe({ query, variables }, {
    next: (event) => (events.push(event), wake()),
    error: (errors) => ((failed = failure(errors)), wake()),
    complete: () => ((ended = true), wake()),
  });
  // The next event, or undefined if none comes within `ms`.
  async function poll(ms) {
    const deadline = Date.now() + ms;
    while (!events.length && !failed && !ended && Date.now() < deadline) {
      await new Promise((resolve) => {
        const timer = setTimeout(resolve, deadline - Date.now());
        wake = () => (clearTimeout(timer), resolve());
      });
    }
    if (failed) throw failed;
    const event = events.shift();
    if (event?.errors) throw failure(event);
    if (event) print(name, event.data);
    return event && Object.values(event.data)[0];
  }
  const take = async (what) => {
    const event = await poll(WAIT_MS);
    if (!event) throw new Error(`${name}: no event for ${what} within ${WAIT_MS / 1000} s${ended ? " (it ended)" : ""}`);
    return event;
  };
  return { poll, take, unsubscribe, ended: () => ended };
}

const CREATE_JOB = `mutation($input: CreateTrainingJobInput!) { createTrainingJob(input: $input) { id name } }`;
const UPDATE_JOB = `mutation($id: ID!, $input: UpdateTrainingJobInput!) {
  updateTrainingJob(id: $id, input: $input) { id status progress } }`;
const DELETE_JOB = `mutation($id: ID!) { deleteTrainingJob(id: $id) { deletedIds } }`;
const NODE_CHANGED = `subscription($id: ID!) { nodeChanged(id: $id) { cursor kind id changedProperties } }`;
const CHANGES = `subscription($after: String) { changes(after: $after) { cursor seq operation created { id label } } }`;

try {
  await execute(`{ nodeCounts { label count }
                   models { edges { node { name versions { edges { node { version stage } } } } } } }`);

  // Watch a training job: nodeChanged tells each update of it, then its deletion.
  const { createTrainingJob: job } = await execute(CREATE_JOB,
    { input: { name: `ws-example-${Date.now()}`, status: "RUNNING", progress: 0 } });
  const watch = subscribe("job", NODE_CHANGED, { id: job.id });

  // graphql-transport-ws does not acknowledge a subscription, and the server tells it only of
  // changes committed after it registered it. So report progress until it tells of a report:
  // from then on it misses nothing. (A report it tells late is skipped to the last one.)
  let percent = 0, seen;
  while (!seen) {
    if (percent * 500 >= WAIT_MS) throw new Error(`job: no event within ${WAIT_MS / 1000} s`);
    await execute(UPDATE_JOB, { id: job.id, input: { progress: ++percent / 100 } });
    seen = await watch.poll(500);
  }
  while (seen.changedProperties.progress !== percent / 100) seen = await watch.take(`the ${percent}% report`);

  // The tenant's change feed from that event on: with `after`, changes starts exactly after a
  // cursor (every subscription's events carry the feed's cursors), however late it is registered.
  const feed = subscribe("feed", CHANGES, { after: seen.cursor });
  await execute(UPDATE_JOB, { id: job.id, input: { progress: 0.5 } });
  await watch.take("the 50% report");
  await feed.take("the 50% report");
  const { createTrainingJob: next } = await execute(CREATE_JOB, { input: { name: `${job.name}-next` } });
  const last = await feed.take("the next job's creation");

  // Disconnected (here: unsubscribed) while a change is made: resuming after the last cursor
  // seen tells that change first, and once; then the feed goes on live.
  feed.unsubscribe();
  await execute(UPDATE_JOB, { id: job.id, input: { status: "SUCCEEDED", progress: 1 } });
  await watch.take("the job's success");
  const resumed = subscribe("resumed", CHANGES, { after: last.cursor });
  await resumed.take("the change made while unsubscribed");
  await execute(DELETE_JOB, { id: job.id });
  await watch.take("the job's deletion");
  await resumed.take("the job's deletion");
  if ((await watch.poll(WAIT_MS)) || !watch.ended()) throw new Error("job: nodeChanged did not end after the deletion");
  await execute(DELETE_JOB, { id: next.id }); // tidy up
} catch (err) {
  console.error(err.message);
  process.exitCode = 1;
} finally {
  await client.dispose();
}
