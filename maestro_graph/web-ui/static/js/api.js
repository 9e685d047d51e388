// Talking to the server: GraphQL over HTTP with the signed-in token, subscriptions over
// graphql-ws, and errors turned into sentences a person can act on.

const KEY = "maestro.token";

export function token() {
  return sessionStorage.getItem(KEY);
}

/** The token's claims (sub, tenant, roles, exp), read without checking: the server checks it. */
export function claims(raw = token()) {
  try {
    const part = raw.split(".")[1].replace(/-/g, "+").replace(/_/g, "/");
    return JSON.parse(atob(part + "=".repeat((4 - (part.length % 4)) % 4)));
  } catch {
    return null;
  }
}

/** Keep `raw` for this browser session, if it looks like a token of ours. Returns a sentence when not. */
export function signIn(raw) {
  const t = raw.trim().replace(/^Bearer\s+/i, "");
  const c = claims(t);
  if (!c || !c.sub || !c.tenant) return "That is not a Maestro token: paste the token `maestro-graph serve` printed, or one your admin gave you.";
  if (c.exp && c.exp * 1000 < Date.now()) return "That token has expired: ask for a new one.";
  sessionStorage.setItem(KEY, t);
  closeSocket();
  return null;
}

export function signOut() {
  sessionStorage.removeItem(KEY);
  closeSocket();
}

export class ApiError extends Error {
  constructor(message, code = null, field = null) {
    super(message);
    this.code = code;
    this.field = field;
  }
}

const STATUS = {
  401: "Your token was refused (expired or not valid here): sign in again.",
  403: "Your token does not allow this.",
  413: "The request is too large for this server.",
  429: "Too many requests: wait a moment and try again.",
  503: "The server cannot reach its store right now: try again shortly.",
};

function sentence(error) {
  const code = error.extensions?.code;
  if (code === "UNAUTHENTICATED") return STATUS[401];
  return error.message;
}

/** Run a GraphQL document; the data, or an ApiError with the server's own sentence. */
export async function gql(query, variables = {}) {
  let response;
  try {
    response = await fetch("/graphql", {
      method: "POST",
      headers: { "content-type": "application/json", authorization: `Bearer ${token() ?? ""}` },
      body: JSON.stringify({ query, variables }),
    });
  } catch {
    throw new ApiError("The server cannot be reached: check that it is running.", "NETWORK");
  }
  let body = null;
  try {
    body = await response.json();
  } catch {
    throw new ApiError(STATUS[response.status] ?? `The server answered ${response.status}.`, String(response.status));
  }
  if (body.errors?.length) {
    const first = body.errors[0];
    throw new ApiError(sentence(first), first.extensions?.code ?? String(response.status), first.extensions?.field ?? null);
  }
  if (!response.ok) throw new ApiError(STATUS[response.status] ?? `The server answered ${response.status}.`, String(response.status));
  return body.data;
}

let socket = null;

function client() {
  if (socket === null) {
    const url = `${location.protocol === "https:" ? "wss" : "ws"}://${location.host}/graphql`;
    socket = window.graphqlWs.createClient({
      url,
      connectionParams: () => ({ Authorization: `Bearer ${token() ?? ""}` }),
      retryAttempts: 5,
      lazy: true,
    });
  }
  return socket;
}

function closeSocket() {
  if (socket !== null) {
    socket.dispose();
    socket = null;
  }
}

/**
 * Subscribe: onData(data) for each event, onError(ApiError) once if it fails. Returns the
 * function that ends the subscription (call it when the view goes away).
 */
export function subscribe(query, variables, onData, onError = () => {}) {
  return client().subscribe(
    { query, variables },
    {
      next: (message) => {
        if (message.errors?.length) onError(new ApiError(sentence(message.errors[0]), message.errors[0].extensions?.code));
        else onData(message.data);
      },
      error: (err) => onError(new ApiError(err?.message || err?.reason || "The live connection to the server was lost.", "SUBSCRIPTION")),
      complete: () => {},
    },
  );
}
