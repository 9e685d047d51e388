// 0002 audit: (:_AuditEntry {tenant, id, at, actor, operation, ids, outcome}) nodes, written in
// the same transaction as the change they record. Not :Node, so graph reads never see them.
CREATE CONSTRAINT audit_tenant_id IF NOT EXISTS
FOR (a:_AuditEntry) REQUIRE (a.tenant, a.id) IS UNIQUE;

// Newest-first pages and since/until filters seek (tenant, at).
CREATE INDEX audit_tenant_at IF NOT EXISTS FOR (a:_AuditEntry) ON (a.tenant, a.at);
