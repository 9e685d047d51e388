// The peer of issue #28: @neo4j/graphql serving Maestro's demo graph straight from Maestro's Neo4j.
//
// Environment: PEER_PORT (loopback only), PEER_NEO4J_URL, PEER_NEO4J_USER, PEER_NEO4J_PASSWORD,
// PEER_JWT_SECRET (HS256: the token's `tenant` claim scopes every node it can see).
// Prints "ready <port>" on stdout once it serves.
import net from "node:net";

// TCP_NODELAY on every socket this process opens, before the driver opens any. Without it, the
// driver writes a request whose Cypher exceeds one segment (~1,400 bytes) in two writes and the
// second waits for the server's delayed ACK (~40 ms on Linux): the peer would be measured at its
// worst for a reason no production setup keeps. Patched on the prototype because neo4j-driver
// gives no option for it.
let noDelaySockets = 0;
const connect = net.Socket.prototype.connect;
net.Socket.prototype.connect = function (...args) {
    this.setNoDelay(true);
    noDelaySockets += 1;
    return connect.apply(this, args);
};

const { ApolloServer } = await import("@apollo/server");
const { startStandaloneServer } = await import("@apollo/server/standalone");
const { Neo4jGraphQL } = await import("@neo4j/graphql");
const neo4j = (await import("neo4j-driver")).default;

// Maestro's store (maestro_graph/store/neo4j/codec.py) writes each node with the labels
// :Node:<Label> and the properties id, tenant, label, key, created_at, updated_at, its domain
// props under their own names (impact_score, not impactScore), and `_`-prefixed index copies;
// relationships carry their props plus tenant and timestamps. Every type below is filtered on
// the JWT's tenant claim, so a node of another tenant is never matched, nested ones included.
const TENANT = '@authorization(filter: [{ where: { node: { tenant: { eq: "$jwt.tenant" } } } }])';
const typeDefs = `#graphql
type JWT @jwt { tenant: String! }

type Project @node(labels: ["Project"]) ${TENANT} {
  id: ID!
  tenant: String!
  name: String!
  members: [Person!]! @relationship(type: "MEMBER_OF", direction: IN, properties: "MemberOf")
  artifacts: [Artifact!]! @relationship(type: "USES", direction: OUT, properties: "Uses")
}

type Person @node(labels: ["Person"]) ${TENANT} {
  id: ID!
  tenant: String!
  name: String!
  projects: [Project!]! @relationship(type: "MEMBER_OF", direction: OUT, properties: "MemberOf")
}

type Artifact @node(labels: ["Artifact"]) ${TENANT} {
  id: ID!
  tenant: String!
  name: String!
  type: String!
}

type MemberOf @relationshipProperties { role: String }
type Uses @relationshipProperties { impactScore: Float @alias(property: "impact_score") }
`;

const port = Number(process.env.PEER_PORT);
const driver = neo4j.driver(process.env.PEER_NEO4J_URL,
    neo4j.auth.basic(process.env.PEER_NEO4J_USER || "neo4j", process.env.PEER_NEO4J_PASSWORD));
await driver.verifyConnectivity();
const neoSchema = new Neo4jGraphQL({ typeDefs, driver, features: { authorization: { key: process.env.PEER_JWT_SECRET } } });
const server = new ApolloServer({ schema: await neoSchema.getSchema() });
const { url } = await startStandaloneServer(server, {
    listen: { port, host: "127.0.0.1" },
    context: async ({ req }) => ({ token: req.headers.authorization }),
});
console.log(`ready ${port} ${url} nodelay-sockets=${noDelaySockets}`);

const stop = async () => { await server.stop(); await driver.close(); process.exit(0); };
process.on("SIGTERM", stop);
process.on("SIGINT", stop);
