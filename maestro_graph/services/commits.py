"""The one write path. Every service write goes through Commits: it checks the caller's role and
names the operation (a refusal after authentication is recorded on its own), stamps the
operation's audit record onto the ChangeSet and applies it to the store in one transaction. The
store appends the write's change feed entry in that transaction and, after the commit, hands it
to this process's feed follower (services/feed.py), which hands it on to every consumer (the
lineage index, subscriptions): the one post-commit path, which other processes' commits reach
through the feed too.

    async with self.commits.operation(actor, "createPerson") as op:   # checks the role too
        written = await op.commit(changes)   # audited, stored, handed over

Group commit (services/ingestion.py) builds one ChangeSet out of many requests, each carrying
its own audit record, and commits it with Commits.commit: one feed entry per committed group.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass, field

from maestro_graph.auth.principal import Principal, Role, require
from maestro_graph.domain.audit import AuditRecord, record
from maestro_graph.domain.errors import MaestroError
from maestro_graph.domain.graph import ChangeSet, Node
from maestro_graph.store.base import GraphStore
from maestro_graph.types import NodeId, Tenant

log = logging.getLogger("maestro_graph.commits")

# Refusals of an authenticated caller are recorded; store outages and bugs are not outcomes of
# the operation (and the store may not be able to take the record anyway).
RECORDED = frozenset({"FORBIDDEN", "BAD_USER_INPUT", "NOT_FOUND", "CONFLICT", "LIMIT_EXCEEDED"})


@dataclass
class Operation:
    """A write under way: the caller, whose role was checked, and the operation's name."""

    actor: Principal
    name: str
    ids: list[NodeId] = field(default_factory=list)  # what a refusal record names
    commits: Commits | None = field(default=None, repr=False)

    def record(self, ids: Sequence[NodeId]) -> AuditRecord:
        return record(self.actor.sub, self.name, list(ids))

    def stamp(self, changes: ChangeSet) -> ChangeSet:
        """The ChangeSet with this operation's record added: stored with it or not at all."""
        changes.audit.append(self.record(changes.touched()))
        return changes

    async def commit(self, changes: ChangeSet, audit_ids: Sequence[NodeId] | None = None) -> dict[NodeId, Node]:
        """Stamp `changes` with this operation's record (naming `audit_ids`, by default what the
        changes touch), commit them in one transaction and hand them over; the nodes written."""
        assert self.commits is not None, "an Operation commits when Commits.operation made it"
        if audit_ids is None:
            self.stamp(changes)
        else:
            changes.audit.append(self.record(audit_ids))
        return await self.commits.commit(self.actor.tenant, changes)


class Commits:
    """The write path one process's services share (built once, in Services.build)."""

    def __init__(self, store: GraphStore) -> None:
        self.store = store

    @contextlib.asynccontextmanager
    async def operation(self, actor: Principal | None, name: str, role: Role = Role.EDITOR,
                        ids: Sequence[NodeId] = ()) -> AsyncIterator[Operation]:
        """Check the actor's role, then run the body; record a refusal (FORBIDDEN included)."""
        try:
            require(actor, role, name)
            assert actor is not None
            yield Operation(actor, name, list(ids), self)
        except MaestroError as err:
            if actor is not None and err.code in RECORDED:
                await self.refused(actor, name, err.code, ids)
            raise

    async def refused(self, actor: Principal, name: str, code: str, ids: Sequence[NodeId] = ()) -> None:
        """Record an operation refused after authentication (its change, if any, rolled back)."""
        try:
            await self.commit(actor.tenant, ChangeSet(audit=[record(actor.sub, name, list(ids), outcome=code)]))
        except MaestroError as err:  # keep the caller's own error; the log keeps this one
            log.warning("could not record a refused operation", extra={"operation": name, "error": err.message})

    async def commit(self, tenant: Tenant, changes: ChangeSet) -> dict[NodeId, Node]:
        """Commit `changes` (already audited) in one transaction. The one place services call
        GraphStore.apply."""
        return await self.store.apply(tenant, changes)
