// 0005 leases (GraphStore.take_lease): one (:_MaestroLease {name, holder, expires_at}) node per
// lease taken and not released; expires_at is seconds since the epoch on the server's clock.
// Not :Node and not per tenant. Unique by name so that concurrent takers MERGE the same node.
CREATE CONSTRAINT lease_name IF NOT EXISTS
FOR (l:_MaestroLease) REQUIRE l.name IS UNIQUE;
