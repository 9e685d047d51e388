"""Generic node and relationship writes: validation, parent links, cascades, one transaction each."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace

from maestro_graph.auth.principal import Principal
from maestro_graph.domain.errors import BadInput, NotFound
from maestro_graph.domain.graph import (
    CASCADES, PARENTS, ChangeSet, Edge, Label, Neighbour, NeighbourPage, Node, NodeQuery, Page, Rel, check_endpoints,
)
from maestro_graph.domain.clock import now
from maestro_graph.domain.ids import new_id
from maestro_graph.domain.keys import natural_key
from maestro_graph.domain.props import SPECS, validate_props, validate_rel_props
from maestro_graph.domain.text import check_tag, check_text
from maestro_graph.services.audit import AuditService
from maestro_graph.services.paging import DEFAULT_MAX_PAGE, check_page_size
from maestro_graph.store.base import GraphStore
from maestro_graph.types import Cursor, Direction, NodeId, Props, Tenant


MAX_FILTER_TEXT = 300  # a name is at most this long: a longer substring cannot match
MAX_FILTER_TAGS = 50  # a node holds at most this many tags
MAX_CURSOR_TEXT = 2000  # a cursor holds a node's name, which may be its natural key


def checked_query(query: NodeQuery) -> NodeQuery:
    """A listing's filters as the stores take them, or BadInput naming the filter that no stored
    node could match: text or cursor too long or holding U+0000, a tag no node could have."""
    text = check_text(query.text, "text", MAX_FILTER_TEXT) if query.text else query.text
    if len(query.tags) > MAX_FILTER_TAGS:
        raise BadInput(f"tags: at most {MAX_FILTER_TAGS}, got {len(query.tags)}", field="tags")
    tags = tuple(dict.fromkeys(check_tag(t) for t in query.tags))
    if query.after is not None:
        for part in query.after:
            check_text(part, "after", MAX_CURSOR_TEXT)
    return replace(query, text=text, tags=tags)


async def require_nodes(store: GraphStore, tenant: Tenant, ids: Sequence[NodeId], label: Label | None,
                        field: str = "id") -> dict[NodeId, Node]:
    """The nodes, or NotFound naming the first id that is missing or of another label."""
    found = await store.get_nodes(tenant, ids)
    for i in ids:
        node = found.get(i)
        if node is None or (label is not None and node.label is not label):
            what = label.value if label else "node"
            raise NotFound(f"no {what} with id {i}", field=field)
    return found


def parent_edge(label: Label, node_id: NodeId, props: Props) -> Edge | None:
    parent = PARENTS.get(label)
    if parent is None:
        return None
    pid = str(props[parent.prop])
    return Edge(parent.rel, pid, node_id) if parent.parent_is_src else Edge(parent.rel, node_id, pid)


class GraphService:
    """Reads take the caller's tenant; writes take the caller (a Principal), check its role and
    are audited in their own transaction, through the one write path (services/commits.py)."""

    def __init__(self, store: GraphStore, audit: AuditService | None = None, *, max_page: int = DEFAULT_MAX_PAGE) -> None:
        self.store = store
        self.audit = audit or AuditService(store, max_page=max_page)
        self.commits = self.audit.commits  # the one write path (services/commits.py)
        self.max_page = max_page  # the largest page a listing or relationship page may ask for

    # -- reads ---------------------------------------------------------------------------------
    async def get(self, tenant: Tenant, ids: Sequence[NodeId]) -> dict[NodeId, Node]:
        return await self.store.get_nodes(tenant, ids)

    async def require(self, tenant: Tenant, ids: Sequence[NodeId], label: Label | None, field: str = "id") -> dict[NodeId, Node]:
        """The nodes, or NotFound naming the first id that is missing or of another label."""
        return await require_nodes(self.store, tenant, ids, label, field)

    async def find(self, tenant: Tenant, query: NodeQuery) -> Page:
        check_page_size(query.first, self.max_page)
        return await self.store.find_nodes(tenant, checked_query(query))

    async def neighbours(self, tenant: Tenant, ids: Sequence[NodeId], rel: Rel, direction: Direction) -> dict[NodeId, list[Neighbour]]:
        """Every relationship of each id, whole: for rules that need them all (summaries, cascades).
        What a client pages through goes through neighbour_pages."""
        return await self.store.neighbours(tenant, ids, rel, direction)

    async def neighbour_pages(self, tenant: Tenant, ids: Sequence[NodeId], rel: Rel, direction: Direction, *,
                              first: int, after: Cursor | None = None, labels: Sequence[Label] = ()) -> dict[NodeId, NeighbourPage]:
        """One page of each id's relationships, cut in the store (GraphStore.neighbour_pages)."""
        check_page_size(first, self.max_page)
        return await self.store.neighbour_pages(tenant, ids, rel, direction, first=first, after=after, labels=labels)

    async def counts(self, tenant: Tenant) -> dict[Label, int]:
        return await self.store.count_by_label(tenant)

    # -- node writes ---------------------------------------------------------------------------
    def build(self, tenant: Tenant, label: Label, props: Props) -> Node:
        """A validated new node with its id, key and timestamps (not yet stored)."""
        clean = validate_props(label, props)
        node_id = new_id(tenant, label, clean)
        stamp = now()
        return Node(node_id, label, natural_key(label, clean, node_id), clean, stamp, stamp)

    async def parent_links(self, tenant: Tenant, new: Sequence[Node]) -> list[Edge]:
        """Links from new nodes to the parents they name, after checking those parents exist."""
        children = [(n, PARENTS[n.label]) for n in new if n.label in PARENTS]
        if not children:
            return []
        found = await self.store.get_nodes(tenant, [str(n.props[p.prop]) for n, p in children])
        for n, p in children:
            pid = str(n.props[p.prop])
            if pid not in found or found[pid].label is not p.label:
                raise NotFound(f"no {p.label.value} with id {pid}", field=p.prop)
        return [e for n, _ in children if (e := parent_edge(n.label, n.id, n.props)) is not None]

    async def create(self, actor: Principal, label: Label, items: Sequence[Props], links: Sequence[Edge] = ()) -> list[Node]:
        """Create nodes of one label (and extra links) in one transaction; CONFLICT on a taken key."""
        async with self.commits.operation(actor, f"create{label.value}") as op:
            tenant = actor.tenant
            new = [self.build(tenant, label, p) for p in items]
            cs = ChangeSet(create=new, link=await self.parent_links(tenant, new) + self.checked_links(links))
            written = await op.commit(cs)
            return [written[n.id] for n in new]

    async def update(self, actor: Principal, label: Label, patches: Sequence[tuple[NodeId, Props]]) -> list[Node]:
        """Patch nodes of one label: a None value removes a property; the result must be valid."""
        async with self.commits.operation(actor, f"update{label.value}", ids=[i for i, _ in patches]) as op:
            tenant = actor.tenant
            current = await self.require(tenant, [i for i, _ in patches], label)
            spec, parent = SPECS[label], PARENTS.get(label)
            frozen = set(spec.key if spec.identity else ()) | ({parent.prop} if parent else set())
            clean_patches: list[tuple[NodeId, Props]] = []
            for node_id, patch in patches:
                for prop in sorted(frozen & set(patch)):
                    if patch[prop] != current[node_id].props.get(prop):
                        raise BadInput(f"{label.value}.{prop} cannot be changed: it is part of the node's identity", field=prop)
                merged = {k: v for k, v in {**current[node_id].props, **patch}.items() if v is not None}
                valid = validate_props(label, merged)
                clean_patches.append((node_id, {k: valid.get(k) for k in patch}))
            written = await op.commit(ChangeSet(update=clean_patches))
            return [written[i] for i, _ in patches]

    async def delete(self, actor: Principal, label: Label, ids: Sequence[NodeId]) -> list[Node]:
        """Delete nodes (and what hangs off them, see CASCADES) with their relationships."""
        async with self.commits.operation(actor, f"delete{label.value}", ids=ids) as op:
            tenant = actor.tenant
            found = await self.require(tenant, ids, label)
            doomed = {i: found[i] for i in ids}
            if label in CASCADES:
                rel, direction = CASCADES[label]
                children = await self.store.neighbours(tenant, list(doomed), rel, direction)
                doomed |= {nb.node.id: nb.node for i in ids for nb in children[i]}
            await op.commit(ChangeSet(delete=list(doomed)))
            return list(doomed.values())

    # -- relationship writes -------------------------------------------------------------------
    def checked_links(self, links: Sequence[Edge]) -> list[Edge]:
        return [Edge(e.rel, e.src, e.dst, validate_rel_props(e.rel, e.props)) for e in links]

    async def link_changes(self, tenant: Tenant, links: Sequence[Edge]) -> ChangeSet:
        """The ChangeSet making these relationships, once both ends exist and fit the model."""
        clean = self.checked_links(links)
        ends = await self.require(tenant, [x for e in clean for x in (e.src, e.dst)], None)
        for e in clean:
            check_endpoints(e.rel, ends[e.src].label, ends[e.dst].label)
        return ChangeSet(link=clean)

    async def link(self, actor: Principal, links: Sequence[Edge], operation: str = "link") -> list[Edge]:
        """Create relationships (or replace their props); both ends must exist and fit the model."""
        async with self.commits.operation(actor, operation, ids=[x for e in links for x in (e.src, e.dst)]) as op:
            cs = await self.link_changes(actor.tenant, links)
            await op.commit(cs)
            return cs.link

    async def unlink(self, actor: Principal, links: Sequence[Edge]) -> None:
        async with self.commits.operation(actor, "unlink", ids=[x for e in links for x in (e.src, e.dst)]) as op:
            for e in links:
                if e.rel in {p.rel for p in PARENTS.values()}:
                    raise BadInput(f"{e.rel.value} is removed by deleting the child node, not by unlinking", field="relationship")
            await self.require(actor.tenant, [x for e in links for x in (e.src, e.dst)], None)
            await op.commit(ChangeSet(unlink=list(links)))
