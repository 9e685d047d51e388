// GraphQL over a WebSocket (graphql-transport-ws) with graphql-ws, in TypeScript, the way a browser
// front-end connects: a query, then it submits a training job from the demo's `logistic-baseline`
// template and follows it live (every status change in order, with progress and metrics), then
// resumes a subscription from a cursor as a client that reconnects would. The token travels in
// connection_init, not in a header. Each answer and event is printed as one JSON line; if an event
// does not come within 20 s, the example says which and exits 1. It needs an editor's token and
// the demo graph (`maestro-graph serve --demo`). TypeScript is pinned in package.json, every
// package in package-lock.json.
//
//   cd client-examples && npm ci && npm run build
//   MAESTRO_TOKEN=<token> node dist/typescript_client.js [ws://127.0.0.1:8000/graphql]
import { createClient, type FormattedExecutionResult } from "graphql-ws";
import WebSocket from "ws";

const url = process.argv[2] ?? "ws://127.0.0.1:8000/graphql";
const token = process.env.MAESTRO_TOKEN;
if (!token) {
  console.error("set MAESTRO_TOKEN to a bearer token (serve prints one)");
  process.exit(2);
}
const WAIT_MS = 20_000;

type Data = Record<string, unknown>;
type Status = "PENDING" | "RUNNING" | "SUCCEEDED" | "FAILED" | "CANCELLED";
interface JobEvent {
  cursor: string;
  kind: string;
  id: string;
  status: Status;
  progress: number;
  epoch: number | null;
  metrics: Record<string, number> | null;
  message: string | null;
}
interface Found {
  changeFeedCursor: string;
  artifacts: { edges: { node: { id: string; name: string } }[] };
  projects: { edges: { node: { id: string; name: string } }[] };
}

const client = createClient({
  url,
  webSocketImpl: WebSocket,
  connectionParams: { Authorization: `Bearer ${token}` },
  retryAttempts: 0, // a refused token (close code 4403) ends the example instead of retrying
});

const print = (from: string, data: unknown) => console.log(JSON.stringify({ from, ...(data as object) }));

// What graphql-ws hands a sink's error (GraphQL errors, or the socket's close event), as an Error.
function failure(e: unknown): Error {
  if (e instanceof Error) return e;
  const x = e as { code?: number; reason?: string; message?: string; errors?: unknown } | undefined;
  return new Error(x?.code ? `the socket closed: ${x.code} ${x.reason}` : x?.message ?? JSON.stringify(x?.errors ?? x));
}

// A query or mutation: one answer, then the operation completes.
async function execute<T>(query: string, variables: Data = {}): Promise<T> {
  const data = await new Promise<T>((resolve, reject) => {
    let answer: FormattedExecutionResult<Data, unknown> | undefined;
    client.subscribe<Data>({ query, variables }, {
      next: (value) => (answer = value),
      error: (errors) => reject(failure(errors)),
      complete: () => (answer?.data && !answer.errors ? resolve(answer.data as T) : reject(failure(answer))),
    });
  });
  print("answer", data);
  return data;
}

// A subscription: its events wait in a list until the example takes them.
function subscribe(name: string, query: string, variables: Data) {
  const events: FormattedExecutionResult<Data, unknown>[] = [];
  let ended = false;
  let failed: Error | undefined;
  let wake = () => {};
  const unsubscribe = client.subscribe<Data>({ query, variables }, {
    next: (event) => (events.push(event), wake()),
    error: (errors) => ((failed = failure(errors)), wake()),
    complete: () => ((ended = true), wake()),
  });
  // The next event, or undefined if none comes within `ms`.
  async function poll(ms: number): Promise<JobEvent | undefined> {
    const deadline = Date.now() + ms;
    while (!events.length && !failed && !ended && Date.now() < deadline) {
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, deadline - Date.now());
        wake = () => (clearTimeout(timer), resolve());
      });
    }
    if (failed) throw failed;
    const event = events.shift();
    if (event?.errors) throw failure(event);
    if (!event?.data) return undefined;
    print(name, event.data);
    return Object.values(event.data)[0] as JobEvent;
  }
  async function take(what: string): Promise<JobEvent> {
    const event = await poll(WAIT_MS);
    if (!event) throw new Error(`${name}: no event for ${what} within ${WAIT_MS / 1000} s${ended ? " (it ended)" : ""}`);
    return event;
  }
  return { take, unsubscribe };
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
const ENDED = new Set<Status>(["SUCCEEDED", "FAILED", "CANCELLED"]);

try {
  // The cursor first, then the subscription from it: every change after the cursor arrives,
  // however late the server registers the subscription.
  const found = await execute<Found>(FIND);
  const template = found.artifacts.edges[0]?.node;
  const project = found.projects.edges[0]?.node;
  if (!template || !project) throw new Error("no logistic-baseline template or project: serve the demo graph (--demo)");
  const jobs = subscribe("job", PROJECT_JOBS, { projectId: project.id, after: found.changeFeedCursor });
  const { submitTrainingJob: job } = await execute<{ submitTrainingJob: { id: string } }>(SUBMIT, { input: {
    projectId: project.id, templateId: template.id, name: `ts-example-${Date.now()}`,
    args: ["--epochs", "5", "--pause", "0.1"], env: { EXAMPLE: "typescript_client.ts" } } });

  // Follow it to its end: PENDING, RUNNING with progress and metrics, then SUCCEEDED.
  let event: JobEvent | undefined;
  let running: JobEvent | undefined;
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
  console.error(err instanceof Error ? err.message : err);
  process.exitCode = 1;
} finally {
  await client.dispose();
}
