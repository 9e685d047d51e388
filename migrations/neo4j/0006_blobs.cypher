// 0006 blobs (GraphStore.put_blob): one (:_MaestroBlob {tenant, name, version, data, updated_at})
// node per blob; data is a byte array. Not :Node, so no graph read reaches it. Unique by
// (tenant, name) so that concurrent puts of a new name MERGE the same node.
CREATE CONSTRAINT blob_tenant_name IF NOT EXISTS
FOR (b:_MaestroBlob) REQUIRE (b.tenant, b.name) IS UNIQUE;
