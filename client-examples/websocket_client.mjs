// GraphQL over a WebSocket (graphql-transport-ws) with graphql-ws, the way a browser front-end
// connects: it submits a training job from the demo's `logistic-baseline` template and follows it
// live (every status change in order, with progress and metrics), then resumes a subscription
// from a cursor as a client that reconnects would. The token travels in connection_init, not in a
// header. Each answer and event is printed as one JSON line; if an event does not come within
// 20 s, the example says which and exits 1. It needs an editor's token and the demo graph
// (`maestro-graph serve --demo`).
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

const FIND = `{ changeFeedCursor
  artifacts(filter: {text: "logistic-baseline"}) { edges { node { id name entrypoint } } }
  projects(first: 1) { edges { node { id name } } } }`;
const SUBMIT = `mutation($input: SubmitTrainingJobInput!) { submitTrainingJob(input: $input) { id name status } }`;
const EVENT = `cursor kind id status progress epoch metrics message`;
const PROJECT_JOBS = `subscription($projectId: ID!, $after: String) {
  trainingJobs(projectId: $projectId, after: $after) { ${EVENT} } }`;
const JOB = `subscription($id: ID!, $after: String) {
  trainingJobUpdated(id: $id, after: $after) { ${EVENT} job { logTail produced { edges { node { version metrics } } } } } }`;
const ENDED = new Set(["SUCCEEDED", "FAILED", "CANCELLED"]);

try {
  // The cursor first, then the subscription from it: every change after the cursor arrives,
  // however late the server registers the subscription.
  const found = await execute(FIND);
  const template = found.artifacts.edges[0]?.node;
  const project = found.projects.edges[0]?.node;
  if (!template || !project) throw new Error("no logistic-baseline template or project: serve the demo graph (--demo)");
  const jobs = subscribe("job", PROJECT_JOBS, { projectId: project.id, after: found.changeFeedCursor });
  const { submitTrainingJob: job } = await execute(SUBMIT, { input: {
    projectId: project.id, templateId: template.id, name: `ws-example-${Date.now()}`,
    args: ["--epochs", "5", "--pause", "0.1"], env: { EXAMPLE: "websocket_client.mjs" } } });

  // Follow it to its end: PENDING, RUNNING with progress and metrics, then SUCCEEDED.
  let event, running;
  do {
    event = await jobs.take(`the job's next change (last: ${event?.status ?? "none"})`);
    if (event.id === job.id && event.status === "RUNNING" && !running) running = event;
  } while (!(event.id === job.id && ENDED.has(event.status)));
  jobs.unsubscribe();
  if (!running) throw new Error("job: never seen RUNNING");

  // A client that lost its connection after the RUNNING event resumes after its cursor: every
  // change since, once and in order, to the end.
  const resumed = subscribe("resumed", JOB, { id: job.id, after: running.cursor });
  do event = await resumed.take("a change after the RUNNING event"); while (!ENDED.has(event.status));
  resumed.unsubscribe();
} catch (err) {
  console.error(err.message);
  process.exitCode = 1;
} finally {
  await client.dispose();
}
