"""DataLoaders at work: a nested query costs the same number of store round trips for 10
projects as for 50 (one per level), not one per item."""

from __future__ import annotations

import asyncio

import random

import pytest
from sqlalchemy import event

from maestro_graph.domain.graph import ChangeSet, Edge, Label, Rel
from maestro_graph.services.graph import GraphService
from tests.e2e.conftest import IN_REQUEST, serve

NESTED = """{ projects(first: 50) { edges { node { name
  members(first: 10) { edges { role node { name
    projects(first: 10) { edges { node { name
      artifacts(first: 10) { edges { impactScore node { name type } } } } } } } } } } } } }"""


async def seed(store, tenant, n_projects: int) -> None:
    """n projects, each with 3 members drawn from a pool and 3 artifacts: one ChangeSet."""
    rnd, g = random.Random(n_projects), GraphService(store)
    people = [g.build(tenant, Label.PERSON, {"name": f"P{i}", "email": f"p{i}@example.com"}) for i in range(n_projects)]
    arts = [g.build(tenant, Label.ARTIFACT, {"name": f"A{i}", "type": "notebook"}) for i in range(n_projects)]
    projects = [g.build(tenant, Label.PROJECT, {"name": f"Proj {i:03d}", "problem_class": "nlp", "complexity_score": 3})
                for i in range(n_projects)]
    links = []
    for p in projects:
        links += [Edge(Rel.MEMBER_OF, m.id, p.id, {"role": "dev"}) for m in rnd.sample(people, 3)]
        links += [Edge(Rel.USES, p.id, a.id, {"impact_score": 5.0}) for a in rnd.sample(arts, 3)]
    await store.apply(tenant, ChangeSet(create=[*people, *arts, *projects], link=links))


class StatementCounter:
    """Counts SQL queries the engine sends for requests (SQL backends only); with `everything`,
    the server's background work's too."""

    def __init__(self, store, everything: bool = False) -> None:
        self.count, self.everything = 0, everything
        engine = getattr(getattr(store, "inner", store), "engine", None)
        self.engine = getattr(engine, "sync_engine", engine)

    def __enter__(self) -> "StatementCounter":
        if self.engine is not None:
            event.listen(self.engine, "before_cursor_execute", self._bump)
        return self

    def __exit__(self, *exc) -> None:
        if self.engine is not None:
            event.remove(self.engine, "before_cursor_execute", self._bump)

    def _bump(self, conn, cursor, statement, *args) -> None:
        # SQLite's BEGIN (emitted by our transaction recipe) is an in-process call, not a query.
        if (self.everything or IN_REQUEST.get()) and not statement.lstrip().upper().startswith("BEGIN"):
            self.count += 1


@pytest.fixture
async def server(store, tenant, tmp_path):
    # NESTED asks for up to 50*10*10*10 artifacts: its worst-case cost (~211,000) is over the
    # default limit of 50,000, which is the point of the limit; here it measures round trips.
    async with serve(store, tenant, tmp_path, max_cost=1_000_000) as s:
        yield s


async def settled(server) -> None:
    """Wait until the server's followers have taken the seed's changes in (their store calls are
    not the query's)."""
    for _ in range(50):
        with StatementCounter(server.store, everything=True) as background:  # every statement, the followers' reads too
            await asyncio.sleep(0.3)
        if background.count == 0:
            return


async def measure(server, n: int) -> tuple[list[str], int, int]:
    await seed(server.store.inner, server.tenant, n)
    await settled(server)
    server.store.calls.clear()
    with StatementCounter(server.store) as statements:
        data = await server.execute(NESTED)
    edges = data["projects"]["edges"]
    inner = sum(len(m["node"]["projects"]["edges"]) for e in edges for m in e["node"]["members"]["edges"])
    return list(server.store.calls), statements.count, len(edges) + inner


async def test_nested_query_costs_one_store_call_per_level(server, store, tenant, tmp_path):
    calls, statements, items = await measure(server, 50)
    # projects listing (rows + count), members, their projects, those projects' artifacts
    assert sorted(calls) == sorted(["find_nodes", "neighbour_pages", "neighbour_pages", "neighbour_pages"]), calls
    assert items > 150  # the query really fanned out
    if store.backend != "neo4j":
        assert statements == 5, statements  # 2 for the page and its count, 1 per relationship level


async def test_round_trips_do_not_grow_with_the_data(server, store):
    # A second, smaller graph in a fresh tenant through the same server would need another
    # server; instead compare against the same query on a first page of 10.
    await seed(server.store.inner, server.tenant, 50)
    await settled(server)
    server.store.calls.clear()
    with StatementCounter(server.store) as big:
        await server.execute(NESTED)
    big_calls = list(server.store.calls)
    server.store.calls.clear()
    with StatementCounter(server.store) as small:
        await server.execute(NESTED.replace("projects(first: 50)", "projects(first: 10)"))
    assert server.store.calls == big_calls
    assert small.count == big.count


PROJECT = """query($id: ID!) { node(id: $id) { ... on Project { name
  members(first: 10) { edges { role node { name } } }
  artifacts(first: 10) { edges { impactScore node { name type } } } } } }"""


async def test_a_node_asks_for_its_relationship_pages_with_itself_not_one_round_trip_after(server):
    """node(id)'s look-ahead: the id names the type, so the pages the query asks of it are read
    alongside the node; the same three store calls, but two of them no longer wait for the first."""
    await seed(server.store.inner, server.tenant, 5)
    await settled(server)
    pid = (await server.execute("{ projects(first: 1) { edges { node { id } } } }"))["projects"]["edges"][0]["node"]["id"]
    inner, pages_started = server.store.inner, []
    real = inner.get_nodes

    async def get_nodes(*args, **kwargs):
        found = await real(*args, **kwargs)
        pages_started.append(server.store.calls.count("neighbour_pages"))  # by the time the node is read
        return found

    inner.get_nodes = get_nodes
    try:
        server.store.calls.clear()
        data = await server.execute(PROJECT, {"id": pid})
        assert sorted(server.store.calls) == ["get_nodes", "neighbour_pages", "neighbour_pages"], server.store.calls
        # Asked of another type, or under a directive, nothing is read ahead: the included page
        # is read after the node, by its resolver.
        server.store.calls.clear()
        await server.execute("""query($id: ID!) { node(id: $id) { ... on Person { projects(first: 5) { totalCount } }
                                ... on Project { artifacts(first: 10) @include(if: true) { totalCount } } } }""", {"id": pid})
        assert server.store.calls == ["get_nodes", "neighbour_pages"], server.store.calls
    finally:
        del inner.get_nodes
    assert pages_started == [2, 0]
    assert len(data["node"]["members"]["edges"]) == 3 and len(data["node"]["artifacts"]["edges"]) == 3
