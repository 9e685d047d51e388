// 0004 change feed (docs/change-feed.md): (:_FeedEntry {tenant, seq, at, entry}) nodes, one per
// committed ChangeSet that changed the graph, written in its transaction; `entry` is the JSON
// text of domain/feed.py. Not :Node, so graph reads never see them. The constraint's index
// serves feed_since's (tenant, seq) range reads and trimming's oldest-first order.
CREATE CONSTRAINT feed_tenant_seq IF NOT EXISTS
FOR (f:_FeedEntry) REQUIRE (f.tenant, f.seq) IS UNIQUE;

// One (:_FeedHead {tenant, seq}) per tenant: the last seq, bumped (so write-locked until commit)
// by each appending transaction. Unique per tenant so that concurrent writers MERGE the same node.
CREATE CONSTRAINT feed_head_tenant IF NOT EXISTS
FOR (h:_FeedHead) REQUIRE h.tenant IS UNIQUE;
