// 0003 topology: one (:_MaestroTopology {tenant, version}) node per tenant whose topology (what
// impact analysis follows) ever changed, bumped in the transaction of the change. Unique per
// tenant so that concurrent writers MERGE the same node.
CREATE CONSTRAINT topology_tenant IF NOT EXISTS
FOR (v:_MaestroTopology) REQUIRE v.tenant IS UNIQUE;
