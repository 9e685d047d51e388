// GraphQL over a WebSocket (graphql-transport-ws) with graphql-ws, the way a browser front-end
// connects. The token travels in connection_init, not in a header.
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

const client = createClient({
  url,
  webSocketImpl: WebSocket,
  connectionParams: { Authorization: `Bearer ${token}` },
  retryAttempts: 0, // a refused token (close code 4403) ends the example instead of retrying
});

try {
  const answers = client.iterate({
    query: `{ nodeCounts { label count }
              models { edges { node { name versions { edges { node { version stage } } } } } } }`,
  });
  const { value } = await answers.next(); // a query answers once
  console.log(JSON.stringify(value));
  if (value.errors) process.exitCode = 1;
} finally {
  await client.dispose();
}
