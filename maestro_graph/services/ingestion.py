"""Storing translated OpenLineage events: group commit, pipelined.

Requests that arrive while a transaction is running wait and go together in the next one: one
client sending one event at a time gets one transaction per event (no added latency); many
clients share transactions, so a commit's sync to disk, which costs far more than writing one
event's rows, is paid once for many requests. A request is answered only after its events are
stored. Each group is committed through the one write path (services/commits.py), which hands it
to the process's followers once, as one commit.

While one group is written, the next is prepared: its ids resolved and its ChangeSet built, on
the event loop. On SQLite the write runs in the store's thread, mostly in SQLite's C code, which
runs without the GIL; this overlap is what lets ingestion use a second core. The next group is
prepared as if the group being written had committed (the ids it stores are taken as stored);
if that write fails, the next group is prepared again before it is written.
"""

from __future__ import annotations

import asyncio
from collections import defaultdict
from dataclasses import dataclass, field, replace
from functools import cached_property
from typing import Any

from maestro_graph.domain.audit import AuditRecord
from maestro_graph.domain.errors import Conflict
from maestro_graph.domain.derivations import LINEAGE, Standing, Statement, feeds_of, feeds_props, fold, unchanged, winners
from maestro_graph.domain.graph import ChangeSet, Edge, Label, Node, Rel
from maestro_graph.domain.schema_versions import SchemaSeen
from maestro_graph.domain.props import validate_props, validate_rel_props, with_unions
from maestro_graph.integrations.openlineage import Translation, fold_run
from maestro_graph.runtime import slices
from maestro_graph.services.commits import Commits
from maestro_graph.services.identities import KnownIds, Resolved, resolve
from maestro_graph.services.schemas import SchemaVersions
from maestro_graph.settings import BULK_BATCH
from maestro_graph.store.base import GraphStore
from maestro_graph.types import Direction, NodeId, Props, Tenant


@dataclass
class _Request:
    tenant: Tenant
    translation: Translation
    audit: AuditRecord
    events: int
    done: asyncio.Future[None]


@dataclass
class _Write:
    """One group's transaction, ready for the store."""

    tenant: Tenant
    changes: ChangeSet
    nodes: dict[NodeId, Node]  # by real id, as the transaction stores them

    @cached_property
    def by_key(self) -> dict[tuple[Label, str], Node]:
        """What the group prepared after this one resolves its nodes against first."""
        return {(n.label, n.key): n for n in self.nodes.values()}


@dataclass
class _Writing:
    group: list[_Request]
    write: _Write
    task: asyncio.Task[None] = field(repr=False)

    @property
    def events(self) -> int:
        return sum(r.events for r in self.group)


class GroupCommit:
    MAX_REQUESTS = 500  # requests per shared transaction
    MAX_EVENTS = BULK_BATCH  # events per shared transaction, unless one request holds more

    def __init__(self, store: GraphStore, commits: Commits | None = None) -> None:
        self.store = store  # read from to resolve ids; written to through `commits` only
        self.commits = commits or Commits(store)
        self._pending: list[_Request] = []
        self._pending_events = 0
        self._wanted = 0  # while _let_grow waits: the pending events it waits for
        self._grown = asyncio.Event()
        self._flusher: asyncio.Task[None] | None = None
        self._known = KnownIds()
        self.schemas = SchemaVersions(store)  # its impact is set by LineageService

    async def store_translation(self, tenant: Tenant, t: Translation, audit: AuditRecord, events: int) -> None:
        """Store what translation made of `events` events, with its audit record; return once committed."""
        done: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._pending.append(_Request(tenant, t, audit, events, done))
        self._pending_events += events
        if self._pending_events >= self._wanted:
            self._grown.set()
        if self._flusher is None or self._flusher.done():
            self._flusher = asyncio.create_task(self._flush())
        await done

    def _take(self) -> list[_Request]:
        """The next group: pending requests of the first one's tenant, in arrival order, up to the
        limits (at least one request). Other tenants' requests keep their place."""
        tenant = self._pending[0].tenant
        group: list[_Request] = []
        rest: list[_Request] = []
        events, full = 0, False
        for r in self._pending:
            if r.tenant != tenant:
                rest.append(r)
                continue
            full = full or (bool(group) and (len(group) == self.MAX_REQUESTS or events + r.events > self.MAX_EVENTS))
            if full:  # this tenant's later requests wait too: each tenant's stay in order
                rest.append(r)
            else:
                group.append(r)
                events += r.events
        self._pending = rest
        self._pending_events -= events
        return group

    async def _let_grow(self, writing: _Writing) -> None:
        """Wait until as many events are pending as the group being written holds, or until that
        write ends. Taken at once, the next group would hold only what arrived meanwhile: a
        transaction of a few requests where the one before shared hundreds, and each has a
        fixed cost. Bulk batches fill a group at once; HTTP clients wait for their answers, so
        what they send next arrives after the write that answers them."""
        wanted = min(writing.events, self.MAX_EVENTS)
        if self._pending_events >= wanted:
            return
        self._wanted = wanted
        self._grown.clear()
        grown = asyncio.create_task(self._grown.wait())
        try:
            await asyncio.wait((writing.task, grown), return_when=asyncio.FIRST_COMPLETED)
        finally:
            grown.cancel()
            self._wanted = 0

    async def _flush(self) -> None:
        writing: _Writing | None = None
        while self._pending or writing is not None:
            if writing is not None:
                await self._let_grow(writing)
            group = self._take() if self._pending else []
            ahead = writing.write if writing is not None and group and writing.write.tenant == group[0].tenant else None
            prepared: _Write | Exception | None = None
            if group:
                try:
                    prepared = await self._prepare(group, ahead)
                except Exception as err:  # noqa: BLE001 - settled below, request by request
                    prepared = err
            if writing is not None:
                try:
                    await writing.task
                    self._settle(writing.group, None)
                except Exception as err:  # noqa: BLE001 - handed to the waiting requests
                    if ahead is not None:
                        prepared = None  # it took that write's ids as stored: prepare it again
                    await self._recover(writing.group, err)
                writing = None
            if not group:
                continue
            if prepared is None:
                try:
                    prepared = await self._prepare(group, None)
                except Exception as err:  # noqa: BLE001
                    prepared = err
            if isinstance(prepared, Exception):
                await self._recover(group, prepared)
            else:
                writing = _Writing(group, prepared, asyncio.create_task(self._write(prepared)))

    async def _recover(self, group: list[_Request], err: Exception) -> None:
        """A group whose preparation or write failed. A Conflict (another server stored one of its
        nodes meanwhile) goes again once, with ids found afresh; any other error, or a second one,
        is retried request by request (each with its own Conflict retry), so that one request's
        failure fails no other."""
        if isinstance(err, Conflict):
            self._known.clear()
            try:
                await self._write(await self._prepare(group, None))
                self._settle(group, None)
                return
            except Exception as again:  # noqa: BLE001
                err = again
        if len(group) == 1:
            self._settle(group, err)
            return
        for r in group:
            try:
                await self._apply([r])
                self._settle([r], None)
            except Exception as one:  # noqa: BLE001
                self._settle([r], one)

    async def _apply(self, group: list[_Request]) -> None:
        """Prepare and write a group on its own; a Conflict once more with ids found afresh."""
        try:
            await self._write(await self._prepare(group, None))
        except Conflict:
            self._known.clear()
            await self._write(await self._prepare(group, None))

    @staticmethod
    def _settle(group: list[_Request], outcome: BaseException | None) -> None:
        for r in group:
            if r.done.done():  # the client went away
                continue
            if outcome is None:
                r.done.set_result(None)
            else:
                r.done.set_exception(outcome)

    async def _prepare(self, group: list[_Request], ahead: _Write | None) -> _Write:
        """One transaction for these translations, in arrival order (later props win), with each
        request's audit record, under the ids the store knows the nodes by (new ones minted).
        `ahead`: a write still under way, whose nodes and column edges count as stored."""
        tenant = group[0].tenant
        nodes: dict[NodeId, Node] = {}
        links: dict[tuple[Rel, NodeId, NodeId], Props] = {}
        runs: list[tuple[NodeId, Props]] = []
        statements: list[Statement] = []
        seen: list[tuple[NodeId, SchemaSeen]] = []
        feeds: dict[tuple[NodeId, NodeId], dict[str, bool]] = {}
        for request in group:
            t = request.translation
            async for part in slices(t.nodes.items()):
                for node_id, node in part:
                    prev = nodes.get(node_id)
                    nodes[node_id] = node if prev is None else Node(
                        node_id, node.label, node.key, {**prev.props, **with_unions(node.label, prev.props, node.props)},
                        prev.created_at, node.updated_at)
            links.update(t.links)
            runs += t.runs
            statements += t.statements
            seen += t.schemas
            for pair, by_job in t.feeds.items():
                into = feeds.setdefault(pair, {})
                for job, flag in by_job.items():
                    into[job] = into.get(job, False) or flag
        r = await resolve(self.store, tenant, nodes, self._known, ahead.by_key if ahead is not None else None)
        real: dict[NodeId, Node] = {}
        async for nodes_part in slices(nodes.values()):
            real.update(r.nodes(nodes_part))
        if runs:  # fold each run's states into the stored one
            state: dict[NodeId, Any] = {}
            for rid, props in runs:
                rid = r.ids[rid]
                if rid not in state:
                    state[rid] = dict(r.stored[rid].props) if rid in r.stored else None
                state[rid] = fold_run(state[rid], r.props(Label.RUN, props))
            for rid, props in state.items():
                node = real[rid]
                clean = validate_props(Label.RUN, props)
                real[rid] = Node(rid, node.label, node.key, {k: v for k, v in clean.items() if k in props},
                                 node.created_at, node.updated_at)
        audit = [replace(q.audit, ids=tuple(map(r.real, q.audit.ids))) for q in group]
        edges: list[Edge] = []
        async for links_part in slices(links.items()):
            edges += r.edges(links_part)
        stored_out = await self._stored_out(tenant, feeds, r, edges, statements) if feeds or statements else {}
        if feeds:
            edges += await self._feeds(tenant, feeds, r, ahead, stored_out)
        unlink: list[Edge] = []
        if statements:
            edges, unlink = await self._column_lineage(tenant, statements, r, edges, ahead, stored_out)
        patches: list[tuple[NodeId, Props]] = []
        if seen:
            edges, retired, patches = await self.schemas.fold(tenant, seen, r, real, edges,
                                                              ahead.changes if ahead is not None else None)
            unlink += retired
        return _Write(tenant, ChangeSet(merge=list(real.values()), update=patches, link=edges, unlink=unlink,
                                        audit=audit), real)

    async def _stored_out(self, tenant: Tenant, feeds: dict[tuple[NodeId, NodeId], dict[str, bool]], r: Resolved,
                          edges: list[Edge], statements: list[Statement]) -> dict[tuple[Rel, NodeId, NodeId], Props]:
        """The stored WRITES and FEEDS edges the folds below need, in one read: those of the
        batch's jobs and source datasets, where neither end is new (a new end has none)."""
        new, real = r.minted, r.real
        sources = {e.src for e in edges if e.rel is Rel.WRITES and e.src not in new and e.dst not in new} if statements else set()
        sources |= {a for a, b in (map(real, pair) for pair in feeds) if a not in new and b not in new}
        if not sources:
            return {}
        found = await self.store.expand(tenant, list(sources), [Rel.FEEDS, Rel.WRITES], Direction.OUT, with_props=True)
        return {(e.rel, e.src, e.dst): e.props for e in found}

    async def _feeds(self, tenant: Tenant, feeds: dict[tuple[NodeId, NodeId], dict[str, bool]], r: Resolved,
                     ahead: _Write | None, stored_out: dict[tuple[Rel, NodeId, NodeId], Props]) -> list[Edge]:
        """Dataset edges with every job that feeds them, folded into the stored ones (and the
        write under way's), in one read; those that change nothing are left out."""
        real = {(r.real(a), r.real(b)): by_job for (a, b), by_job in feeds.items()}
        stored = {(a, b): props for (rel, a, b), props in stored_out.items() if rel is Rel.FEEDS and (a, b) in real}
        for e in (ahead.changes.link if ahead is not None else ()):
            if e.rel is Rel.FEEDS and (e.src, e.dst) in real:
                stored[(e.src, e.dst)] = e.props
        out = []
        for pair, by_job in real.items():
            merged = feeds_of(stored.get(pair))
            for job, flag in by_job.items():
                merged[job] = merged.get(job, False) or flag
            props = validate_rel_props(Rel.FEEDS, feeds_props(merged))
            if stored.get(pair) != props:
                out.append(Edge(Rel.FEEDS, *pair, props))
        return out

    async def _column_lineage(self, tenant: Tenant, statements: list[Statement], r: Resolved, edges: list[Edge],
                              ahead: _Write | None, stored_out: dict[tuple[Rel, NodeId, NodeId], Props]
                              ) -> tuple[list[Edge], list[Edge]]:
        """The batch's column edges folded into the stored ones (domain/derivations.py): every
        job's contribution kept, a job's newer run replacing what its older runs said of an
        output, whatever the arrival order. What is stored is read only where it can matter: not
        for nodes this batch creates, and no column edges for a run that says what the standing
        one said (the steady state of re-runs); the write under way (`ahead`) is laid over it."""
        real, new = r.real, r.minted
        batch = winners(Statement(real(s.job), s.job_name, real(s.output), s.run, s.at,
                                  {(real(a), real(b)): cs for (a, b), cs in s.pairs.items()}, s.named) for s in statements)
        writes = [e for e in edges if e.rel is Rel.WRITES]
        # every WRITES keeps its standing (read by _stored_out, but where an end is new)
        wanted = {(e.src, e.dst) for e in writes}
        stored_writes = {(a, b): props for (rel, a, b), props in stored_out.items() if rel is Rel.WRITES and (a, b) in wanted}
        pending = ahead.changes if ahead is not None else ChangeSet()
        for e in pending.link:
            if e.rel is Rel.WRITES and (e.src, e.dst) in batch and LINEAGE in e.props:
                stored_writes[(e.src, e.dst)] = e.props
        standing = {k: st for k, p in stored_writes.items() if (st := Standing.of(p)) is not None}
        outputs = {o for (j, o), st in batch.items() if o not in new and not unchanged(st, standing.get((j, o)))}
        fields_of: dict[NodeId, set[NodeId]] = defaultdict(set)
        if outputs:
            for e in await self.store.expand(tenant, list(outputs), [Rel.HAS_FIELD], Direction.OUT):
                fields_of[e.src].add(e.dst)
        for e in pending.link:
            if e.rel is Rel.HAS_FIELD and e.src in outputs:
                fields_of[e.src].add(e.dst)
        into = set().union(*fields_of.values(), *({b for _, b in st.pairs} for (_, o), st in batch.items() if o in outputs))
        stored_edges = {(e.src, e.dst): e.props for e in await self.store.expand(
            tenant, list(into), [Rel.DERIVES], Direction.IN, with_props=True)} if into else {}
        for e in pending.link:  # as the write under way leaves them
            if e.rel is Rel.DERIVES and e.dst in into:
                stored_edges[(e.src, e.dst)] = e.props
        for e in pending.unlink:
            if e.rel is Rel.DERIVES:
                stored_edges.pop((e.src, e.dst), None)
        folded = fold(batch, standing, stored_edges, fields_of)
        kept = [e for e in edges if e.rel is not Rel.WRITES]
        for e in writes:  # a job's WRITES keeps which run's column lineage stands for the output
            now = folded.standing.get((e.src, e.dst))
            props = now.props() if now else stored_writes.get((e.src, e.dst), e.props)
            kept.append(Edge(Rel.WRITES, e.src, e.dst, validate_rel_props(Rel.WRITES, props)))
        kept += [Edge(Rel.DERIVES, a, b, props) for (a, b), props in folded.edges.items()]  # validated by edge_props
        return kept, [Edge(Rel.DERIVES, a, b) for a, b in folded.retired]

    async def _write(self, w: _Write) -> None:
        await self.commits.commit(w.tenant, w.changes)  # one commit, one hand-over, for the whole group
        async for part in slices(w.nodes.values()):
            self._known.add(w.tenant, part)
